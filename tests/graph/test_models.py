"""The GNN backbones (``obliviate.graph.models``): GAT and GIN train and unlearn like GCN."""

import pytest

from obliviate.graph import metrics as M
from obliviate.graph.data import sample_deletion
from obliviate.graph.methods import GraphContext, get_graph_method
from obliviate.graph.models import GNN
from obliviate.graph.train import View, fit, graph_config, task_loss

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


@pytest.mark.parametrize("kind", ["gat", "gin"])
def test_other_backbones_train_and_unlearn(kind, graph):
    model = fit(GNN(kind, graph.x.shape[1], graph.num_classes, hidden=32, out=16, seed=0),
                task_loss("edge", View.full(graph)), graph_config(60, 1e-2, 0))
    assert M.test_auc(model, View.full(graph)) > 0.55
    d = sample_deletion(graph, "edge", 0.05, seed=0)
    ctx = GraphContext(model, graph, d, "edge", seed=0, train_steps=60, train_lr=1e-2)
    out = get_graph_method("D2DGN", {"steps": 30}).unlearn(ctx)
    after = View.after(graph, d)
    assert M.deleted_auc(out, after, d) > M.deleted_auc(model, after, d)
