"""SimNPO (``obliviate.llm.methods.simnpo``): the loss against its formula."""

import pytest
import torch

from tests.llm.methods.helpers import prepared_method

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_simnpo_loss_matches_formula(tiny_target, splits):
    from obliviate.llm.encoding import answer_logprob, collate_records

    model = tiny_target[0]
    sim, fmt = prepared_method("simnpo", {"alpha": 0.0, "gamma": 1.0, "beta": 2.0, "delta": 0.5}, *tiny_target, splits)
    f = collate_records(fmt, splits.forget[:4])
    with torch.no_grad():
        loss = float(sim.losses(model, {"forget": f})["forget"])
        logp, n = answer_logprob(model, f)
    x = -(2.0 / n.double()) * logp.double() - 0.5
    expected = float((-(2 / 2.0) * torch.log(torch.sigmoid(x))).mean())
    assert loss == pytest.approx(expected, rel=1e-4)
