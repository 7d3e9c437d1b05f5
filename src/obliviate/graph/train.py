"""Training a GNN on a graph through THE training loop (``obliviate.train.trainer.Trainer``).

Graphs are trained full-batch: the sampler yields one step per "epoch", so
``TrainConfig.epochs`` is the number of optimizer steps, and the step index
seeds each step's negative sampling (a resumed run draws the same negatives).
Objectives (``link_loss``, ``node_loss``) pass messages over the retained
training edges only, so a deleted edge or node never reaches the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from obliviate.core.errors import ConfigError
from obliviate.graph.data import Deletion, Graph
from obliviate.train.samplers import Sampler
from obliviate.train.trainer import TrainConfig, Trainer

TASKS = ("edge", "node")


class FullBatch(Sampler):
    """One full-graph step per epoch; the batch carries the step index."""

    def __len__(self) -> int:
        return 1

    def epoch(self, epoch: int) -> Iterator[dict[str, list[int]]]:
        yield {"step": [epoch]}


def graph_config(steps: int = 200, lr: float = 1e-2, seed: int = 0, **kw) -> TrainConfig:
    """Full-batch GNN training settings: ``steps`` optimizer steps of Adam(W) at ``lr``, no decay or clipping."""
    base = dict(epochs=float(steps), lr=lr, batch_size=1, weight_decay=0.0, max_grad_norm=0.0, scheduler="constant",
                checkpoint_every=0, seed=seed)
    return TrainConfig(**{**base, **kw})


@dataclass
class View:
    """What a model may see: the graph and the training edges that remain (all, before any deletion)."""

    graph: Graph
    retain: torch.Tensor
    deleted_nodes: torch.Tensor | None = None

    @classmethod
    def full(cls, g: Graph) -> View:
        return cls(g, g.train)

    @classmethod
    def after(cls, g: Graph, d: Deletion) -> View:
        return cls(g, d.retain, d.nodes if d.kind == "node" else None)

    @property
    def messages(self) -> torch.Tensor:
        return self.graph.message_edges(self.retain)

    def node_mask(self) -> torch.Tensor:
        """Training nodes that remain."""
        m = self.graph.node_train.clone()
        if self.deleted_nodes is not None and len(self.deleted_nodes):
            m[self.deleted_nodes] = False
        return m


def negatives(n: int, k: int, step: int, seed: int) -> torch.Tensor:
    """``k`` random node pairs (2, k), seeded by ``(seed, step)`` (non-edges with high probability)."""
    gen = torch.Generator().manual_seed(seed * 100_003 + step)
    return torch.randint(0, n, (2, k), generator=gen)


def link_loss(view: View, seed: int = 0) -> Callable:
    """BCE on retained training edges against as many random pairs, messages over retained edges."""

    def objective(model, batch) -> dict[str, torch.Tensor]:
        g = view.graph
        z = model(g.x, view.messages)
        pos = model.link_logits(z, view.retain)
        neg = model.link_logits(z, negatives(g.num_nodes, view.retain.shape[1], batch["step"][0], seed))
        logits = torch.cat([pos, neg])
        labels = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])
        return {"train": F.binary_cross_entropy_with_logits(logits, labels)}

    return objective


def node_loss(view: View) -> Callable:
    """Cross-entropy on the remaining training nodes, messages over retained edges."""

    def objective(model, batch) -> dict[str, torch.Tensor]:
        g = view.graph
        z = model(g.x, view.messages)
        mask = view.node_mask()
        return {"train": F.cross_entropy(model.node_logits(z)[mask], g.y[mask])}

    return objective


def task_loss(task: str, view: View, seed: int = 0) -> Callable:
    if task == "edge":
        return link_loss(view, seed)
    if task == "node":
        return node_loss(view)

    raise ConfigError(f"graph task must be edge or node, got {task!r}")


def fit(model, objective: Callable, cfg: TrainConfig, *, parameters=None, description: str = "training GNN",
        callbacks: list | None = None):
    """Train ``model`` full-batch with ``objective`` under ``cfg`` (the one training loop); returns it.
    ``callbacks``: ``cb(step, logs)`` after each step (the trainer's)."""
    return Trainer(model, objective, FullBatch(), lambda x: x, cfg, parameters=parameters,
                   description=description, callbacks=callbacks).fit()
