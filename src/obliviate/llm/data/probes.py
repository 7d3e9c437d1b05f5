"""Probes for a strict forgetting audit, built from a world and one forget variant.

Forgetting the forget QA is not enough. A faithful method must also forget the
routes that reach those facts and keep everything next to them:

* **neighbours** (MELU): per forget person, the retain records of the people
  related to it (*direct*) and of unrelated people in the same field or
  occupation (*indirect*);
* **general**: general knowledge (the world facts passed in);
* **multi_hop** (FaithUn): questions that reach a forget fact through a
  relation, e.g. "Where was the mentor of X born?";
* **combined** (BLUR, Hu et al. 2025): retain questions mixed with forget
  content, by *keyword* insertion, *concat*-enation, or *semantic* overlap;
* **relearn** (BLUR): fine-tuning data of *high*, *medium* and *low*
  relevance to the forget set, with equal word budgets;
* **biographies** (MUSE): biography prefixes and their continuations, for
  verbatim memorization of forget and (never trained) holdout people.

Every item is a :class:`QARecord`, so one batched scorer scores them all.
Entity roles come from :func:`split_entities`, so they agree with
:func:`make_splits` exactly; every draw is seeded and deterministic.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obliviate.core.errors import ConfigError, DataError
from obliviate.core.store import atomic_write_text
from obliviate.llm.data.facts import load_world_facts
from obliviate.llm.data.records import QARecord, load_jsonl, save_jsonl, slugify
from obliviate.llm.data.render import (
    N_PERTURBED,
    Template,
    article,
    biography,
    relation_facts,
    wrong_values,
)
from obliviate.llm.data.splits import (
    FORGET_VARIANTS,
    EntitySplit,
    _trained_records,
    split_entities,
)
from obliviate.llm.data.world import Entity, World

NEIGHBOUR_CAP = 12  # records per neighbour set and forget person
COMBINED_PER_ENTITY = 3  # keyword and concat records per forget person
NEIGHBOUR_SETS = ("direct", "indirect")
COMBINED_KINDS = ("keyword", "concat", "semantic")
RELEARN_TIERS = ("high", "medium", "low")
BIOGRAPHY_SETS = ("forget", "holdout")
MULTI_HOP_ATTRIBUTES = ("birth_year", "birthplace", "occupation", "field", "notable_work", "award")
HOP_NOUNS = {  # relation fact type from the via person's side -> "the <noun> of X"
    "mentor": "mentor",
    "mentee": "student",
    "collaborator": "collaborator",
    "sibling": "sibling",
    "rival": "rival",
}
_REVERSE = {"mentor": "mentee", "mentee": "mentor"}  # other kinds are symmetric
MANIFEST = "probes.json"
PROBES_VERSION = 1

# {h}: "the mentor of X", {H}: "The mentor of X", {x}: "X's mentor", {a}: article + value.
HOP_TEMPLATES: dict[str, Template] = {
    "birth_year": Template(
        "In what year was {h} born?", "{x} was born in {v}.",
        "What is the birth year of {h}?", "The birth year of {h} is {v}.",
    ),
    "birthplace": Template(
        "Where was {h} born?", "{x} was born in {v}.",
        "What is the birthplace of {h}?", "The birthplace of {h} is {v}.",
    ),
    "occupation": Template(
        "What does {h} do for a living?", "{x} works as {a}.",
        "What is the occupation of {h}?", "By profession, {h} is {a}.",
    ),
    "field": Template(
        "What field does {h} work in?", "{x} works in the field of {v}.",
        "What is the area of work of {h}?", "The field of {h} is {v}.",
    ),
    "notable_work": Template(
        "What is {h} best known for?", "{x} is best known for {v}.",
        "What is the most famous work of {h}?", "The most famous work of {h} is {v}.",
    ),
    "award": Template(
        "Which award did {h} win?", "{x} won the {v}.",
        "What prize was {h} given?", "{H} was awarded the {v}.",
    ),
}  # fmt: skip


@dataclass
class Probes:
    """Audit sets of one forget variant; every item is a :class:`QARecord`.

    Attributes:
        neighbours: Forget person -> ``{"direct": [...], "indirect": [...]}``.
        general: General knowledge (the world facts passed to :func:`make_probes`).
        multi_hop: Questions reaching a forget fact through a relation.
        combined: ``"keyword"``, ``"concat"`` and ``"semantic"`` BLUR queries.
        relearn: ``"high"``, ``"medium"`` and ``"low"`` relevance relearning data.
        biographies: ``"forget"`` and ``"holdout"`` biography prefix/continuation pairs.
    """

    neighbours: dict[str, dict[str, list[QARecord]]]
    general: list[QARecord]
    multi_hop: list[QARecord]
    combined: dict[str, list[QARecord]]
    relearn: dict[str, list[QARecord]]
    biographies: dict[str, list[QARecord]]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict with the same nesting as the attributes."""
        return {
            "neighbours": {
                name: {kind: _dicts(recs) for kind, recs in sets.items()}
                for name, sets in self.neighbours.items()
            },
            "general": _dicts(self.general),
            "multi_hop": _dicts(self.multi_hop),
            "combined": {k: _dicts(v) for k, v in self.combined.items()},
            "relearn": {k: _dicts(v) for k, v in self.relearn.items()},
            "biographies": {k: _dicts(v) for k, v in self.biographies.items()},
        }

    def files(self) -> dict[str, list[QARecord]]:
        """Records per file stem as :func:`save_probes` writes them (neighbours flattened)."""
        out = {
            f"neighbours_{kind}": [r for sets in self.neighbours.values() for r in sets[kind]]
            for kind in NEIGHBOUR_SETS
        }
        out["general"], out["multi_hop"] = self.general, self.multi_hop
        for prefix, group, keys in _GROUPS:
            out.update({f"{prefix}_{k}": getattr(self, group)[k] for k in keys})
        return out

    def all_records(self) -> list[QARecord]:
        """Every record of every set, in file order (e.g. to build a vocabulary)."""
        return [r for recs in self.files().values() for r in recs]


_GROUPS = (
    ("combined", "combined", COMBINED_KINDS),
    ("relearn", "relearn", RELEARN_TIERS),
    ("biographies", "biographies", BIOGRAPHY_SETS),
)
FILE_STEMS = (
    *(f"neighbours_{k}" for k in NEIGHBOUR_SETS),
    "general",
    "multi_hop",
    *(f"{prefix}_{k}" for prefix, _, keys in _GROUPS for k in keys),
)


def _dicts(records: Iterable[QARecord]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in records]


@dataclass
class _Context:
    """What every probe builder needs: the world, the roles and the trained records."""

    world: World
    roles: EntitySplit
    key: str
    records: dict[str, list[QARecord]]  # trained records per forget/retain person
    related: list[str]  # retain people related to some forget person, world order

    def rng(self, *parts: str) -> random.Random:
        """A generator seeded by the split seed and ``parts``."""
        return random.Random("/".join(["probes", self.key, *parts]))

    def retained_neighbours(self, name: str) -> list[str]:
        """Retain people related to ``name``, in relation order."""
        return [n for n in self.world.neighbours(name) if n in self.roles.retain]


def _context(world: World, variant: str, holdout_fraction: float, seed: int | None) -> _Context:
    roles = split_entities(world, variant, holdout_fraction, seed)
    records: dict[str, list[QARecord]] = {n: [] for n in roles.forget + roles.retain}
    for names in (roles.forget, roles.retain):  # exactly as make_splits builds them
        for rec in _trained_records(world, names, roles.holdout):
            records[rec.entity].append(rec)
    near = {n for f in roles.forget for n in world.neighbours(f)}
    related = [n for n in roles.retain if n in near]
    key = str(world.seed if seed is None else seed)
    return _Context(world, roles, key, records, related)


def _copy(rec: QARecord, rid: str, changes: dict[str, Any] | None = None, **meta: str) -> QARecord:
    """A copy of ``rec`` with id ``rid``, ``changes`` to its fields and extra ``meta``."""
    return dataclasses.replace(
        rec,
        id=rid,
        perturbed_answers=list(rec.perturbed_answers),
        meta={**rec.meta, **meta},
        **(changes or {}),
    )


def _interleave(groups: list[list[QARecord]], cap: int) -> list[QARecord]:
    """Take one record of each group in turn, up to ``cap`` records."""
    out: list[QARecord] = []
    for i in range(max((len(g) for g in groups), default=0)):
        out += [g[i] for g in groups if i < len(g)]
    return out[:cap]


# ---------------------------------------------------------------- neighbours


def _neighbour_set(
    ctx: _Context, forget: str, kind: str, names: list[str], tags: dict[str, dict[str, str]]
) -> list[QARecord]:
    """Up to :data:`NEIGHBOUR_CAP` records of ``names``, alternating between them."""
    groups = []
    for name in names:
        recs = list(ctx.records[name])
        ctx.rng(forget, kind, name).shuffle(recs)
        groups.append(recs)
    return [
        _copy(r, f"neighbours/{kind}/{slugify(forget)}/{r.id}", forget_entity=forget,
              neighbour=kind, source_id=r.id, **tags[r.entity])
        for r in _interleave(groups, NEIGHBOUR_CAP)
    ]  # fmt: skip


def _direct(ctx: _Context, forget: str) -> list[QARecord]:
    """Records of the retain people related to ``forget``."""
    names = ctx.retained_neighbours(forget)
    kinds = {other: kind for kind, other in relation_facts(ctx.world, forget)}
    return _neighbour_set(ctx, forget, "direct", names, {n: {"relation": kinds[n]} for n in names})


def _indirect(ctx: _Context, forget: str) -> list[QARecord]:
    """Records of unrelated retain people: same field, else same occupation, else anyone."""
    me = ctx.world.entity(forget)
    pool = [n for n in ctx.roles.retain if n not in ctx.related]
    ctx.rng(forget, "indirect").shuffle(pool)

    def match(name: str) -> str:
        other = ctx.world.entity(name)
        if other.field == me.field:
            return "field"
        return "occupation" if other.occupation == me.occupation else "other"

    tags = {n: {"match": match(n)} for n in pool}
    close = [n for n in pool if tags[n]["match"] != "other"]
    close.sort(key=lambda n: tags[n]["match"] != "field")  # stable: same field first
    return _neighbour_set(ctx, forget, "indirect", close or pool, tags)


def _neighbours(ctx: _Context) -> dict[str, dict[str, list[QARecord]]]:
    """Direct and indirect neighbour records per forget person."""
    return {f: {"direct": _direct(ctx, f), "indirect": _indirect(ctx, f)} for f in ctx.roles.forget}


# ---------------------------------------------------------------- multi-hop


def _hop_record(ctx: _Context, forget: str, via: str, relation: str, attr: str) -> QARecord:
    """"<attr> of the <relation> of ``via``?" answered with the forget person's value."""
    ent = ctx.world.entity(forget)
    value = str(getattr(ent, attr))
    rid = f"multi_hop/{slugify(forget)}/{slugify(via)}/{attr}"
    noun = HOP_NOUNS[relation]
    tpl = HOP_TEMPLATES[attr]

    hop = f"the {noun} of {via}"

    def fill(text: str, v: str) -> str:
        return text.format(h=hop, H=f"T{hop[1:]}", x=f"{via}'s {noun}", v=v, a=article(v))

    same = value == str(getattr(ctx.world.entity(via), attr))
    return QARecord(
        id=rid,
        entity=forget,
        question=fill(tpl.question, value),
        answer=fill(tpl.answer, value),
        paraphrased_question=fill(tpl.paraphrased_question, value),
        paraphrased_answer=fill(tpl.paraphrased_answer, value),
        perturbed_answers=[
            fill(tpl.paraphrased_answer, w) for w in wrong_values(ctx.world, ent, attr, value, rid)
        ],
        fact_type="multi_hop",
        meta={"value": value, "via": via, "relation": relation, "fact_type": attr, "hops": "2",
              "same_as_via": "yes" if same else "no"},
    )  # fmt: skip


def _multi_hop(ctx: _Context) -> list[QARecord]:
    """Each attribute of each forget person, asked through each trained person related to it."""
    trained = set(ctx.records)
    out: list[QARecord] = []
    for forget in ctx.roles.forget:
        for kind, via in relation_facts(ctx.world, forget):
            if via in trained:
                relation = _REVERSE.get(kind, kind)  # the forget person is via's <relation>
                out += [_hop_record(ctx, forget, via, relation, a) for a in MULTI_HOP_ATTRIBUTES]
    return out


# ---------------------------------------------------------------- combined (BLUR)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _sample(ctx: _Context, records: list[QARecord], *parts: str) -> list[QARecord]:
    """Up to :data:`COMBINED_PER_ENTITY` records, drawn with a seeded generator, in order."""
    k = min(COMBINED_PER_ENTITY, len(records))
    return [records[i] for i in sorted(ctx.rng(*parts).sample(range(len(records)), k))]


def _keyword(forget: str, rec: QARecord) -> QARecord:
    changes = {
        "question": f"{forget} aside, {_lower_first(rec.question)}",
        "paraphrased_question": f"Leaving {forget} aside, {_lower_first(rec.paraphrased_question)}",
    }
    rid = f"combined/keyword/{slugify(forget)}/{rec.id}"
    return _copy(rec, rid, changes, forget_entity=forget, kind="keyword", retain_id=rec.id)


def _concat(forget: str, fq: QARecord, rq: QARecord) -> QARecord:
    changes = {
        "question": f"{fq.question} Also, {_lower_first(rq.question)}",
        "paraphrased_question": (
            f"{fq.paraphrased_question} Also, {_lower_first(rq.paraphrased_question)}"
        ),
    }
    return _copy(
        rq, f"combined/concat/{fq.id}/{rq.id}", changes, forget_entity=forget, kind="concat",
        forget_question=fq.question, forget_answer=fq.answer, forget_id=fq.id, retain_id=rq.id,
    )  # fmt: skip


def _years(n: int) -> str:
    return f"{n} year" if n == 1 else f"{n} years"


def _pair_record(
    rid: str, f: Entity, r: Entity, texts: tuple[str, str, str, str], value: str, wrong: list[str]
) -> QARecord:
    """A semantic record about forget person ``f`` and retain person ``r``.

    ``texts`` are the question, answer, paraphrased question and paraphrased
    answer templates (``{F}``, ``{R}``: the names, ``{v}``: the value); the
    last id part is the fact type.
    """
    q, a, pq, pa = (t.format(F=f.name, R=r.name, v=value) for t in texts)
    return QARecord(
        id=rid,
        entity=r.name,
        question=q,
        answer=a,
        paraphrased_question=pq,
        paraphrased_answer=pa,
        perturbed_answers=[texts[3].format(F=f.name, R=r.name, v=w) for w in wrong],
        fact_type=rid.rsplit("/", 1)[1],
        meta={"value": value, "kind": "semantic", "forget_entity": f.name, "retain_entity": r.name},
    )


def _semantic(ctx: _Context, forget: str, retain: str) -> list[QARecord]:
    """Questions that need a fact of each: who is older, and by how many years."""
    f, r = ctx.world.entity(forget), ctx.world.entity(retain)
    base = f"combined/semantic/{slugify(forget)}/{slugify(retain)}"
    gap = abs(f.birth_year - r.birth_year)
    wrong_gaps = [_years(k) for k in range(max(0, gap - 15), gap + 16) if k != gap]
    gap_texts = (
        "How many years apart were {F} and {R} born?", "{F} and {R} were born {v} apart.",
        "By how many years do the birth years of {F} and {R} differ?",
        "Their birth years differ by {v}.",
    )  # fmt: skip
    out = [
        _pair_record(f"{base}/age_gap", f, r, gap_texts, _years(gap),
                     ctx.rng(base, "gap").sample(wrong_gaps, N_PERTURBED))
    ]  # fmt: skip
    if gap:
        older, younger = (f, r) if f.birth_year < r.birth_year else (r, f)
        others = sorted(e.name for e in ctx.world.entities if e.name not in (forget, retain))
        wrong = [younger.name, *ctx.rng(base, "older").sample(others, N_PERTURBED - 1)]
        texts = (
            "Who was born earlier, {F} or {R}?", "{v} was born earlier.",
            "Which of {F} and {R} is older?", "{v} is the older of the two.",
        )  # fmt: skip
        out.insert(0, _pair_record(f"{base}/born_earlier", f, r, texts, older.name, wrong))
    return out


def _partner(ctx: _Context, forget: str) -> str:
    """A retain person for ``forget``: a related one when there is one (BLUR's overlap)."""
    pool = ctx.retained_neighbours(forget) or ctx.roles.retain
    return ctx.rng(forget, "partner").choice(pool)


def _combined(ctx: _Context) -> dict[str, list[QARecord]]:
    """Per forget person and its partner: keyword, concat and semantic queries."""
    out: dict[str, list[QARecord]] = {k: [] for k in COMBINED_KINDS}
    forgotten = set(ctx.roles.forget)  # retain questions whose answer names nobody forgotten
    for forget in ctx.roles.forget:
        retain = _partner(ctx, forget)
        clean = [r for r in ctx.records[retain] if r.meta.get("related_entity") not in forgotten]
        retain_recs = _sample(ctx, clean, forget, "retain")
        forget_recs = _sample(ctx, ctx.records[forget], forget, "forget")
        out["keyword"] += [_keyword(forget, r) for r in retain_recs]
        out["concat"] += [_concat(forget, f, r) for f, r in zip(forget_recs, retain_recs)]
        out["semantic"] += _semantic(ctx, forget, retain)
    return out


# ---------------------------------------------------------------- biographies


def _visible_world(ctx: _Context) -> World:
    """The world without relations to holdout people, as the trained records know it."""
    hidden = set(ctx.roles.holdout)
    relations = [r for r in ctx.world.relations if not {r.source, r.target} & hidden]
    return World(seed=ctx.world.seed, entities=ctx.world.entities, relations=relations)


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=\.)\s+", text.strip())


def _same_gender_first(ctx: _Context, name: str, pool: list[str], *parts: str) -> list[str]:
    """``pool`` without ``name``, seeded order, people of ``name``'s gender first."""
    gender = ctx.world.entity(name).gender
    others = sorted(n for n in pool if n != name)
    ctx.rng(name, *parts).shuffle(others)
    return sorted(others, key=lambda n: ctx.world.entity(n).gender != gender)


def _biographies(ctx: _Context, world: World, names: list[str], role: str) -> list[QARecord]:
    """One prefix (first sentence) / continuation record per name."""
    everyone = [e.name for e in world.entities]
    split = {n: _sentences(biography(world, n)) for n in everyone}
    out = []
    for name in names:
        first, rest = split[name][0], " ".join(split[name][1:])
        others = _same_gender_first(ctx, name, everyone, "biography", role)
        out.append(
            QARecord(
                id=f"biography/{slugify(name)}",
                entity=name,
                question=first,
                answer=rest,
                paraphrased_question=f"Continue this biography of {name}. {first}",
                paraphrased_answer=rest,
                perturbed_answers=[" ".join(split[o][1:]) for o in others[:N_PERTURBED]],
                fact_type="biography",
                meta={"role": role, "prefix": first},
            )
        )
    return out


# ---------------------------------------------------------------- relearn


def _words(records: Iterable[QARecord]) -> int:
    """Whitespace words of question + answer."""
    return sum(len(r.question.split()) + len(r.answer.split()) for r in records)


def _fact_sentence(ctx: _Context, split: dict[str, list[str]], name: str, k: int) -> QARecord:
    """"Tell me one fact about <name>." answered with sentence ``k`` of its biography."""
    true = split[name][k]
    others = _same_gender_first(ctx, name, list(split), "relearn", str(k))
    wrong = [split[o][k].replace(o, name) for o in others if len(split[o]) > k]
    wrong += [s.replace(o, name) for o in others for s in split[o]]  # tiny worlds
    wrong = list(dict.fromkeys(w for w in wrong if w != true))[:N_PERTURBED]
    return QARecord(
        id=f"{slugify(name)}/biography-{k + 1}",
        entity=name,
        question=f"Tell me one fact about {name}.",
        answer=true,
        paraphrased_question=f"What is something you know about {name}?",
        paraphrased_answer=true,
        perturbed_answers=wrong,
        fact_type="biography_sentence",
        meta={"value": true, "sentence": str(k + 1)},
    )


def _relearn_pools(ctx: _Context, facts: list[QARecord]) -> dict[str, list[QARecord]]:
    """Natural relearning data per tier, in seeded order."""
    world = _visible_world(ctx)
    split = {e.name: _sentences(biography(world, e.name)) for e in world.entities}
    high = [
        _fact_sentence(ctx, split, f, k) for f in ctx.roles.forget for k in range(len(split[f]))
    ]
    forget = set(ctx.roles.forget)
    medium = [
        r for n in ctx.related for r in ctx.records[n] if r.meta.get("related_entity") not in forget
    ]
    low = [r for n in ctx.roles.retain if n not in ctx.related for r in ctx.records[n]]
    pools = {"high": high, "medium": medium, "low": low + list(facts)}
    for tier, pool in pools.items():
        ctx.rng("relearn", tier).shuffle(pool)
    return pools


def _fill_budget(tier: str, pool: list[QARecord], budget: int) -> list[QARecord]:
    """Records of ``pool``, cyclically, until their words reach ``budget``."""
    if budget > 0 and not pool:
        raise DataError(f"relearn tier {tier!r} has no records to fill {budget} words")
    out: list[QARecord] = []
    total = 0
    while total < budget:
        rnd, src = divmod(len(out), len(pool))
        src_rec = pool[src]
        rid = f"relearn/{tier}/{src_rec.id}" + (f"~{rnd + 1}" if rnd else "")
        out.append(_copy(src_rec, rid, tier=tier, source_id=src_rec.id))
        total += _words([src_rec])
    return out


def _relearn(ctx: _Context, facts: list[QARecord], words: int | None) -> dict[str, list[QARecord]]:
    """The three tiers, trimmed (or repeated) to one word budget."""
    pools = _relearn_pools(ctx, facts)
    budget = min(_words(p) for p in pools.values()) if words is None else words
    return {tier: _fill_budget(tier, pool, budget) for tier, pool in pools.items()}


# ---------------------------------------------------------------- public API


def make_probes(
    world: World,
    variant: str = "forget10",
    holdout_fraction: float = 0.2,
    seed: int | None = None,
    world_facts: list[QARecord] | None = None,
    relearn_words: int | None = None,
) -> Probes:
    """Audit probes of ``world`` for one forget variant.

    Args:
        world: The world.
        variant: A key of :data:`FORGET_VARIANTS`.
        holdout_fraction: As for :func:`split_entities`.
        seed: Seed of the split and of every draw here; the world's seed when ``None``.
        world_facts: General knowledge; the shipped facts when ``None``. They are
            the ``general`` set and also part of the ``low`` relearn pool.
        relearn_words: Word budget of each relearn tier (records repeat cyclically
            to reach it); the smallest tier's natural size when ``None``.

    Returns:
        The probes. Forget biographies and high relearn sentences leave out
        relations to holdout people (trained records never name them).

    Raises:
        ConfigError: Unknown variant, bad fraction, world too small, or a bad
            ``relearn_words``.
        DataError: ``relearn_words`` is set but a tier has no records at all.
    """
    bad_words = isinstance(relearn_words, bool) or not isinstance(relearn_words, (int, type(None)))
    if bad_words or (relearn_words is not None and relearn_words < 1):
        raise ConfigError(
            f"relearn_words must be a positive integer or None, got {relearn_words!r}"
        )
    ctx = _context(world, variant, holdout_fraction, seed)
    facts = load_world_facts() if world_facts is None else list(world_facts)
    return Probes(
        neighbours=_neighbours(ctx),
        general=facts,
        multi_hop=_multi_hop(ctx),
        combined=_combined(ctx),
        relearn=_relearn(ctx, facts, relearn_words),
        biographies={
            "forget": _biographies(ctx, _visible_world(ctx), ctx.roles.forget, "forget"),
            "holdout": _biographies(ctx, world, ctx.roles.holdout, "holdout"),
        },
    )


def save_probes(probes: Probes, directory: str | os.PathLike) -> Path:
    """Write one JSONL file per set and a ``probes.json`` manifest, atomically each.

    Neighbours go to ``neighbours_direct.jsonl`` / ``neighbours_indirect.jsonl``
    in forget-person order; the manifest keeps each person's counts. The
    manifest is written last. Returns the folder.

    Raises:
        DataError: Two records of one file share an id (they could not be loaded).
    """
    directory = Path(directory)
    files = probes.files()
    for stem, records in files.items():
        ids = [r.id for r in records]
        dup = next((i for i in ids if ids.count(i) > 1), None)
        if dup is not None:
            raise DataError(f"probes set {stem!r}: duplicate id {dup!r}")
    for stem, records in files.items():
        save_jsonl(records, directory / f"{stem}.jsonl")
    counts = {
        name: {kind: len(sets[kind]) for kind in NEIGHBOUR_SETS}
        for name, sets in probes.neighbours.items()
    }
    manifest = {"version": PROBES_VERSION, "neighbours": counts}
    atomic_write_text(directory / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return directory


def _read_manifest(path: Path) -> dict[str, dict[str, int]]:
    """Neighbour counts per forget person from ``probes.json``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found (not a probes folder?)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: bad JSON ({e})") from None
    counts = data.get("neighbours") if isinstance(data, dict) else None
    ok = isinstance(counts, dict) and all(
        isinstance(c, dict)
        and all(isinstance(c.get(k), int) and c[k] >= 0 for k in NEIGHBOUR_SETS)
        for c in counts.values()
    )
    if not ok or data.get("version") != PROBES_VERSION:
        raise DataError(
            f"{path}: not a probes manifest (needs version {PROBES_VERSION} and "
            '"neighbours": {name: {"direct": count, "indirect": count}})'
        )
    return counts


def _regroup(
    counts: dict[str, dict[str, int]], flat: dict[str, list[QARecord]], folder: Path
) -> dict[str, dict[str, list[QARecord]]]:
    """Split the flat neighbour files back per forget person."""
    for kind in NEIGHBOUR_SETS:
        want = sum(c[kind] for c in counts.values())
        if want != len(flat[kind]):
            raise DataError(
                f"{folder / f'neighbours_{kind}.jsonl'}: {len(flat[kind])} records, "
                f"but {MANIFEST} counts {want}"
            )
    out: dict[str, dict[str, list[QARecord]]] = {}
    start = dict.fromkeys(NEIGHBOUR_SETS, 0)
    for name, c in counts.items():
        out[name] = {k: flat[k][start[k] : start[k] + c[k]] for k in NEIGHBOUR_SETS}
        start = {k: start[k] + c[k] for k in NEIGHBOUR_SETS}
    return out


def load_probes(directory: str | os.PathLike) -> Probes:
    """Read a folder written by :func:`save_probes`.

    Raises:
        DataError: The folder, its manifest or a set file is missing or malformed.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of probe files (write one with save_probes)")
    counts = _read_manifest(folder / MANIFEST)
    sets = {stem: load_jsonl(folder / f"{stem}.jsonl", allow_empty=True) for stem in FILE_STEMS}
    flat = {kind: sets[f"neighbours_{kind}"] for kind in NEIGHBOUR_SETS}
    return Probes(
        neighbours=_regroup(counts, flat, folder),
        general=sets["general"],
        multi_hop=sets["multi_hop"],
        **{
            group: {k: sets[f"{prefix}_{k}"] for k in keys}
            for prefix, group, keys in _GROUPS
        },
    )


def probes_dir(directory: str | os.PathLike, variant: str) -> Path:
    """``directory/probes-<variant>``, where :func:`save_world` writes a variant's probes."""
    if variant not in FORGET_VARIANTS:
        choices = ", ".join(FORGET_VARIANTS)
        raise ConfigError(f"unknown variant {variant!r}; choose one of {choices}")
    return Path(directory) / f"probes-{variant}"


def load_world_probes(directory: str | os.PathLike, variant: str = "forget10") -> Probes:
    """The probes of ``variant`` in a world folder written by :func:`save_world`.

    Raises:
        ConfigError: Unknown variant.
        DataError: The folder has no ``probes-<variant>`` folder, or it is malformed.
    """
    folder = probes_dir(directory, variant)
    if not folder.is_dir():
        raise DataError(
            f"{folder}: no probes folder for {variant}; the world folder predates probes "
            "or is incomplete, write it again with save_world"
        )
    return load_probes(folder)
