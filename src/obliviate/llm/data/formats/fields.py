"""Checked fields of raw rows, and the QA records built from them.

Where a benchmark has no counterpart of a record field, the record gets a
fallback and a ``meta`` flag saying so, never invented content:

* no paraphrased question: ``paraphrased_question = question``, ``meta["no_paraphrase"]``;
* no paraphrased answer: ``paraphrased_answer = answer``, ``meta["no_paraphrased_answer"]``;
* no wrong answers: the answers of the next records of the same set (up to
  :data:`~obliviate.llm.data.render.N_PERTURBED`, cyclically, distinct from
  the record's own; ``[NO_ANSWER]`` when the set has no other answer),
  ``meta["no_perturbed"]``; the convention of the generated biographies'
  continuations;
* no answer at all (BLUR's queries): ``answer = NO_ANSWER``, ``meta["no_answer"]``.

Raw text (a corpus document) becomes passages of at most ``passage_words``
whitespace words, each a record whose question is its first
``prefix_words`` words and whose answer is the rest: the prefix/continuation
convention of MUSE's verbatim memorisation.
"""

from __future__ import annotations

from typing import Any

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.data.formats.files import Row
from obliviate.llm.data.records import QARecord
from obliviate.llm.data.render import N_PERTURBED

NO_ANSWER = "(no reference answer)"
PASSAGE_WORDS = 256
PREFIX_WORDS = 32


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def as_object(row: Row) -> dict[str, Any]:
    if not isinstance(row.value, dict):
        raise DataError(f"{row.where}: expected a JSON object, got {_type(row.value)}")
    return row.value


def text_field(row: Row, key: str) -> str:
    """A required non-empty string field."""
    data = as_object(row)
    if key not in data:
        raise DataError(f"{row.where}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{row.where}: field {key!r} must be a non-empty string, got {_type(value)} {value!r:.40}")
    return value


def optional_text(row: Row, key: str) -> str | None:
    """A string field that may be absent (or null); present, it must be non-empty."""
    data = as_object(row)
    return None if data.get(key) is None else text_field(row, key)


def text_list(row: Row, key: str, min_items: int = 1) -> list[str]:
    """A required list of non-empty strings with at least ``min_items`` items."""
    data = as_object(row)
    if key not in data:
        raise DataError(f"{row.where}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DataError(f"{row.where}: field {key!r} must be a list of non-empty strings, got {value!r:.60}")
    if len(value) < min_items:
        raise DataError(f"{row.where}: field {key!r} needs at least {min_items} item(s), got {len(value)}")
    return list(value)


def optional_text_list(row: Row, key: str) -> list[str] | None:
    data = as_object(row)
    return None if data.get(key) is None else text_list(row, key)


def int_field(row: Row, key: str) -> int:
    data = as_object(row)
    if key not in data:
        raise DataError(f"{row.where}: missing field {key!r}")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{row.where}: field {key!r} must be an integer, got {_type(value)} {value!r:.40}")
    return value


def row_text(row: Row, key: str = "text") -> str:
    """A text row: a bare JSON string, or an object with a non-empty ``key`` field."""
    if isinstance(row.value, str):
        if not row.value.strip():
            raise DataError(f"{row.where}: empty text")
        return row.value
    return text_field(row, key)


def make_record(
    *,
    id: str,
    entity: str,
    question: str,
    answer: str | None,
    fact_type: str,
    paraphrased_question: str | None = None,
    paraphrased_answer: str | None = None,
    perturbed: list[str] | None = None,
    meta: dict[str, Any] | None = None,
) -> QARecord:
    """A record with the module's fallbacks for the missing fields, each flagged in ``meta``.

    Records with no wrong answers get them from :func:`fill_perturbed` (or
    ``[NO_ANSWER]`` when ``answer`` is ``None``).
    """
    meta = dict(meta or {})
    if answer is None:
        meta["no_answer"] = True
        answer, perturbed = NO_ANSWER, [NO_ANSWER]
    if paraphrased_question is None:
        meta["no_paraphrase"] = True
    if paraphrased_answer is None:
        meta["no_paraphrased_answer"] = True
    if not perturbed:
        meta["no_perturbed"] = True
    return QARecord(
        id=id,
        entity=entity,
        question=question,
        answer=answer,
        paraphrased_question=paraphrased_question or question,
        paraphrased_answer=paraphrased_answer or answer,
        perturbed_answers=list(perturbed or []),
        fact_type=fact_type,
        meta=meta,
    )


def fill_perturbed(records: list[QARecord], k: int = N_PERTURBED) -> int:
    """Give records without wrong answers the answers of the next records (in place).

    A record with no other answer to borrow (a set of one distinct answer)
    gets ``[NO_ANSWER]``; every filled record keeps ``meta["no_perturbed"]``.

    Returns:
        How many records were filled.
    """
    n = len(records)
    filled = 0
    for i, rec in enumerate(records):
        if rec.perturbed_answers:
            continue
        wrong: list[str] = []
        for step in range(1, n):
            other = records[(i + step) % n].answer
            if other not in (rec.answer, NO_ANSWER) and other not in wrong:
                wrong.append(other)
                if len(wrong) == k:
                    break
        rec.perturbed_answers = wrong or [NO_ANSWER]  # a set with one distinct answer: nothing to borrow
        filled += 1
    return filled


def check_passage_options(passage_words: int, prefix_words: int) -> None:
    """``passage_words >= 2`` and ``1 <= prefix_words < passage_words``."""
    if isinstance(passage_words, bool) or not isinstance(passage_words, int) or passage_words < 2:
        raise ConfigError(f"passage_words must be an integer >= 2, got {passage_words!r}")
    if isinstance(prefix_words, bool) or not isinstance(prefix_words, int) or not 1 <= prefix_words < passage_words:
        raise ConfigError(f"prefix_words must be an integer in [1, passage_words={passage_words}), "
                          f"got {prefix_words!r}")


def _pieces(words: list[str], size: int, prefix: int, chunk: bool) -> list[list[str]]:
    if not chunk:
        return [words[:size]]
    pieces = [words[i : i + size] for i in range(0, len(words), size)]
    if len(pieces) > 1 and len(pieces[-1]) <= prefix:  # a short tail joins the passage before it
        tail = pieces.pop()
        pieces[-1] = pieces[-1] + tail
    return pieces


def text_records(
    rows: list[Row],
    *,
    id_prefix: str,
    entity_prefix: str,
    fact_type: str,
    passage_words: int = PASSAGE_WORDS,
    prefix_words: int = PREFIX_WORDS,
    chunk: bool = True,
    key: str = "text",
) -> tuple[list[QARecord], int]:
    """Prefix/continuation records of text rows (see the module docstring).

    Args:
        rows: Text rows (:func:`row_text`).
        id_prefix: Record ids are ``<id_prefix>/<document>/<passage>``.
        entity_prefix: A document's passages share the entity ``<entity_prefix>-<document>``.
        chunk: Every passage of a document (``True``) or only its first (a
            truncation, as a model's context would truncate it).

    Returns:
        The records, wrong answers borrowed from other passages, and the
        number of passages under 2 words that were skipped.
    """
    records: list[QARecord] = []
    skipped = 0
    for d, row in enumerate(rows):
        words = row_text(row, key).split()
        for p, piece in enumerate(_pieces(words, passage_words, prefix_words, chunk)):
            if len(piece) < 2:
                skipped += 1
                continue
            cut = min(prefix_words, len(piece) // 2)
            records.append(make_record(
                id=f"{id_prefix}/{d:05d}/{p:03d}",
                entity=f"{entity_prefix}-{d:05d}",
                question=" ".join(piece[:cut]),
                answer=" ".join(piece[cut:]),
                fact_type=fact_type,
                meta={"document": d, "passage": p, "text_words": len(words)},
            ))  # fmt: skip
    if records:
        fill_perturbed(records)
    return records, skipped
