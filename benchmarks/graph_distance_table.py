"""The graph bench's headline as one compact Markdown table: distance to Retrain and its parts, per setting.

Usage: ``python benchmarks/graph_distance_table.py [--pivot] OUT`` where OUT is a finished ``obliviate graph
bench --out OUT`` folder (it reads ``leaderboard.json``). ``--pivot``: one row per (dataset, task, setting), one
column per method, each cell the distance to Retrain (for a sweep over settings), and the closest method.
Each cell is the mean over seeds with its 95% t-interval;
the MI ratio is left out (it is unbounded once a method drives the deleted items' membership to 0).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from obliviate.core.report.board import markdown_table, spread_cell

COLUMNS = [("distance", "distance to Retrain"), ("gap_deleted_auc", "Δ deleted AUC"), ("gap_utility", "Δ utility"),
           ("gap_membership", "Δ membership"), ("utility", "utility"), ("deleted_auc", "deleted-edge AUC"),
           ("membership", "membership"), ("membership_auc", "attack AUC (original)"),
           ("time_vs_retrain", "time / Retrain")]


def table(board: dict) -> str:
    heads = ["dataset", "task", "setting", "method", "runs"] + [h for _, h in COLUMNS]
    rows = [[r["dataset"], r["task"], r["setting"], r["method"], str(r["runs"])]
            + [spread_cell(r, k, 2 if k == "time_vs_retrain" else 3) for k, _ in COLUMNS] for r in board["rows"]]
    return markdown_table(heads, rows)


def pivot(board: dict) -> str:
    methods = sorted({r["method"] for r in board["rows"]} - {"Retrain"})
    groups: dict[tuple, dict[str, dict]] = {}
    for r in board["rows"]:
        groups.setdefault((r["dataset"], r["task"], r["setting"]), {})[r["method"]] = r
    rows = []
    for key, by in groups.items():
        scored = [m for m in methods if m in by and isinstance(by[m].get("distance"), float)]
        best = min(scored, key=lambda m: by[m]["distance"]) if scored else "–"
        rows.append([*key, str(by.get("Retrain", {}).get("runs", "–"))]
                    + [spread_cell(by[m], "distance") if m in by else "–" for m in methods] + [best])
    return markdown_table(["dataset", "task", "setting", "runs"] + methods + ["closest"], rows)


def main(argv: list[str]) -> None:
    as_pivot = "--pivot" in argv
    argv = [a for a in argv if a != "--pivot"]
    if len(argv) != 1:
        sys.exit("usage: python benchmarks/graph_distance_table.py [--pivot] OUT  (a finished graph bench folder)")
    path = Path(argv[0]) / "leaderboard.json"
    if not path.is_file():
        sys.exit(f"{path}: no leaderboard here; run `obliviate graph bench --out {argv[0]}` first")
    board = json.loads(path.read_text())
    print(pivot(board) if as_pivot else table(board))


if __name__ == "__main__":
    main(sys.argv[1:])
