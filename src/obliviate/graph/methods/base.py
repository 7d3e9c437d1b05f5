"""The graph-method contract: a config with the paper's defaults and ``unlearn(ctx) -> model``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from obliviate.core.config import Configurable
from obliviate.core.registry import Registry

GRAPH_METHODS: Registry[type[GraphMethod]] = Registry("graph method")


@dataclass
class GraphContext:
    """What a method sees.

    Attributes:
        original: the trained model (never modified: methods work on copies).
        graph, deletion: the graph and what to delete from it.
        task: ``edge`` (link prediction) or ``node`` (node classification).
        seed: the run's seed.
        train_steps, train_lr: the original model's training budget (Retrain reuses it).
    """

    original: Any
    graph: Any
    deletion: Any
    task: str
    seed: int = 0
    train_steps: int = 200
    train_lr: float = 1e-2


class GraphMethod(Configurable):
    """Base class: subclasses set ``Config`` and ``paper`` and implement ``unlearn``."""

    paper: ClassVar[str] = ""


    def unlearn(self, ctx: GraphContext):
        raise NotImplementedError


def get_graph_method(name: str, overrides: dict[str, Any] | None = None) -> GraphMethod:
    return GRAPH_METHODS.get(name).from_dict(overrides)
