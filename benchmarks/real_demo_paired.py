"""Paired test of `demo --real`'s budgets: per method, does stopping at the never-seen reference keep more
general facts than the fixed budget, fact by fact?

    python benchmarks/real_demo_paired.py runs/<stamp>-demo-real

Asks the base model and each method's two unlearned models (fixed budget, --stop-at unseen) the untrained
general facts in the chat format, keeps the facts the base model states, and prints per method how many each
model still states and the exact McNemar test on the facts where the two disagree (two-sided binomial test
on the discordant pairs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scipy.stats import binomtest

from obliviate.llm.data.user_files import load_records
from obliviate.llm.eval.known import known
from obliviate.llm.eval.scoring import Scorer
from obliviate.models import load


def main(folder: str) -> None:
    root = Path(folder)
    cfg = json.loads((root / "demo-real.json").read_text())
    results = json.loads((root / "results.json").read_text())
    general = load_records(root / "request" / "general.jsonl", "general")
    base, tok = load(cfg["model"])
    before = known(Scorer(base, tok, style="chat"), general)
    facts = [r for r, k in zip(general, before) if k]
    print(f"general facts the base model states in chat: {len(facts)} of {len(general)}")
    print("| method | fixed keeps | unseen keeps | only fixed | only unseen | McNemar p (exact, two-sided) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    runs = results["runs"]
    for method in cfg["methods"]:
        kept = {}
        for budget in ("fixed", "unseen"):
            net, _ = load(str(root / "runs" / runs[f"{method}/{budget}"]["folder"] / "model"))
            kept[budget] = known(Scorer(net, tok, style="chat"), facts)
        only_fixed = int((kept["fixed"] & ~kept["unseen"]).sum())
        only_unseen = int((kept["unseen"] & ~kept["fixed"]).sum())
        n = only_fixed + only_unseen
        p = binomtest(min(only_fixed, only_unseen), n, 0.5).pvalue if n else 1.0
        print(f"| {method} | {int(kept['fixed'].sum())} | {int(kept['unseen'].sum())} | {only_fixed} | "
              f"{only_unseen} | {p:.3g} |", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
