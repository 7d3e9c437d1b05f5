"""Graph unlearning metrics: utility on retained data, deleted-edge AUC and membership-inference ratio.

Conventions (GNNDelete, Cheng et al., arXiv 2302.13406; D2DGN, Sinha et al., arXiv 2309.16173):

* **Test AUC** (edge task): ROC AUC of ``sigmoid(z_u . z_v)`` on test edges
  against as many non-edges, messages over the retained training edges.
  **Test accuracy** (node task): on the test nodes.
* **Deleted-edge AUC** (``Df AUC``): deleted edges labelled 0 against an equal
  sample of retained training edges labelled 1, scored by ``sigmoid(z_u . z_v)``,
  mean over ``draws`` samples. 1 = every deleted edge now scores below every
  retained one (looks like a non-edge); 0.5 = indistinguishable; the original
  model sits near its training edges' level, below 0.5 only by chance.
* **MI ratio**: a membership-inference attacker (logistic regression on the
  edge score) is fitted on the *original* model to tell training edges
  (present) from non-edges; ``MI ratio = P_present(Df | original) /
  P_present(Df | unlearned)``, the mean "present" probability of the deleted
  edges before over after. **Higher = better** (the deleted edges look less
  present than they did); 1 = nothing changed. GNNDelete's code computes
  after / before; we invert it so that, as in both papers' text, higher is
  better.
"""

from __future__ import annotations

import numpy as np
import torch

from obliviate.graph.data import Deletion, Graph
from obliviate.graph.train import View, negatives


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
def test_auc(model, view: View) -> float:
    """Link prediction AUC on the test edges against the test non-edges."""
    z = embeddings(model, view)
    g = view.graph
    return _auc(model.link_logits(z, g.test), model.link_logits(z, g.test_neg))


@torch.no_grad()
def test_accuracy(model, view: View) -> float:
    """Node classification accuracy on the test nodes."""
    z = embeddings(model, view)
    g = view.graph
    return float((model.node_logits(z)[g.node_test].argmax(-1) == g.y[g.node_test]).float().mean())


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


class MembershipAttack:
    """Logistic regression on the edge probability, fitted on the original model: training edges vs non-edges."""

    def __init__(self, original, view: View, seed: int = 0) -> None:
        # deferred: loads sklearn
        from sklearn.linear_model import LogisticRegression

        z = embeddings(original, view)
        g = view.graph
        pos = original.link_logits(z, g.train).sigmoid()
        neg = original.link_logits(z, negatives(g.num_nodes, g.train.shape[1], 0, seed + 7)).sigmoid()
        x = torch.cat([pos, neg]).numpy()[:, None]
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        self.clf = LogisticRegression().fit(x, y)
        self.before: float | None = None

    @torch.no_grad()
    def present(self, model, view: View, edges: torch.Tensor) -> float:
        """Mean probability the attacker gives ``edges`` of being training edges."""
        z = embeddings(model, view)
        p = model.link_logits(z, edges).sigmoid().numpy()[:, None]
        return float(self.clf.predict_proba(p)[:, 1].mean())


def mi_ratio(attack: MembershipAttack, original, unlearned, view_before: View, view_after: View,
             deletion: Deletion) -> float:
    """``P_present(Df | original) / P_present(Df | unlearned)``: higher = the deleted edges look less present."""
    before = attack.present(original, view_before, deletion.edges)
    after = attack.present(unlearned, view_after, deletion.edges)
    return before / max(after, 1e-8)


def utility(model, view: View, task: str) -> float:
    """Test AUC (edge task) or test accuracy (node task)."""
    return test_auc(model, view) if task == "edge" else test_accuracy(model, view)


def graph_summary(g: Graph) -> dict[str, int]:
    return {"nodes": g.num_nodes, "train_edges": int(g.train.shape[1]), "test_edges": int(g.test.shape[1]),
            "features": int(g.x.shape[1]), "classes": g.num_classes}
