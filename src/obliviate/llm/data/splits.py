"""Forget / retain / holdout splits of a world, and their files.

People, not single facts, are split: a *holdout* set is never trained (the
reference for "never seen"), the others are *trained*; of these the first few
in a fixed order are *forgotten*. The order does not depend on the variant,
so ``forget01 ⊂ forget05 ⊂ forget10``. Forget people are picked, where the
graph allows it, so that each keeps a retained neighbour: the retain records
of those neighbours (``Splits.neighbours``) show collateral damage.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.data.facts import load_world_facts
from obliviate.llm.data.records import QARecord
from obliviate.llm.data.render import qa_records
from obliviate.llm.data.world import World

FORGET_VARIANTS = {"forget01": 1, "forget05": 5, "forget10": 10}
MIN_FORGET = 2
MIN_HOLDOUT = 2


@dataclass
class EntitySplit:
    """Entity names per role, in world order (``forget`` in forget order)."""

    forget: list[str]
    retain: list[str]
    holdout: list[str]


@dataclass
class Splits:
    """QA records per role; ``neighbours`` is the part of ``retain`` next to ``forget``.

    ``real_entities`` (real people and works the model knows, OpenUnlearning's
    "real authors") is empty unless set: the demo fills it with the shipped
    facts the target knows (:func:`~obliviate.llm.data.real_entities.load_real_entities`).
    """

    forget: list[QARecord]
    retain: list[QARecord]
    holdout: list[QARecord]
    world_facts: list[QARecord]
    neighbours: list[QARecord]
    real_entities: list[QARecord] = field(default_factory=list)
    request: bool = False  # a plain forget request (real knowledge): holdout is the never-seen reference


def retain_name(variant: str) -> str:
    """``"forget05"`` -> ``"retain95"``."""
    return f"retain{100 - _percent(variant):02d}"


def _percent(variant: str) -> int:
    if variant not in FORGET_VARIANTS:
        choices = ", ".join(FORGET_VARIANTS)
        raise ConfigError(f"unknown variant {variant!r}; choose one of {choices}")
    return FORGET_VARIANTS[variant]


def _forget_count(n_trained: int, percent: int) -> int:
    return min(max(MIN_FORGET, math.ceil(n_trained * percent / 100)), n_trained - 1)


def _roles(world: World, holdout_fraction: float, seed: int | None) -> tuple[list[str], list[str]]:
    """``(holdout names, trained names in forget order)``, deterministic given the seed."""
    if not 0 <= holdout_fraction < 1:
        raise ConfigError(f"holdout_fraction must be in [0, 1), got {holdout_fraction!r}")
    names = [e.name for e in world.entities]
    n_hold = max(MIN_HOLDOUT, round(holdout_fraction * len(names)))
    if len(names) - n_hold < MIN_FORGET + 1:
        raise ConfigError(
            f"a world of {len(names)} entities is too small to split: it needs {MIN_HOLDOUT} "
            f"holdout, {MIN_FORGET} forget and 1 retain entity; lower holdout_fraction "
            f"({holdout_fraction}) or generate more entities"
        )
    order = random.Random(world.seed if seed is None else seed).sample(names, len(names))
    holdout, trained = order[:n_hold], order[n_hold:]
    k_max = _forget_count(len(trained), max(FORGET_VARIANTS.values()))

    def keeps_neighbour(name: str, forget: list[str]) -> bool:
        return any(nb in trained and nb not in forget for nb in world.neighbours(name))

    chosen: list[str] = []
    for name in trained:
        trial = [*chosen, name]
        if len(chosen) < k_max and all(keeps_neighbour(f, trial) for f in trial):
            chosen.append(name)
    return holdout, chosen + [t for t in trained if t not in chosen]


def split_entities(
    world: World, variant: str = "forget10", holdout_fraction: float = 0.2, seed: int | None = None
) -> EntitySplit:
    """Names of the forget, retain and holdout entities for ``variant``.

    Args:
        world: The world to split.
        variant: A key of :data:`FORGET_VARIANTS`.
        holdout_fraction: Share of entities never trained (at least 2 entities).
        seed: Seed of the split; the world's seed when ``None``.

    Raises:
        ConfigError: Unknown variant, bad fraction, or a world too small to split.
    """
    percent = _percent(variant)
    holdout, trained = _roles(world, holdout_fraction, seed)
    forget = trained[: _forget_count(len(trained), percent)]
    world_order = [e.name for e in world.entities]
    return EntitySplit(
        forget=forget,
        retain=[n for n in world_order if n in trained and n not in forget],
        holdout=[n for n in world_order if n in holdout],
    )


def neighbour_records(forget: list[QARecord], retain: list[QARecord]) -> list[QARecord]:
    """Retain records about entities related to a forget entity (via ``meta.related_entity``)."""
    forget_names = {r.entity for r in forget}
    related = {r.meta.get("related_entity") for r in forget}
    related |= {r.entity for r in retain if r.meta.get("related_entity") in forget_names}
    return [r for r in retain if r.entity in related and r.entity not in forget_names]


def _checked(
    forget: list[QARecord],
    retain: list[QARecord],
    holdout: list[QARecord],
    world_facts: list[QARecord],
    source: str,
) -> Splits:
    if not forget:
        raise DataError(f"forget split names no entity: {source} has no records")
    overlap = sorted({r.entity for r in forget} & {r.entity for r in retain})
    if overlap:
        shown = ", ".join(overlap[:5]) + (", ..." if len(overlap) > 5 else "")
        warnings.warn(
            f"{len(overlap)} entities are in both the forget and the retain split: {shown}",
            stacklevel=3,
        )
    return Splits(forget, retain, holdout, world_facts, neighbour_records(forget, retain))


def _trained_records(world: World, names: list[str], holdout: list[str]) -> list[QARecord]:
    """Records about ``names``, minus relations to holdout people (kept unseen)."""
    hidden = set(holdout)
    return [r for r in qa_records(world, names) if r.meta.get("related_entity") not in hidden]


def make_splits(
    world: World,
    variant: str = "forget10",
    holdout_fraction: float = 0.2,
    seed: int | None = None,
    world_facts: list[QARecord] | None = None,
    validation: int = 0,
) -> Splits:
    """QA splits of ``world``; see :func:`split_entities` for the arguments.

    Trained records never name a holdout person, so holdout names stay unseen
    (relations *to* holdout people are dropped from forget and retain).
    ``world_facts`` defaults to the shipped facts (:func:`load_world_facts`).
    ``validation`` > 0 sets that many :func:`validation_entities` apart (the
    ``standard`` and ``tofu`` world profiles): they are trained (in
    ``qa_all.jsonl``) but no reported split holds or names them, so a sweep that
    tunes on them never reads a reported record, and a reported run never reads
    theirs.
    """
    roles = split_entities(world, variant, holdout_fraction, seed)
    val = validation_entities(world, holdout_fraction, seed, validation) if validation else []
    retain_people = [n for n in roles.retain if n not in val]

    def clean(records: list[QARecord]) -> list[QARecord]:
        return [r for r in records if not names_any(r, val)]

    forget = clean(_trained_records(world, roles.forget, roles.holdout))
    retain = clean(_trained_records(world, retain_people, roles.holdout))
    holdout = clean(qa_records(world, roles.holdout))
    facts = load_world_facts() if world_facts is None else world_facts
    return _checked(forget, retain, holdout, facts, f"world seed {world.seed}")


def validation_entities(
    world: World, holdout_fraction: float = 0.2, seed: int | None = None, count: int | None = None
) -> list[str]:
    """People a hyperparameter sweep forgets instead of any reported forget set.

    Trained people outside ``forget10`` (so outside ``forget01`` and
    ``forget05`` too) and not related to any of its people, taken in the
    split's fixed order; like forget people, each keeps a retained neighbour
    where the graph allows it. ``count`` defaults to the size of ``forget10``.

    Raises:
        ConfigError: The world has too few such people (at least one retain person must remain).
    """
    roles = split_entities(world, "forget10", holdout_fraction, seed)
    _, trained = _roles(world, holdout_fraction, seed)
    count = count or len(roles.forget)
    near = {nb for f in roles.forget for nb in world.neighbours(f)}
    candidates = [t for t in trained if t not in roles.forget and t not in near]

    def keeps_neighbour(name: str, chosen: list[str]) -> bool:
        return any(nb in roles.retain and nb not in chosen for nb in world.neighbours(name))

    chosen: list[str] = []
    for name in candidates:
        trial = [*chosen, name]
        if len(chosen) < count and all(keeps_neighbour(v, trial) for v in trial):
            chosen.append(name)
    chosen += [c for c in candidates if c not in chosen][: count - len(chosen)]  # where the graph does not allow it
    if len(chosen) < count or len(roles.retain) - count < 1:
        raise ConfigError(
            f"a world of {len(world.entities)} people has {len(candidates)} trained people apart from forget10 "
            f"and its neighbours; a validation split of {count} needs {count + 1} (one stays retained): "
            "generate more entities (WorldConfig.n_entities) or lower the validation count")
    return chosen


def names_any(record: QARecord, names: list[str]) -> bool:
    """Whether any of ``names`` appears, as whole words, anywhere in ``record`` (its entity, related entity,
    questions, answers or perturbed answers)."""
    if not names:
        return False
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(n) for n in names) + r")(?!\w)")
    texts = [record.entity, str(record.meta.get("related_entity", "")), record.question, record.answer,
             record.paraphrased_question, record.paraphrased_answer, *record.perturbed_answers]
    return any(pattern.search(t) for t in texts)


def validation_splits(
    world: World,
    holdout_fraction: float = 0.2,
    seed: int | None = None,
    count: int | None = None,
    world_facts: list[QARecord] | None = None,
) -> Splits:
    """The splits a sweep tunes on, apart from every reported forget set.

    ``forget`` holds the :func:`validation_entities`, ``retain`` the other
    ``forget10`` retain people, ``holdout`` the usual never-trained people.
    Every record that names a ``forget10`` person anywhere (a relation to
    them, a wrong answer that is their name) is left out of all three, so
    nothing tuned on these splits reads a reported forget person.
    """
    roles = split_entities(world, "forget10", holdout_fraction, seed)
    val = validation_entities(world, holdout_fraction, seed, count)
    hidden = roles.forget

    def clean(records: list[QARecord]) -> list[QARecord]:
        return [r for r in records if not names_any(r, hidden)]

    forget = clean(_trained_records(world, val, roles.holdout))
    retain = clean(_trained_records(world, [n for n in roles.retain if n not in val], roles.holdout))
    holdout = clean(qa_records(world, roles.holdout))
    facts = load_world_facts() if world_facts is None else world_facts
    return _checked(forget, retain, holdout, facts, f"world seed {world.seed} (validation)")


def load_world(path: str | os.PathLike) -> World:
    """Read a ``world.json`` written by :func:`save_world`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: bad JSON ({e.msg})") from None
    return World.from_dict(data, where=str(path))
