"""Vision benches side by side: one compact Markdown table over several ``obliviate vision bench`` folders.

Usage: ``python benchmarks/vision_table.py [--curve] OUT [OUT ...]``. Each OUT is a finished bench folder (its
``bench.yaml``, ``leaderboard.json`` and run folders are read). A row is (setting, method): mean over seeds with
its 95% t-interval. With the stopping rule (``--stop-at``) one more column reads the runs' curves: the forget
accuracy on the bias-conflicting images at the first check where the whole forget accuracy is at most 0.5, the
point half-way to forgetting (shortcut unlearning shows as conflicting images still recognised there).
``--curve`` prints one row per bench instead (a bias curve: benches at several ``--aligned`` shares): the
original's test accuracy and conflicting forget accuracy, then each method's conflicting accuracy at half (a
bench with ``--stop-at``) or its forget accuracy (a bench at the methods' own budgets).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from obliviate.core.report.board import bench_yaml, markdown_table, read_runs, spread_cell
from obliviate.core.stats import mean_ci

COLUMNS = [("forget_acc", "forget acc"), ("forget_acc_aligned", "aligned"), ("forget_acc_conflicting", "conflicting"),
           ("conflicting_at_half", "conflicting at half"), ("forget_test_acc", "class test acc"),
           ("retain_acc", "retain acc"), ("test_acc", "test acc"), ("worst_group_acc", "worst group"),
           ("mia_auc", "MIA AUC"), ("stop_step", "steps"), ("reached", "reached")]
HALF = 0.5


def at_half(curve: list[list[float]]) -> float:
    """Conflicting forget accuracy at the first check with forget accuracy <= HALF (NaN if never)."""
    return next((c[3] for c in curve if c[1] <= HALF), math.nan)


def setting(run: dict) -> str:
    src, aligned = run.get("source", "?"), run.get("aligned", "?")
    stop = run.get("stop_at", -1)
    rule = f"stop at {stop:g}" if isinstance(stop, int | float) and stop >= 0 else "own budget"
    return f"{src} {aligned}, {rule}"


def rows(out: Path) -> list[list[str]]:
    run = bench_yaml(out).get("run", {})
    board = json.loads((out / "leaderboard.json").read_text())
    runs = read_runs(out)
    table = []
    for r in board["rows"]:
        mine = [x for x in runs if x["method"] == r["method"] and x.get("curve")]
        extra = mean_ci([{"conflicting_at_half": at_half(x["curve"])} for x in mine], ["conflicting_at_half"])
        r = {**r, **extra} if mine else r
        table.append([setting(run), r["method"], str(r["runs"])]
                     + [spread_cell(r, k, 0 if k == "stop_step" else 2 if k == "reached" else 3) for k, _ in COLUMNS])
    return table


def curve_rows(outs: list[Path]) -> tuple[list[str], list[list[str]]]:
    """One row per bench: the original's test and conflicting forget accuracy, each method's conflicting at half."""
    boards = [(out, json.loads((out / "leaderboard.json").read_text())) for out in outs]
    methods = sorted({r["method"] for _, b in boards for r in b["rows"]} - {"original (before)", "Retrain"})
    body = []
    for out, board in boards:
        run = bench_yaml(out).get("run", {})
        orig = next((r for r in board["rows"] if r["method"] == "original (before)"), {})
        runs = read_runs(out)
        cells = []
        for m in methods:
            mine = [x for x in runs if x["method"] == m and x.get("curve")]
            own = next((r for r in board["rows"] if r["method"] == m), None)
            if mine:
                cells.append(spread_cell(mean_ci([{"c": at_half(x["curve"])} for x in mine], ["c"]), "c"))
            else:  # a bench without the stopping rule: the method's forget accuracy at its own budget
                cells.append(spread_cell(own, "forget_acc") if own else "–")
        body.append([setting(run), spread_cell(orig, "test_acc"), spread_cell(orig, "forget_acc_conflicting")]
                    + cells)
    return ["setting", "original test acc", "original conflicting"] + methods, body


def main(argv: list[str]) -> None:
    curve = "--curve" in argv
    argv = [a for a in argv if a != "--curve"]
    if not argv:
        sys.exit("usage: python benchmarks/vision_table.py [--curve] OUT [OUT ...]  (finished vision bench folders)")
    for a in argv:
        if not (Path(a) / "leaderboard.json").is_file():
            sys.exit(f"{a}: no leaderboard here; run `obliviate vision bench --out {a}` first")
    if curve:
        print(markdown_table(*curve_rows([Path(a) for a in argv])))
        return
    body = []
    for a in argv:
        body += rows(Path(a))
    print(markdown_table(["setting", "method", "runs"] + [h for _, h in COLUMNS], body))


if __name__ == "__main__":
    main(sys.argv[1:])
