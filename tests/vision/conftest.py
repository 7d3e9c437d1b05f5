"""The biased digits and the original model every vision test module shares (trained once a session)."""

import pytest
import torch

from obliviate.vision.data import coloured_digits
from obliviate.vision.models import classifier
from obliviate.vision.train import ce_loss, fit, vision_config


@pytest.fixture(scope="session")
def data():
    return coloured_digits("digits", aligned=0.95, seed=0)


@pytest.fixture(scope="session")
def original(data, train_seed):
    model = classifier("cnn", tuple(data.train.x.shape[1:]), data.num_classes, seed=train_seed)
    return fit(model, ce_loss(data.train), torch.arange(len(data.train)),
               vision_config(6, 3e-3, seed=train_seed))
