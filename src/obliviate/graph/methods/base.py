"""The graph-method contract: a config with the paper's defaults and ``unlearn(ctx) -> model``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from obliviate.core.method import UnlearningMethod, make_method
from obliviate.core.registry import Registry

GRAPH_METHODS: Registry[type[UnlearningMethod]] = Registry("graph method")


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


# The one base of the graph and vision methods (core/method.py), under this domain's name.
GraphMethod = UnlearningMethod


def get_graph_method(name: str, overrides: dict[str, Any] | None = None) -> GraphMethod:
    return make_method(GRAPH_METHODS, name, overrides)
