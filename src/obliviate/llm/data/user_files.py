"""The user's own data files: complete QA records or plain forget requests, read into :class:`Splits`.

``splits_from_files(forget, retain)`` reads each file as complete records
(:func:`~obliviate.llm.data.records.load_jsonl`) or, when it is a plain request
(a JSONL of ``question`` and ``answer``, or text documents), through
:func:`~obliviate.llm.data.request.load_request`, which derives what the
metrics need and marks it. A plain forget request also gets the tool's
never-seen reference as its holdout.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from obliviate.core.errors import ConfigError, DataError
from obliviate.core.progress import log
from obliviate.llm.data.facts import load_world_facts
from obliviate.llm.data.records import QARecord, load_jsonl, read_text
from obliviate.llm.data.request import is_plain_request, load_request, unseen_reference
from obliviate.llm.data.splits import Splits, _checked, retain_name


def load_records(path: str | os.PathLike, kind: str, allow_empty: bool = False) -> list[QARecord]:
    """QA records of a user's file: complete records (:func:`load_jsonl`), or a plain request of questions and
    answers or text (:func:`~obliviate.llm.data.request.load_request`, derived fields marked)."""
    if is_plain_request(path) and not (allow_empty and Path(path).is_file() and not read_text(Path(path)).strip()):
        return load_request(path, kind=kind)
    return load_jsonl(path, allow_empty=allow_empty)


def splits_from_files(
    forget: str | os.PathLike,
    retain: str | os.PathLike | None,
    holdout: str | os.PathLike | None = None,
    world_facts: str | os.PathLike | None = None,
) -> Splits:
    """Splits from the user's own files (``retain`` ``None``: no retain records).

    Each file holds complete QA records, or is a plain request (a JSONL of ``question`` and ``answer``, or text
    documents): see :func:`load_records`. ``neighbours`` comes from ``meta.related_entity`` (empty if records lack
    it). ``world_facts`` (the general knowledge model utility reads) defaults to the shipped facts, less those
    whose question is in the forget or retain set, so that training the retain set cannot inflate it.

    ``holdout`` (records about entities the model never saw) defaults to none, and for a plain forget request to
    the never-seen reference the tool builds (:func:`~obliviate.llm.data.request.unseen_reference`: the request's
    questions about invented entities, answers of the same kind); such splits have ``request=True``.

    Raises:
        DataError: A file is missing or malformed, or ``forget`` has no records.
    """
    request = is_plain_request(forget)
    forget_records = load_records(forget, "forget", allow_empty=True)
    retain_records = load_records(retain, "retain") if retain is not None else []
    if holdout is not None:
        holdout_records = load_records(holdout, "holdout")
    else:
        holdout_records = built_reference(forget_records) if request else []
    if world_facts is None:
        trained = {r.question.strip().lower() for r in (*forget_records, *retain_records)}
        general = [r for r in load_world_facts() if r.question.strip().lower() not in trained]
    else:
        general = load_records(world_facts, "general")
    splits = _checked(forget_records, retain_records, holdout_records, general, str(forget))
    splits.request = request
    return splits


def request_splits(forget: str | Path, retain: str | Path | None = None, unseen: str | Path | None = None,
                   general: str | Path | None = None):
    """The splits of a forget request: the user's files (complete records or plain questions and answers), the
    never-seen reference (``unseen``, else built from the request) and general knowledge not trained (``general``,
    else the shipped facts less the request's questions); see :func:`splits_from_files`."""
    splits = splits_from_files(forget, retain, unseen, general)
    splits.request = True
    if not splits.holdout:  # complete records given as a request: the reference is built from them
        splits.holdout = built_reference(splits.forget)
    return splits


def built_reference(forget: list[QARecord]) -> list[QARecord]:
    """The never-seen reference the tool builds for ``forget``, or none (with a note) where it cannot: passages of
    text, or questions that do not name their entity; the checks that need one then ask for ``--unseen FILE``."""
    if not forget:
        return []
    try:
        return unseen_reference(forget)
    except DataError as e:
        log(f"note: no never-seen reference built ({e})")
        return []


def load_splits(
    dir_or_files: str | os.PathLike | Mapping[str, str | os.PathLike],
    variant: str = "forget10",
) -> Splits:
    """Splits from a folder written by :func:`save_world`, or a mapping of files.

    Args:
        dir_or_files: The folder, or ``{"forget": ..., "retain": ..., "holdout": ...,
            "world_facts": ...}`` (the last two optional).
        variant: Which forget/retain pair to read from a folder.
    """
    if isinstance(dir_or_files, Mapping):
        files = dict(dir_or_files)
        unknown = set(files) - {"forget", "retain", "holdout", "world_facts"}
        if unknown or "forget" not in files or "retain" not in files:
            raise ConfigError(
                "split files need keys 'forget' and 'retain' (optional: 'holdout', "
                f"'world_facts'), got {', '.join(sorted(files)) or 'none'}"
            )
        return splits_from_files(**files)
    folder = Path(dir_or_files)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of split files")
    optional = {name: folder / f"{name}.jsonl" for name in ("holdout", "world_facts")}
    return splits_from_files(
        folder / f"{variant}.jsonl",
        folder / f"{retain_name(variant)}.jsonl",
        **{name: path for name, path in optional.items() if path.exists()},
    )
