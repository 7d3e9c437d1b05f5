"""FaithUn (Yang et al. 2025, arXiv 2502.19207) from its GitHub release ``yny0506/faithun``.

The release documents the files but not the record schema; this is the
layout its README describes, made strict here (our reading, see
docs/formats.md)::

    FaithUnBench.json (or FaithUn_Dataset.json)
        {"<Wikidata id>": {"name": str (optional),
                           "hop1_unlearn": [Q, ...],   # base QA, one cluster each
                           "hop1_test":   [Q or [Q, ...], ...],   # paraphrases, aligned with hop1_unlearn
                           "hop2_test":   [Q or [Q, ...], ...],   # multi-hop questions, aligned
                           "same_object": [Q or [Q, ...], ...]},  # same-answer questions, aligned
         ...}
        Q = {"question": str, "answers": [str, ...] or str, "false_answer_options": [str, ...]}
    splits/forget_set_split.txt, splits/retaining_set_split.txt, splits/test_set_split.txt
        cluster indices, one per line; clusters are numbered over the entities in file order

Each cluster becomes one record (its ``hop1_unlearn`` question); its test
questions form the sets of the ``faithfulness`` metric, linked by
``meta["faith_of"]``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from obliviate.core.errors import DataError
from obliviate.llm.data.formats.base import FORMATS, Benchmark, build_splits
from obliviate.llm.data.formats.fields import make_record, optional_text, text_field, text_list
from obliviate.llm.data.formats.files import Row, open_folder, read_json, read_text
from obliviate.llm.data.records import QARecord

DATA_FILES = ("FaithUnBench.json", "FaithUn_Dataset.json")
SPLIT_FILES = {"forget": "forget_set_split.txt", "retain": "retaining_set_split.txt", "test": "test_set_split.txt"}
LINKED = {"hop1_test": "paraphrase", "hop2_test": "multi_hop", "same_object": "same_answer"}
EXPECTS = (
    "FaithUnBench.json (or FaithUn_Dataset.json) and splits/forget_set_split.txt, splits/retaining_set_split.txt, "
    "splits/test_set_split.txt (in the folder or in its dataset/)"
)


def _answers(row: Row) -> list[str]:
    data = row.value
    if isinstance(data, dict) and isinstance(data.get("answers"), str):
        return [text_field(row, "answers")]
    return text_list(row, "answers")


def _question(row: Row, rid: str, entity: str, fact_type: str, **meta: Any) -> QARecord:
    answers = _answers(row)
    return make_record(
        id=rid,
        entity=entity,
        question=text_field(row, "question"),
        answer=answers[0],
        perturbed=text_list(row, "false_answer_options"),
        fact_type=fact_type,
        meta={"value": answers[0], "answers": answers, **meta},
    )


def _aligned(where: str, entity: dict, key: str, n: int) -> list[list[Row]]:
    """``entity[key]`` as one list of rows per cluster (absent: none)."""
    items = entity.get(key)
    if items is None:
        return [[] for _ in range(n)]
    if not isinstance(items, list) or len(items) != n:
        got = f"{len(items)} items" if isinstance(items, list) else type(items).__name__
        raise DataError(f"{where}: field {key!r} must be a list aligned with 'hop1_unlearn' ({n} items), got {got}")
    out = []
    for k, item in enumerate(items):
        group = item if isinstance(item, list) else [] if item is None else [item]
        out.append([Row(f"{where} {key}[{k}]" + (f"[{j}]" if isinstance(item, list) else ""), q)
                    for j, q in enumerate(group)])
    return out


def _split(path: Path, n_clusters: int) -> list[int]:
    out = []
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            c = int(line)
        except ValueError:
            raise DataError(f"{path}:{lineno}: expected a cluster index, got {line.strip()!r:.40}") from None
        if not 0 <= c < n_clusters:
            raise DataError(f"{path}:{lineno}: cluster {c} is out of range: the data has {n_clusters} clusters")
        out.append(c)
    return out


def _base(root: Path) -> tuple[Path, Path]:
    for base in (root, root / "dataset"):
        for name in DATA_FILES:
            if (base / name).is_file():
                return base, base / name
    raise DataError(f"{root / DATA_FILES[0]}: file not found (nor {DATA_FILES[1]}, nor either in dataset/); "
                    f"a FaithUn folder holds {EXPECTS}")


@FORMATS.register("faithun", paper="Yang et al. 2025 (FaithUn), arXiv 2502.19207")
def load_faithun(folder: str | os.PathLike) -> Benchmark:
    """FaithUn: forget/retain clusters and the faithfulness item sets.

    Returns:
        ``splits``: forget / retain = the base question of each cluster of
        the forget / retaining split (``paraphrased_question`` = its first
        paraphrase); no holdout.
        ``sets``: the ``faithfulness`` metric's ``target``, ``paraphrase``,
        ``multi_hop``, ``same_answer`` (forget clusters, linked by
        ``meta["faith_of"]``) and ``unrelated`` (the test split's base questions).
    """
    root = open_folder(folder, "FaithUn", EXPECTS)
    base, path = _base(root)
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object of entities keyed by Wikidata id, got {type(data).__name__}")
    hop1: list[QARecord] = []
    linked: list[dict[str, list[Row]]] = []
    for eid, entity in data.items():
        where = f"{path} entity {eid!r}"
        if not isinstance(entity, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(entity).__name__}")
        name = optional_text(Row(where, entity), "name") or eid
        rows = entity.get("hop1_unlearn")
        if not isinstance(rows, list) or not rows:
            raise DataError(f"{where}: field 'hop1_unlearn' must be a non-empty list of questions")
        groups = {key: _aligned(where, entity, key, len(rows)) for key in LINKED}
        for k, q in enumerate(rows):
            c = len(hop1)
            para = groups["hop1_test"][k]
            rec = _question(Row(f"{where} hop1_unlearn[{k}]", q), f"faithun/{c:03d}", name, "faithun_hop1",
                            cluster=c, wikidata_id=eid)
            if para:
                rec.paraphrased_question = text_field(para[0], "question")
                rec.meta.pop("no_paraphrase")
            hop1.append(rec)
            linked.append({key: groups[key][k] for key in LINKED})

    roles = {}
    for role, fname in SPLIT_FILES.items():
        split_path = base / "splits" / fname if (base / "splits" / fname).is_file() else base / fname
        if not split_path.is_file():
            raise DataError(f"{base / 'splits' / fname}: file not found (nor {base / fname})")
        roles[role] = _split(split_path, len(hop1))
    both = sorted(set(roles["forget"]) & set(roles["retain"]))
    if both:
        raise DataError(f"{base / 'splits'}: clusters {both[:5]} are in both the forget and the retaining split")

    forget = [hop1[c] for c in roles["forget"]]
    retain = [hop1[c] for c in roles["retain"]]
    sets: dict[str, list[QARecord]] = {"target": [], "paraphrase": [], "multi_hop": [], "same_answer": []}
    for c in roles["forget"]:
        f = hop1[c]
        sets["target"].append(dataclasses.replace(f, perturbed_answers=list(f.perturbed_answers),
                                                  meta={**f.meta, "faith_of": f.id}))
        for key, kind in LINKED.items():
            for j, row in enumerate(linked[c][key]):
                entity = f.entity if kind != "same_answer" else f"{f.entity} (same answer)"
                sets[kind].append(_question(row, f"{f.id}/{kind}/{j}", entity, f"faithun_{kind}",
                                            cluster=c, faith_of=f.id))
    sets["unrelated"] = [hop1[c] for c in roles["test"] if c not in set(roles["forget"])]
    notes = [
        "record schema: our reading of the FaithUn README (the release does not document it); see docs/formats.md",
        "paraphrased_answer: FaithUn has none; paraphrased_answer = answer (meta.no_paraphrased_answer)",
        "unrelated: the test split's base questions (the faithfulness control set)",
        "holdout: FaithUn facts are real-world knowledge, none is unseen; the holdout split is empty",
    ]
    shared = {r.entity for r in forget} & {r.entity for r in retain}
    if shared:
        notes.append(f"{len(shared)} entities have clusters in both forget and retain: FaithUn splits clusters, "
                     "not entities")
    splits = build_splits(forget, retain, [], None, str(path), notes)
    return Benchmark("faithun", root, splits, sets, notes, {})
