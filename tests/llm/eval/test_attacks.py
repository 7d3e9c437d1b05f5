"""Attacks on an unlearned model (``obliviate.llm.eval.attacks``): relearning, directly and through LoRA."""

from __future__ import annotations

import copy

import pytest

from obliviate import api
from obliviate.train.trainer import is_peft

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_relearn_attack_measures_a_trajectory_and_leaves_the_model_alone(tiny_gold, splits, probes):
    from obliviate.llm.eval.attacks import RelearnConfig, relearn_attack

    model, tok = tiny_gold
    before = [p.detach().clone() for p in model.parameters()]
    traj = relearn_attack(model, tok, probes.relearn["high"], splits.forget,
                          RelearnConfig(steps=6, lr=1e-3, batch_size=4, eval_every=2))
    assert [s for s, _ in traj] == [0, 2, 4, 6]
    assert traj[-1][1] > traj[0][1]  # the biographies teach the forget facts to a model that never saw them
    assert all((a == b).all() for a, b in zip(before, model.parameters()))


def test_relearning_attack_through_lora(tiny_target, splits):
    from obliviate.llm.eval.attacks import RelearnConfig, relearn_attack

    model, tok = tiny_target
    damaged = api.unlearn(copy.deepcopy(model), tok, splits, "gradascent",
                          api.UnlearnConfig(lr=1e-3, epochs=3.0, batch_size=4))
    traj = relearn_attack(damaged, tok, splits.forget, splits.forget,
                          RelearnConfig(steps=6, lr=5e-3, eval_every=3, lora_r=8, lora_alpha=32))
    assert traj[-1][1] > traj[0][1]  # relearning through adapters brings the forget answers back
    assert not is_peft(damaged)  # the attacked model was a copy
