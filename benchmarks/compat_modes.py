"""A demo run's models scored under both conventions, side by side: ``obliviate`` (default) and
``openunlearning`` (``compat``), with the forget quality against the run's own gold model.

    python benchmarks/compat_modes.py runs/<stamp>-demo [--max-per-split 40] [--json out.json]

The world, target and gold come from the run's ``config.yaml`` (the demo's cache); the unlearned model
from ``RUN/model``. Prints one table per model (target, unlearned, gold): each figure in both modes and
their difference, plus the OpenUnlearning summary keys of the unlearned model in compat mode.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROWS = [  # (split, key)
    ("forget", "answer_prob"), ("forget", "para_prob"), ("forget", "pert_prob"), ("forget", "rouge_l_recall"),
    ("forget", "rouge1_recall"), ("forget", "rouge_l_f1"), ("forget", "para_rouge_l_recall"),
    ("forget", "pert_rouge_l_recall"), ("forget", "truth_ratio"), ("forget", "truth_ratio_prob_mean"),
    ("forget", "median_token_nll"), ("retain", "answer_prob"), ("retain", "rouge_l_recall"),
    ("retain", "truth_ratio"), ("real_entities", "answer_prob"), ("real_entities", "rouge_l_recall"),
    ("world_facts", "answer_prob"), ("world_facts", "rouge_l_recall"),
    ("", "model_utility_hmean"), ("", "forget_quality_ks_pvalue"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--max-per-split", type=int, default=40)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from transformers import AutoModelForCausalLM

    from obliviate import api
    from obliviate.core.config import load_yaml
    from obliviate.llm.eval.metrics import METRICS, MetricContext
    from obliviate.llm.eval.scoring import Scorer

    cfg = api.demo_config_from(load_yaml(args.run / "config.yaml"))
    p = api.prepare(cfg)
    unlearned = AutoModelForCausalLM.from_pretrained(args.run / "model").eval()
    models = {"target": p.target, "unlearned": unlearned, "gold": p.gold}
    out: dict = {"run": str(args.run), "models": {}}
    for compat in ("obliviate", "openunlearning"):
        t0 = time.time()
        _, gold_ps = api.evaluate(p.gold, p.tokenizer, p.splits, max_per_split=args.max_per_split, compat=compat)
        gold_tr = gold_ps["forget"]["truth_ratio"]
        for name, model in models.items():
            scorer = Scorer(model, p.tokenizer)  # one memo for the evaluation and the memorisation figures
            m, _ = api.evaluate(model, p.tokenizer, p.splits, gold_forget_truth_ratios=gold_tr,
                                max_per_split=args.max_per_split, compat=compat, scorer=scorer)
            mem = METRICS.get("memorization")(scorer, p.splits.forget, MetricContext("forget", {"compat": compat}))
            m["forget"].update(mem)
            out["models"].setdefault(name, {})[compat] = m
        out.setdefault("seconds", {})[compat] = round(time.time() - t0, 1)
    summary = api.openunlearning_summary(out["models"]["unlearned"]["openunlearning"], unlearned, p.tokenizer,
                                         p.splits)
    out["unlearned_summary"] = summary

    rows = ROWS + [("forget", "extraction_strength"), ("forget", "exact_memorization")]
    for name, modes in out["models"].items():
        print(f"\n{name}: figure | obliviate | openunlearning | difference")
        for split, key in rows:
            a = modes["obliviate"].get(split, {}).get(key) if split else modes["obliviate"].get(key)
            b = modes["openunlearning"].get(split, {}).get(key) if split else modes["openunlearning"].get(key)
            if a is None or b is None:
                continue
            label = f"{split}.{key}" if split else key
            print(f"| {label} | {a:.4g} | {b:.4g} | {b - a:+.3g} |")
        print(f"collapsed: {modes['obliviate'].get('collapsed')}")
    print("\nunlearned, OpenUnlearning summary keys:", json.dumps(summary, indent=1))
    print("seconds per mode (3 models + gold reference):", out["seconds"])
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
