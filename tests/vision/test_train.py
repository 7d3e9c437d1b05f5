"""Training the original vision model (``obliviate.vision.train``): it learns the colour shortcut."""

import pytest

from obliviate.vision.data import forget_class
from obliviate.vision.metrics import evaluate

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_original_learned_the_shortcut(data, original):
    e = evaluate(original, data, forget_class(data, 0))
    assert e["retain_acc"] > 0.9 and e["forget_acc"] > 0.9
    assert e["forget_acc_aligned"] > e["forget_acc_conflicting"]  # colour carries the class
