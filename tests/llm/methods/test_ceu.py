"""CE-U (``obliviate.llm.methods.ceu``): the loss by hand."""

import pytest
import torch

from obliviate.llm.methods.ceu import ceu_loss
from tests.llm.methods.helpers import cross_entropy, softmax


def test_ceu_loss_by_hand():
    logits, target = [[2.0, 1.0, 0.0], [0.5, 0.5, 3.0]], [0, 2]
    expected = 0.0
    for z, y in zip(logits, target):
        q = softmax([v for i, v in enumerate(z) if i != y])
        q.insert(y, 0.0)  # the true token gets no mass
        expected += cross_entropy(q, z) / 2
    got = ceu_loss(torch.tensor(logits), torch.tensor(target))
    assert float(got) == pytest.approx(expected, rel=1e-6)
