"""The toy graph and the original models every graph test module shares (trained once a session)."""

import pytest

from obliviate.graph.models import GNN
from obliviate.graph.train import View, fit, graph_config, task_loss
from tests.graph.helpers import two_communities


@pytest.fixture(scope="session")
def graph():
    return two_communities()


@pytest.fixture(scope="session")
def trained(graph, train_seed):
    out = {}
    for task in ("edge", "node"):
        model = GNN("gcn", graph.x.shape[1], graph.num_classes, hidden=32, out=16, seed=train_seed)
        out[task] = fit(model, task_loss(task, View.full(graph)), graph_config(150, 1e-2, train_seed))
    return out
