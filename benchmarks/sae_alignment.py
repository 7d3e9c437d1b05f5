"""Suppression or representation? Activation alignment of every method at equal forgetting (tiny model).

Each method unlearns the tiny demo's target until the forget answers' likelihood
p(a|q) has halved (checked after every step, by default at most 12 epochs at
lr 1e-3: the method contract's settings), then the SAE entity lens built on the target
says where the forget people now sit: 0 = with known people, 1 = with people
the model never saw. SAEGuided runs in its four (target, code) variants.

    python benchmarks/sae_alignment.py [--methods NPO,GradAscent,...] [--seed 0] [--full]
    python benchmarks/sae_alignment.py --model smollm2-135m --lr 1e-4 --epochs 5 --methods NPO --variants default

``--full`` runs every method to the end of the budget instead of stopping at
halving; ``--model smollm2-135m`` uses the default demo world and its cached
target instead of the tiny one.

Prints a markdown table (what docs/BENCHMARKS.md records).
"""

from __future__ import annotations

import argparse
import copy
import os
import time

os.environ.setdefault("OBLIVIATE_QUIET", "1")

import numpy as np  # noqa: E402

from obliviate import api  # noqa: E402
from obliviate.llm.eval.metrics.sae_alignment import alignment  # noqa: E402
from obliviate.llm.eval.scoring import Scorer  # noqa: E402
from obliviate.llm.interp.latents import LensConfig, build_lens  # noqa: E402

VARIANTS = {
    "SAEGuided (paired, full)": ("SAEGuided", {}),
    "SAEGuided (paired, latents)": ("SAEGuided", {"code": "latents"}),
    "SAEGuided (mean, full)": ("SAEGuided", {"target": "mean"}),
    "SAEGuided (mean, latents)": ("SAEGuided", {"target": "mean", "code": "latents"}),
}


def likelihood(model, tok, records) -> float:
    logp, _ = Scorer(model, tok).answer_logprobs([(r.question, r.answer) for r in records])
    return float(np.exp(logp).mean())


def prob(model, tok, records) -> float:
    logp, n = Scorer(model, tok).answer_logprobs([(r.question, r.answer) for r in records])
    return float(np.exp(logp / n).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="GradAscent,GradDiff,NPO,SimNPO,RMU,FLAT,KLUE")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--full", action="store_true", help="train to the end of the budget (no stop at halving)")
    ap.add_argument("--model", default="tiny", help="tiny (the tiny demo) or smollm2-135m (the default demo)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--epochs", type=float, default=12.0)
    ap.add_argument("--variants", default="all", help="SAEGuided variants: all, default or none")
    args = ap.parse_args()
    p = api.prepare(api.tiny_demo_config() if args.model == "tiny" else api.DemoConfig(model=args.model))
    tok, splits = p.tokenizer, p.splits
    lens = build_lens(p.target, tok, splits, LensConfig())
    known = [r for r in splits.retain if r.id in set(lens.info["known_records"])]
    q = lens.info["sae_quality"]["heldout"]
    print(f"lens at {lens.point}: SAE held-out FVE {q['fve']:.3f}, L0 {q['l0']:.1f}, dead {q['dead_fraction']:.1%}; "
          f"{len(lens.latents.known)} known and {len(lens.latents.unknown)} unknown latents")
    variants = {"all": VARIANTS, "default": dict(list(VARIANTS.items())[:1]), "none": {}}[args.variants]
    runs = {m: (m, {}) for m in args.methods.split(",") if m} | variants
    before = alignment(lens, p.target, tok, splits.forget, known, splits.holdout).summary()
    l0, r0 = likelihood(p.target, tok, splits.forget), prob(p.target, tok, splits.retain)
    rows = [("target (before)", "–", l0, r0, before)]
    for label, (method, mcfg) in runs.items():
        model = copy.deepcopy(p.target)
        steps = []

        def halved(step, logs, model=model, steps=steps):
            steps.append(step)
            return not args.full and likelihood(model, tok, splits.forget) < 0.5 * l0

        t = time.time()
        cfg = api.UnlearnConfig(epochs=args.epochs, lr=args.lr, batch_size=4, checkpoint_every=0, seed=args.seed)
        out = api.unlearn(model, tok, splits, method, cfg, method_config=mcfg, callbacks=[halved])
        s = alignment(lens, out, tok, splits.forget, known, splits.holdout).summary()
        rows.append((label, f"{steps[-1] if steps else 0} ({time.time() - t:.0f} s)",
                     likelihood(out, tok, splits.forget), prob(out, tok, splits.retain), s))
    print("\n| method | steps" + ("" if args.full else " to halve")
          + " | forget p(a\\|q) | retain prob | forget knownness | known | unknown | alignment | nearer unknown |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, steps, lf, rp, s in rows:
        print(f"| {label} | {steps} | {lf:.3f} | {rp:.3f} | {s['forget.knownness']:.3f} | {s['known.knownness']:.3f} "
              f"| {s['unknown.knownness']:.3f} | {s['alignment']:.2f} | {s['nearer_unknown']:.2f} |")


if __name__ == "__main__":
    main()
