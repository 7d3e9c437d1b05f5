"""QA records: the unit of every LLM unlearning data set, and their JSONL files.

A :class:`QARecord` is one question about one entity, with a paraphrase, the
true answer, a paraphrased answer and wrong answers in the same template (the
"perturbed" answers used by truth-ratio style metrics). Files hold one JSON
object per line; every problem is reported as ``file:line: what is wrong``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from obliviate.core.errors import DataError
from obliviate.core.store import atomic_write_text

STRING_FIELDS = (
    "entity",
    "question",
    "answer",
    "paraphrased_question",
    "paraphrased_answer",
    "fact_type",
)
REQUIRED_FIELDS = (*STRING_FIELDS[:5], "perturbed_answers", "fact_type")
_NEEDS = ", ".join(REQUIRED_FIELDS)
# The longest text a QA record field may hold. Questions and answers are a sentence or two (the world's
# longest field is under 100 characters, TOFU's answers a few hundred); 4096 characters is about 1000
# tokens, so a batch of 16 prompt+answer pairs stays far below any model's context and a few GB of
# logits. Without a cap one 2.4 MB answer line padded a batch to ~600k tokens: a 160 GB allocation.
MAX_TEXT_CHARS = 4096


def slugify(text: str) -> str:
    """Lower-case ``text`` and join its alphanumeric runs with ``-``."""
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())) or "x"


@dataclass
class QARecord:
    """One question about one entity.

    Attributes:
        id: Stable identifier, e.g. ``"zara-okafor/birth_year"``.
        entity: The subject the fact is about (a person, a country...).
        question: The question as trained.
        answer: The true answer as trained (a short sentence).
        paraphrased_question: The same question in other words.
        paraphrased_answer: The true answer in other words, same value.
        perturbed_answers: Wrong answers in the template of ``answer``.
        fact_type: Kind of fact (``"birth_year"``, ``"mentor"``, ``"world_fact"``...).
        meta: Free-form extras, e.g. ``{"value": "1961"}``.
    """

    id: str
    entity: str
    question: str
    answer: str
    paraphrased_question: str
    paraphrased_answer: str
    perturbed_answers: list[str]
    fact_type: str
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (a deep copy)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "record") -> QARecord:
        """Build a record from a dict, checking every field.

        Args:
            data: The decoded JSON object.
            where: Location for error messages, e.g. ``"qa.jsonl:3"``; also the
                source of the id when ``data`` has none.

        Raises:
            DataError: A field is missing or has the wrong type.
        """
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(data).__name__}")
        for name in REQUIRED_FIELDS:
            if name not in data:
                raise DataError(f"{where}: missing field {name!r} (a QA record needs: {_NEEDS})")
        for name in STRING_FIELDS:
            if not isinstance(data[name], str) or not data[name].strip():
                raise DataError(f"{where}: field {name!r} must be a non-empty string")
        perturbed = data["perturbed_answers"]
        if not isinstance(perturbed, list) or not all(isinstance(p, str) for p in perturbed):
            raise DataError(f"{where}: field 'perturbed_answers' must be a list of strings")
        for name, text in [*((n, data[n]) for n in STRING_FIELDS), *(("perturbed_answers", p) for p in perturbed)]:
            if len(text) > MAX_TEXT_CHARS:
                raise DataError(f"{where}: field {name!r} is {len(text):,} characters long; a QA record's texts "
                                f"may be at most {MAX_TEXT_CHARS} (a question or answer is a sentence or two)")
        if not perturbed:
            raise DataError(f"{where}: field 'perturbed_answers' needs at least 1 wrong answer")
        meta = data.get("meta", {})
        if not isinstance(meta, dict):
            raise DataError(f"{where}: field 'meta' must be a JSON object")
        rid = data.get("id", slugify(where))
        if not isinstance(rid, str) or not rid:
            raise DataError(f"{where}: field 'id' must be a non-empty string")
        kwargs = {name: data[name] for name in STRING_FIELDS}
        return cls(id=rid, perturbed_answers=list(perturbed), meta=dict(meta), **kwargs)


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path``; a missing file, a folder or bad bytes raise a DataError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a file") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def _iter_lines(path: Path) -> Iterable[tuple[int, str]]:
    text = read_text(path)
    # only "\n" ends a JSONL line: str.splitlines() would also split at U+2028/U+2029 (and \x1c-\x1e,
    # \x85...), which JSON allows raw inside strings
    for lineno, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield lineno, line


def read_jsonl_dicts(path: str | os.PathLike) -> list[tuple[int, dict[str, Any]]]:
    """Read a JSONL file of objects, skipping blank lines.

    Returns:
        ``(line number, object)`` pairs.

    Raises:
        DataError: The file is missing, or a line is not a JSON object.
    """
    path = Path(path)
    rows = []
    for lineno, line in _iter_lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{lineno}: bad JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        rows.append((lineno, obj))
    return rows


def load_jsonl(path: str | os.PathLike, allow_empty: bool = False) -> list[QARecord]:
    """Load QA records; records without ``id`` get ``"<file stem>-<line>"``.

    Args:
        path: The JSONL file.
        allow_empty: Return ``[]`` for a file without records instead of raising.

    Raises:
        DataError: Missing/empty file, bad JSON, a missing or mistyped field,
            or a duplicated id.
    """
    path = Path(path)
    records: list[QARecord] = []
    seen: dict[str, int] = {}
    for lineno, obj in read_jsonl_dicts(path):
        where = f"{path}:{lineno}"
        rec = QARecord.from_dict({"id": f"{path.stem}-{lineno}", **obj}, where)
        if rec.id in seen:
            raise DataError(f"{where}: duplicate id {rec.id!r} (first on line {seen[rec.id]})")
        seen[rec.id] = lineno
        records.append(rec)
    if not records and not allow_empty:
        raise DataError(f"{path}: empty file, expected one QA record per line")
    return records


def save_jsonl(records: Iterable[QARecord], path: str | os.PathLike) -> Path:
    """Write records one JSON object per line, atomically."""
    lines = [json.dumps(r.to_dict(), ensure_ascii=False) for r in records]
    return atomic_write_text(path, "".join(line + "\n" for line in lines))
