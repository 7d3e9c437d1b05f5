"""The vision-method contract: a config with the paper's defaults and ``unlearn(ctx) -> model``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from obliviate.core.config import Configurable
from obliviate.core.registry import Registry

VISION_METHODS: Registry[type[VisionMethod]] = Registry("vision method")


@dataclass
class VisionContext:
    """What a method sees: the trained ``original`` (never modified), the data, the forget request,
    the seed, and the original's training budget (Retrain reuses it)."""

    original: Any
    data: Any
    request: Any
    seed: int = 0
    train_epochs: float = 5.0
    train_lr: float = 1e-3
    arch: str = "cnn"


class VisionMethod(Configurable):
    paper: ClassVar[str] = ""


    def unlearn(self, ctx: VisionContext):
        raise NotImplementedError


def get_vision_method(name: str, overrides: dict[str, Any] | None = None) -> VisionMethod:
    return VISION_METHODS.get(name).from_dict(overrides)
