"""Plausible forgetting vs degeneration: are the greedy answers of the right kind for their fact type?

A model that never saw a person (the gold model) answers a question about them with a wrong value of
the right kind ("He was born in 1947.", "She was born in Saltmere."); a model that unlearning damaged
answers "He was born incientious." or "born in 2222". Both are wrong, so ROUGE, exact match and the
likelihoods score them alike; this metric tells them apart.

Per record, the greedy answer is

* ``correct``: it states the record's true value (``meta["value"]``, whole words, case ignored);
* ``plausible_wrong``: it states another value of the fact type's kind and not the true one;
* ``implausible``: it states no value of that kind (gibberish, a refusal, an empty answer, a year of
  another century, a city for a year...).

What counts as "a value of the kind" comes from the generated world's own definitions
(:mod:`obliviate.llm.data.world`, :mod:`obliviate.llm.data.render`), never from the world object:

* attributes with a finite pool (birthplace, occupation, field, award, notable work, father's and mother's
  occupation: the pools :func:`obliviate.llm.data.render.candidates` draws wrong answers from): any value
  of the pool, as whole words (a book title also without its leading "The");
* ``birth_year``: a 4-digit number in ``YEARS`` widened by :data:`YEAR_MARGIN` on each side;
* relation facts (mentor, mentee, collaborator, sibling, rival): a full name of the world's name pools
  (a first name of ``FEMALE_FIRST`` or ``MALE_FIRST`` followed by a last name of ``LAST_NAMES``, as every
  person and decoy of a generated world is named), other than the subject's own name.

A record is classified only when its fact type has such a pool *and* its own true value is of that kind
(so a real person's ``birth_year`` of 1879, or a profile whose pools the module does not know, is left out
rather than misread); the others (world facts, real entities, published benchmarks' records) are counted in
``n_unknown_type``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence

from obliviate.llm.data.render import _POOLS as ATTRIBUTE_POOLS  # fact type -> the pool its wrong answers use
from obliviate.llm.data.render import ATTRIBUTES, TEMPLATES
from obliviate.llm.data.world import FEMALE_FIRST, LAST_NAMES, MALE_FIRST, YEARS
from obliviate.llm.eval.metrics.base import METRICS, OU_MAX_NEW_TOKENS, MetricContext

CORRECT, PLAUSIBLE_WRONG, IMPLAUSIBLE = "correct", "plausible_wrong", "implausible"
YEAR_MARGIN = 15
"""Years this far outside ``YEARS`` still count as birth years: ``render.candidates`` draws a birth year's
wrong answers from the true year ± 15, so the model was trained on (and scored against) exactly that range."""
RELATION_TYPES = tuple(t for t in TEMPLATES if t not in ATTRIBUTES)  # mentor, mentee, collaborator, sibling, rival

_YEAR = re.compile(r"(?<![0-9])([0-9]{4})(?![0-9])")


def _phrase(value: str) -> str:
    """A regex for ``value`` as whole words, any whitespace between them (a title's leading "The" optional)."""
    words = value.split()
    if len(words) > 1 and words[0].lower() == "the":
        words = words[1:]
    return r"\s+".join(re.escape(w) for w in words)


def _whole(alternatives: str) -> re.Pattern:
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])", re.IGNORECASE)


@functools.cache
def _pool_pattern(fact_type: str) -> re.Pattern:
    values = sorted(set(ATTRIBUTE_POOLS[fact_type]), key=len, reverse=True)
    return _whole("|".join(_phrase(v) for v in values))


@functools.lru_cache(maxsize=1)
def _name_pattern() -> re.Pattern:
    first = "|".join(re.escape(n) for n in sorted(set(FEMALE_FIRST + MALE_FIRST), key=len, reverse=True))
    last = "|".join(re.escape(n) for n in sorted(set(LAST_NAMES), key=len, reverse=True))
    return _whole(rf"(?:{first})\s+(?:{last})")


def year_range() -> tuple[int, int]:
    """The inclusive range of plausible birth years: ``YEARS`` ± :data:`YEAR_MARGIN`."""
    return YEARS[0] - YEAR_MARGIN, YEARS[1] + YEAR_MARGIN


def known_type(fact_type: str) -> bool:
    """Whether the metric knows what values of ``fact_type`` look like."""
    return fact_type == "birth_year" or fact_type in ATTRIBUTE_POOLS or fact_type in RELATION_TYPES


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def values_of_kind(fact_type: str, text: str) -> list[str]:
    """The values of ``fact_type``'s kind that ``text`` states (lower-case, whitespace collapsed), in order.

    Raises:
        KeyError: ``fact_type`` is not a known type (see :func:`known_type`).
    """
    if fact_type == "birth_year":
        lo, hi = year_range()
        return [y for y in _YEAR.findall(text) if lo <= int(y) <= hi]
    if fact_type in ATTRIBUTE_POOLS:
        pattern = _pool_pattern(fact_type)
    elif fact_type in RELATION_TYPES:
        pattern = _name_pattern()
    else:
        raise KeyError(fact_type)
    return [_norm(m.group(0)) for m in pattern.finditer(text)]


def _value_key(fact_type: str, value: str) -> str:
    """The form :func:`values_of_kind` gives ``value`` in (a title without its leading "The")."""
    found = values_of_kind(fact_type, value)
    return found[0] if len(found) == 1 else ""


def classify(record, answer: str) -> str | None:
    """``"correct"``, ``"plausible_wrong"`` or ``"implausible"`` for ``record``'s greedy ``answer``; ``None``
    when the record's fact type has no known pool or its true value is not of that kind (see the module).

    The subject's own name is never a plausible answer to a relation question (nobody is their own mentor).
    """
    fact_type = record.fact_type
    if not known_type(fact_type):
        return None
    truth = _value_key(fact_type, str(record.meta.get("value", "")))
    if not truth:
        return None
    found = set(values_of_kind(fact_type, answer or ""))
    if fact_type in RELATION_TYPES:
        found.discard(_norm(record.entity))
    if truth in found:
        return CORRECT
    return PLAUSIBLE_WRONG if found else IMPLAUSIBLE


def summarize(records: Sequence, answers: Sequence[str]) -> tuple[dict[str, float], list[str | None]]:
    """Shares over the classified records, and each record's label (:func:`classify`).

    Returns:
        ``({"plausible", "plausible_wrong", "correct", "n", "n_unknown_type"}, labels)``. ``plausible`` is the
        share of answers of the right kind (correct ones included), ``plausible_wrong`` the share of the right
        kind but not the true value (what a model that never saw the facts gives), ``correct`` the share that
        states the true value; NaN when no record is classified (``n == 0``).
    """
    labels = [classify(r, a) for r, a in zip(records, answers)]
    known = [x for x in labels if x is not None]
    n = len(known)

    def share(*kinds: str) -> float:
        return sum(x in kinds for x in known) / n if n else math.nan

    return {"plausible": share(CORRECT, PLAUSIBLE_WRONG), "plausible_wrong": share(PLAUSIBLE_WRONG),
            "correct": share(CORRECT), "n": n, "n_unknown_type": len(labels) - n}, labels


def examples(records: Sequence, answers: Sequence[str], labels: Sequence[str | None], k: int = 3) -> list[dict]:
    """Up to ``k`` example answers, implausible ones first, then right-kind wrong ones, then correct ones."""
    order = {IMPLAUSIBLE: 0, PLAUSIBLE_WRONG: 1, CORRECT: 2}
    rows = sorted((order[lab], i) for i, lab in enumerate(labels) if lab is not None)
    return [{"question": records[i].question, "answer": answers[i], "fact_type": records[i].fact_type,
             "label": labels[i]} for _, i in rows[:k]]


@METRICS.register("plausibility", paper="obliviate (issue 23): plausible forgetting vs degeneration")
def plausibility(scorer, records, ctx: MetricContext) -> dict[str, float]:
    """Share of greedy answers of the right kind for their fact type: ``plausible``, ``plausible_wrong``, ``correct``.

    Also ``n`` (records classified) and ``n_unknown_type`` (records left out: no known pool). The greedy
    answers are the scorer's memoised ones (``tofu_qa``'s on the same records cost nothing); the labels go
    to ``ctx.extra["per_sample"]["plausibility"]`` with the ids and answers.
    """
    answers = scorer.generate([r.question for r in records], desc=f"generating {ctx.split}",
                              max_new_tokens=OU_MAX_NEW_TOKENS if ctx.openunlearning else None)
    out, labels = summarize(records, answers)
    ctx.extra.setdefault("per_sample", {})["plausibility"] = {
        "ids": [r.id for r in records], "generations": list(answers), "labels": labels}
    return out
