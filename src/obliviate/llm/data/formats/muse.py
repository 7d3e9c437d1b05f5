"""MUSE (Shi et al. 2024, arXiv 2407.06460) from the hub datasets ``muse-bench/MUSE-News`` / ``MUSE-Books``.

The hub stores each subset as ``<config>/<split>-00000-of-00001.parquet``;
the benchmark's GitHub data folder as ``.json`` (arrays) and ``raw/*.txt``.
Both are read::

    raw/forget, raw/retain1[, raw/holdout]      text   (the corpora; .txt: one document)
    verbmem/forget                              prompt, gt
    knowmem/forget_qa, knowmem/retain_qa        question, answer   (older revisions: retain2_qa)
    privleak/forget, privleak/retain, privleak/holdout   text  (older revisions: retain2)

The corpora become prefix/continuation passages
(:func:`~obliviate.llm.data.formats.fields.text_records`); VerbMem items are
``question = prompt``, ``answer = gt``, as the ``verbatim`` metric reads them.
"""

from __future__ import annotations

import os
from pathlib import Path

from obliviate.core.errors import ConfigError
from obliviate.llm.data.formats.base import FORMATS, Benchmark, build_splits, choice
from obliviate.llm.data.formats.fields import (
    PASSAGE_WORDS,
    PREFIX_WORDS,
    check_passage_options,
    fill_perturbed,
    make_record,
    text_field,
    text_records,
)
from obliviate.llm.data.formats.files import Row, find, open_folder, read_rows, read_text, require
from obliviate.llm.data.records import QARecord

SUBSETS = ("news", "books")
EXPECTS = (
    "raw/forget and raw/retain1 (each as <split>-*.parquet, .json, .jsonl or .txt), optional raw/holdout, "
    "verbmem/forget, knowmem/forget_qa, knowmem/retain_qa, privleak/forget, privleak/retain, privleak/holdout"
)


def _patterns(config: str, *splits: str) -> tuple[str, ...]:
    out: list[str] = []
    for split in splits:
        base = f"{config}/{split}"
        out += [f"{base}-*.parquet", f"{base}.parquet", f"{base}/*.parquet", f"{base}.json", f"{base}.jsonl"]
        if config == "raw":
            out.append(f"{base}.txt")
    return tuple(out)


def _rows(files: list[Path]) -> list[Row]:
    if files[0].suffix == ".txt":
        return [Row(str(path), read_text(path)) for path in files]
    return read_rows(files)


def _qa(files: list[Path], name: str, entity: str, qkey: str, akey: str, fact_type: str) -> list[QARecord]:
    records = [
        make_record(id=f"{name}/{i:04d}", entity=entity, question=text_field(row, qkey),
                    answer=text_field(row, akey), fact_type=fact_type)
        for i, row in enumerate(read_rows(files))
    ]  # fmt: skip
    fill_perturbed(records)
    return records


@FORMATS.register("muse", paper="Shi et al. 2024 (MUSE), arXiv 2407.06460")
def load_muse(
    folder: str | os.PathLike,
    *,
    subset: str | None = None,
    passage_words: int = PASSAGE_WORDS,
    prefix_words: int = PREFIX_WORDS,
) -> Benchmark:
    """MUSE-News or MUSE-Books: the forget/retain corpora and the VerbMem, KnowMem and PrivLeak sets.

    Args:
        folder: A download of ``muse-bench/MUSE-News`` or ``MUSE-Books``.
        subset: ``news`` or ``books``; read from the folder name when ``None``.
        passage_words, prefix_words: How corpus text is cut into records.

    Returns:
        ``splits``: forget = ``raw/forget`` passages, retain = ``raw/retain1``
        (MUSE's retain set for regularised methods), holdout = ``raw/holdout``
        (never trained; empty if absent). ``sets``: ``verbmem_forget``,
        ``knowmem_forget``, ``knowmem_retain``, ``privleak_forget``,
        ``privleak_retain``, ``privleak_holdout`` (those present).
    """
    root = open_folder(folder, "MUSE", EXPECTS)
    if subset is None:
        found = [s for s in SUBSETS if s in root.name.lower()]
        if len(found) != 1:
            raise ConfigError(f"muse: the folder name {root.name!r} does not say news or books; pass subset='news' "
                              "or subset='books'")
        subset = found[0]
    subset = choice("muse", "subset", subset, SUBSETS)
    check_passage_options(passage_words, prefix_words)
    cut = {"passage_words": passage_words, "prefix_words": prefix_words}
    tag = f"muse-{subset}"
    notes = [f"raw text: passages of at most {passage_words} words; question = the first {prefix_words} words, "
             "answer = the rest; wrong answers are other passages' continuations (meta.no_perturbed)"]
    skipped = 0

    def corpus(split: str, role: str, required: bool) -> list[QARecord]:
        nonlocal skipped
        files = require(root, *_patterns("raw", split)) if required else find(root, *_patterns("raw", split))
        if files is None:
            return []
        records, n = text_records(_rows(files), id_prefix=f"{tag}/{split}", entity_prefix=f"{tag}-{split}",
                                  fact_type=f"muse_{role}_text", **cut)
        skipped += n
        return records

    forget, retain = corpus("forget", "forget", True), corpus("retain1", "retain", True)
    holdout = corpus("holdout", "holdout", False)
    if not holdout:
        notes.append("holdout: raw/holdout not found; the holdout split is empty")

    sets: dict[str, list[QARecord]] = {}
    files = find(root, *_patterns("verbmem", "forget"))
    if files is not None:
        sets["verbmem_forget"] = _qa(files, f"{tag}/verbmem", f"{tag}-forget", "prompt", "gt",
                                     "muse_verbmem")
    for role, splits in (("forget", ("forget_qa",)), ("retain", ("retain_qa", "retain2_qa"))):
        files = find(root, *_patterns("knowmem", *splits))
        if files is not None:
            sets[f"knowmem_{role}"] = _qa(files, f"{tag}/knowmem_{role}", f"{tag}-{role}", "question",
                                          "answer", "muse_knowmem")
    for role, splits in (("forget", ("forget",)), ("retain", ("retain", "retain2")), ("holdout", ("holdout",))):
        files = find(root, *_patterns("privleak", *splits))
        if files is not None:
            sets[f"privleak_{role}"], n = text_records(
                _rows(files), id_prefix=f"{tag}/privleak_{role}", entity_prefix=f"{tag}-privleak-{role}",
                fact_type="muse_privleak", chunk=False, **cut)  # fmt: skip
            skipped += n
    missing = [s for s in ("verbmem_forget", "knowmem_forget", "knowmem_retain", "privleak_forget",
                           "privleak_retain", "privleak_holdout") if s not in sets]  # fmt: skip
    if missing:
        notes.append(f"not found, so not loaded: {', '.join(missing)}")
    if sets.get("privleak_forget"):
        notes.append(f"privleak texts: each is one record, truncated to its first {passage_words} words")
    if any(s in sets for s in ("verbmem_forget", "knowmem_forget", "knowmem_retain")):
        notes.append("verbmem/knowmem: no paraphrases or wrong answers in MUSE; wrong answers are other items' "
                     "answers (meta.no_perturbed)")
    if skipped:
        notes.append(f"{skipped} passages under 2 words were skipped")
    splits = build_splits(forget, retain, holdout, None, f"{root}/raw/forget", notes)
    return Benchmark("muse", root, splits, sets, notes, {"subset": subset, **cut})
