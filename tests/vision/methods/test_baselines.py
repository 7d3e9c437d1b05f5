"""The baselines (``obliviate.vision.methods.baselines``) on a random-subset request."""

import pytest
import torch

from obliviate.vision.data import forget_random
from obliviate.vision.methods import VisionContext, get_vision_method
from obliviate.vision.metrics import evaluate

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_random_subset_request_runs(data, original):
    req = forget_random(data, 0.05, seed=0)
    ctx = VisionContext(original, data, req, seed=0, train_epochs=6, train_lr=3e-3)
    model = get_vision_method("NegGradPlus").unlearn(ctx)

    def forget_loss(net):
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(net.eval()(data.train.x[req.forget]),
                                                     data.train.y[req.forget]).item()

    # A random 5% of a model that generalises: retraining without them would still classify them well, so
    # forget accuracy is no yardstick (it moved -0.17..+0.01 over the originals of OBLIVIATE_TEST_SEED
    # 0-7). The forget loss is: it rose by 0.070..0.397 (a no-op: exactly 0), with retain accuracy 0.80..0.95.
    assert forget_loss(model) > forget_loss(original) + 0.03
    assert evaluate(model, data, req)["retain_acc"] > 0.7
