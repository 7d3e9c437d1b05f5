"""SMARL RL: the PPO update, the batched LES environment, blow-ups, checkpoints and the CLI (tiny sizes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from obliviate.smarl.rl import PPO, PPOConfig, TrainConfig, Trainer, gae, read_events, train
from tests.stand_in_data import smarl_k4_files

torch.set_num_threads(1)


@pytest.fixture()
def data_dir(tmp_path_factory, monkeypatch) -> str:
    """``$OBLIVIATE_DATA`` when it holds smarl/ (the real files), else stand-in files in the real formats."""
    root = os.environ.get("OBLIVIATE_DATA")
    if root and (Path(root) / "smarl").is_dir():
        return root
    stand_in = tmp_path_factory.getbasetemp() / "smarl-stand-in"
    if not stand_in.is_dir():
        smarl_k4_files(stand_in)
    monkeypatch.setenv("OBLIVIATE_DATA", str(stand_in))
    return str(stand_in)


def tiny_env(**kw):
    from obliviate.smarl.env import EnvConfig

    return EnvConfig(**{"n": 16, "episode_steps": 30, **kw})


# -- PPO ------------------------------------------------------------------------------------------
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


# -- the environment -----------------------------------------------------------------------------------
def test_batched_environment_equals_single_runs(data_dir):
    from obliviate.smarl.env import LESEnv

    cfg = tiny_env(dtype="float64")
    batched = LESEnv(cfg, env_ids=[0, 1, 2], seed=5)
    singles = [LESEnv(cfg, env_ids=[i], seed=5) for i in range(3)]
    obs_b = batched.reset()
    obs_s = torch.cat([e.reset() for e in singles])
    assert torch.allclose(obs_b, obs_s, rtol=1e-10, atol=1e-10)
    g = torch.Generator().manual_seed(0)
    for step in range(5):  # episodes of 3 action steps: one reset per run on the way
        a = 0.02 * torch.rand(3, 16, generator=g, dtype=torch.float64)
        out = batched.step(a)
        outs = [e.step(a[i:i + 1]) for i, e in enumerate(singles)]
        assert torch.allclose(out.obs, torch.cat([o.obs for o in outs]), rtol=1e-8, atol=1e-8)
        assert torch.allclose(out.reward, torch.cat([o.reward for o in outs]), rtol=1e-6)
        assert torch.equal(out.done, torch.cat([o.done for o in outs]))
        assert out.truncated.all() == (step == 2)


def test_a_diverging_run_ends_its_episode_with_the_penalty(data_dir):
    from obliviate.smarl.env import LESEnv

    env = LESEnv(tiny_env(episode_steps=10_000, blowup_penalty=-7.0), env_ids=2, seed=0)
    env.reset()
    fresh = env.solver.initial_state(1e4 * env.solver.omega(env.state))  # a huge field in run 0
    env.state = env.state.where(torch.tensor([True, False]), fresh)
    out = env.step(torch.full((2, 16), 0.005))
    assert out.terminated.tolist() == [True, False] and not out.truncated.any()
    assert float(out.reward[0]) == -7.0 and float(out.reward[1]) > 0
    assert torch.isfinite(out.obs).all() and not env.solver.blown_up(env.state).any()
    assert env.t.tolist() == [0, 10]  # run 0 restarted, run 1 carried on
    # negative eddy viscosity (the most negative action) blows a run up too: it ends, nothing raises
    steps = 0
    while steps < 400:
        out = env.step(torch.stack([torch.full((16,), -0.125), torch.full((16,), 0.005)]))
        steps += 1
        if out.terminated[0]:
            break
    assert out.terminated.tolist() == [True, False] and float(out.reward[0]) == -7.0


# -- training, checkpoints, resume -------------------------------------------------------------------------
def tiny_train(iterations: int) -> TrainConfig:
    return TrainConfig(env=tiny_env(episode_steps=40), envs=2, rollout=6, iterations=iterations, checkpoint_every=2)


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(run_dir / "policy.safetensors")


def _strip(events: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if k not in ("time_s", "rollout_s")} for e in events]


def test_resume_continues_to_the_same_result(data_dir, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(tiny_train(4), straight)
    train(tiny_train(2), split)
    summary = train(tiny_train(4), split)  # finds split/checkpoint and continues from iteration 2
    assert summary["resumed"] and summary["iterations"] == 4
    a, b = _weights(straight), _weights(split)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _strip(read_events(straight)) == _strip(read_events(split))


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


# -- CLI ---------------------------------------------------------------------------------------------------
def test_cli_simulate_train_eval_write_run_folders(data_dir, tmp_path):
    from typer.testing import CliRunner

    from obliviate.smarl.cli import smarl_app

    runner = CliRunner()
    res = runner.invoke(smarl_app, ["simulate", "--closure", "leith", "--case", "k4", "--n", "16", "--t-end", "0.3",
                                    "--t-avg", "0.1", "--runs-dir", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    (sim,) = (tmp_path / "runs").glob("*smarl-sim-k4-leith")
    assert (sim / "report.html").is_file() and (sim / "spectra.png").is_file() and (sim / "pdf.png").is_file()
    row = json.loads((sim / "metrics.json").read_text())["rows"][0]
    assert row["closure"] == "leith" and row["blowups"] == 0 and row["z_log_error"] > 0

    out = tmp_path / "train"
    res = runner.invoke(smarl_app, ["train", "--case", "k4", "--n", "16", "--iterations", "2", "--envs", "2",
                                    "--rollout", "4", "--episode-steps", "40", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").is_file() and (out / "reward.png").is_file() and len(read_events(out)) == 2

    res = runner.invoke(smarl_app, ["eval", "--run", str(out), "--closures", "none", "--t-end", "0.2",
                                    "--t-avg", "0.1", "--no-build-reference", "--no-dns-cost",
                                    "--runs-dir", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    (ev,) = (tmp_path / "runs").glob("*smarl-eval-k4")
    names = [r["closure"] for r in json.loads((ev / "metrics.json").read_text())["rows"]]
    assert names == ["none", "learned"] and (ev / "coefficient.png").is_file()

    res = runner.invoke(smarl_app, ["simulate", "--closure", "leith-dynamic"])
    assert res.exit_code == 2 and "error:" in res.output and "smagorinsky" in res.output
