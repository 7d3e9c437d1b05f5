"""PPO for the SMARL agents: one shared Gaussian policy, agents and runs as one batch dimension.

SMARL (Mojgani et al., arXiv 2312.00907) trains its agents with V-RACER (Korali). This is
the on-policy stand-in the notes suggest: PPO (Schulman et al. 2017, arXiv 1707.06347) with
GAE (Schulman et al. 2016, arXiv 1506.02438). The ``B`` runs x ``A`` agents of ``LESEnv``
are flattened into ``M = B*A`` samples of one actor-critic; every agent of a run gets the
run's reward. Per minibatch, with ``rho = pi(u|s) / pi_old(u|s)`` and normalised advantages ``A``:

    L = -E[min(rho A, clip(rho, 1 - eps, 1 + eps) A)] + c_v E[(V(s) - R)^2] / 2 - c_e E[H(pi(.|s))].

Actor and critic: 2x128 tanh MLPs (the paper's size). The actor gives the mean of a Gaussian
over ``u``; the action is ``0.125 tanh(u)`` (inside the paper's range); the ratio uses the
density of ``u`` (the tanh Jacobian cancels). Inputs: ``sign(x) log(1 + |x|)`` of the six
invariants, then a running mean/std normalisation; rewards are divided by the running std of
the discounted return (both saved with the weights). A truncated episode is bootstrapped with
``V`` of its last observation; a blown-up one is terminal.

``Trainer`` runs it: seeded, a checkpoint folder (weights: safetensors; optimizer: ``torch.save``
read back with ``weights_only=True``; environment and generators: safetensors) written
atomically every ``checkpoint_every`` iterations and on Ctrl-C, resumed automatically, and a line
per iteration in ``events.jsonl``.
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from obliviate.core.config import from_dict, load_yaml, save_yaml, to_dict
from obliviate.core.errors import ConfigError, DataError
from obliviate.core.progress import log, progress
from obliviate.core.store import append_jsonl, atomic_dir, atomic_write_bytes, atomic_write_json, atomic_write_text
from obliviate.smarl.env import ACTION_BOUND, N_INVARIANTS, EnvConfig, LESEnv

CHECKPOINT = "checkpoint"
POLICY = "policy.safetensors"


@dataclass
class PPOConfig:
    """PPO hyperparameters (network size, gamma from the paper; the rest PPO's usual values).

    Args:
        hidden: width of the two tanh layers of actor and critic.
        lr: Adam learning rate (the paper's V-RACER: 1e-4).
        gamma: discount per action step (the paper: 0.995).
        gae_lambda: GAE lambda.
        clip: PPO ratio clip epsilon.
        epochs: passes over each rollout.
        minibatches: minibatches per pass.
        value_coef: weight of the value loss.
        entropy_coef: weight of the entropy bonus.
        max_grad_norm: gradient-norm clip.
        init_std: initial std of ``u`` (the action is ``bound * tanh(u)``).
        action_bound: the action range ``[-bound, bound]``.
        symlog_dims: the first k inputs pass through ``sign(x) log(1 + |x|)`` (the 6 invariants).
        normalize_obs: running mean/std normalisation of the inputs.
        normalize_reward: divide rewards by the running std of the discounted return.
    """

    hidden: int = 128
    lr: float = 3e-4
    gamma: float = 0.995
    gae_lambda: float = 0.95
    clip: float = 0.2
    epochs: int = 4
    minibatches: int = 4
    value_coef: float = 0.5
    entropy_coef: float = 1e-3
    max_grad_norm: float = 0.5
    init_std: float = 0.1
    action_bound: float = ACTION_BOUND
    symlog_dims: int = N_INVARIANTS
    normalize_obs: bool = True
    normalize_reward: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise ConfigError(f"need 0 < gamma <= 1 and 0 <= gae_lambda <= 1, got {self.gamma}, {self.gae_lambda}")
        if self.epochs < 1 or self.minibatches < 1 or self.hidden < 1:
            raise ConfigError("epochs, minibatches and hidden must be >= 1")
        if not self.lr > 0 or not self.init_std > 0 or not self.action_bound > 0:
            raise ConfigError("lr, init_std and action_bound must be > 0")


class RunningNorm(nn.Module):
    """Running mean and variance of ``(M, D)`` batches (parallel Welford), as buffers."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        x = x.reshape(-1, self.mean.shape[0]).to(torch.float64)
        n = x.shape[0]
        mean, var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = mean - self.mean
        m2 = self.var * self.count + var * n + delta**2 * self.count * n / total
        self.mean.copy_(self.mean + delta * n / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def forward(self, x: torch.Tensor, clip: float = 10.0) -> torch.Tensor:
        z = (x - self.mean.to(x.dtype)) / (self.var.to(x.dtype) + 1e-8).sqrt()
        return z.clamp(-clip, clip)


def mlp(n_in: int, hidden: int, n_out: int, out_gain: float, generator: torch.Generator) -> nn.Sequential:
    """``n_in -> hidden -> hidden -> n_out``, tanh, orthogonal init (PPO's usual)."""
    net = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                        nn.Linear(hidden, n_out))
    for layer, gain in zip(net[::2], (math.sqrt(2), math.sqrt(2), out_gain)):
        nn.init.orthogonal_(layer.weight, gain=gain, generator=generator)
        nn.init.zeros_(layer.bias)
    return net


class ActorCritic(nn.Module):
    """The shared policy: ``u ~ N(mu(s), sigma)``, action ``bound * tanh(u)``; critic ``V(s)``.

    ``s`` is one agent's observation ``(M, obs_dim)``; ``normalize`` maps a raw observation to
    the networks' input. Shapes: ``(M, D) -> (M,)``.
    """

    def __init__(self, obs_dim: int, config: PPOConfig, generator: torch.Generator) -> None:
        super().__init__()
        self.config, self.obs_dim = config, obs_dim
        self.obs_rms = RunningNorm(obs_dim)
        self.ret_rms = RunningNorm(1)
        self.actor = mlp(obs_dim, config.hidden, 1, 0.01, generator)
        self.critic = mlp(obs_dim, config.hidden, 1, 1.0, generator)
        self.log_std = nn.Parameter(torch.full((1,), math.log(config.init_std)))

    def __repr__(self) -> str:
        c = self.config
        return f"ActorCritic(obs_dim={self.obs_dim}, hidden={c.hidden}, bound={c.action_bound})"

    def preprocess(self, obs: torch.Tensor) -> torch.Tensor:
        obs = obs.to(torch.float32)
        k = self.config.symlog_dims
        if k:
            obs = torch.cat([obs[..., :k].sign() * obs[..., :k].abs().log1p(), obs[..., k:]], dim=-1)
        return obs

    def normalize(self, obs: torch.Tensor, update: bool = False) -> torch.Tensor:
        """Raw ``(M, D)`` observations -> network inputs (optionally updating the running stats first)."""
        x = self.preprocess(obs)
        if not self.config.normalize_obs:
            return x
        if update:
            self.obs_rms.update(x)
        return self.obs_rms(x).to(torch.float32)

    def dist(self, z: torch.Tensor) -> torch.distributions.Normal:
        return torch.distributions.Normal(self.actor(z).squeeze(-1), self.log_std.exp().expand(z.shape[0]))

    def value(self, z: torch.Tensor) -> torch.Tensor:
        return self.critic(z).squeeze(-1)

    def squash(self, u: torch.Tensor) -> torch.Tensor:
        return self.config.action_bound * torch.tanh(u)

    @torch.no_grad()
    def act(self, z: torch.Tensor, generator: torch.Generator | None = None,
            deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(u, log pi(u), V)``, each ``(M,)``; the action is ``squash(u)``."""
        d = self.dist(z)
        u = d.mean if deterministic else d.mean + d.stddev * torch.randn(d.mean.shape, generator=generator)
        return u, d.log_prob(u), self.value(z)

    def evaluate(self, z: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(log pi(u), entropy, V)`` with gradients."""
        d = self.dist(z)
        return d.log_prob(u), d.entropy(), self.value(z)

    @torch.no_grad()
    def policy_actions(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic actions ``(B, A)`` for raw observations ``(B, A, D)`` (no stats update)."""
        b, a, d = obs.shape
        z = self.normalize(obs.reshape(b * a, d))
        return self.squash(self.dist(z).mean).view(b, a)


def gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor,
        gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns, ``(T, M)`` each; ``dones[t]`` ends the episode after step t."""
    adv = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    for t in reversed(range(rewards.shape[0])):
        next_v = last_value if t == rewards.shape[0] - 1 else values[t + 1]
        live = 1.0 - dones[t].to(rewards.dtype)
        delta = rewards[t] + gamma * next_v * live - values[t]
        running = delta + gamma * lam * live * running
        adv[t] = running
    return adv, adv + values


class PPO:
    """The actor-critic, its Adam optimizer and the clipped-objective update.

    Example:
        >>> ppo = PPO(obs_dim=22, config=PPOConfig(), seed=0)
        >>> stats = ppo.update({"obs": z, "u": u, "logp": logp, "adv": adv, "ret": ret})  # (S, D), (S,) ...
    """

    def __init__(self, obs_dim: int, config: PPOConfig | None = None, seed: int = 0) -> None:
        self.config = config or PPOConfig()
        self.generator = torch.Generator().manual_seed(seed)
        self.model = ActorCritic(obs_dim, self.config, torch.Generator().manual_seed(seed + 7919))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.lr, eps=1e-5)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """``epochs`` passes of ``minibatches`` clipped-PPO steps over ``batch`` (flat ``(S, ...)``);
        returns mean losses, approximate KL and the clipped fraction."""
        c = self.config
        size = batch["u"].shape[0]
        mb = max(1, math.ceil(size / c.minibatches))
        sums: dict[str, float] = {}
        n = 0
        for _ in range(c.epochs):
            perm = torch.randperm(size, generator=self.generator)
            for start in range(0, size, mb):
                idx = perm[start:start + mb]
                logp, ent, v = self.model.evaluate(batch["obs"][idx], batch["u"][idx])
                adv = batch["adv"][idx]
                adv = (adv - adv.mean()) / (adv.std() + 1e-8) if adv.numel() > 1 else adv
                log_ratio = logp - batch["logp"][idx]
                ratio = log_ratio.exp()
                policy_loss = -torch.min(ratio * adv, ratio.clamp(1 - c.clip, 1 + c.clip) * adv).mean()
                value_loss = 0.5 * (v - batch["ret"][idx]).pow(2).mean()
                entropy = ent.mean()
                loss = policy_loss + c.value_coef * value_loss - c.entropy_coef * entropy
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.model.parameters(), c.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    stats = {"loss_policy": policy_loss, "loss_value": value_loss, "entropy": entropy,
                             "approx_kl": ((ratio - 1) - log_ratio).mean(),
                             "clip_frac": ((ratio - 1).abs() > c.clip).float().mean()}
                for k, val in stats.items():
                    sums[k] = sums.get(k, 0.0) + float(val.detach())
                n += 1
        return {k: v / n for k, v in sums.items()}

    # -- serialisation --------------------------------------------------------------------------
    def weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone().contiguous() for k, v in self.model.state_dict().items()}

    def optimizer_bytes(self) -> bytes:
        buf = io.BytesIO()
        torch.save(self.optimizer.state_dict(), buf)
        return buf.getvalue()

    def load(self, weights: dict[str, torch.Tensor], optimizer: bytes | None = None) -> None:
        self.model.load_state_dict(weights)
        if optimizer is not None:
            self.optimizer.load_state_dict(torch.load(io.BytesIO(optimizer), weights_only=True))


# -- training --------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """A training run: the environment, PPO, and the loop.

    Args:
        env: the LES environment.
        ppo: PPO hyperparameters.
        envs: LES runs stepped as one batch.
        rollout: action steps per run per iteration (samples per iteration: envs x rollout x 16).
        iterations: PPO iterations.
        seed: seeds the networks, the sampling and every run's resets.
        checkpoint_every: write the checkpoint folder every this many iterations (and at the end).
        time_limit_min: stop (and save) after this many minutes of training; 0 = no limit.
    """

    env: EnvConfig = field(default_factory=EnvConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    envs: int = 16
    rollout: int = 64
    iterations: int = 600
    seed: int = 0
    checkpoint_every: int = 10
    time_limit_min: float = 0.0

    def __post_init__(self) -> None:
        if self.envs < 1 or self.rollout < 1 or self.iterations < 0 or self.checkpoint_every < 1:
            raise ConfigError(f"envs, rollout and checkpoint_every must be >= 1 and iterations >= 0, got envs="
                              f"{self.envs}, rollout={self.rollout}, checkpoint_every={self.checkpoint_every}, "
                              f"iterations={self.iterations}")
        if self.seed < 0:
            raise ConfigError(f"seed (--seed) must be >= 0, got {self.seed}")
        if not 0 <= self.time_limit_min < math.inf:  # nan fails too
            raise ConfigError(f"time_limit_min (--time-limit, minutes; 0 = no limit) must be a finite number "
                              f">= 0, got {self.time_limit_min}")


def _tensor_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    # deferred: loads safetensors
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in tensors.items()})


def _tensor_load(data: bytes) -> dict[str, torch.Tensor]:
    # deferred: loads safetensors
    from safetensors.torch import load

    return load(data)


def load_train_config(run_dir: str | Path) -> TrainConfig:
    """The ``TrainConfig`` saved in a training run folder (``config.yaml``)."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise DataError(f"{run_dir}: no config.yaml; not a 'smarl train' run folder")
    return from_dict(TrainConfig, load_yaml(path))


def load_policy(run_dir: str | Path) -> tuple[TrainConfig, ActorCritic]:
    """The trained policy of a run folder (``policy.safetensors``, else the last checkpoint's weights)."""
    # deferred: loads safetensors
    from safetensors.torch import load_file

    run_dir = Path(run_dir)
    cfg = load_train_config(run_dir)
    path = run_dir / POLICY
    if not path.is_file():
        path = run_dir / CHECKPOINT / "model.safetensors"
    if not path.is_file():
        raise DataError(f"{run_dir}: no {POLICY} and no checkpoint; train it first (obliviate smarl train)")
    ppo = PPO(cfg.env.obs_dim, cfg.ppo, cfg.seed)
    ppo.load(load_file(path))
    ppo.model.eval()
    return cfg, ppo.model


class Trainer:
    """PPO on ``LESEnv`` with checkpoints, resume, Ctrl-C saving and ``events.jsonl``.

    Example:
        >>> trainer = Trainer(TrainConfig(iterations=200), run_dir)   # resumes if run_dir/checkpoint exists
        >>> summary = trainer.run()
    """

    def __init__(self, config: TrainConfig, run_dir: str | Path) -> None:
        self.config, self.run_dir = config, Path(run_dir)
        self.env = LESEnv(config.env, env_ids=range(config.envs), seed=config.seed)  # missing data fails here
        self.ppo = PPO(config.env.obs_dim, config.ppo, config.seed)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        b = config.envs
        self.iteration, self.wall_s = 0, 0.0
        self.ep_sum, self.ep_len = torch.zeros(b, dtype=torch.float64), torch.zeros(b, dtype=torch.long)
        self.ret_acc = torch.zeros(b, dtype=torch.float64)
        self.resumed = self._load_checkpoint()
        if not self.resumed:
            self.env.reset(stagger=True)
            save_yaml(self.run_dir / "config.yaml", to_dict(config))
            (self.run_dir / "events.jsonl").unlink(missing_ok=True)  # a run that died before its first checkpoint
        self._snapshot = self._make_snapshot()

    # -- one iteration --------------------------------------------------------------------------
    def _rollout(self) -> tuple[dict[str, torch.Tensor], dict]:
        cfg, env, model = self.config, self.env, self.ppo.model
        gamma = cfg.ppo.gamma
        b, a, d = env.batch, cfg.env.n_agents, cfg.env.obs_dim
        m = b * a
        steps = cfg.rollout
        obs_buf = torch.zeros(steps, m, d)
        u_buf, logp_buf, v_buf = torch.zeros(steps, m), torch.zeros(steps, m), torch.zeros(steps, m)
        r_buf, done_buf = torch.zeros(steps, m), torch.zeros(steps, m, dtype=torch.bool)
        raw, episodes, blowups, actions = [], [], 0, []
        with torch.no_grad():
            for t in range(steps):
                z = model.normalize(env.last_obs.reshape(m, d), update=True)  # (M, D), M = B*A
                u, logp, v = model.act(z, self.ppo.generator)
                act = model.squash(u).view(b, a)
                out = env.step(act)
                r = out.reward.to(torch.float64)  # (B,)
                ok = ~out.terminated
                raw.append(r[ok])
                actions.append(act)
                self.ep_sum += torch.where(ok, r, torch.zeros_like(r))
                self.ep_len += 1
                self.ret_acc = self.ret_acc * gamma + r
                if cfg.ppo.normalize_reward:
                    model.ret_rms.update(self.ret_acc.view(-1, 1))
                    r_train = r / (model.ret_rms.var + 1e-8).sqrt()
                else:
                    r_train = r
                r_train = r_train.to(torch.float32).repeat_interleave(a)  # (M,): every agent gets its run's reward
                if out.truncated.any():  # bootstrap a time-limit end with V(last observation)
                    zf = model.normalize(out.final_obs.reshape(m, d))
                    boot = model.value(zf) * out.truncated.repeat_interleave(a)
                    r_train = r_train + gamma * boot
                for i in torch.nonzero(out.done).flatten().tolist():
                    steps_ok = max(int(self.ep_len[i]) - int(out.terminated[i]), 1)  # the penalty step aside
                    episodes.append({"reward": float(self.ep_sum[i]) / steps_ok, "blown_up": bool(out.terminated[i]),
                                     "length": int(self.ep_len[i])})
                blowups += int(out.terminated.sum())
                self.ep_sum[out.done], self.ep_len[out.done], self.ret_acc[out.done] = 0.0, 0, 0.0
                obs_buf[t], u_buf[t], logp_buf[t], v_buf[t] = z, u, logp, v
                r_buf[t], done_buf[t] = r_train, out.done.repeat_interleave(a)
            last_v = model.value(model.normalize(env.last_obs.reshape(m, d)))
        adv, ret = gae(r_buf, v_buf, done_buf, last_v, gamma, cfg.ppo.gae_lambda)
        batch = {"obs": obs_buf.reshape(-1, d), "u": u_buf.reshape(-1), "logp": logp_buf.reshape(-1),
                 "adv": adv.reshape(-1), "ret": ret.reshape(-1)}
        raw_r = torch.cat(raw)
        acts = torch.stack(actions)
        info = {"reward_mean": float(raw_r.mean()) if raw_r.numel() else None,
                "episodes": len(episodes),
                "episode_reward": (sum(e["reward"] for e in episodes) / len(episodes)) if episodes else None,
                "blowups": blowups, "action_mean": float(acts.mean()), "action_std": float(acts.std()),
                "policy_std_u": float(model.log_std.detach().exp())}
        return batch, info

    def step(self) -> dict:
        """One iteration: a rollout of every run, then the PPO update; returns the log record."""
        start = time.time()
        batch, info = self._rollout()
        rollout_s = time.time() - start
        losses = self.ppo.update(batch)
        self.iteration += 1
        self.wall_s += time.time() - start
        record = {"iteration": self.iteration, "time_s": round(self.wall_s, 2),
                  "rollout_s": round(rollout_s, 3), **info, **losses}
        append_jsonl(self.run_dir / "events.jsonl", record)
        self._snapshot = self._make_snapshot()
        return record

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> dict:
        """Train up to ``iterations`` (or the time limit); saves on Ctrl-C. Returns a summary."""
        cfg = self.config
        limit = cfg.time_limit_min * 60 if cfg.time_limit_min > 0 else math.inf
        interrupted = False
        todo = max(cfg.iterations - self.iteration, 0)
        session_start = time.time()
        try:
            with progress(todo, f"SMARL PPO {cfg.env.case} {cfg.env.n}^2") as advance:
                while self.iteration < cfg.iterations:
                    rec = self.step()
                    advance(1, r=f"{rec['reward_mean']:.3g}" if rec["reward_mean"] is not None else "-",
                            blowups=rec["blowups"])
                    if self.iteration % cfg.checkpoint_every == 0:
                        self.save_checkpoint()
                    if self.iteration % max(1, cfg.checkpoint_every) == 0:
                        log(f"iter {self.iteration}/{cfg.iterations}  reward {rec['reward_mean']}  "
                            f"episode {rec['episode_reward']}  blowups {rec['blowups']}  "
                            f"a {rec['action_mean']:+.4f}+-{rec['action_std']:.4f}  {self.wall_s:.0f}s")
                    if time.time() - session_start > limit:
                        log(f"time limit of {cfg.time_limit_min} min reached at iteration {self.iteration}")
                        break
        except KeyboardInterrupt:
            interrupted = True
            log(f"interrupted: saving the checkpoint of iteration {self.iteration}")
        self.save_checkpoint()
        atomic_write_bytes(self.run_dir / POLICY, self._snapshot["model.safetensors"])
        return {"iterations": self.iteration, "wall_s": self.wall_s, "interrupted": interrupted}

    # -- checkpoints ----------------------------------------------------------------------------
    def _make_snapshot(self) -> dict[str, bytes]:
        """The full training state as file contents (cheap: small networks, a few LES fields)."""
        tensors = {f"env.{k}": v for k, v in self.env.state_dict().items()}
        tensors.update({"ep_sum": self.ep_sum, "ep_len": self.ep_len, "ret_acc": self.ret_acc,
                        "ppo_rng": self.ppo.generator.get_state()})
        meta = {"iteration": self.iteration, "wall_s": self.wall_s}
        return {"model.safetensors": _tensor_bytes(self.ppo.weights()), "optimizer.pt": self.ppo.optimizer_bytes(),
                "state.safetensors": _tensor_bytes(tensors), "trainer.json": json.dumps(meta).encode()}

    def save_checkpoint(self) -> Path:
        """Write the last complete iteration's state to ``run_dir/checkpoint`` (atomically, as a folder)."""
        path = self.run_dir / CHECKPOINT
        with atomic_dir(path) as tmp:
            for name, data in self._snapshot.items():
                (tmp / name).write_bytes(data)
        return path

    def _load_checkpoint(self) -> bool:
        path = self.run_dir / CHECKPOINT
        if not (path / "trainer.json").is_file():
            return False
        saved = load_train_config(self.run_dir)
        mine, theirs = to_dict(self.config), to_dict(saved)
        mine.pop("iterations"), theirs.pop("iterations")
        mine.pop("time_limit_min"), theirs.pop("time_limit_min")
        if mine != theirs:
            diff = sorted(k for k in mine if mine[k] != theirs.get(k))
            raise ConfigError(f"{self.run_dir} holds a run with a different configuration ({', '.join(diff)}); "
                              "resume it with its own settings or pick another folder")
        meta = json.loads((path / "trainer.json").read_text())
        self.ppo.load(_tensor_load((path / "model.safetensors").read_bytes()), (path / "optimizer.pt").read_bytes())
        st = _tensor_load((path / "state.safetensors").read_bytes())
        self.env.load_state_dict({k[4:]: v for k, v in st.items() if k.startswith("env.")})
        self.ep_sum, self.ep_len, self.ret_acc = st["ep_sum"], st["ep_len"], st["ret_acc"]
        self.ppo.generator.set_state(st["ppo_rng"])
        self.iteration, self.wall_s = int(meta["iteration"]), float(meta["wall_s"])
        save_yaml(self.run_dir / "config.yaml", to_dict(self.config))  # the iteration budget may have grown
        events = self.run_dir / "events.jsonl"
        if events.is_file():  # drop lines written after the checkpoint (a crash between checkpoints)
            keep = [line for line in events.read_text().splitlines()
                    if line.strip() and json.loads(line).get("iteration", 0) <= self.iteration]
            atomic_write_text(events, "".join(line + "\n" for line in keep))
        log(f"resumed {self.run_dir} at iteration {self.iteration}")
        return True


def read_events(run_dir: str | Path) -> list[dict]:
    """The per-iteration records of a training run."""
    path = Path(run_dir) / "events.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def train(config: TrainConfig, run_dir: str | Path) -> dict:
    """Train (or resume) in ``run_dir``; writes ``policy.safetensors`` and ``train_summary.json``."""
    trainer = Trainer(config, run_dir)
    summary = trainer.run()
    events = read_events(run_dir)
    summary.update({"resumed": trainer.resumed, "first": events[:1], "last": events[-1:]})
    atomic_write_json(Path(run_dir) / "train_summary.json", summary)
    return summary
