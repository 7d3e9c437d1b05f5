"""Retrain: the gold standard, a fresh model trained without the deleted part.

L = task loss on the retained graph only (BCE on retained edges vs random pairs, or
cross-entropy on the remaining training nodes), from a new initialisation, with
the original model's budget. Reference: the exact-unlearning baseline of
GNNDelete (Cheng et al. 2023, arXiv 2302.13406) and D2DGN (Sinha et al. 2023,
arXiv 2309.16173).
"""

from __future__ import annotations

from dataclasses import dataclass

from obliviate.graph.methods.base import GRAPH_METHODS, GraphContext, GraphMethod
from obliviate.graph.train import View, fit, graph_config, task_loss


@GRAPH_METHODS.register("Retrain")
class Retrain(GraphMethod):
    """L = task loss on the retained graph, from scratch (exact unlearning)."""

    @dataclass
    class Config:
        pass

    paper = "Cheng et al. 2023 (GNNDelete's gold standard), arXiv 2302.13406"

    def unlearn(self, ctx: GraphContext):
        view = View.after(ctx.graph, ctx.deletion)
        model = ctx.original.fresh(seed=ctx.seed + 1)
        return fit(model, task_loss(ctx.task, view, ctx.seed), graph_config(ctx.train_steps, ctx.train_lr, ctx.seed),
                   description="retraining")
