"""Graph unlearning metrics: utility, deleted-edge AUC, a shadow-model membership attack, distance to Retrain.

Conventions (GNNDelete, Cheng et al., arXiv 2302.13406; D2DGN, Sinha et al., arXiv 2309.16173):

* **Test AUC** (edge task): ROC AUC of ``sigmoid(z_u . z_v)`` on test edges
  against as many non-edges, messages over the retained training edges.
  **Test accuracy** (node task): on the test nodes.
* **Deleted-edge AUC** (``Df AUC``): deleted edges labelled 0 against an equal
  sample of retained training edges labelled 1, scored by ``sigmoid(z_u . z_v)``,
  mean over ``draws`` samples. 1 = every deleted edge now scores below every
  retained one (looks like a non-edge); 0.5 = indistinguishable; the original
  model sits near its training edges' level, below 0.5 only by chance.
* **Membership** (shadow-model attack, as GNNDelete evaluates): a shadow GNN
  of the same backbone is trained on the held-out *test* edges (its members;
  the validation edges, never trained by it, are its non-members), and an
  attack classifier (an MLP, as GNNDelete's) learns to tell them apart from the
  shadow's outputs. It is then applied to the model under audit: ``membership``
  is the mean probability it gives the deleted edges (or, for node deletion,
  the deleted nodes) of being training members. GNNDelete feeds the attack the
  endpoints' raw embeddings, which are not in the same coordinates in two
  separately trained models; ours reads features that are (the edge's logit,
  the cosine of its endpoints, and the logit's rank among each endpoint's
  scores to every node; for nodes, the sorted class probabilities, the true
  class's probability and the entropy). ``membership_auc`` is the attack's ROC
  AUC on the original model (its training edges against the validation edges):
  how much there is to detect at all.
* **MI ratio** (GNNDelete's, with the shadow attack): ``P_member(Df | original)
  / P_member(Df | unlearned)``. **Higher = more forgotten**; 1 = nothing
  changed. GNNDelete's code computes after / before; we invert it so that, as
  in both papers' text, higher means more forgotten.
* **Distance to Retrain** (the headline): Retrain is the exact answer, so a
  method is judged by how far it lands from Retrain of the same seed, in
  deleted-edge AUC, utility and membership (absolute gaps), and by their mean.
  "Higher deleted-edge AUC" is kept as a secondary column: past Retrain's it is
  over-forgetting, which the deleted edges' predictability from the rest of the
  graph makes visible (Retrain leaves them near 0.74 on Cora, not at 1).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from obliviate.graph.data import Deletion, Graph
from obliviate.graph.models import GNN
from obliviate.graph.train import View, fit, graph_config, task_loss


@torch.no_grad()
def embeddings(model, view: View) -> torch.Tensor:
    model.eval()
    return model(view.graph.x, view.messages)


def _auc(pos: torch.Tensor, neg: torch.Tensor) -> float:
    # deferred: loads sklearn
    from sklearn.metrics import roc_auc_score

    scores = torch.cat([pos, neg]).sigmoid().numpy()
    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    return float(roc_auc_score(labels, scores))


@torch.no_grad()
def edge_auc(model, view: View, edges: torch.Tensor, non_edges: torch.Tensor) -> float:
    """Link prediction AUC of ``edges`` against ``non_edges``, messages over the view's edges."""
    z = embeddings(model, view)
    return _auc(model.link_logits(z, edges), model.link_logits(z, non_edges))


def test_auc(model, view: View) -> float:
    """Link prediction AUC on the test edges against the test non-edges."""
    return edge_auc(model, view, view.graph.test, view.graph.test_neg)


@torch.no_grad()
def node_accuracy(model, view: View, nodes: torch.Tensor) -> float:
    """Node classification accuracy on ``nodes`` (a bool mask or ids), messages over the view's edges."""
    z = embeddings(model, view)
    return float((model.node_logits(z)[nodes].argmax(-1) == view.graph.y[nodes]).float().mean())


def test_accuracy(model, view: View) -> float:
    """Node classification accuracy on the test nodes."""
    return node_accuracy(model, view, view.graph.node_test)


@torch.no_grad()
def deleted_auc(model, view: View, deletion: Deletion, draws: int = 10, seed: int = 0) -> float:
    """Df AUC: retained training edges (1) against deleted edges (0); mean over ``draws`` samples."""
    z = embeddings(model, view)
    deleted = model.link_logits(z, deletion.edges)
    retained = model.link_logits(z, deletion.retain)
    gen = torch.Generator().manual_seed(seed)
    k = min(len(deleted), len(retained))
    return float(np.mean([_auc(retained[torch.randperm(len(retained), generator=gen)[:k]], deleted)
                          for _ in range(draws)]))


SHADOW_STEPS = 200  # full-batch steps of the shadow model (the original's default budget)


def _ranks(scores: torch.Tensor, rows: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """For each pair, the share of row ``rows[i]``'s scores (to every node) below ``values[i]``."""
    return (scores[rows] < values[:, None]).float().mean(1)


@torch.no_grad()
def edge_features(model, view: View, edges: torch.Tensor) -> np.ndarray:
    """Per edge, features that mean the same in any model: its logit, the cosine of its endpoints' embeddings and
    the logit's rank among each endpoint's scores to every node (smaller endpoint's rank first)."""
    z = embeddings(model, view)
    logit = model.link_logits(z, edges)
    cos = torch.nn.functional.cosine_similarity(z[edges[0]], z[edges[1]], dim=-1)
    scores = z @ z.T
    ru, rv = _ranks(scores, edges[0], logit), _ranks(scores, edges[1], logit)
    return torch.stack([logit, cos, torch.minimum(ru, rv), torch.maximum(ru, rv)], 1).numpy()


@torch.no_grad()
def node_features(model, view: View, nodes: torch.Tensor) -> np.ndarray:
    """Per node: its class probabilities sorted (top 3), the true class's probability and the entropy."""
    p = model.node_logits(embeddings(model, view)).softmax(-1)[nodes]
    top = p.sort(-1, descending=True).values[:, :3]
    true = p.gather(1, view.graph.y[nodes][:, None])
    entropy = -(p * p.clamp_min(1e-12).log()).sum(-1, keepdim=True)
    return torch.cat([top, true, entropy], 1).numpy()


class ShadowAttack:
    """A shadow-model membership attack (GNNDelete's protocol, with model-independent features).

    Args:
        g: the graph.
        task: ``edge`` (members are edges) or ``node`` (members are nodes).
        backbone: the shadow's backbone (the audited model's).
        seed: seeds the shadow, its negatives and the attack classifier.
        steps, lr: the shadow's training budget.

    The shadow trains on what the audited model never trains on: the test edges (edge task; messages over them
    only) or the test nodes (node task; messages over the training edges). Its members against its non-members
    (the validation edges; the nodes outside both node splits, else the training nodes) train the classifier.
    """

    def __init__(self, g: Graph, task: str, backbone: str, seed: int = 0, steps: int = SHADOW_STEPS,
                 lr: float = 1e-2) -> None:
        # deferred: loads sklearn
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.task = task
        shadow = GNN(backbone, g.x.shape[1], g.num_classes, seed=seed + 1_000)
        if task == "edge":
            view = View(g, g.test)  # trained on the test edges, messages over them only
            members, outsiders = g.test, g.val
        else:
            shadow_graph = dataclasses.replace(g, node_train=g.node_test)
            view = View(shadow_graph, g.train)
            others = (~g.node_test & ~g.node_train).nonzero().view(-1)
            if len(others) < 10:
                others = g.node_train.nonzero().view(-1)
            members, outsiders = g.node_test.nonzero().view(-1), others
        fit(shadow, task_loss(task, view, seed + 1_000), graph_config(steps, lr, seed + 1_000),
            description=f"training the shadow {backbone} ({task} membership attack)")
        x_in, x_out = self.features(shadow, view, members), self.features(shadow, view, outsiders)
        k = min(len(x_in), len(x_out))
        rng = np.random.default_rng(seed)
        x_in, x_out = x_in[rng.permutation(len(x_in))[:k]], x_out[rng.permutation(len(x_out))[:k]]
        x = np.concatenate([x_in, x_out])
        y = np.r_[np.ones(k), np.zeros(k)]
        self.clf = make_pipeline(StandardScaler(), MLPClassifier((64,), max_iter=2000, random_state=seed))
        self.clf.fit(x, y)
        self.shadow_train_auc = _roc(self.clf.predict_proba(x)[:, 1], y)

    def features(self, model, view: View, items: torch.Tensor) -> np.ndarray:
        return edge_features(model, view, items) if self.task == "edge" else node_features(model, view, items)

    def member_prob(self, model, view: View, items: torch.Tensor) -> np.ndarray:
        """The attack's probability that each of ``items`` (edges (2, k) or node ids) was a training member."""
        return self.clf.predict_proba(self.features(model, view, items))[:, 1]

    def auc(self, model, view: View, members: torch.Tensor, outsiders: torch.Tensor) -> float:
        """ROC AUC of telling ``members`` from ``outsiders`` on ``model`` (0.5 = no signal)."""
        p_in, p_out = self.member_prob(model, view, members), self.member_prob(model, view, outsiders)
        return _roc(np.r_[p_in, p_out], np.r_[np.ones(len(p_in)), np.zeros(len(p_out))])


def _roc(scores: np.ndarray, labels: np.ndarray) -> float:
    # deferred: loads sklearn
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def deleted_items(deletion: Deletion, task: str) -> torch.Tensor:
    """What membership is asked of: the deleted edges (edge task) or the deleted nodes (node task)."""
    return deletion.edges if task == "edge" else deletion.nodes


def membership(attack: ShadowAttack, model, view: View, deletion: Deletion) -> float:
    """Mean probability the attack gives the deleted items of being training members (lower = less present)."""
    return float(attack.member_prob(model, view, deleted_items(deletion, attack.task)).mean())


def membership_auc(attack: ShadowAttack, model, view: View) -> float:
    """The attack's AUC on ``model``: its training edges (or nodes) against the validation edges (test nodes)."""
    g = view.graph
    if attack.task == "edge":
        gen = torch.Generator().manual_seed(0)
        members = view.retain[:, torch.randperm(view.retain.shape[1], generator=gen)[:g.val.shape[1]]]
        return attack.auc(model, view, members, g.val)
    return attack.auc(model, view, view.node_mask().nonzero().view(-1), g.node_test.nonzero().view(-1))


def mi_ratio(before: float, after: float) -> float:
    """``P_member(Df | original) / P_member(Df | unlearned)``: higher = the deleted items look less present."""
    return before / max(after, 1e-8)


GAPS = {"deleted_auc": "gap_deleted_auc", "utility": "gap_utility", "membership": "gap_membership"}


def distance_to_retrain(runs: list[dict], by: tuple[str, ...] = ("dataset", "task", "seed")) -> list[dict]:
    """Each run with its absolute gaps to Retrain's run of the same ``by`` keys (``gap_deleted_auc``,
    ``gap_utility``, ``gap_membership``) and their mean, ``distance``; NaN where that Retrain run is missing
    (or a figure is). Retrain's own gaps are 0."""
    retrain = {tuple(r.get(k) for k in by): r for r in runs if r.get("method") == "Retrain"}
    out = []
    for r in runs:
        ref = retrain.get(tuple(r.get(k) for k in by))
        gaps = {gap: abs(float(r.get(key, math.nan)) - float(ref.get(key, math.nan))) if ref else math.nan
                for key, gap in GAPS.items()}
        finite = [v for v in gaps.values() if math.isfinite(v)]
        out.append({**r, **gaps, "distance": sum(finite) / len(finite) if len(finite) == len(gaps) else math.nan})
    return out


def utility(model, view: View, task: str) -> float:
    """Test AUC (edge task) or test accuracy (node task)."""
    return test_auc(model, view) if task == "edge" else test_accuracy(model, view)


def graph_summary(g: Graph) -> dict[str, int]:
    return {"nodes": g.num_nodes, "train_edges": int(g.train.shape[1]), "test_edges": int(g.test.shape[1]),
            "features": int(g.x.shape[1]), "classes": g.num_classes}
