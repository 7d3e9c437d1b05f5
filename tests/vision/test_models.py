"""Vision classifiers (``obliviate.vision.models``): the MLP learns, unknown models are refused."""

import pytest
import torch

from obliviate.core.errors import ConfigError
from obliviate.vision.data import forget_class
from obliviate.vision.metrics import evaluate
from obliviate.vision.models import classifier
from obliviate.vision.train import ce_loss, fit, vision_config

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_mlp_learns_and_unknown_model_is_refused(data):
    mlp = classifier("mlp", tuple(data.train.x.shape[1:]), data.num_classes, seed=0)
    mlp = fit(mlp, ce_loss(data.train), torch.arange(len(data.train)), vision_config(3, 3e-3, seed=0))
    assert evaluate(mlp, data, forget_class(data, 0))["retain_acc"] > 0.9
    with pytest.raises(ConfigError, match="vision model"):
        classifier("resnet", (3, 8, 8), 10)
