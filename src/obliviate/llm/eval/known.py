"""Knowledge judged the way the model answers: does its own greedy answer state the fact?

For pretrained knowledge the likelihood of the user's answer wording says
little ("Paris." against the model's "The capital of France is Paris."), and
exact match says nothing. Here a fact is **known** when the model's greedy
answer states its *key span* (``meta["key"]``, given or derived by
:func:`~obliviate.llm.data.request.key_span`): the key's words, accents and
punctuation folded, appear as whole words in the answer. "J.R.R.R. Tolkien"
does not state "J.R.R. Tolkien"; "The capital of France is Paris." states
"Paris".

:func:`compare` asks the model before (``original``) and after unlearning the
same questions, in each prompt style (``chat``: the model's own chat template,
how people use it; ``trained``: the format methods train in; or a
``{question}`` template), and counts per set:

* ``known_before``: facts the original states; only these can be forgotten.
  The others are listed as ``not_known_before`` and left out.
* ``still_known`` / ``forgotten``: of those, stated after / no longer stated.
* ``idk``: answers that decline ("I don't know", "I'm not sure"...) instead of
  confabulating a wrong value.

Model utility is read on a general set that was **not** trained (not in the
retain set), so fitting the retain set cannot inflate it; the change of answer
style (words per answer) is reported apart, as ``style``.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from obliviate.llm.data.records import QARecord
from obliviate.llm.data.request import key_span, replace_span, span_end
from obliviate.llm.encoding import check_prompt_style
from obliviate.llm.eval.scoring import Scorer

KNOWN_TOKENS = 32  # greedy tokens per answer (a sentence stating a short fact fits in ~20); the Scorer's default,
# so these answers are the ones the TOFU metrics generate (one memo)
STYLES = ("chat", "trained")
IDK = re.compile(r"\b(i (do not|don ?t|am not sure|m not sure|cannot|can ?t|have no)|not sure|no information|"
                 r"unknown|i am unable|i m unable|no idea)\b")
EXAMPLES = 8  # example answers shown per set


def normal(text: str) -> str:
    """Lower-case words of ``text`` with accents folded and punctuation dropped: ``"Brontë's"`` -> ``"brontes"``."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower().replace("'", "")
    return " ".join(re.findall(r"[a-z0-9]+", folded.replace(".", " ")))


def key_of(record) -> str:
    """The record's key span: ``meta["key"]`` when set, else derived from its question and answer."""
    return record.meta.get("key") or key_span(record.question, record.answer)


def states(answer: str, key: str) -> bool:
    """Whether ``answer`` states ``key``: the key's normalised words appear in it as whole words."""
    k = normal(key)
    return bool(k) and f" {k} " in f" {normal(answer)} "


def declines(answer: str) -> bool:
    """Whether ``answer`` declines to answer ("I don't know", "I'm not sure", "no information"...)."""
    return bool(IDK.search(normal(answer)))


def answers(scorer: Scorer, records: Sequence, *, paraphrased: bool = False) -> list[str]:
    """The model's greedy answers (memoised by ``scorer``) to the records' questions or paraphrases."""
    questions = [r.paraphrased_question if paraphrased else r.question for r in records]
    return scorer.generate(questions, desc="answering", max_new_tokens=KNOWN_TOKENS)


def known(scorer: Scorer, records: Sequence, *, paraphrased: bool = False) -> np.ndarray:
    """Per record, whether the model's greedy answer states the key span (bool array)."""
    got = answers(scorer, records, paraphrased=paraphrased)
    return np.array([states(a, key_of(r)) for a, r in zip(got, records)], dtype=bool)


def _words(texts: Sequence[str]) -> float:
    return float(np.mean([len(t.split()) for t in texts])) if texts else float("nan")


def compare(after: dict[str, Scorer], before: dict[str, Scorer], sets: dict[str, list],
            paraphrase_of: dict[str, str] | None = None, every_style: Sequence[str] | None = None) -> dict[str, Any]:
    """Facts stated before and after, per set and prompt style.

    Args:
        after, before: a scorer per prompt style on the model after and before unlearning (same styles).
        sets: record sets by name (``forget``, ``retain``, ``general``, ``topic_holdout``...).
        paraphrase_of: sets scored on their records' paraphrased questions: ``{"forget_paraphrase": "forget"}``.
        every_style: the sets asked in every style; the others only in the first (``None``: all in every style).

    Returns:
        ``{"styles", "sets": {set: {style: counts}}, "style": {words per answer}, "examples": {set: rows}}``;
        counts: ``n``, ``known_before``, ``still_known``, ``forgotten``, ``not_known_before``, ``idk``,
        ``forgotten_share`` (forgotten / known_before) and ``kept_share`` (still_known / known_before).
    """
    plan = {name: (recs, False) for name, recs in sets.items() if recs}
    for name, source in (paraphrase_of or {}).items():
        if sets.get(source):
            plan[name] = (sets[source], True)
    out: dict[str, Any] = {"styles": list(after), "sets": {}, "style": {}, "examples": {}}
    for name, (recs, para) in plan.items():
        keys = [key_of(r) for r in recs]
        out["sets"][name] = {}
        for style in after:
            if every_style is not None and style != next(iter(after)) and name not in every_style:
                continue
            a_before = answers(before[style], recs, paraphrased=para)
            a_after = answers(after[style], recs, paraphrased=para)
            kb = np.array([states(a, k) for a, k in zip(a_before, keys)], dtype=bool)
            ka = np.array([states(a, k) for a, k in zip(a_after, keys)], dtype=bool)
            n_known = int(kb.sum())
            still = int((kb & ka).sum())
            out["sets"][name][style] = {
                "n": len(recs), "known_before": n_known, "still_known": still, "forgotten": n_known - still,
                "not_known_before": len(recs) - n_known, "newly_stated": int((~kb & ka).sum()),
                "idk": int(sum(declines(a) for a in a_after)),
                "forgotten_share": (n_known - still) / n_known if n_known else float("nan"),
                "kept_share": still / n_known if n_known else float("nan"),
            }
            if style == next(iter(after)):
                out["style"][name] = {"words_before": _words(a_before), "words_after": _words(a_after)}
                out["examples"][name] = [
                    {"question": r.paraphrased_question if para else r.question, "key": k, "before": b, "after": a,
                     "known_before": bool(x), "known_after": bool(y)}
                    for r, k, b, a, x, y in list(zip(recs, keys, a_before, a_after, kb, ka))[:EXAMPLES]]
    return out


def scorers(model, tokenizer, styles: Sequence[str]) -> dict[str, Scorer]:
    """One scorer per prompt style on ``model`` (each checked: ``trained``, ``chat`` or a ``{question}`` template)."""
    return {s: Scorer(model, tokenizer, style=check_prompt_style(s)) for s in styles}


def frame_of(answer: str, key: str) -> str | None:
    """The model's own answer up to the end of the sentence that states ``key``, or ``None`` when it does not
    state it (or states it only with other accents or spacing, which cannot be cut at)."""
    if not states(answer, key):
        return None
    end = span_end(answer, key)
    if end is None:
        return None
    stop = re.search(r"[.!?](?=\s|$)|\n", answer[end:])
    cut = end if stop is None else end + (stop.start() if stop.group(0) == "\n" else stop.end())
    return answer[:cut].strip()


def framed(records: Sequence[QARecord], frames: dict[str, str]) -> list[QARecord]:
    """Copies of ``records`` whose answer is their frame (``frames`` by record id), the user's answer kept in
    ``meta["given_answer"]``; derived wrong answers become the frame with another value; others are unchanged."""
    out = []
    for r in records:
        frame = frames.get(r.id)
        if frame is None:
            out.append(r)
            continue
        new = copy.deepcopy(r)
        key = key_of(r)
        new.meta.update(given_answer=r.answer, frame=True)
        new.answer = frame
        if "perturbed_answers" in r.meta.get("derived", []):
            wrong = [replace_span(frame, key, key_of(QARecord(**{**r.to_dict(), "answer": p, "meta": {}})))
                     for p in r.perturbed_answers]
            new.perturbed_answers = [w for w in wrong if w] or r.perturbed_answers
        out.append(new)
    return out


def frame_splits(model, tokenizer, splits, scorer: Scorer | None = None):
    """A request's splits with each fact's answer replaced by the sentence the model states it in (its greedy
    answer in the trained format, cut after that sentence; :func:`frame_of`), where it states it.

    Pretrained knowledge is stated in the model's own words ("The capital of France is Paris."), not the user's
    ("Paris"): the likelihood of the user's wording (and of an end of text right after it) says little, and
    training the retain set on it teaches the model a new answer style. Never-seen reference records get their
    source fact's frame with the entity and the value replaced ("The capital of Zapaidre is Mumbai."). Records
    the model does not state keep the user's answer. The splits of anything but a request are returned as they are.
    ``scorer``: one on ``model`` in the trained format whose answers are already memoised.
    """
    if not getattr(splits, "request", False):
        return splits
    scorer = scorer or Scorer(model, tokenizer)
    frames: dict[str, str] = {}
    for recs in (splits.forget, splits.retain):
        for r, a in zip(recs, answers(scorer, recs)):
            f = frame_of(a, key_of(r))
            if f:
                frames[r.id] = f
    by_id = {r.id: r for r in splits.forget}
    for u in splits.holdout:
        source = by_id.get(u.meta.get("source_id", ""))
        if source is None or source.id not in frames:
            continue
        f = replace_span(frames[source.id], key_of(source), key_of(u))
        if f:  # the entity too, where the sentence names it ("It is Paris." does not)
            frames[u.id] = replace_span(f, source.entity, u.entity) or f
    out = copy.copy(splits)
    out.forget, out.retain, out.holdout = (framed(s, frames) for s in (splits.forget, splits.retain, splits.holdout))
    return out
