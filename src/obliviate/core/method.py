"""The one method base of the graph and vision domains: a config with the paper's defaults and ``unlearn``.

A method takes a context (the original model, the data, the deletion request, the seed, the original's training
budget) and returns a new model; the original is never modified. The LLM methods share the trainer instead
(``llm.methods.base.Method``: ``losses(model, batch)``), since one loop runs every one of them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from obliviate.core.config import Configurable
from obliviate.core.registry import Registry


class UnlearningMethod(Configurable):
    """Base class: subclasses set ``Config`` (a dataclass of the paper's defaults) and ``paper``, and implement
    ``unlearn(ctx) -> model``."""

    paper: ClassVar[str] = ""

    def unlearn(self, ctx: Any):
        raise NotImplementedError


def gradient_ascent(loss: Any, gamma: float = 1.0) -> dict[str, Any]:
    """``L = -gamma * loss(forget)``: ascend the task loss on what is to be forgotten. The one gradient-ascent
    objective of every domain (LLM GradAscent, graph GradAscent, vision NegGrad, and NegGrad+'s forget term)."""
    return {"forget": -gamma * loss}


def make_method(registry: Registry, name: str, overrides: dict[str, Any] | None = None) -> UnlearningMethod:
    """The method ``name`` of ``registry`` with its config overridden (unknown names and keys refused)."""
    return registry.get(name).from_dict(overrides)
