"""BLUR (Hu et al. 2025, arXiv 2506.15699) from the files of the hub dataset ``forgelab/BLUR``.

The dataset card does not document the files; this layout is the one the
public loaders of ``forgelab/BLUR`` read (file names per task, one ``text``
field per row), made strict here::

    <task>_forget.json                 forget queries          (rwku, whp)
    <task>_retain.json                 retain queries          (rwku, whp, wmdp)
    <task>_paired_forget_retain.json   combined forget+retain queries (tofu; optional for the others)
    <task>_D_hi.json, <task>_D_mid.json   relearning text of high / medium relevance (optional)
    D_lo_for_all.json                  relearning text of low relevance, shared by all tasks (optional)

``task`` is ``rwku``, ``whp``, ``tofu`` or ``wmdp``. A row is ``{"text": ...}``
(an optional ``"answer"`` string is used when present). BLUR scores a model
against the *base model's* answer (``base_rouge``, ``fluency``), so its
queries carry no reference answer: such records get ``answer = NO_ANSWER``
and ``meta["no_answer"]``, fit for those metrics and nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path

from obliviate.llm.data.formats.base import FORMATS, Benchmark, build_splits, choice
from obliviate.llm.data.formats.fields import (
    PASSAGE_WORDS,
    PREFIX_WORDS,
    check_passage_options,
    fill_perturbed,
    make_record,
    optional_text,
    text_field,
    text_records,
)
from obliviate.llm.data.formats.files import find, open_folder, read_rows, require, table_patterns
from obliviate.llm.data.records import QARecord

TASKS = ("rwku", "whp", "tofu", "wmdp")
QUERY_FILES = {"forget": "forget", "retain": "retain", "combined": "paired_forget_retain"}
REQUIRED = {"rwku": ("forget", "retain"), "whp": ("forget", "retain"), "tofu": ("combined",), "wmdp": ("retain",)}
RELEARN = {"high": "{task}_D_hi", "medium": "{task}_D_mid", "low": "D_lo_for_all"}
EXPECTS = (
    "<task>_forget.json, <task>_retain.json, <task>_paired_forget_retain.json, <task>_D_hi.json, "
    "<task>_D_mid.json and D_lo_for_all.json (task: rwku, whp, tofu, wmdp; see docs/formats.md for which "
    "a task needs), rows {\"text\": ...}"
)


def _queries(files: list[Path], task: str, kind: str) -> list[QARecord]:
    records = [
        make_record(id=f"blur-{task}/{kind}/{i:04d}", entity=f"blur-{task}-{kind}", question=text_field(row, "text"),
                    answer=optional_text(row, "answer"), fact_type=f"blur_{kind}")
        for i, row in enumerate(read_rows(files))
    ]  # fmt: skip
    fill_perturbed(records)
    return records


@FORMATS.register("blur", paper="Hu et al. 2025 (BLUR), arXiv 2506.15699")
def load_blur(
    folder: str | os.PathLike,
    *,
    subset: str = "rwku",
    passage_words: int = PASSAGE_WORDS,
    prefix_words: int = PREFIX_WORDS,
) -> Benchmark:
    """BLUR's queries and relearning tiers for one task.

    Args:
        folder: A download of ``forgelab/BLUR``.
        subset: The task: ``rwku``, ``whp``, ``tofu`` or ``wmdp``.
        passage_words, prefix_words: How relearning text is cut into records.

    Returns:
        ``sets``: ``forget_queries``, ``retain_queries``, ``combined``,
        ``relearn_high``, ``relearn_medium``, ``relearn_low`` (those present).
        ``splits``: forget/retain queries when every one has an ``answer``;
        else ``None`` (BLUR ships none: take the splits from the benchmark the
        task is built on, e.g. ``load_benchmark("tofu", ...)``).
    """
    task = choice("blur", "subset", subset, TASKS)
    check_passage_options(passage_words, prefix_words)
    root = open_folder(folder, "BLUR", EXPECTS)
    cut = {"passage_words": passage_words, "prefix_words": prefix_words}
    notes: list[str] = []
    sets: dict[str, list[QARecord]] = {}
    for kind, stem in QUERY_FILES.items():
        patterns = table_patterns(f"{task}_{stem}")
        files = require(root, *patterns) if kind in REQUIRED[task] else find(root, *patterns)
        if files is not None:
            sets["combined" if kind == "combined" else f"{kind}_queries"] = _queries(files, task, kind)
    for tier, stem in RELEARN.items():
        files = find(root, *table_patterns(stem.format(task=task)))
        if files is None:
            notes.append(f"relearn_{tier}: {stem.format(task=task)} not found")
            continue
        sets[f"relearn_{tier}"], skipped = text_records(
            read_rows(files), id_prefix=f"blur-{task}/relearn_{tier}", entity_prefix=f"blur-{task}-relearn-{tier}",
            fact_type=f"blur_relearn_{tier}", **cut)  # fmt: skip
        if skipped:
            notes.append(f"relearn_{tier}: {skipped} passages under 2 words were skipped")
    if any(k.startswith("relearn_") for k in sets):
        notes.append(f"relearning text: passages of at most {passage_words} words; question = the first "
                     f"{prefix_words} words, answer = the rest")
    queries = [r for k in ("forget_queries", "retain_queries", "combined") for r in sets.get(k, [])]
    if any(r.meta.get("no_answer") for r in queries):
        notes.append("queries: no reference answers in BLUR (it compares with the base model's answer); "
                     "answer = NO_ANSWER, meta.no_answer: use them with base_rouge / fluency only")
    splits = None
    forget, retain = sets.get("forget_queries"), sets.get("retain_queries")
    if forget and retain and not any(r.meta.get("no_answer") for r in forget + retain):
        splits = build_splits(forget, retain, [], None, str(root / f"{task}_forget.json"), notes)
    else:
        notes.append("splits is None: BLUR has no answered forget and retain sets for this task; unlearn with "
                     "the splits of the benchmark the task is built on")
    return Benchmark("blur", root, splits, sets, notes, {"subset": task, **cut})
