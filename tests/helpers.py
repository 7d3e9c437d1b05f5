"""Helpers shared by test modules of several packages (fixtures stay in the conftest.py files)."""

from __future__ import annotations

import os

import numpy as np

from obliviate.llm.eval.scoring import Scorer


def train_seed() -> int:
    """``OBLIVIATE_TEST_SEED`` (default 0): the seed of every model trained in a test fixture (the tiny LLM
    target and gold, the graph and vision originals). Each seed trains another model, as another CPU's
    rounding does, so a margin that holds only for one model shows up on any machine
    (``OBLIVIATE_TEST_SEED=3 make test``)."""
    return int(os.environ.get("OBLIVIATE_TEST_SEED", "0"))


def tiny_finetune_config(**kw):
    """The tiny target/gold training settings (the seed: :func:`train_seed`)."""
    from obliviate import api

    base = dict(epochs=40.0, lr=4e-3, batch_size=16, warmup_ratio=0.05, checkpoint_every=0,
                seed=train_seed())
    return api.FinetuneConfig(**{**base, **kw})


# The fixtures that train a model: tiny_target, tiny_gold and fresh_target (tests/conftest.py), the graph and
# vision originals (tests/graph/conftest.py, tests/vision/conftest.py). A test that uses one, directly or through
# another fixture, is in the ``trains`` tier (pyproject.toml) and must say so, with ``@pytest.mark.trains`` or a
# module's ``pytestmark``: ``make test-kernels`` re-runs that tier under a second CPU kernel path, ``make
# test-fast`` skips it. tests/conftest.py stops the collection at a test that does not.
TRAINING_FIXTURES = frozenset({"tiny_target", "tiny_gold", "fresh_target", "trained", "original"})


def unmarked_training_tests(items) -> list[str]:
    """Node ids of the tests that use a training fixture but are not marked ``trains``."""
    return [item.nodeid for item in items
            if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ()))
            and item.get_closest_marker("trains") is None]


# test_lora's settings, for the LoRA tests now in train/test_trainer.py and llm/methods/test_base.py
LORA_UNLEARN = dict(epochs=6.0, batch_size=4, checkpoint_every=0)


def likelihood(model, tok, records) -> float:
    logp, _ = Scorer(model, tok).answer_logprobs([(r.question, r.answer) for r in records])
    return float(np.exp(logp).mean())
