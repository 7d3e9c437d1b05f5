"""Samplers decide which records form each batch.

A sampler yields, per micro-batch, a dict of named record lists
(``{"forget": [...], "retain": [...]}``); the trainer collates and feeds them to
the objective. Every sampler is deterministic in ``(seed, epoch)``, which is
what makes resume-after-crash reproduce an uninterrupted run exactly.

Unlearning samplers (MELU, Bushipaka et al. 2025, arXiv 2509.05316, compares them):

* ``random``: forget batches in shuffled order, each forget item with one
  random retain item (TOFU's 1:1 random; the default);
* ``sequential``: 1:1 in order, ``retain[:|F|]`` zipped with the forget set
  (wrapping when retain is shorter), no shuffling;
* ``cyclic``: an epoch is ``max(|F|, |R|)`` pairs, both sides shuffled, the
  shorter side wraps around;
* ``melu``: entity by entity (the "modules"), the entity order shuffled each
  epoch; a batch holds one forget entity's items only, each paired with a
  retain item from *that entity's own* neighbour sets, taken in turn from each
  set (direct, indirect, ... : diverse neighbours in every batch).

Which retain records are drawn is the ``neighbours`` choice: ``retain`` (the
whole retain split), ``direct`` (records of entities connected to the forget
entity), ``indirect`` (same domain, not connected), ``general`` (general
knowledge), or a ``+``-joined mix; ``mixed`` = ``direct+indirect+general``.
Defaults: ``retain`` for the 1:1 and cyclic samplers, ``direct+indirect`` for MELU.

:class:`FilteredSampler` wraps any of them for methods that choose, at the
start of each epoch, which forget records are still worth training on (KLUE:
those the model still answers correctly); an epoch with none left yields no
batch, which ends training.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obliviate.core import dist
from obliviate.core.errors import DataError
from obliviate.core.progress import log
from obliviate.core.registry import Registry
from obliviate.core.store import atomic_write_json

SAMPLERS: Registry[type] = Registry("sampler")


class Sampler:
    """Base: subclasses implement ``__len__`` (micro-batches per epoch) and ``epoch``."""

    def __len__(self) -> int:
        raise NotImplementedError

    def epoch(self, epoch: int) -> Iterator[dict[str, list[Any]]]:
        raise NotImplementedError


@SAMPLERS.register("single", summary="one shuffled stream of records under one key")
class SingleSampler(Sampler):
    """Shuffled mini-batches of one record list, under ``key`` (fine-tuning, relearning)."""

    def __init__(self, records: Sequence[Any], batch_size: int, seed: int = 0, key: str = "train"):
        if not records:
            raise DataError(f"no records to train on under {key!r}")
        self.records, self.batch_size, self.seed, self.key = list(records), batch_size, seed, key

    def __len__(self) -> int:
        return math.ceil(len(self.records) / self.batch_size)

    def epoch(self, epoch: int) -> Iterator[dict[str, list[Any]]]:
        order = list(range(len(self.records)))
        random.Random(self.seed * 100_003 + epoch).shuffle(order)
        for i in range(0, len(order), self.batch_size):
            yield {self.key: [self.records[j] for j in order[i : i + self.batch_size]]}


NEIGHBOUR_SETS = ("retain", "direct", "indirect", "general")
_ALIASES = {"mixed": ["direct", "indirect", "general"]}


def parse_neighbours(spec: str) -> list[str]:
    """``"direct+general"`` -> ``["direct", "general"]``; ``""`` -> ``[]`` (the sampler's default)."""
    out: list[str] = []
    for part in (p.strip().lower() for p in spec.split("+") if p.strip()):
        names = _ALIASES.get(part, [part])
        for n in names:
            if n not in NEIGHBOUR_SETS:
                raise DataError(f"unknown neighbour set {part!r}; valid: {', '.join((*NEIGHBOUR_SETS, 'mixed'))} "
                                "(join several with +)")
            if n not in out:
                out.append(n)
    return out


@dataclass
class RetainSets:
    """Retain records by kind: the whole split, general knowledge and each forget entity's neighbours.

    Attributes:
        retain: the retain split.
        general: general-knowledge records (world facts).
        local: per forget entity, ``{"direct": [...], "indirect": [...]}``.
    """

    retain: list[Any] = field(default_factory=list)
    general: list[Any] = field(default_factory=list)
    local: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    def for_entity(self, entity: str, sets: list[str]) -> list[list[Any]]:
        """The chosen sets for one forget entity, each a list (possibly empty)."""
        out = []
        for s in sets:
            if s == "retain":
                out.append(self.retain)
            elif s == "general":
                out.append(self.general)
            else:
                out.append(self.local.get(entity, {}).get(s, []))
        return out

    def pool(self, sets: list[str], entities: Sequence[str]) -> list[Any]:
        """The union of the chosen sets over ``entities`` (each record once, first-seen order)."""
        seen: dict[int, Any] = {}
        for e in entities:
            for group in self.for_entity(e, sets):
                for r in group:
                    seen.setdefault(id(r), r)
        return list(seen.values())


def _entities(forget: Sequence[Any]) -> list[str]:
    return list(dict.fromkeys(getattr(r, "entity", "") for r in forget))


class _PairedBase(Sampler):
    """Shared checks: a non-empty forget list, an optional flat retain pool."""

    default_sets = ["retain"]

    def __init__(self, forget: Sequence[Any], retain: RetainSets | Sequence[Any] | None, batch_size: int,
                 seed: int = 0, neighbours: str = ""):
        if not forget:
            raise DataError("forget split is empty: nothing to unlearn")
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}")
        self.forget, self.batch_size, self.seed = list(forget), batch_size, seed
        self.sets = parse_neighbours(neighbours) or list(self.default_sets)
        if retain is None:
            self.retain_sets = None
        elif isinstance(retain, RetainSets):
            self.retain_sets = retain
        else:
            self.retain_sets = RetainSets(retain=list(retain))
        self.retain = self.retain_sets.pool(self.sets, _entities(self.forget)) if self.retain_sets else []
        if self.retain_sets is not None and not self.retain:
            raise DataError(f"the neighbour set(s) {'+'.join(self.sets)} hold no retain record for these "
                            "forget entities; choose other neighbours (e.g. retain)")


@SAMPLERS.register("random", summary="1:1 random: each forget item with a random retain item (TOFU)")
class PairedSampler(_PairedBase):
    """Forget batches in shuffled order, each paired with a random retain batch of equal size.

    This is TOFU's scheme (1:1 random). Without retain records only ``forget`` is yielded.
    """

    def __len__(self) -> int:
        return math.ceil(len(self.forget) / self.batch_size)

    def epoch(self, epoch: int) -> Iterator[dict[str, list[Any]]]:
        rng = random.Random(self.seed * 100_003 + epoch)
        order = list(range(len(self.forget)))
        rng.shuffle(order)
        for i in range(0, len(order), self.batch_size):
            batch = {"forget": [self.forget[j] for j in order[i : i + self.batch_size]]}
            if self.retain:
                batch["retain"] = [rng.choice(self.retain) for _ in batch["forget"]]
            yield batch


@SAMPLERS.register("sequential", summary="1:1 sequential: retain[:|F|] zipped with the forget set, in order")
class SequentialSampler(_PairedBase):
    def __len__(self) -> int:
        return math.ceil(len(self.forget) / self.batch_size)

    def epoch(self, epoch: int) -> Iterator[dict[str, list[Any]]]:
        for i in range(0, len(self.forget), self.batch_size):
            batch = {"forget": self.forget[i : i + self.batch_size]}
            if self.retain:
                batch["retain"] = [self.retain[j % len(self.retain)] for j in range(i, i + len(batch["forget"]))]
            yield batch


@SAMPLERS.register("cyclic", summary="cyclic: max(|F|, |R|) pairs per epoch, the shorter side wraps")
class CyclicSampler(_PairedBase):
    def _n(self) -> int:
        return max(len(self.forget), len(self.retain))

    def __len__(self) -> int:
        return math.ceil(self._n() / self.batch_size)

    def epoch(self, epoch: int) -> Iterator[dict[str, list[Any]]]:
        rng = random.Random(self.seed * 100_003 + epoch)
        fo, ro = list(range(len(self.forget))), list(range(len(self.retain)))
        rng.shuffle(fo)
        rng.shuffle(ro)
        n = self._n()
        for i in range(0, n, self.batch_size):
            idx = range(i, min(i + self.batch_size, n))
            batch = {"forget": [self.forget[fo[j % len(fo)]] for j in idx]}
            if self.retain:
                batch["retain"] = [self.retain[ro[j % len(ro)]] for j in idx]
            yield batch


@SAMPLERS.register("melu", paper="Bushipaka et al. 2025, arXiv 2509.05316",
                   summary="MELU: entity by entity, each with retain items from its own neighbour sets")
class MELUSampler(_PairedBase):
    """One forget entity per batch, paired with its own neighbours.

    The pairing rule (the paper's exact rule was not found): per epoch the
    entity order and each entity's items are shuffled; each forget batch of
    one entity takes as many retain items, drawn in turn from each of the
    entity's chosen neighbour sets (each set shuffled, cycling when it runs
    out). An entity whose chosen sets are all empty falls back to the whole
    retain split.
    """

    default_sets = ["direct", "indirect"]

    def __init__(self, forget, retain, batch_size, seed=0, neighbours=""):
        super().__init__(forget, retain, batch_size, seed, neighbours)
        self.groups: dict[str, list[Any]] = {}
        for r in self.forget:
            self.groups.setdefault(getattr(r, "entity", ""), []).append(r)

    def __len__(self) -> int:
        return sum(math.ceil(len(g) / self.batch_size) for g in self.groups.values())

    def _stream(self, entity: str, rng: random.Random) -> Iterator[Any]:
        sets = [list(s) for s in self.retain_sets.for_entity(entity, self.sets) if s]
        if not sets:
            sets = [list(self.retain_sets.retain)]
        for s in sets:
            rng.shuffle(s)
        i = 0
        while True:
            for s in sets:
                yield s[i % len(s)]
            i += 1

    def epoch(self, epoch: int) -> Iterator[dict[str, list[Any]]]:
        rng = random.Random(self.seed * 100_003 + epoch)
        entities = list(self.groups)
        rng.shuffle(entities)
        for e in entities:
            items = list(self.groups[e])
            rng.shuffle(items)
            stream = self._stream(e, rng) if self.retain_sets is not None else None
            for i in range(0, len(items), self.batch_size):
                batch = {"forget": items[i : i + self.batch_size]}
                if stream is not None:
                    batch["retain"] = [next(stream) for _ in batch["forget"]]
                yield batch


class FilteredSampler(Sampler):
    """Each epoch, the base sampler over only the forget records ``keep`` returns.

    At the start of epoch ``e`` (so after the previous epoch's last step),
    ``keep(forget)`` picks the records to train on and ``make(kept)`` builds the
    base sampler over them, whose ``epoch(e)`` gives the batches: the same
    ``(seed, epoch)`` determinism as the base sampler, given the kept set. An
    empty kept set yields no batch (the trainer then ends training).

    ``len`` is the full set's (micro-batches of an unfiltered epoch), so the
    trainer's step budget stays ``epochs x`` full-set steps: shrunk epochs
    leave room for more epochs within that budget, until the records run out.

    The kept ids of every epoch are remembered, and written to ``state_path``
    (JSON, atomically) when one is given; epochs found there are not filtered
    again. A run resumed from a checkpoint replays its earlier epochs with the
    ids it really trained on, not with what the resumed weights would keep.

    Args:
        make: builds the base sampler from a (non-empty) list of forget records.
        forget: the full forget set.
        keep: ``keep(records) -> records`` to train on this epoch (a subset).
        state_path: JSON file of the kept ids per epoch (e.g. in the run folder).
    """

    def __init__(self, make: Callable[[list[Any]], Sampler], forget: Sequence[Any],
                 keep: Callable[[list[Any]], Sequence[Any]], state_path: str | Path | None = None):
        if not forget:
            raise DataError("forget split is empty: nothing to unlearn")
        self.make, self.forget, self.keep = make, list(forget), keep
        self.by_id = {r.id: r for r in self.forget}
        if len(self.by_id) != len(self.forget):
            raise DataError("forget records must have distinct ids to be filtered per epoch")
        self.full = make(self.forget)
        self.state_path = Path(state_path) if state_path else None
        self.kept: dict[int, list[str]] = {}
        if self.state_path and self.state_path.is_file():
            self.kept = {int(e): list(ids) for e, ids in json.loads(self.state_path.read_text()).items()}
            unknown = {i for ids in self.kept.values() for i in ids} - set(self.by_id)
            if unknown:
                raise DataError(f"{self.state_path} names forget records that are not in this forget set "
                                f"(e.g. {sorted(unknown)[0]!r}); delete it to start over")

    def __len__(self) -> int:
        return len(self.full)

    def kept_ids(self, epoch: int) -> list[str]:
        """Ids of the records epoch ``epoch`` trains on (filtering now if this epoch has not been)."""
        if epoch not in self.kept:
            chosen = {r.id for r in self.keep(self.forget)}
            ids = [r.id for r in self.forget if r.id in chosen]  # in forget order, whatever keep returned
            self.kept[epoch] = ids
            log(f"forget filter: {len(ids)}/{len(self.forget)} forget records left for epoch {epoch}")

            if self.state_path and dist.is_main():
                atomic_write_json(self.state_path, {str(e): v for e, v in sorted(self.kept.items())})
        return self.kept[epoch]

    def epoch(self, epoch: int) -> Iterator[dict[str, list[Any]]]:
        ids = self.kept_ids(epoch)
        if not ids:
            return
        yield from self.make([self.by_id[i] for i in ids]).epoch(epoch)


def unlearning_sampler(kind: str, forget: Sequence[Any], retain: RetainSets | Sequence[Any] | None,
                       batch_size: int, seed: int = 0, neighbours: str = "") -> Sampler:
    """The registered unlearning sampler ``kind`` (``random``, ``sequential``, ``cyclic``, ``melu``)."""
    if kind == "single":
        raise DataError("sampling 'single' is for fine-tuning; unlearning uses random, sequential, cyclic or melu")
    return SAMPLERS.get(kind)(forget, retain, batch_size, seed, neighbours)
