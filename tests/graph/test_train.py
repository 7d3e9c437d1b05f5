"""Training the original graph models (``obliviate.graph.train``): both tasks learn."""

import pytest

from obliviate.graph import metrics as M
from obliviate.graph.train import View

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_original_models_learn(graph, trained):
    view = View.full(graph)
    assert M.test_auc(trained["edge"], view) > 0.6  # within-community non-edges look like edges: far from 1
    assert M.test_accuracy(trained["node"], view) > 0.9
