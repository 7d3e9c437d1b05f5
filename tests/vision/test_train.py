"""Training the original vision model (``obliviate.vision.train``): it learns the colour shortcut."""

import pytest

from obliviate.vision.data import forget_class
from obliviate.vision.metrics import evaluate

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_original_learned_the_shortcut(data, original):
    e = evaluate(original, data, forget_class(data, 0))
    assert e["retain_acc"] > 0.9 and e["forget_acc"] > 0.9
    assert e["forget_acc_aligned"] > e["forget_acc_conflicting"]  # colour carries the class


def test_forget_stop_stops_at_the_first_check_past_the_target(data, original):
    import copy

    import torch.nn.functional as F

    from obliviate.core.method import gradient_ascent
    from obliviate.vision.train import ForgetStop, fit, vision_config

    req = forget_class(data, 0)
    x, y = data.train.x, data.train.y

    def ascent(model, batch):
        return gradient_ascent(F.cross_entropy(model(x[batch["forget"]]), y[batch["forget"]]))

    def run(target):
        stop = ForgetStop(data.train, req.forget, req.retain, target=target, every=2)
        fit(copy.deepcopy(original), ascent, req.forget, vision_config(20, 1e-3, batch_size=32),
            callbacks=[stop])
        return stop

    whole = run(-1.0)  # never stops: the whole curve, a check every 2 steps from step 0 on
    steps = [int(c[0]) for c in whole.curve]
    assert steps[0] == 0 and steps == list(range(0, steps[-1] + 1, 2)) and not whole.reached
    assert whole.curve[0][1] > 0.9 and whole.curve[-1][1] < 0.1  # ascent forgets the class on the way
    # the rule's stop: the first check of the whole curve at or below the target, and nothing after it
    target = 0.5
    first = next(c for c in whole.curve if c[1] <= target)
    stopped = run(target)
    assert stopped.reached and stopped.curve == whole.curve[: whole.curve.index(first) + 1]
    assert stopped.figures()["stop_step"] == first[0] and stopped.figures()["reached"] == 1.0
    e = evaluate(original, data, req)  # the curve's first point is the original's accuracy
    assert whole.curve[0][1] == pytest.approx(e["forget_acc"]) and whole.curve[0][2] == pytest.approx(
        e["forget_acc_aligned"])
