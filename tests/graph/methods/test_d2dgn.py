"""D2DGN (``obliviate.graph.methods.d2dgn``) against gradient ascent at equal utility."""

import pytest

from obliviate.graph import metrics as M
from obliviate.graph.data import sample_deletion
from obliviate.graph.methods import GraphContext, get_graph_method
from obliviate.graph.train import View

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_d2dgn_beats_gradient_ascent_at_equal_utility(graph, trained):
    original = trained["edge"]
    d = sample_deletion(graph, "edge", 0.05, "random", seed=0)
    after = View.after(graph, d)
    ctx = GraphContext(original, graph, d, "edge", seed=0, train_steps=100, train_lr=1e-2)
    d2 = get_graph_method("D2DGN").unlearn(ctx)
    ga = get_graph_method("GradAscent").unlearn(ctx)
    assert M.utility(d2, after, "edge") >= M.utility(ga, after, "edge") - 0.02
    assert M.deleted_auc(d2, after, d) > M.deleted_auc(ga, after, d)
