"""The vision-method contract: a config with the paper's defaults and ``unlearn(ctx) -> model``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from obliviate.core.method import UnlearningMethod, make_method
from obliviate.core.registry import Registry

VISION_METHODS: Registry[type[UnlearningMethod]] = Registry("vision method")


@dataclass
class VisionContext:
    """What a method sees: the trained ``original`` (never modified), the data, the forget request,
    the seed, and the original's training budget (Retrain reuses it).

    ``stop``: a ``train.ForgetStop`` every method but Retrain passes to its training (the matched operating
    point: stop at a forget accuracy); ``budget`` multiplies a method's own epochs or steps (a ceiling for the
    stopping rule)."""

    original: Any
    data: Any
    request: Any
    seed: int = 0
    train_epochs: float = 5.0
    train_lr: float = 1e-3
    arch: str = "cnn"
    stop: Any = None
    budget: float = 1.0

    def callbacks(self) -> list | None:
        return [self.stop] if self.stop is not None else None


# The one base of the graph and vision methods (core/method.py), under this domain's name.
VisionMethod = UnlearningMethod


def get_vision_method(name: str, overrides: dict[str, Any] | None = None) -> VisionMethod:
    return make_method(VISION_METHODS, name, overrides)
