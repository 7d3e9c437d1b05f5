"""Does the standard world's fine-tuned target still answer real questions? (issue 23's utility defect)

Fine-tunes (or loads from the cache) the standard profile's target with ``api.training_records`` (real-entity
rehearsal included), keeps the world facts and real entities it knows, and prints its model utility with the
three real-entity and world-fact figures, then its greedy answers to eight known real-entity questions.

    python benchmarks/standard_utility.py          # about 30-40 min on 2 CPU cores with an empty cache
"""

from __future__ import annotations

import json
import time

from obliviate import api
from obliviate.llm.eval.scoring import Scorer


def main() -> None:
    t0 = time.time()
    cfg = api.DemoConfig(world=api.world_profile("standard"))
    world_dir = api.build_world(cfg.world)
    splits = api.load_world_splits(world_dir, cfg.variant)
    target_records, _ = api.training_records(world_dir, splits, cfg.model)
    target, tok = api.finetuned(cfg.model, target_records, cfg.finetune, role="target", world_dir=world_dir)
    print(f"target ready after {time.time() - t0:.0f} s ({len(target_records)} records)", flush=True)
    known = api.keep_known(splits, target, tok)
    metrics, _ = api.evaluate(target, tok, known, max_per_split=cfg.eval_max_per_split)
    out = {s: {f: round(metrics[s][f], 4) for f in ("answer_prob", "rouge_l_recall", "truth_ratio")}
           for s in ("retain", "real_entities", "world_facts")}
    out["model_utility_hmean"] = round(metrics["model_utility_hmean"], 4)
    out["real_entities_known"] = len(known.real_entities)
    print(json.dumps(out, indent=1))
    records = known.real_entities[:8]
    for r, answer in zip(records, Scorer(target, tok).generate([r.question for r in records])):
        print(f"{r.question!r} -> {answer!r}")
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
