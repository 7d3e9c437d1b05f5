"""Combiners turn a method's named losses into one parameter update.

``sum`` back-propagates the sum of the losses (each method weights its own
terms). Later combiners (GU projection) back-propagate terms separately and
edit the gradient; any method works with any combiner.
"""

from __future__ import annotations

import torch

from obliviate.core.registry import Registry

COMBINERS: Registry[type] = Registry("combiner")


class Combiner:
    def backward(self, losses: dict[str, torch.Tensor], accelerator, scale: float) -> None:
        raise NotImplementedError

    def after_accumulation(self, params: list[torch.nn.Parameter]) -> None:
        """Hook run once per optimizer step, after all micro-batches (e.g. projection)."""


@COMBINERS.register("sum", summary="plain sum of the method's weighted losses")
class SumCombiner(Combiner):
    def backward(self, losses: dict[str, torch.Tensor], accelerator, scale: float) -> None:
        total = sum(losses.values())
        accelerator.backward(total * scale)
