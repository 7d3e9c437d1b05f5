"""SMARL: the evaluation figures with 95% t-intervals, over training seeds (learned) and eval runs (classical).

Reads the ``metrics.json`` of ``obliviate smarl eval`` folders (each closure row holds ``per_run``: the figures
of every eval run on its own) and of ``obliviate smarl train`` folders, and prints markdown tables:

- the learned closure: one value per training seed (the mean over that seed's eval runs), the interval over
  the seeds;
- each classical closure: one value per eval run (one eval holds several runs of it, from the authors'
  initial fields), the interval over those runs;
- the DNS reference row (the authors' PDF; its DNS cost where the eval timed it);
- the training cost per seed: wall seconds, iterations, reward per action step over the first and last
  ``--window`` iterations, blow-ups.

    OMP_NUM_THREADS=1 python benchmarks/smarl_seeds.py --classical runs/smarl-k25/eval-classical \\
        --learned runs/smarl-k25/eval-s0 runs/smarl-k25/eval-s1 runs/smarl-k25/eval-s2 \\
        --train runs/smarl-k25/train-s0 runs/smarl-k25/train-s1 runs/smarl-k25/train-s2

A folder is an eval or train run folder, or a ``--runs-dir`` holding exactly one of them. Nothing is simulated.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from obliviate.core.config import load_yaml
from obliviate.core.stats import mean_ci
from obliviate.smarl.rl import read_events

FIGURES = [("z_log_error", "spectrum log error (enstrophy)"), ("p3", "P(\\|x\\|>3σ)"), ("p4", "P(\\|x\\|>4σ)"),
           ("kurtosis", "kurtosis"), ("tail_divergence", "tail divergence"), ("blown_up", "blow-ups"),
           ("cost", "s per time unit")]
NAMES = {"none": "none", "smagorinsky": "Smagorinsky", "leith": "Leith", "dynamic-smagorinsky": "dynamic Smagorinsky",
         "learned": "**learned (PPO)**"}


def run_folder(path: Path, marker: str) -> Path:
    """``path`` itself when it holds ``marker``, else its only subfolder that does."""
    if (path / marker).is_file():
        return path
    found = sorted(p.parent for p in path.glob(f"*/{marker}"))
    if len(found) != 1:
        raise SystemExit(f"error: {path} holds {len(found)} run folders with {marker}; name one")
    return found[0]


def load_eval(path: Path) -> dict:
    metrics = json.loads((run_folder(path, "metrics.json") / "metrics.json").read_text())
    if metrics.get("kind") != "smarl-eval":
        raise SystemExit(f"error: {path} is not an 'obliviate smarl eval' folder")
    for row in metrics["rows"]:
        if "per_run" not in row:
            raise SystemExit(f"error: {path} has no per-run figures (evaluated before they were recorded)")
    return metrics


def fmt(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"{v:.3g}" if abs(v) >= 1e-2 or v == 0 else f"{v:.2e}"


def cell(stats: dict, key: str) -> str:
    """``mean [low, high]``; the mean alone where there is no interval (one value)."""
    ci = stats.get(key + "_ci")
    return fmt(stats[key]) + (f" [{fmt(ci[0])}, {fmt(ci[1])}]" if ci else "")


def run_values(row: dict) -> list[dict]:
    """One dict per eval run of a closure (its figures; the cost measured once per closure joins each)."""
    return [{**r, "cost": row["cost_s_per_time_unit"]} for r in row["per_run"]]


def seed_value(row: dict) -> dict:
    """One training seed's figures: the mean over its eval runs (blow-ups: the fraction of runs)."""
    keys = [k for k, _ in FIGURES]
    return {k: v for k, v in mean_ci(run_values(row), keys).items() if k in keys}


def table(classical: dict | None, learned: list[dict]) -> list[str]:
    keys = [k for k, _ in FIGURES]
    head = "| closure | over | " + " | ".join(t for _, t in FIGURES) + " |"
    lines = [head, "|" + "---|" * (len(FIGURES) + 2)]
    ref = (classical or learned[0])["reference"]
    dns_cost = next((m["reference"].get("dns_cost_s_per_time_unit") for m in [classical, *learned]
                     if m and m["reference"].get("dns_cost_s_per_time_unit")), None)
    lines.append("| DNS reference | authors' PDF | | " + " | ".join(fmt(ref.get(k)) for k in ("p3", "p4", "kurtosis"))
                 + f" | | | {fmt(dns_cost) + ' (1024²)' if dns_cost else ''} |")
    if classical:
        for row in classical["rows"]:
            if row["closure"] == "learned":
                continue
            runs = run_values(row)
            s = mean_ci(runs, keys)
            blown = sum(r["blown_up"] for r in runs)
            shown = {"blown_up": f"{blown}/{len(runs)}", "cost": fmt(row["cost_s_per_time_unit"])}  # one timing
            lines.append(f"| {NAMES.get(row['closure'], row['closure'])} | {len(runs)} eval runs | "
                         + " | ".join(shown.get(k) or cell(s, k) for k in keys) + " |")
    if learned:
        per_seed = []
        for m in learned:
            rows = [r for r in m["rows"] if r["closure"] == "learned"]
            if len(rows) != 1:
                raise SystemExit("error: a --learned eval folder must hold the learned closure")
            per_seed.append(seed_value(rows[0]))
        s = mean_ci(per_seed, keys)
        blown = sum(sum(r["blown_up"] for r in m["rows"][-1]["per_run"]) for m in learned)
        total = sum(len(m["rows"][-1]["per_run"]) for m in learned)
        measured = sum(1 for v in per_seed if not math.isnan(v["p4"]))  # seeds with a run that did not blow up
        over = f"{len(per_seed)} training seeds" + (f" (PDF, spectrum: {measured} with surviving runs)"
                                                      if measured < len(per_seed) else "")
        lines.append(f"| {NAMES['learned']} | {over} | "
                     + " | ".join(cell(s, k) if k != "blown_up" else f"{blown}/{total}" for k in keys) + " |")
        lines.append("")
        lines.append("Each training seed (mean and 95% t-interval over its eval runs that did not blow up):")
        lines.append("")
        lines.append("| seed eval | " + " | ".join(t for _, t in FIGURES) + " |")
        lines.append("|" + "---|" * (len(FIGURES) + 1))
        for m in learned:
            row = next(r for r in m["rows"] if r["closure"] == "learned")
            runs, st = row["per_run"], mean_ci(run_values(row), keys)
            shown = {"blown_up": f"{sum(r['blown_up'] for r in runs)}/{len(runs)}",
                     "cost": fmt(row["cost_s_per_time_unit"])}  # one timing per closure
            lines.append(f"| {Path(m['train_run']).name} | " + " | ".join(shown.get(k) or cell(st, k) for k in keys)
                         + " |")
    return lines


def train_table(folders: list[Path], window: int) -> list[str]:
    lines = [f"| run | seed | wall s | iterations | reward, iterations 1-{window} | reward, last {window} "
             "| training blow-ups |", "|---|---|---|---|---|---|---|"]
    for path in folders:
        path = run_folder(path, "train_summary.json")
        summary = json.loads((path / "train_summary.json").read_text())
        events = read_events(path)
        seed = load_yaml(path / "config.yaml").get("seed", "")
        first = mean_ci(events[:window], ["reward_mean"])["reward_mean"]
        last = mean_ci(events[-window:], ["reward_mean"])["reward_mean"]
        blown = sum(e.get("blowups", 0) for e in events)
        lines.append(f"| {path.name} | {seed} | {summary['wall_s']:.0f} | {summary['iterations']} | {fmt(first)} | "
                     f"{fmt(last)} | {blown} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classical", type=Path, help="an eval folder with the classical closures (several runs each)")
    ap.add_argument("--learned", type=Path, nargs="*", default=[], help="one eval folder per training seed")
    ap.add_argument("--train", type=Path, nargs="*", default=[], help="the training run folders (cost)")
    ap.add_argument("--window", type=int, default=25, help="iterations averaged for the start and end reward")
    args = ap.parse_args()
    if args.classical is None and not args.learned:
        raise SystemExit("error: give --classical and/or --learned")
    classical = load_eval(args.classical) if args.classical else None
    learned = [load_eval(p) for p in args.learned]
    ref = (classical or learned[0])
    print(f"case {ref['case']}, {ref['n']}², mean [95% t-interval]\n")
    print("\n".join(table(classical, learned)))
    if args.train:
        print()
        print("\n".join(train_table(args.train, args.window)))


if __name__ == "__main__":
    main()
