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


def test_salun_updates_only_its_salient_half(data, original):
    from obliviate.vision.data import forget_class

    req = forget_class(data, 0)
    ctx = VisionContext(original, data, req, seed=0)
    model = get_vision_method("SalUn").unlearn(ctx)
    moved = torch.cat([(a != b).flatten() for a, b in zip(model.parameters(), original.parameters())])
    # the mask keeps the top 50% of |gradient|; Adam without weight decay leaves the rest exactly in place
    # (measured: 0.500 of the entries moved, OBLIVIATE_TEST_SEED 0-3, both kernel paths). A broken mask moves
    # ~100% (an unmasked run) or 0% (an all-zero mask).
    assert 0.3 < moved.float().mean() <= 0.5 + 1e-3
    assert evaluate(model, data, req)["forget_acc"] < 0.2


def test_bad_teaching_follows_the_random_teacher_on_forget(data, original):
    from obliviate.vision.data import forget_class
    from obliviate.vision.methods.baselines import _fresh, _kl

    req = forget_class(data, 0)
    ctx = VisionContext(original, data, req, seed=0)
    model = get_vision_method("BadTeaching").unlearn(ctx)
    bad = _fresh(ctx, offset=2).eval()
    x = data.train.x[req.forget]
    with torch.no_grad():
        before, after = _kl(original.eval()(x), bad(x)), _kl(model.eval()(x), bad(x))
        kept = _kl(model(data.train.x[req.retain[:500]]), original(data.train.x[req.retain[:500]]))
    # the student ends near the incompetent teacher on the forget class (KL fell by more than half) and near the
    # competent one on the rest; a student that ignores the forget term stays at the original's KL.
    # Measured (OBLIVIATE_TEST_SEED 0-3, both kernel paths): after/before 0.10-0.12, kept/before 0.055-0.091.
    assert after < 0.5 * before, (before, after)
    assert kept < 0.5 * before
