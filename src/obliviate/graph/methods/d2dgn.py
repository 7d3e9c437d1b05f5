"""D2DGN: Distill to Delete (Sinha, Mandal, Kankanhalli 2023, arXiv 2309.16173).

A student learns from two teachers: the *preserver* (the original model) on
retained elements and the *destroyer* (a freshly initialised model of the same
shape: no knowledge) on deleted ones::

    L = alpha * L_retain + (1 - alpha) * L_forget
    L_retain = KL(p_S || p_P) on retained items + MSE(h_S, h_P) on retained nodes
    L_forget = KL(p_S || p_D) on deleted items  + MSE(h_S, h_D) on deleted nodes

Items: for the edge task, retained training edges plus as many random pairs
(vs the preserver) and deleted edges plus as many random pairs (vs the
destroyer), each edge a two-class distribution ``[sigmoid(z_u.z_v),
1 - sigmoid(z_u.z_v)]`` clamped to [1e-5, 1 - 1e-5]; for the node task, the
class distributions of the remaining and of the deleted training nodes.
``h`` are every layer's node embeddings; deleted nodes are the deleted nodes
(node task) or the endpoints of deleted edges (edge task). The student passes
messages over the retained edges; the teachers over the full training graph
(what each of them knows). alpha = 0.5 (paper).

Where the paper was silent: the student starts from the original weights
(``student_init: original``; a fresh start is ``fresh``), Adam at lr 1e-2 for
100 steps, full batch.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from obliviate.core.config import field_help
from obliviate.core.errors import ConfigError
from obliviate.graph.methods.base import GRAPH_METHODS, GraphContext, GraphMethod
from obliviate.graph.train import View, fit, graph_config, negatives

EPS = 1e-5


def _two_class(logits: torch.Tensor) -> torch.Tensor:
    p = logits.sigmoid().clamp(EPS, 1 - EPS)
    return torch.stack([p, 1 - p], dim=-1)


def kl(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """KL(student || teacher) between rows of probability vectors, mean over rows."""
    return (student * (student.log() - teacher.log())).sum(-1).mean()


@GRAPH_METHODS.register("D2DGN")
class D2DGN(GraphMethod):
    """L = alpha * (KL + MSE to the preserver on retained) + (1 - alpha) * (KL + MSE to the destroyer on deleted)."""

    @dataclass
    class Config:
        alpha: float = field_help(0.5, "weight of the retain term (paper: 0.5)")
        steps: int = field_help(100, "optimizer steps (full batch)")
        lr: float = field_help(1e-2, "learning rate")
        student_init: str = field_help("original", "original (start from the trained weights) or fresh")
        feature_weight: float = field_help(1.0, "weight of the embedding MSE beside the KL")

        def __post_init__(self):
            if not 0 <= self.alpha <= 1:
                raise ConfigError(f"D2DGN.alpha must be in [0, 1], got {self.alpha}")
            if self.student_init not in ("original", "fresh"):
                raise ConfigError(f"D2DGN.student_init must be original or fresh, got {self.student_init!r}")

    paper = "Sinha, Mandal, Kankanhalli et al. 2023, arXiv 2309.16173"

    def unlearn(self, ctx: GraphContext):
        c, g, d = self.config, ctx.graph, ctx.deletion
        student_view, teacher_view = View.after(g, d), View.full(g)
        preserver = copy.deepcopy(ctx.original).eval().requires_grad_(False)
        destroyer = ctx.original.fresh(seed=ctx.seed + 1000).eval().requires_grad_(False)
        with torch.no_grad():
            hp = preserver(g.x, teacher_view.messages, all_layers=True)
            hd = destroyer(g.x, teacher_view.messages, all_layers=True)
        gone = torch.zeros(g.num_nodes, dtype=torch.bool)
        gone[d.nodes if d.kind == "node" else d.edges.reshape(-1)] = True
        keep_nodes = ~gone
        if ctx.task == "node":
            keep_nodes = keep_nodes & g.node_train
        forget_nodes = gone

        def objective(model, batch):
            step = batch["step"][0]
            hs = model(g.x, student_view.messages, all_layers=True)
            if ctx.task == "edge":
                r_pairs = torch.cat([d.retain, negatives(g.num_nodes, d.retain.shape[1], step, ctx.seed)], dim=1)
                f_pairs = torch.cat([d.edges, negatives(g.num_nodes, d.edges.shape[1], step, ctx.seed + 1)], dim=1)
                r_kl = kl(_two_class(model.link_logits(hs[-1], r_pairs)),
                          _two_class(preserver.link_logits(hp[-1], r_pairs)))
                f_kl = kl(_two_class(model.link_logits(hs[-1], f_pairs)),
                          _two_class(destroyer.link_logits(hd[-1], f_pairs)))
            else:
                soft = lambda net, h, m: net.node_logits(h[-1])[m].softmax(-1).clamp(EPS, 1)  # noqa: E731
                r_kl = kl(soft(model, hs, keep_nodes), soft(preserver, hp, keep_nodes))
                f_kl = kl(soft(model, hs, forget_nodes), soft(destroyer, hd, forget_nodes))
            r_mse = sum(F.mse_loss(a[keep_nodes], b[keep_nodes]) for a, b in zip(hs, hp))
            f_mse = sum(F.mse_loss(a[forget_nodes], b[forget_nodes]) for a, b in zip(hs, hd))
            return {"retain": c.alpha * (r_kl + c.feature_weight * r_mse),
                    "forget": (1 - c.alpha) * (f_kl + c.feature_weight * f_mse)}

        student = copy.deepcopy(ctx.original) if c.student_init == "original" else ctx.original.fresh(ctx.seed + 1)
        return fit(student, objective, graph_config(c.steps, c.lr, ctx.seed), description="distilling (D2DGN)")
