"""SMARL RL (``obliviate.smarl.rl``): the PPO update, GAE, checkpoints and resume (tiny sizes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from obliviate.smarl.rl import PPO, PPOConfig, TrainConfig, Trainer, gae, read_events, train
from tests.smarl.helpers import tiny_env

torch.set_num_threads(1)


@pytest.mark.trains
def test_one_ppo_update_moves_the_policy_toward_the_best_action():
    """A one-step bandit: r = -((a - 0.06) / 0.03)^2. One update must raise E[r] and move the mean action."""
    cfg = PPOConfig(symlog_dims=0, normalize_obs=False, init_std=0.5, lr=1e-3, epochs=8, minibatches=4,
                    entropy_coef=0.0)
    ppo = PPO(obs_dim=3, config=cfg, seed=0)
    obs = torch.randn(4096, 3, generator=torch.Generator().manual_seed(1))

    def reward(u):
        return -((ppo.model.squash(u) - 0.06) / 0.03) ** 2

    def expected_reward():
        g = torch.Generator().manual_seed(2)
        u, _, _ = ppo.model.act(obs, g)
        return float(reward(u).mean()), float(ppo.model.squash(ppo.model.act(obs, deterministic=True)[0]).mean())

    before, mean_before = expected_reward()
    u, logp, v = ppo.model.act(obs, ppo.generator)
    r = reward(u)
    stats = ppo.update({"obs": obs, "u": u, "logp": logp, "adv": r - v, "ret": r})
    after, mean_after = expected_reward()
    assert after > before + 0.1 * abs(before)
    assert abs(mean_after - 0.06) < abs(mean_before - 0.06) - 0.005
    assert 0 <= stats["clip_frac"] <= 1 and stats["approx_kl"] >= 0


def test_gae_stops_at_episode_ends():
    r = torch.tensor([[1.0], [1.0], [1.0]])
    v = torch.zeros(3, 1)
    done = torch.tensor([[False], [True], [False]])
    adv, ret = gae(r, v, done, torch.tensor([10.0]), gamma=0.5, lam=1.0)
    assert torch.allclose(ret.flatten(), torch.tensor([1.5, 1.0, 6.0]))  # step 1 ends its episode: no bootstrap


def tiny_train(iterations: int) -> TrainConfig:
    return TrainConfig(env=tiny_env(episode_steps=40), envs=2, rollout=6, iterations=iterations, checkpoint_every=2)


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(run_dir / "policy.safetensors")


def _strip(events: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if k not in ("time_s", "rollout_s")} for e in events]


@pytest.mark.trains
def test_resume_continues_to_the_same_result(data_dir, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(tiny_train(4), straight)
    train(tiny_train(2), split)
    summary = train(tiny_train(4), split)  # finds split/checkpoint and continues from iteration 2
    assert summary["resumed"] and summary["iterations"] == 4
    a, b = _weights(straight), _weights(split)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _strip(read_events(straight)) == _strip(read_events(split))


@pytest.mark.trains
def test_ctrl_c_saves_the_last_complete_iteration(data_dir, tmp_path, monkeypatch):
    trainer = Trainer(tiny_train(5), tmp_path)
    real, calls = Trainer.step, {"n": 0}

    def step(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(Trainer, "step", step)
    summary = trainer.run()
    assert summary["interrupted"] and summary["iterations"] == 2
    assert json.loads((tmp_path / "checkpoint" / "trainer.json").read_text())["iteration"] == 2
    monkeypatch.setattr(Trainer, "step", real)
    assert Trainer(tiny_train(5), tmp_path).iteration == 2
