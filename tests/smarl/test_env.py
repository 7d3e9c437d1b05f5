"""SMARL's batched LES environment (``obliviate.smarl.env``): batched equals single runs, blow-ups end an episode."""

from __future__ import annotations

import torch

from tests.smarl.helpers import tiny_env

torch.set_num_threads(1)


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
