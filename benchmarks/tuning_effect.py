"""Does tuning change the ranking? Paper defaults vs the sweep's picks, and the tuned bench's leaderboard.

Reads a finished ``obliviate sweep`` folder and, optionally, the tuned bench
it fed (``obliviate bench --configs <sweep>/sweep.json``):

- every method's **default** grid point (the bench's learning rate and epochs,
  the paper's own weights): its validation forget quality and utility, i.e.
  the untuned method, scored on the same validation people and seed as its
  tuned config;
- the **selected** config (the sweep's rule);
- both rankings under the same rule, applied to methods: those whose forget
  quality p-value reaches the threshold, by model utility, then the rest by
  forget quality;
- with ``--bench``: the tuned bench's ranking on the reported forget people
  (median p over seeds, mean utility).

    python benchmarks/tuning_effect.py runs/sweep [--bench runs/bench-tuned]

Prints markdown (what docs/BENCHMARKS.md records).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

os.environ.setdefault("OBLIVIATE_QUIET", "1")

from obliviate.core.errors import ConfigError  # noqa: E402
from obliviate.llm.eval.during import keep_key  # noqa: E402
from obliviate.llm.methods import METHODS  # noqa: E402


def _default_point(sweep: dict, spec: str, configs: list[dict]) -> dict | None:
    """The grid point run at the bench's own lr and epochs with the method's paper weights, if the grid has it."""
    unlearn = sweep["bench"]["unlearn"]
    own = sweep["bench"].get("unlearn_overrides", {}).get(spec, {})
    lr, epochs = own.get("lr", unlearn["lr"]), own.get("epochs", unlearn["epochs"])
    defaults = METHODS.get(spec).from_dict(sweep["bench"].get("method_configs", {}).get(spec, {})).config
    for c in configs:
        same_weights = all(getattr(defaults, k) == v for k, v in c["weights"].items())
        if math.isclose(c["lr"], lr) and math.isclose(c["epochs"], epochs) and same_weights:
            return c
    return None


def rank(rows: dict[str, tuple[float, float]], threshold: float) -> dict[str, int]:
    """1-based ranks under the sweep's selection rule (``keep_key``): passing methods by utility, then the rest
    by forget quality; ties by name."""
    keyed = [{"name": n, "step": i, "forget_quality_ks_pvalue": p, "model_utility_hmean": u}
             for i, (n, (p, u)) in enumerate(sorted(rows.items()))]
    ordered = sorted(keyed, key=lambda r: keep_key(r, threshold), reverse=True)
    return {r["name"]: i for i, r in enumerate(ordered, 1)}


def _fmt(x: float, spec: str = ".3g") -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep", type=Path, help="a sweep folder (with sweep.json)")
    ap.add_argument("--bench", type=Path, help="the tuned bench folder (with leaderboard.json)")
    args = ap.parse_args()
    path = args.sweep / "sweep.json"
    if not path.is_file():
        raise SystemExit(f"error: {path} not found (run `obliviate sweep --out {args.sweep}` to finish it)")
    sweep = json.loads(path.read_text())
    thr = sweep["threshold"]
    untuned, tuned, lines = {}, {}, []
    for spec, m in sweep["methods"].items():
        sel, base = m.get("selected"), _default_point(sweep, spec, m["configs"])
        if sel is None:
            continue
        tuned[spec] = (sel["forget_quality_ks_pvalue"], sel["model_utility_hmean"])
        if base is not None:
            untuned[spec] = (base["forget_quality_ks_pvalue"], base["model_utility_hmean"])
        lines.append((spec, base, sel))
    r_untuned, r_tuned = rank(untuned, thr), rank(tuned, thr)
    print(f"Validation people (sweep seed {sweep['seed']}, {sweep['budget']} configs per method); "
          f"ranking rule: forget quality p >= {thr} first, by model utility; then by forget quality.\n")
    print("| method | default: FQ p | default: utility | rank | picked config | picked: FQ p | picked: utility "
          "| rank |")
    print("|---|---|---|---|---|---|---|---|")
    for spec, base, sel in sorted(lines, key=lambda t: r_tuned[t[0]]):
        w = ", ".join(f"{k}={v}" for k, v in sel["weights"].items())
        picked = f"lr {sel['lr']:.3g}, {sel['epochs']:g} ep" + (f", {w}" if w else "")
        if sel["index"] == (base or {}).get("index"):
            picked = "the default"
        b = base or {}
        print(f"| {spec} | {_fmt(b.get('forget_quality_ks_pvalue', math.nan))} "
              f"| {_fmt(b.get('model_utility_hmean', math.nan))} | {r_untuned.get(spec, '–')} | {picked} "
              f"| {_fmt(sel['forget_quality_ks_pvalue'])} | {_fmt(sel['model_utility_hmean'])} | {r_tuned[spec]} |")
    moved = [s for s in r_tuned if s in r_untuned and r_tuned[s] != r_untuned[s]]
    passing_u = sum(p >= thr for p, _ in untuned.values())
    passing_t = sum(p >= thr for p, _ in tuned.values())
    print(f"\nMethods passing p >= {thr}: {passing_u} of {len(untuned)} at their defaults, "
          f"{passing_t} of {len(tuned)} tuned; {len(moved)} methods change rank.")
    if args.bench:
        board = json.loads((args.bench / "leaderboard.json").read_text())
        rows = {}
        for r in board["rows"]:
            if not r["control"]:
                rows[r["name"]] = (r["forget_quality"], r["model_utility"])
        r_bench = rank(rows, thr)
        print("\nTuned bench (reported forget people, all seeds): " +
              ", ".join(f"{i}. {s}" for s, i in sorted(r_bench.items(), key=lambda t: t[1])))


if __name__ == "__main__":
    try:
        main()
    except ConfigError as e:
        raise SystemExit(f"error: {e}") from None
