"""The batched LES environment of SMARL: B runs x 16 agents, one coefficient per agent.

SMARL (Mojgani et al., arXiv 2312.00907). Each of the ``B`` runs is a low-resolution
LES of the forced beta-plane vorticity equation (``solver.py``). Every ``action_every``
solver steps each of the ``m x m`` agents (a 4x4 lattice) gives one coefficient
``a in [-0.125, 0.125]`` (``C_L^3`` for ``form="leith"``, ``C_S^2`` for ``"smagorinsky"``),
interpolated to a smooth periodic field ``c(x, y)`` (``lattice_to_field``) that drives a
``FieldClosure``. Then:

- observation per agent: the 6 velocity-gradient / second-derivative invariants at its
  lattice point (``agent_states``) and the global log enstrophy spectrum (``N/2`` numbers);
- reward per action step, global (the same for every agent of a run), the paper's
  ``r = 1 / sum_{k < N/2} (k (S_les(k) - S_dns(k)))^2`` on the xy spectrum (``spectrum_reward``);
- a run that blows up (non-finite or ``max |omega| > 1e3``) gets ``blowup_penalty``, its episode
  ends (``terminated``) and it restarts; an episode also ends after ``episode_steps`` solver
  steps (``truncated``). Nothing raises.

Resets draw one of the authors' filtered-DNS initial fields and add a small random-phase
perturbation, from a generator per run seeded by ``(seed, env_id)``: a run behaves the same
whether it is stepped in a batch or alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from obliviate.core.errors import ConfigError
from obliviate.smarl.closures import FORMS, FieldClosure, agent_states, lattice_to_field, log_enstrophy_spectrum
from obliviate.smarl.reference import load_initial_fields, load_spectrum, spectrum_reward
from obliviate.smarl.solver import Solver, State, case, random_vorticity, resample, spectrum

ACTION_BOUND = 0.125  # the paper's action range [-0.125, 0.125]
N_INVARIANTS = 6


@dataclass
class EnvConfig:
    """The LES environment (defaults: the paper's, except the episode length; see docs/smarl.md).

    Args:
        case: ``k4``, ``k4-beta20`` or ``k25``.
        n: LES grid points per side.
        episode_steps: solver steps per episode (the paper: 10^4 = 5 time units; default 4000 = 2).
        action_every: solver steps between actions (the paper: 10).
        form: ``leith`` (action = ``C_L^3``) or ``smagorinsky`` (action = ``C_S^2``).
        agents_side: agents per side of the lattice (4: 16 agents).
        reward_spectrum: ``enstrophy`` or ``energy``: the spectrum the reward compares (xy).
        reward_power: ``p`` in ``r = 1 / ||k^p (S_les - S_dns)||^2``.
        blowup_penalty: the reward of the action step in which a run blows up.
        perturbation: rms of the random perturbation added at a reset, relative to the field's rms.
        init_fields: which of the authors' initial fields (1..5) resets draw from.
        dealias: 2/3 rule (the authors' LES does not dealias).
        dt: time step.
        dtype: ``float32`` (training) or ``float64``.
        data_dir: the folder holding ``smarl/`` (default ``$OBLIVIATE_DATA``).
    """

    case: str = "k4"
    n: int = 32
    episode_steps: int = 4000
    action_every: int = 10
    form: str = "leith"
    agents_side: int = 4
    reward_spectrum: str = "enstrophy"
    reward_power: int = 1
    blowup_penalty: float = -10.0
    perturbation: float = 0.02
    init_fields: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    dealias: bool = False
    dt: float = 5e-4
    dtype: str = "float32"
    data_dir: str | None = None

    def __post_init__(self) -> None:
        case(self.case).params(n=self.n, dt=self.dt, dealias=self.dealias)  # a bad grid fails here, not later
        if self.form not in FORMS:
            raise ConfigError(f"form must be one of {', '.join(FORMS)}, got {self.form!r}")
        if self.reward_spectrum not in ("enstrophy", "energy"):
            raise ConfigError(f"reward_spectrum must be enstrophy or energy, got {self.reward_spectrum!r}")
        if self.action_every < 1 or self.episode_steps < self.action_every:
            raise ConfigError(f"need 1 <= action_every <= episode_steps, got {self.action_every}, "
                              f"{self.episode_steps}")
        if self.episode_steps % self.action_every:
            raise ConfigError(f"episode_steps ({self.episode_steps}) must be a multiple of action_every "
                              f"({self.action_every})")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if self.agents_side < 1 or self.n % self.agents_side:
            raise ConfigError(f"n={self.n} must be a multiple of agents_side={self.agents_side}")
        bad = [i for i in self.init_fields if i not in (1, 2, 3, 4, 5)]
        if bad or not self.init_fields:
            raise ConfigError(f"init_fields must be a non-empty subset of 1..5, got {self.init_fields}")

    @property
    def n_agents(self) -> int:
        return self.agents_side**2

    @property
    def obs_dim(self) -> int:
        return N_INVARIANTS + self.n // 2

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float32 if self.dtype == "float32" else torch.float64

    def solver(self) -> Solver:
        return Solver(case(self.case).params(n=self.n, dt=self.dt, dealias=self.dealias), dtype=self.torch_dtype)


def observe(omega: torch.Tensor, agents_side: int = 4) -> torch.Tensor:
    """``(B, m*m, 6 + N/2)``: each agent's invariants and the run's log enstrophy spectrum."""
    local = agent_states(omega, agents_side)  # (B, A, 6)
    glob = log_enstrophy_spectrum(omega)  # (B, N/2)
    obs = torch.cat([local, glob[:, None, :].expand(-1, local.shape[1], -1)], dim=-1)
    return torch.nan_to_num(obs, nan=0.0, posinf=1e30, neginf=-1e30)  # blown-up runs: finite garbage, reset anyway


def coefficient_field(actions: torch.Tensor, n: int) -> torch.Tensor:
    """``(B, m*m)`` agent actions -> ``(B, n, n)`` coefficient field (trigonometric interpolation)."""
    b, a = actions.shape
    m = math.isqrt(a)
    return lattice_to_field(actions.reshape(b, m, m), n)  # agent i*m + j sits at lattice point (i, j)


@dataclass
class StepOut:
    """What ``LESEnv.step`` returns, per run ``(B, ...)``.

    ``obs`` is the next observation (of the fresh run where ``done``); ``final_obs`` the
    observation before that reset (to bootstrap a truncated episode); ``reward`` the paper's
    reward, or ``blowup_penalty`` where ``terminated``.
    """

    obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    final_obs: torch.Tensor

    @property
    def done(self) -> torch.Tensor:
        return self.terminated | self.truncated


class LESEnv:
    """``B`` LES runs stepped as one batch, each with its own reset generator.

    Example:
        >>> env = LESEnv(EnvConfig(case="k4", n=32), env_ids=range(8), seed=0)
        >>> obs = env.reset()                       # (8, 16, 22)
        >>> out = env.step(actions)                 # actions (8, 16) in [-0.125, 0.125]
    """

    def __init__(self, config: EnvConfig, env_ids=1, seed: int = 0) -> None:
        self.config = config
        self.env_ids = list(range(env_ids)) if isinstance(env_ids, int) else list(env_ids)
        if not self.env_ids:
            raise ConfigError("need at least one environment")
        self.seed = seed
        self.solver = config.solver()
        c = case(config.case)
        fields = (load_initial_fields(c, 32, tuple(config.init_fields), config.data_dir) if config.n <= 32
                  else load_initial_fields(c, 64, tuple(config.init_fields), config.data_dir))
        self.fields = resample(fields, config.n) if fields.shape[-1] != config.n else fields  # (F, n, n) float64
        self.reference = load_spectrum(c, config.reward_spectrum, data_dir=config.data_dir).value.to(
            config.torch_dtype)[: config.n // 2]
        self.closure = FieldClosure(0.0, form=config.form)
        self.generators = [torch.Generator().manual_seed(seed * 1_000_003 + i) for i in self.env_ids]
        self.state: State | None = None
        self.t = torch.zeros(self.batch, dtype=torch.long)  # solver steps since each run's reset
        self.last_obs: torch.Tensor | None = None

    def __repr__(self) -> str:
        return f"LESEnv({self.config}, env_ids={self.env_ids}, seed={self.seed})"

    @property
    def batch(self) -> int:
        return len(self.env_ids)

    # -- resets ---------------------------------------------------------------------------------
    def _fresh_field(self, i: int) -> torch.Tensor:
        """A reset field for run ``i``: an initial field + a small random-phase perturbation, ``(n, n)``."""
        g = self.generators[i]
        w = self.fields[int(torch.randint(len(self.fields), (1,), generator=g))]
        if self.config.perturbation > 0:
            seed = int(torch.randint(2**31 - 1, (1,), generator=g))
            rms = self.config.perturbation * float(w.std())
            w = w + random_vorticity(self.config.n, 1, k_peak=10.0, rms=rms, seed=seed)[0]
        return w

    def _reset_runs(self, mask: torch.Tensor) -> None:
        fresh = torch.zeros(self.batch, self.config.n, self.config.n, dtype=torch.float64)
        for i in torch.nonzero(mask).flatten().tolist():
            fresh[i] = self._fresh_field(i)
        new = self.solver.initial_state(fresh)
        self.state = new if self.state is None else self.state.where(mask, new)
        self.t = torch.where(mask, torch.zeros_like(self.t), self.t)

    def reset(self, stagger: bool = False) -> torch.Tensor:
        """Reset every run; returns the observation ``(B, A, obs_dim)``.

        ``stagger``: run ``i`` of ``B`` starts ``i/B`` of the way into its first episode, so that the
        runs' episodes end at different iterations (a training batch then mixes every phase of an episode).
        """
        self.state = None
        self._reset_runs(torch.ones(self.batch, dtype=torch.bool))
        if stagger:
            every, steps = self.config.action_every, self.config.episode_steps
            self.t = torch.tensor([(i * steps // self.batch) // every * every for i in range(self.batch)])
        self.last_obs = observe(self.solver.omega(self.state), self.config.agents_side)
        return self.last_obs

    # -- stepping -------------------------------------------------------------------------------
    def set_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """Clip ``(B, A)`` actions to the range and set the closure's field; returns the field ``(B, n, n)``."""
        if self.state is None:
            raise ConfigError("call reset() before step()")
        if actions.shape != (self.batch, self.config.n_agents):
            raise ConfigError(f"actions must be ({self.batch}, {self.config.n_agents}), got {tuple(actions.shape)}")
        a = torch.nan_to_num(actions.detach().to(self.config.torch_dtype), nan=0.0).clamp(-ACTION_BOUND, ACTION_BOUND)
        self.closure.c = coefficient_field(a, self.config.n)
        return self.closure.c

    def step(self, actions: torch.Tensor) -> StepOut:
        """Apply ``(B, A)`` actions for ``action_every`` solver steps; reset runs whose episode ended."""
        cfg = self.config
        self.set_actions(actions)
        self.state = self.solver.step(self.state, self.closure, n_steps=cfg.action_every)
        self.t = self.t + cfg.action_every
        omega = self.solver.omega(self.state)
        terminated = self.solver.blown_up(self.state)
        s = spectrum(omega, cfg.reward_spectrum)
        reward = spectrum_reward(s, self.reference, power=cfg.reward_power)
        reward = torch.where(terminated | ~torch.isfinite(reward), torch.full_like(reward, cfg.blowup_penalty), reward)
        truncated = (self.t >= cfg.episode_steps) & ~terminated
        final_obs = observe(omega, cfg.agents_side)
        done = terminated | truncated
        if done.any():
            self._reset_runs(done)
            obs = observe(self.solver.omega(self.state), cfg.agents_side)
        else:
            obs = final_obs
        self.last_obs = obs
        return StepOut(obs, reward.to(torch.float32), terminated, truncated, final_obs)

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Everything needed to continue exactly: the runs, step counters, generators, last observation."""
        if self.state is None:
            raise ConfigError("nothing to save: the environment was never reset")
        return {"w_hat": torch.view_as_real(self.state.w_hat).contiguous(),
                "prev": torch.view_as_real(self.state.prev).contiguous(),
                "steps": self.state.steps.clone(), "t": self.t.clone(), "obs": self.last_obs.contiguous(),
                "rng": torch.stack([g.get_state() for g in self.generators])}

    def load_state_dict(self, d: dict[str, torch.Tensor]) -> None:
        if d["w_hat"].shape[0] != self.batch:
            raise ConfigError(f"checkpoint holds {d['w_hat'].shape[0]} runs, the environment {self.batch}")
        self.state = State(torch.view_as_complex(d["w_hat"].contiguous()),
                           torch.view_as_complex(d["prev"].contiguous()), d["steps"].clone())
        self.t = d["t"].clone()
        self.last_obs = d["obs"].clone()
        for g, s in zip(self.generators, d["rng"]):
            g.set_state(s.clone())
