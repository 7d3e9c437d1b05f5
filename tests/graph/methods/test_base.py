"""The graph-method contract (``obliviate.graph.methods.base``): every registered method unlearns and keeps
utility on both tasks, leaves the original alone, is seeded; the registry and configs."""

import pytest
import torch

from obliviate.core.errors import ConfigError
from obliviate.graph import metrics as M
from obliviate.graph.data import sample_deletion
from obliviate.graph.methods import GRAPH_METHODS, GraphContext, get_graph_method
from obliviate.graph.models import GNN
from obliviate.graph.train import View


@pytest.mark.trains
@pytest.mark.parametrize("task", ["edge", "node"])
@pytest.mark.parametrize("name", GRAPH_METHODS.names())
def test_methods_unlearn_and_keep_utility(name, task, graph, trained):
    original = trained[task]
    d = sample_deletion(graph, task, 0.05 if task == "edge" else 0.02, "random", seed=0)
    after = View.after(graph, d)
    ctx = GraphContext(original, graph, d, task, seed=0, train_steps=150, train_lr=1e-2)
    snapshot = [p.detach().clone() for p in original.parameters()]
    model = get_graph_method(name).unlearn(ctx)
    assert all(torch.equal(a, b) for a, b in zip(snapshot, original.parameters()))  # the original is untouched
    u0, u1 = M.utility(original, after, task), M.utility(model, after, task)
    df0, df1 = M.deleted_auc(original, after, d), M.deleted_auc(model, after, d)
    # Margins measured over the originals of OBLIVIATE_TEST_SEED 0-7 under both kernel paths (AMD EPYC AVX2 and
    # ATEN_CPU_CAPABILITY=default give the same figures to 0.002). Utility change (edge task): D2DGN
    # -0.014..+0.040, GNNDelete -0.048..-0.014, Retrain -0.034..+0.050; gradient ascent -0.153..-0.063
    # (it damages utility by design: test_d2dgn_beats_gradient_ascent_at_equal_utility holds it to that),
    # so it is held to no utility bound. Df AUC rise: D2DGN >= 0.167, GNNDelete >= 0.082, Retrain >= 0.136,
    # gradient ascent 0.016..0.085. A no-op leaves both exactly unchanged (0), a wrong-signed loss lowers Df AUC.
    if name != "GradAscent":
        assert u1 > u0 - (0.1 if task == "edge" else 0.15), (name, task, u0, u1)
    if task == "edge" and name != "GNNDelete-paper":
        # GNNDelete-paper keeps the W_D of its best validation AUC + Df AUC; on this toy that is a state near its
        # start, whose Df AUC is below the original's (0.70 against 0.74 on seed 0): its rule is tested in
        # test_gnndelete.py, and on Cora it lands at 0.84 against Retrain's 0.76 (docs/BENCHMARKS.md)
        rise = 0.005 if name == "GradAscent" else 0.05
        assert df1 > df0 + rise, (name, df0, df1)  # deleted edges now look less like edges
        # the shadow attack's membership of the deleted edges, beyond what dropping their messages does: over the
        # originals of seeds 0-3 every method lowers it by 0.128..0.234; a no-op leaves it exactly unchanged
        attack = M.ShadowAttack(graph, "edge", "gcn", seed=0, steps=150)
        assert M.membership(attack, model, after, d) < M.membership(attack, original, after, d) - 0.05
    again = get_graph_method(name).unlearn(ctx)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))  # seeded


def test_registry_and_configs():
    assert {"Retrain", "GradAscent", "D2DGN"} <= set(GRAPH_METHODS.names())
    for name in GRAPH_METHODS.names():
        cls = GRAPH_METHODS.get(name)
        assert "et al" in cls.paper and "arXiv" in cls.paper
        doc = __import__(cls.__module__, fromlist=["x"]).__doc__ or ""
        assert "L =" in doc or "L=" in doc
    with pytest.raises(ConfigError, match="alpha"):
        get_graph_method("D2DGN", {"alpha": 2.0})
    with pytest.raises(ConfigError, match="backbone"):
        GNN("mlp", 4, 2)
