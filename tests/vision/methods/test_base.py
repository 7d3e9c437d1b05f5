"""The vision-method contract (``obliviate.vision.methods.base``): every registered method lowers forget
accuracy, keeps retain accuracy, leaves the original alone and is seeded."""

import pytest
import torch

from obliviate.vision.data import forget_class
from obliviate.vision.methods import VISION_METHODS, VisionContext, get_vision_method
from obliviate.vision.metrics import evaluate

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


@pytest.mark.parametrize("name", VISION_METHODS.names())
def test_every_method_lowers_forget_accuracy(name, data, original):
    req = forget_class(data, 0)
    ctx = VisionContext(original, data, req, seed=0, train_epochs=6, train_lr=3e-3)
    before = [p.detach().clone() for p in original.parameters()]
    model = get_vision_method(name).unlearn(ctx)
    assert all(torch.equal(a, b) for a, b in zip(before, original.parameters()))  # original untouched
    e0, e1 = evaluate(original, data, req), evaluate(model, data, req)
    # Measured over the originals of OBLIVIATE_TEST_SEED 0-3 under both kernel paths (identical figures):
    # forget accuracy 0.95 -> 0.000..0.107 for every method; retain accuracy >= 0.884 for every method but
    # NegGrad (plain ascent on the forget class, no retain term: 0.613..0.902). A collapsed model scores
    # chance on the nine retain classes (~0.11), a no-op keeps forget accuracy at 0.95.
    assert e1["forget_acc"] < e0["forget_acc"] - 0.5, (name, e0["forget_acc"], e1["forget_acc"])
    assert e1["retain_acc"] > (0.4 if name == "NegGrad" else 0.7), (name, e1["retain_acc"])
    again = get_vision_method(name).unlearn(ctx)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))  # seeded
