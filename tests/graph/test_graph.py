"""Graph unlearning on small graphs built in the test: data, deletion requests, methods, metrics."""

import pytest
import torch

from obliviate.core.errors import ConfigError, DataError
from obliviate.graph import metrics as M
from obliviate.graph.data import (
    delete_edges,
    delete_nodes,
    load_planetoid,
    make_graph,
    sample_deletion,
    two_hop_nodes,
)
from obliviate.graph.methods import GRAPH_METHODS, GraphContext, get_graph_method
from obliviate.graph.models import GNN
from obliviate.graph.train import View, fit, graph_config, task_loss


def two_communities(n: int = 100, words: int = 300, seed: int = 0):
    """A Cora-like toy: two communities (edge probability 0.08 inside, 0.003 across) and sparse binary
    bag-of-words features, each community using its half of the vocabulary four times as often."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(2 * n) // n
    p = torch.where(y[:, None] == y[None, :], 0.08, 0.003)
    adj = torch.triu(torch.rand(2 * n, 2 * n, generator=gen) < p, 1)
    rate = torch.where((torch.arange(words)[None, :] // (words // 2)) == y[:, None], 0.04, 0.01)
    x = (torch.rand(2 * n, words, generator=gen) < rate).float()
    return make_graph(x, y, adj.nonzero().t(), seed=seed, name="two-communities")


@pytest.fixture(scope="module")
def graph():
    return two_communities()


@pytest.fixture(scope="module")
def trained(graph, train_seed):
    out = {}
    for task in ("edge", "node"):
        model = GNN("gcn", graph.x.shape[1], graph.num_classes, hidden=32, out=16, seed=train_seed)
        out[task] = fit(model, task_loss(task, View.full(graph)), graph_config(150, 1e-2, train_seed))
    return out


def test_split_and_requests(graph):
    assert graph.train.shape[1] > 500 and (graph.train[0] < graph.train[1]).all()
    every = {tuple(e) for e in graph.train.t().tolist()} | {tuple(e) for e in graph.test.t().tolist()}
    assert not every & {tuple(e) for e in graph.test_neg.t().tolist()}  # negatives are non-edges
    d = sample_deletion(graph, "edge", 0.05, "random", seed=1)
    assert d.edges.shape[1] == round(0.05 * graph.train.shape[1])
    assert d.retain.shape[1] + d.edges.shape[1] == graph.train.shape[1]
    kept = {tuple(e) for e in d.retain.t().tolist()}
    assert not kept & {tuple(e) for e in d.edges.t().tolist()}
    assert torch.equal(sample_deletion(graph, "edge", 0.05, "random", seed=1).edges, d.edges)  # seeded
    mask = two_hop_nodes(graph, graph.test.reshape(-1))
    inside = sample_deletion(graph, "edge", 0.05, "in", seed=0).edges
    assert (mask[inside[0]] & mask[inside[1]]).all()
    n = delete_nodes(graph, [3, 170])
    assert ((n.edges == 3) | (n.edges == 170)).any(0).all() and not ((n.retain == 3) | (n.retain == 170)).any()
    u, v = graph.train[:, 0].tolist()
    assert delete_edges(graph, [[v], [u]]).edges.tolist() == [[u], [v]]  # either direction


def test_requests_naming_nothing_real_are_refused(graph, tmp_path):
    with pytest.raises(DataError, match="not a training edge"):
        delete_edges(graph, graph.test[:, :1])
    with pytest.raises(DataError, match="out of range"):
        delete_edges(graph, [[0], [10_000]])
    with pytest.raises(DataError, match="do not exist"):
        delete_nodes(graph, [5, 999])
    with pytest.raises(ConfigError, match="fraction"):
        sample_deletion(graph, "edge", 0.9)
    with pytest.raises(ConfigError, match="unknown graph dataset"):
        load_planetoid("pubmed")
    with pytest.raises(DataError, match="OBLIVIATE_DATA"):
        load_planetoid("cora", data_dir=tmp_path)


def test_original_models_learn(graph, trained):
    view = View.full(graph)
    assert M.test_auc(trained["edge"], view) > 0.6  # within-community non-edges look like edges: far from 1
    assert M.test_accuracy(trained["node"], view) > 0.9


@pytest.mark.parametrize("task", ["edge", "node"])
@pytest.mark.parametrize("name", GRAPH_METHODS.names())
def test_methods_unlearn_and_keep_utility(name, task, graph, trained):
    original = trained[task]
    d = sample_deletion(graph, task, 0.05 if task == "edge" else 0.02, "random", seed=0)
    before, after = View.full(graph), View.after(graph, d)
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
    if task == "edge":
        rise = 0.005 if name == "GradAscent" else 0.05
        assert df1 > df0 + rise, (name, df0, df1)  # deleted edges now look less like edges
        attack = M.MembershipAttack(original, before)
        assert M.mi_ratio(attack, original, model, before, after, d) > 1.0
    again = get_graph_method(name).unlearn(ctx)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))  # seeded


def test_d2dgn_beats_gradient_ascent_at_equal_utility(graph, trained):
    original = trained["edge"]
    d = sample_deletion(graph, "edge", 0.05, "random", seed=0)
    after = View.after(graph, d)
    ctx = GraphContext(original, graph, d, "edge", seed=0, train_steps=100, train_lr=1e-2)
    d2 = get_graph_method("D2DGN").unlearn(ctx)
    ga = get_graph_method("GradAscent").unlearn(ctx)
    assert M.utility(d2, after, "edge") >= M.utility(ga, after, "edge") - 0.02
    assert M.deleted_auc(d2, after, d) > M.deleted_auc(ga, after, d)


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
