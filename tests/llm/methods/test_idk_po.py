"""IdkPO (``obliviate.llm.methods.idk_po``), with KL's retain term: both neutral at the reference model."""

import numpy as np
import pytest
import torch

from tests.llm.methods.helpers import prepared_method

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_idkpo_and_kl_are_neutral_at_the_reference(tiny_target, splits):
    from obliviate.llm.encoding import collate_records

    model = tiny_target[0]
    idk, fmt = prepared_method("idkpo", {"alpha": 0.0, "beta": 0.2}, *tiny_target, splits)
    kl, _ = prepared_method("kl", {}, *tiny_target, splits)
    f, r = collate_records(fmt, splits.forget[:4]), collate_records(fmt, splits.retain[:4])
    with torch.no_grad():
        # pi == pi_ref: the DPO margin is 0, so the loss is (2/beta) log 2; KL(ref || pi) is 0
        assert float(idk.losses(model, {"forget": f})["forget"]) == pytest.approx(2 / 0.2 * np.log(2), rel=1e-4)
        assert float(kl.losses(model, {"forget": f, "retain": r})["retain"]) == pytest.approx(0.0, abs=1e-5)
