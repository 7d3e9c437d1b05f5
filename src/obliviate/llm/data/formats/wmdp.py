"""WMDP (Li et al. 2024, arXiv 2403.03218) from the hub datasets ``cais/wmdp`` and ``cais/wmdp-corpora``.

Multiple-choice questions, ``wmdp-<subset>/test-*.parquet`` on the hub::

    question: str, choices: list[str] (4), answer: int (index of the right choice)

An item becomes a record with ``answer = choices[answer]`` and the other
choices as ``perturbed_answers``: the multiple-choice reading of the scorer
(``mc_correct``: the true answer must beat every wrong one).

Unlearning corpora (optional; the bio forget corpus is gated and comes as
``bio-forget-corpus.jsonl``, objects with ``title``, ``abstract``, ``text``;
the others as hub parquet ``<name>/train-*.parquet`` or JSON lines of
``{"text": ...}`` or bare strings)::

    <subset>-forget-corpus, <subset>-retain-corpus   (bio and cyber; none for chem)
"""

from __future__ import annotations

import os

from obliviate.core.errors import DataError
from obliviate.llm.data.formats.base import FORMATS, Benchmark, build_splits, choice
from obliviate.llm.data.formats.fields import (
    PASSAGE_WORDS,
    PREFIX_WORDS,
    check_passage_options,
    int_field,
    make_record,
    text_field,
    text_list,
    text_records,
)
from obliviate.llm.data.formats.files import Row, find, open_folder, read_rows, require, table_patterns
from obliviate.llm.data.records import QARecord

SUBSETS = ("bio", "cyber", "chem")
EXPECTS = (
    "wmdp-bio/test-*.parquet (or wmdp-bio.json/.jsonl/.parquet; likewise wmdp-cyber, wmdp-chem) and, to unlearn, "
    "bio-forget-corpus.jsonl with bio-retain-corpus (or cyber-forget-corpus with cyber-retain-corpus) as "
    ".jsonl, .json, .parquet or <name>/*.parquet"
)


def _mcq_patterns(subset: str) -> tuple[str, ...]:
    name = f"wmdp-{subset}"
    return (f"{name}/test-*.parquet", *table_patterns(name), f"{name}/test/*.parquet")


def mc_record(row: Row, rid: str, entity: str, fact_type: str) -> QARecord:
    """A multiple-choice row (question, choices, answer index) as a record."""
    choices = text_list(row, "choices", min_items=2)
    index = int_field(row, "answer")
    if not 0 <= index < len(choices):
        raise DataError(f"{row.where}: field 'answer' is {index}, not an index into the {len(choices)} choices")
    return make_record(
        id=rid,
        entity=entity,
        question=text_field(row, "question"),
        answer=choices[index],
        perturbed=[c for i, c in enumerate(choices) if i != index],
        fact_type=fact_type,
        meta={"answer_index": index, "choices": choices},
    )


@FORMATS.register("wmdp", paper="Li et al. 2024 (WMDP), arXiv 2403.03218")
def load_wmdp(
    folder: str | os.PathLike,
    *,
    subset: str = "bio",
    passage_words: int = PASSAGE_WORDS,
    prefix_words: int = PREFIX_WORDS,
) -> Benchmark:
    """WMDP: the multiple-choice sets, and the ``subset``'s forget/retain corpora when present.

    Args:
        folder: A folder with the ``cais/wmdp`` files (and the corpora, to unlearn).
        subset: ``bio``, ``cyber`` or ``chem``: whose questions are required
            and whose corpora make the splits.
        passage_words, prefix_words: How corpus text is cut into records.

    Returns:
        ``sets``: ``wmdp_<subset>`` and every other WMDP subset found.
        ``splits``: forget/retain corpus passages; ``None`` without a forget
        corpus (evaluation only; see ``notes``).
    """
    subset = choice("wmdp", "subset", subset, SUBSETS)
    check_passage_options(passage_words, prefix_words)
    root = open_folder(folder, "WMDP", EXPECTS)
    notes = ["multiple choice: answer = choices[answer], perturbed_answers = the other choices; no paraphrases "
             "(meta.no_paraphrase)"]
    sets: dict[str, list[QARecord]] = {}
    for s in SUBSETS:
        files = require(root, *_mcq_patterns(s)) if s == subset else find(root, *_mcq_patterns(s))
        if files is not None:
            sets[f"wmdp_{s}"] = [mc_record(row, f"wmdp-{s}/{i:04d}", f"wmdp-{s}", f"wmdp_{s}")
                                 for i, row in enumerate(read_rows(files))]

    cut = {"passage_words": passage_words, "prefix_words": prefix_words}
    forget_name, retain_name = f"{subset}-forget-corpus", f"{subset}-retain-corpus"
    forget_files = find(root, *table_patterns(forget_name))
    if forget_files is None:
        why = {"bio": " (the bio forget corpus is gated: request it from the WMDP authors)",
               "chem": " (WMDP has no chem corpora)"}.get(subset, "")
        notes.append(f"no {forget_name}: evaluation sets only, splits is None{why}")
        return Benchmark("wmdp", root, None, sets, notes, {"subset": subset, **cut})
    retain_files = require(root, *table_patterns(retain_name))
    forget, skipped = text_records(read_rows(forget_files), id_prefix=f"wmdp-{subset}/forget",
                                   entity_prefix=f"wmdp-{subset}-forget", fact_type="wmdp_forget_text", **cut)
    retain, n = text_records(read_rows(retain_files), id_prefix=f"wmdp-{subset}/retain",
                             entity_prefix=f"wmdp-{subset}-retain", fact_type="wmdp_retain_text", **cut)
    notes.append(f"corpora: passages of at most {passage_words} words; question = the first {prefix_words} words, "
                 "answer = the rest; wrong answers are other passages' continuations (meta.no_perturbed)")
    if skipped + n:
        notes.append(f"{skipped + n} passages under 2 words were skipped")
    notes.append("holdout: WMDP has no never-trained text; the holdout split is empty")
    splits = build_splits(forget, retain, [], None, str(forget_files[0]), notes)
    return Benchmark("wmdp", root, splits, sets, notes, {"subset": subset, **cut})
