"""SatImp (``obliviate.llm.methods.satimp``) and WGA (``wga``): the token-weighted losses by hand."""

import math

import pytest
import torch

from obliviate.llm.methods.satimp import satimp_loss
from obliviate.llm.methods.wga import wga_loss


def test_wga_and_satimp_losses_by_hand():
    p = [0.5, 0.25, 0.9]
    logp = torch.tensor([math.log(v) for v in p], requires_grad=True)
    wga = sum(v * math.log(v) for v in p) / 3  # beta = 1
    assert float(wga_loss(logp.detach(), 1.0)) == pytest.approx(wga, rel=1e-6)
    sat = sum(v**2 * (1 - v) * math.log(v) for v in p) / 3  # beta1 = 2, beta2 = 1
    loss = satimp_loss(logp, 2.0, 1.0)
    assert float(loss.detach()) == pytest.approx(sat, rel=1e-6)
    loss.backward()  # the weight is detached: d/dlog p_t = w_t / n
    assert logp.grad.tolist() == pytest.approx([v**2 * (1 - v) / 3 for v in p], rel=1e-6)
