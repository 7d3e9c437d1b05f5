"""TOFU (Maini et al. 2024, arXiv 2401.06121) from the files of the hub dataset ``locuslab/TOFU``.

200 fictitious authors x 20 QA pairs, in author order; ``forgetXX`` is the
last XX% of the authors and ``retain{100-XX}`` the others, so author ``k``
is the same person in every variant. Records (JSON lines)::

    forget10_perturbed / retain_perturbed: question, answer, paraphrased_answer,
                                           perturbed_answer (list)[, paraphrased_question]
    retain90, forget10, holdout10:         question, answer
    world_facts_perturbed, real_authors_perturbed: question, answer, perturbed_answer (list)

Names are not a field, so an author is ``tofu-author-<k>``, ``k`` its
position (from 0) in the full set: the forget set's first author in
``forget10`` is ``tofu-author-180``.
"""

from __future__ import annotations

import os
from pathlib import Path

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.data.formats.base import FORMATS, Benchmark, build_splits, choice
from obliviate.llm.data.formats.fields import (
    as_object,
    fill_perturbed,
    make_record,
    optional_text,
    optional_text_list,
    text_field,
    text_list,
)
from obliviate.llm.data.formats.files import Row, find, open_folder, read_rows, require, table_patterns
from obliviate.llm.data.records import QARecord

VARIANTS = ("forget01", "forget05", "forget10")
QA_PER_AUTHOR = 20
PERTURBED = ("paraphrased_answer", "perturbed_answer")  # required in the *_perturbed files
EXPECTS = (
    "forget10_perturbed.json (or forget01/forget05, or forget10.json without perturbations) and "
    "retain90.json (retain99/retain95); optional retain_perturbed.json, world_facts_perturbed.json, "
    "real_authors_perturbed.json and holdout10.json; each also as .jsonl, .parquet or <name>/*.parquet"
)


def _record(row: Row, rid: str, entity: str, fact_type: str, required: tuple[str, ...] = (), **meta) -> QARecord:
    """A TOFU row as a record; ``required`` names the optional fields this file must have."""
    as_object(row)
    for key in required:
        if key == "perturbed_answer":
            text_list(row, key)
        else:
            text_field(row, key)
    return make_record(
        id=rid,
        entity=entity,
        question=text_field(row, "question"),
        answer=text_field(row, "answer"),
        paraphrased_question=optional_text(row, "paraphrased_question"),
        paraphrased_answer=optional_text(row, "paraphrased_answer"),
        perturbed=optional_text_list(row, "perturbed_answer"),
        fact_type=fact_type,
        meta=meta,
    )


def _authors(files: list[Path], rows: list[Row], qa_per_author: int) -> int:
    if len(rows) % qa_per_author:
        raise DataError(f"{files[0]}: {len(rows)} records is not a multiple of {qa_per_author} questions per "
                        f"author (TOFU has {QA_PER_AUTHOR}; set qa_per_author for a subset)")
    return len(rows) // qa_per_author


def _people(rows: list[Row], first_author: int, qa_per_author: int, required: tuple[str, ...] = ()) -> list[QARecord]:
    out = []
    for n, row in enumerate(rows):
        author, j = first_author + n // qa_per_author, n % qa_per_author
        out.append(_record(row, f"tofu/author-{author:03d}/{j:02d}", f"tofu-author-{author:03d}", "tofu_author",
                           required, author=author))
    return out


def _options_set(rows: list[Row], name: str, entity: str, fact_type: str) -> list[QARecord]:
    """world_facts / real_authors: multiple choice, the true answer against ``perturbed_answer``."""
    return [
        _record(row, f"tofu/{name}/{i:03d}", entity, fact_type, ("perturbed_answer",), value=text_field(row, "answer"))
        for i, row in enumerate(rows)
    ]


def _join_retain_perturbed(rows: list[Row], retain: list[QARecord], name: str, notes: list[str]) -> list[QARecord]:
    """``retain_perturbed`` records; their paraphrases and wrong answers also go to the retain record they ask."""
    by_question = {r.question: r for r in retain}
    evals, unmatched = [], 0
    for i, row in enumerate(rows):
        rec = by_question.get(text_field(row, "question"))
        if rec is None:
            unmatched += 1
            evals.append(_record(row, f"tofu/retain_perturbed/{i:03d}", "tofu-retain", "tofu_author", PERTURBED))
            continue
        ev = _record(row, rec.id, rec.entity, rec.fact_type, PERTURBED, author=rec.meta["author"])
        evals.append(ev)
        rec.paraphrased_answer, rec.perturbed_answers = ev.paraphrased_answer, list(ev.perturbed_answers)
        for flag in ("no_paraphrased_answer", "no_perturbed"):
            rec.meta.pop(flag, None)
    if unmatched:
        notes.append(f"retain_perturbed: {unmatched} of {len(evals)} questions are not in {name}")
    return evals


def _holdout(rows: list[Row], qa_per_author: int) -> list[QARecord]:
    """``holdoutXX``: authors never trained, ``tofu-holdout-author-<k>``."""
    out = []
    for n, row in enumerate(rows):
        k, j = divmod(n, qa_per_author)
        out.append(_record(row, f"tofu/holdout-{k:03d}/{j:02d}", f"tofu-holdout-author-{k:03d}", "tofu_author",
                           author=k))
    fill_perturbed(out)
    return out


@FORMATS.register("tofu", paper="Maini et al. 2024 (TOFU), arXiv 2401.06121")
def load_tofu(folder: str | os.PathLike, *, variant: str = "forget10", qa_per_author: int = QA_PER_AUTHOR) -> Benchmark:
    """TOFU: forget/retain authors of ``variant``, world facts, and the real-authors set.

    Args:
        folder: A download of ``locuslab/TOFU`` (files as on the hub).
        variant: ``forget01``, ``forget05`` or ``forget10``.
        qa_per_author: Questions per author (20 in TOFU); only for subsets.

    Returns:
        ``splits``: forget = ``<variant>_perturbed`` (else ``<variant>``),
        retain = ``retain<100-XX>`` with the paraphrases and wrong answers of
        ``retain_perturbed`` joined by question, holdout = ``holdout<XX>``
        (newer hub revisions; else empty), world_facts = ``world_facts_perturbed``.
        ``sets``: ``real_authors`` (also the splits' ``real_entities``), ``retain_perturbed``.
    """
    variant = choice("tofu", "variant", variant, VARIANTS)
    if isinstance(qa_per_author, bool) or not isinstance(qa_per_author, int) or qa_per_author < 1:
        raise ConfigError(f"tofu: qa_per_author must be a positive integer, got {qa_per_author!r}")
    root = open_folder(folder, "TOFU", EXPECTS)
    pct = int(variant[-2:])
    retain_name, holdout_name = f"retain{100 - pct:02d}", f"holdout{pct:02d}"
    notes: list[str] = []
    sets: dict[str, list[QARecord]] = {}

    retain_files = require(root, *table_patterns(retain_name))
    retain_rows = read_rows(retain_files)
    n_retain = _authors(retain_files, retain_rows, qa_per_author)
    retain = _people(retain_rows, 0, qa_per_author)
    forget_files = find(root, *table_patterns(f"{variant}_perturbed"))
    required = PERTURBED
    if forget_files is None:
        forget_files = find(root, *table_patterns(variant))
        if forget_files is None:
            raise DataError(f"{root / (variant + '_perturbed.json')}: file not found (nor {variant}.json, .jsonl, "
                            f".parquet); a TOFU folder holds {EXPECTS}")
        notes.append(f"forget: {variant}_perturbed not found; {forget_files[0].name} has no paraphrased or "
                     "wrong answers (fallbacks flagged in meta)")
        required = ()
    forget_rows = read_rows(forget_files)
    _authors(forget_files, forget_rows, qa_per_author)
    forget = _people(forget_rows, n_retain, qa_per_author, required)

    rp_files = find(root, *table_patterns("retain_perturbed"))
    if rp_files is not None:
        sets["retain_perturbed"] = _join_retain_perturbed(read_rows(rp_files), retain, retain_name, notes)
    else:
        notes.append("retain_perturbed not found: no retain record has TOFU's paraphrased or wrong answers")
    borrowed = fill_perturbed(retain)
    if borrowed:
        notes.append(f"retain: {borrowed} of {len(retain)} records have no TOFU perturbations; their paraphrased "
                     "answer is the answer and their wrong answers are other retain answers (meta.no_perturbed): "
                     "truth ratios on them are not TOFU's, use sets['retain_perturbed'] for TOFU's retain metrics")
    borrowed = fill_perturbed(forget)
    if borrowed:
        notes.append(f"forget: {borrowed} records have wrong answers borrowed from other forget records")

    holdout_files = find(root, *table_patterns(holdout_name))
    holdout = _holdout(read_rows(holdout_files), qa_per_author) if holdout_files is not None else []
    if holdout_files is None:
        notes.append(f"holdout: {holdout_name} not found (older hub revisions lack it); the holdout split is empty")

    world_facts = None
    wf_files = find(root, *table_patterns("world_facts_perturbed"))
    if wf_files is not None:
        world_facts = _options_set(read_rows(wf_files), "world_facts", "tofu-world-facts", "world_fact")
    ra_files = find(root, *table_patterns("real_authors_perturbed"))
    if ra_files is not None:
        sets["real_authors"] = _options_set(read_rows(ra_files), "real_authors", "tofu-real-authors", "real_author")
    else:
        notes.append("real_authors_perturbed not found: no real_authors set")
    if not any("paraphrased_question" in as_object(r) for r in forget_rows):
        notes.append("paraphrased_question: not a TOFU field; paraphrased_question = question (meta.no_paraphrase)")
    splits = build_splits(forget, retain, holdout, world_facts, str(forget_files[0]), notes)
    splits.real_entities = list(sets.get("real_authors", []))  # model utility's real-entity set, as in OpenUnlearning
    return Benchmark("tofu", root, splits, sets, notes, {"variant": variant, "qa_per_author": qa_per_author})
