"""Print the figures of an `obliviate demo --real` run folder as the Markdown tables of docs/BENCHMARKS.md.

    python benchmarks/real_demo_table.py runs/<stamp>-demo-real

One row per method and budget: of the forget capitals the base model states, the share it no longer states
(chat and trained format, paraphrased questions, the held-out capitals), the share of the retain and the
untrained general facts it still states, answers that decline, words per general answer, steps and seconds of
unlearning; then the per-token probability of the forget sentences and of the never-seen reference.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _count(sets: dict, name: str, style: str) -> str:
    c = sets.get(name, {}).get(style)
    if c is None:
        return "n/a"
    forget = name in ("forget", "forget_paraphrase", "topic_holdout")
    gone = c["forgotten"] if forget else c["still_known"]
    return f"{gone}/{c['known_before']}"


def main(folder: str) -> None:
    results = json.loads((Path(folder) / "results.json").read_text())
    runs = list(results["runs"].values())
    print("| method | budget | forgotten, chat | forgotten, trained | paraphrased | held-out capitals | retain kept "
          "| general kept | declines (chat) | words/answer | steps | seconds |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    first = runs[0]["evaluation"]
    words = first["style"]["general"]["words_before"]
    print(f"| base model | | 0/{first['sets']['forget']['chat']['known_before']} "
          f"| 0/{first['sets']['forget']['trained']['known_before']} "
          f"| 0/{first['sets']['forget_paraphrase']['chat']['known_before']} "
          f"| 0/{first['sets']['topic_holdout']['chat']['known_before']} "
          f"| {first['sets']['retain']['chat']['known_before']}/{first['sets']['retain']['chat']['known_before']} "
          f"| {first['sets']['general']['chat']['known_before']}/{first['sets']['general']['chat']['known_before']} "
          f"| | {words:.1f} | | |")
    for r in runs:
        e, s = r["evaluation"], r["evaluation"]["sets"]
        print(f"| {r['method']} | {r['budget']}{' (step ' + str(r['stopped_at']) + ')' if r['stopped_at'] else ''} "
              f"| {_count(s, 'forget', 'chat')} | {_count(s, 'forget', 'trained')} "
              f"| {_count(s, 'forget_paraphrase', 'chat')} | {_count(s, 'topic_holdout', 'chat')} "
              f"| {_count(s, 'retain', 'chat')} | {_count(s, 'general', 'chat')} | {s['forget']['chat']['idk']} "
              f"| {e['style']['general']['words_after']:.1f} | {r['steps']} | {r['seconds']:.0f} |")
    print()
    print("| method | budget | forget sentences, per token | never-seen reference, per token |")
    print("| --- | --- | ---: | ---: |")
    p = first["answer_prob"]["before"]
    print(f"| base model | | {p['forget']:.3f} | {p['unseen']:.3f} |")
    for r in runs:
        p = r["evaluation"]["answer_prob"]["after"]
        print(f"| {r['method']} | {r['budget']} | {p['forget']:.2g} | {p['unseen']:.2g} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
