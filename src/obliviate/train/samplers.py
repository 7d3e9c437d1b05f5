"""Samplers decide which records form each batch.

A sampler yields, per micro-batch, a dict of named record lists
(``{"forget": [...], "retain": [...]}``); the trainer collates and feeds them to
the objective. Every sampler is deterministic in ``(seed, epoch)``, which is
what makes resume-after-crash reproduce an uninterrupted run exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from typing import Any

from obliviate.core.errors import DataError
from obliviate.core.registry import Registry

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


@SAMPLERS.register("paired", summary="each forget item with one random retain item (TOFU)")
class PairedSampler(Sampler):
    """Forget batches in shuffled order, each paired with a random retain batch of equal size.

    This is TOFU's scheme (1:1 random). Without retain records only ``forget`` is yielded.
    """

    def __init__(
        self,
        forget: Sequence[Any],
        retain: Sequence[Any] | None,
        batch_size: int,
        seed: int = 0,
    ):
        if not forget:
            raise DataError("forget split is empty: nothing to unlearn")
        self.forget, self.retain = list(forget), list(retain or [])
        self.batch_size, self.seed = batch_size, seed

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
