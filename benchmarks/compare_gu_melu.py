"""Tables for issue 4's questions from a finished bench folder: does GU raise utility at equal
forgetting, and does MELU beat 1:1 and cyclic sampling?

    python benchmarks/compare_gu_melu.py runs/bench-gu-melu

Reads ``<bench>/runs/*/metrics.json`` (written by ``obliviate bench``) and prints
markdown: one row per run spec (mean ± std over seeds), then the paired
difference ``X+gu - X`` per method and seed, then the NPO sampler variants.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

FIGURES = [  # (header, getter)
    ("forget prob", lambda m: m["metrics"]["forget"]["answer_prob"]),
    ("forget ROUGE-L", lambda m: m["metrics"]["forget"]["rouge_l_recall"]),
    ("log10 FQ", lambda m: m["metrics"].get("forget_quality_log10_pvalue", math.nan)),
    ("model utility", lambda m: m["metrics"].get("model_utility_hmean", math.nan)),
    ("retain prob", lambda m: m["metrics"]["retain"]["answer_prob"]),
    ("neighbour prob", lambda m: m["metrics"].get("neighbours", {}).get("answer_prob", math.nan)),
    ("relearn rec.", lambda m: max([v for k, v in m["audit"].items() if k.endswith(".max_residual")] or [math.nan])),
    ("steps s", lambda m: m.get("unlearn_seconds", math.nan)),
]


def load(folder: Path) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {}
    for p in sorted((folder / "runs").glob("*/metrics.json")):
        m = json.loads(p.read_text())
        if not m.get("control"):
            runs.setdefault(m["name"], []).append(m)
    return runs


def cell(xs: list[float], digits: int = 3) -> str:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    if not xs:
        return "–"
    mean = float(np.mean(xs))
    return f"{mean:.{digits}f}" + (f" ± {float(np.std(xs, ddof=1)):.{digits}f}" if len(xs) > 1 else "")


def spec_table(runs: dict[str, list[dict]], names: list[str]) -> str:
    head = "| spec | seeds | " + " | ".join(h for h, _ in FIGURES) + " | forgotten |"
    lines = [head, "|" + " --- |" * (len(FIGURES) + 3)]
    for name in names:
        rs = runs[name]
        vals = [cell([get(r) for r in rs], 1 if h == "steps s" else 3) for h, get in FIGURES]
        verdicts = f"{sum(r['verdict'] == 'FORGOTTEN' for r in rs)}/{len(rs)}"
        lines.append(f"| {name} | {len(rs)} | " + " | ".join(vals) + f" | {verdicts} |")
    return "\n".join(lines)


def gu_table(runs: dict[str, list[dict]]) -> str:
    lines = ["| method | seeds paired | Δ forget prob | Δ log10 FQ | Δ model utility | Δ retain prob |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name in sorted(n for n in runs if "+" not in n and "@" not in n):
        if name + "+gu" not in runs:
            continue
        base = {r["seed"]: r for r in runs[name]}
        gu = {r["seed"]: r for r in runs[name + "+gu"]}
        seeds = sorted(set(base) & set(gu))
        deltas = []
        for _, get in (FIGURES[0], FIGURES[2], FIGURES[3], FIGURES[4]):
            deltas.append(cell([get(gu[s]) - get(base[s]) for s in seeds]))
        lines.append(f"| {name} | {len(seeds)} | " + " | ".join(deltas) + " |")
    return "\n".join(lines)


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/bench-gu-melu")
    runs = load(folder)
    plain = sorted(n for n in runs if "@" not in n)
    samplers = ["NPO"] + sorted(n for n in runs if n.startswith("NPO@"))
    print(f"## {folder}\n\n### Methods alone and with GU\n")
    print(spec_table(runs, plain))
    print("\n### GU minus sum, paired by seed (mean ± std)\n")
    print(gu_table(runs))
    print("\n### NPO under each sampler (`NPO` = 1:1 random)\n")
    print(spec_table(runs, [s for s in samplers if s in runs]))


if __name__ == "__main__":
    main()
