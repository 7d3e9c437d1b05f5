"""GradAscent on the deleted part (the baseline of GNNDelete and D2DGN).

L = -gamma * task loss on the deleted elements (deleted edges as positives,
or the deleted nodes' labels), messages over the retained edges; every weight
trained from the original. Reference: Cheng et al. 2023 (GNNDelete), arXiv 2302.13406.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from obliviate.core.config import field_help
from obliviate.core.method import gradient_ascent
from obliviate.graph.methods.base import GRAPH_METHODS, GraphContext, GraphMethod
from obliviate.graph.train import View, fit, graph_config


@GRAPH_METHODS.register("GradAscent")
class GradAscent(GraphMethod):
    """L = -gamma * loss(deleted elements)."""

    @dataclass
    class Config:
        steps: int = field_help(20, "optimizer steps")
        lr: float = field_help(1e-3, "learning rate")
        gamma: float = field_help(1.0, "weight of the ascended loss")

    paper = "Cheng et al. 2023 (GNNDelete baseline), arXiv 2302.13406"

    def unlearn(self, ctx: GraphContext):
        c, g, d = self.config, ctx.graph, ctx.deletion
        view = View.after(g, d)

        def objective(model, batch):
            z = model(g.x, view.messages)
            if ctx.task == "edge":
                s = model.link_logits(z, d.edges)
                return gradient_ascent(F.binary_cross_entropy_with_logits(s, torch.ones_like(s)), c.gamma)
            return gradient_ascent(F.cross_entropy(model.node_logits(z)[d.nodes], g.y[d.nodes]), c.gamma)

        model = copy.deepcopy(ctx.original)
        return fit(model, objective, graph_config(c.steps, c.lr, ctx.seed), description="gradient ascent")
