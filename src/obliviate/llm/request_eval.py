"""Evaluating a forget request on a real model: what it knew, what it still knows, what it lost beside.

A *request* is a plain forget file (questions and answers the model learned in
pretraining or the user's own fine-tuning), a retain file, and what the tool
derives (:mod:`obliviate.llm.data.request`): paraphrases, wrong answers, a
never-seen reference of the same kind and a general-knowledge set that was not
trained. :func:`evaluate_request` judges knowledge on the model's own greedy
answers (:mod:`obliviate.llm.eval.known`) before and after, in each prompt
style, and adds the answer probability of the forget set against the
never-seen reference (what "like a fact it never learned" looks like).

Sets (each skipped with a reason when empty): ``forget``, ``forget_paraphrase``
(the same facts asked in other words), ``topic_holdout`` (other questions of
the topic, not trained: does forgetting generalise), ``retain`` (trained to
keep) and ``general`` (general knowledge that was **not** trained: model
utility that the retain term cannot inflate).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from obliviate.core.report.page import Examples, Notes, Page, Table, today, version_line
from obliviate.llm.eval.known import STYLES, compare, frame_splits, scorers
from obliviate.llm.eval.scoring import knowledge

SET_LABELS = {
    "forget": "forget request",
    "forget_paraphrase": "forget, paraphrased questions",
    "topic_holdout": "held-out questions of the topic",
    "retain": "retain set (trained to keep)",
    "general": "general knowledge, not trained",
}
FORGET_SETS = ("forget", "forget_paraphrase", "topic_holdout")


def request_sets(splits, topic_holdout: Sequence | None = None) -> tuple[dict[str, list], dict[str, str]]:
    """The record sets a request is judged on, and a one-line reason for each set left out."""
    sets = {"forget": list(splits.forget), "topic_holdout": list(topic_holdout or []),
            "retain": list(splits.retain), "general": list(splits.world_facts)}
    reasons = {"topic_holdout": "no held-out questions of the topic given (--topic-holdout FILE)",
               "retain": "no retain records", "general": "no general-knowledge records left after removing the "
                                                           "forget and retain questions"}
    skipped = {name: reasons[name] for name, recs in sets.items() if not recs and name in reasons}
    return {k: v for k, v in sets.items() if v}, skipped


def evaluate_request(model, tokenizer, original, splits, *, styles: Sequence[str] = STYLES,
                     topic_holdout: Sequence | None = None, before: dict[str, Any] | None = None,
                     every_style: Sequence[str] | None = None) -> dict[str, Any]:
    """Facts known before (``original``) and after (``model``), per set and prompt style; see the module docstring.

    ``before``: scorers per style on ``original`` from an earlier call (:func:`~obliviate.llm.eval.known.scorers`),
    so that several unlearned models are compared with one set of the original's answers. ``every_style``: the
    sets asked in every style, the rest in the first only (``None``: every set in every style).

    Returns:
        :func:`~obliviate.llm.eval.known.compare`'s result plus ``skipped`` (set: reason), ``derived`` (forget
        fields the tool derived: count of records), ``answer_prob`` (per-token probability, in the trained
        format, of the sentences the original states the forget facts in and of the never-seen reference's,
        :func:`~obliviate.llm.eval.known.frame_splits`, before and after) and ``headline`` (the figures a table
        shows).
    """
    sets, skipped = request_sets(splits, topic_holdout)
    before = before if before is not None else scorers(original, tokenizer, styles)
    after = scorers(model, tokenizer, styles)
    result = compare(after, {s: before[s] for s in styles}, sets,
                     paraphrase_of={"forget_paraphrase": "forget"}, every_style=every_style)
    result["skipped"] = skipped
    result["derived"] = dict(Counter(name for r in splits.forget for name in r.meta.get("derived", [])))
    probs: dict[str, Any] = {}
    trained = before.get("trained") or scorers(original, tokenizer, ["trained"])["trained"]
    framed = frame_splits(original, tokenizer, splits, scorer=trained)  # the sentences the original states them in
    trained_after = after.get("trained") or scorers(model, tokenizer, ["trained"])["trained"]
    for who, sc in (("before", trained), ("after", trained_after)):
        probs[who] = {"forget": float(knowledge(sc, framed.forget).mean())}
        if framed.holdout:
            probs[who]["unseen"] = float(knowledge(sc, framed.holdout).mean())
    result["answer_prob"] = probs
    result["headline"] = headline(result)
    return result


def headline(result: dict[str, Any]) -> dict[str, float]:
    """Forgotten share of the known forget facts, kept share of retain and general knowledge (first style)."""
    style = result["styles"][0]
    out: dict[str, float] = {}
    for name, counts in result["sets"].items():
        c = counts[style]
        key = "forgotten" if name in FORGET_SETS else "kept"
        out[f"{name}_{key}"] = c[f"{key}_share"]
        out[f"{name}_known_before"] = c["known_before"]
    return out


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x * 100:.0f}%"


def request_rows(result: dict[str, Any]) -> list[list[str]]:
    """Per set and style: known before, still known, forgotten (forget sets) or kept (others), declined."""
    rows = []
    for name, counts in result["sets"].items():
        for style, c in counts.items():
            share = c["forgotten_share"] if name in FORGET_SETS else c["kept_share"]
            rows.append([SET_LABELS.get(name, name), style, f"{c['known_before']}/{c['n']}", str(c["still_known"]),
                         ("forgotten " if name in FORGET_SETS else "kept ") + _pct(share), str(c["idk"])])
    return rows


HEADS = ["set", "prompt", "known before", "still known", "share", "says I don't know"]


def format_request(result: dict[str, Any]) -> str:
    """The evaluation as a plain-text table, with the skipped sets and derived fields."""
    rows = [HEADS, *request_rows(result)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    p = result.get("answer_prob", {})
    if "unseen" in p.get("after", {}):
        lines.append(f"forget answer probability per token: before {p['before']['forget']:.3f}, after "
                     f"{p['after']['forget']:.3f}; never-seen reference {p['after']['unseen']:.3f}")
    for name, why in result.get("skipped", {}).items():
        lines.append(f"skipped {name}: {why}")
    if result.get("derived"):
        lines.append("derived forget fields (records): " + ", ".join(f"{k} {v}" for k, v in
                                                                      sorted(result["derived"].items())))
    return "\n".join(lines)


def request_page(result: dict[str, Any], header: dict[str, str]) -> Page:
    """The HTML report of a request evaluation: the table, how to read it, example answers before and after."""
    h = result["headline"]
    reading = (f"Of the forget facts the original stated, {_pct(h.get('forget_forgotten'))} are no longer stated "
               f"({result['styles'][0]} prompt); general knowledge that was not trained kept "
               f"{_pct(h.get('general_kept'))}.")
    notes = Notes([
        ("known", "the model's greedy answer states the fact's key span (accents and punctuation folded, whole "
                  "words); facts the original did not state are left out of forgotten and kept"),
        ("prompt", "chat: the model's own chat template, the question as the only user turn; trained: the "
                   "format the unlearning methods train in"),
        ("general", "general knowledge that was not in the retain set: training on the retain set cannot "
                    "inflate it"),
        *((f"skipped {k}", v) for k, v in result.get("skipped", {}).items()),
        *((("derived", ", ".join(f"{k} ({v} records)" for k, v in sorted(result["derived"].items()))),)
          if result.get("derived") else ()),
    ], title="How to read it")
    examples = [{"split": SET_LABELS.get(name, name), "question": e["question"], "answer": e["key"],
                 "answers": {"before": e["before"], "after": e["after"]}}
                for name, rows in result.get("examples", {}).items() for e in rows[:4]]
    blocks: list = [Table(HEADS, request_rows(result), left=2), notes]
    if examples:
        blocks.append(Examples(["before", "after"], examples, title="Answers before and after"))
    return Page("obliviate: forget request", {**header, "date": today(), "version": version_line()}, reading,
                blocks, written_by=header.get("written by", "obliviate eval"))
