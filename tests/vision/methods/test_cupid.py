"""CUPID (``obliviate.vision.methods.cupid``): the causal partition and the mask have their sizes."""

import pytest
import torch

from obliviate.core.errors import ConfigError
from obliviate.vision.data import forget_class
from obliviate.vision.methods import VisionContext, get_vision_method

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_cupid_partition_and_mask_have_the_configured_sizes(data, original):
    req = forget_class(data, 0)
    cupid = get_vision_method("CUPID", {"causal_share": 0.1, "mask_share": 0.3, "steps": 2})
    cupid.unlearn(VisionContext(original, data, req, seed=0))
    assert len(cupid.causal) == round(0.1 * len(req.forget)) and set(cupid.causal.tolist()) <= set(req.forget.tolist())
    assert len(cupid.sharpness) == len(req.forget)
    top = torch.argsort(cupid.sharpness, descending=True)[: len(cupid.causal)]
    assert set(req.forget[top].tolist()) == set(cupid.causal.tolist())  # the sharpest ones
    total = sum(m.numel() for m in cupid.mask.values())
    kept = sum(int(m.sum()) for m in cupid.mask.values())
    assert abs(kept - round(0.3 * total)) <= 0.01 * total  # ties at the threshold aside
    with pytest.raises(ConfigError, match="causal_share"):
        get_vision_method("CUPID", {"causal_share": 0.0})
