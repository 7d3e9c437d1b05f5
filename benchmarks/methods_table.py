"""Every registered method through the demo path on the same cached target/gold models.

    python benchmarks/methods_table.py                 # SmolLM2-135M (about 4 min per method on 2 CPU cores)
    python benchmarks/methods_table.py --tiny          # tiny model, seconds
    python benchmarks/methods_table.py --methods npo simnpo

One seed, default unlearning settings (5 epochs, lr 2e-5, batch 4); the target
and gold models come from the demo's cache (trained on the first call).
Prints one row per method.
"""

from __future__ import annotations

import argparse
import json
import time

from obliviate import api
from obliviate.llm.methods import METHODS


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--methods", nargs="*", default=None)
    p.add_argument("--runs-dir", default="runs/bench-methods")
    a = p.parse_args()
    rows = []
    for name in a.methods or METHODS.names():
        cfg = api.tiny_demo_config() if a.tiny else api.DemoConfig()
        cfg.method, cfg.runs_dir = name, a.runs_dir
        t = time.time()
        run = api.run_demo(cfg)
        m = json.loads((run / "metrics.json").read_text())
        u, tgt = m["models"]["unlearned"], m["models"]["target"]
        rows.append((name, u["forget"]["answer_prob"], u["forget"]["rouge_l_recall"], u["forget"]["exact_answer_match"],
                     u["forget_quality_ks_pvalue"], u["retain"]["exact_answer_match"], u["model_utility_hmean"],
                     u["model_utility_hmean"] / tgt["model_utility_hmean"], m["unlearn_seconds"], time.time() - t))
        print(f"done {name}: {run}", flush=True)
    head = ("method", "forget_prob", "forget_rougeL", "forget_exact", "forget_quality", "retain_exact",
            "utility", "utility/target", "unlearn_s", "total_s")
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for r in rows:
        print("| " + r[0] + " | " + " | ".join(f"{v:.4g}" for v in r[1:]) + " |")


if __name__ == "__main__":
    main()
