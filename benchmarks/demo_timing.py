"""Time the demo end to end: first run (fresh cache) and second run (cached models).

    python benchmarks/demo_timing.py            # real SmolLM2-135M (about 30 min on 2 CPU cores)
    python benchmarks/demo_timing.py --tiny     # the tiny path (about a minute)

Prints the wall time of each run and the demo's side-by-side table figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args: list[str], env: dict[str, str]) -> tuple[float, Path]:
    t = time.time()
    out = subprocess.run([sys.executable, "-m", "obliviate.cli", "demo", *args], env=env, check=True,
                         capture_output=True, text=True)
    wall = time.time() - t
    run_dir = Path(out.stdout.split("run folder: ")[1].split()[0])
    return wall, run_dir


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--home", help="OBLIVIATE_HOME to use (default: a fresh temp folder)")
    a = p.parse_args()
    home = a.home or tempfile.mkdtemp(prefix="obliviate-bench-")
    env = {**os.environ, "OBLIVIATE_HOME": home, "OBLIVIATE_QUIET": "1", "HF_HUB_OFFLINE": "1"}
    args = ["--tiny"] if a.tiny else []
    runs = tempfile.mkdtemp(prefix="obliviate-runs-")
    first, run1 = run([*args, "--runs-dir", runs], env)
    second, run2 = run([*args, "--runs-dir", runs], env)
    print(f"first run (fresh cache): {first:7.1f} s   second run (cached): {second:7.1f} s   "
          f"ratio {first / second:.1f}x")
    metrics = json.loads((run2 / "metrics.json").read_text())["models"]
    for name, m in metrics.items():
        print(f"{name:10s} forget_prob={m['forget']['answer_prob']:.4f} "
              f"forget_rougeL={m['forget']['rouge_l_recall']:.3f} "
              f"forget_exact={m['forget']['exact_answer_match']:.2f} "
              f"retain_exact={m['retain']['exact_answer_match']:.2f} "
              f"utility={m['model_utility_hmean']:.4f} "
              f"forget_quality={m.get('forget_quality_ks_pvalue', float('nan')):.3g}")


if __name__ == "__main__":
    main()
