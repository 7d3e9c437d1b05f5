"""GU's cost per optimizer step against the plain ``sum`` combiner, measured side by side.

    python benchmarks/gu_overhead.py [--model smollm2-135m] [--steps 8] [--rounds 2] [--method npo]

Unlearns the default world's forget10 split from the cached target model with
each combiner in turn (sum, gu euclidean, gu adam; the rounds interleave them so
machine load hits all alike) and prints the median seconds per step and the
ratio to ``sum``. The first step of each run (optimizer state allocation) is
left out.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

from obliviate import api

COMBINERS = [("sum", {}), ("gu", {"geometry": "euclidean"}), ("gu", {"geometry": "adam"})]


def step_times(model, tok, splits, method: str, combiner: str, settings: dict, steps: int) -> list[float]:
    stamps: list[float] = []
    cfg = api.UnlearnConfig(epochs=steps / 5, checkpoint_every=0, combiner=combiner, combiner_config=settings)
    api.unlearn(copy.deepcopy(model), tok, splits, method, cfg,
                callbacks=[lambda step, logs: stamps.append(time.perf_counter())])
    return [b - a for a, b in zip(stamps, stamps[1:])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--method", default="npo")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    cfg = api.DemoConfig(model=args.model) if args.model != api.TINY else api.tiny_demo_config()
    world_dir = api.build_world(cfg.world)
    splits = api.load_world_splits(world_dir, cfg.variant)
    extra = list(splits.world_facts) if cfg.model == api.TINY else []  # as api.prepare trains it
    model, tok = api.finetuned(cfg.model, splits.forget + splits.retain + extra, cfg.finetune, role="target",
                               world_dir=world_dir)
    times: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, settings in COMBINERS:
            label = name + (f" ({settings['geometry']})" if settings else "")
            times.setdefault(label, []).extend(step_times(model, tok, splits, args.method, name, settings,
                                                          args.steps))
    base = statistics.median(times["sum"])
    print(f"{args.method} on {args.model}, {args.rounds} rounds x {args.steps} steps, median s/step:")
    for label, ts in times.items():
        print(f"  {label:<16} {statistics.median(ts):7.3f} s/step   x{statistics.median(ts) / base:.2f} vs sum")


if __name__ == "__main__":
    main()
