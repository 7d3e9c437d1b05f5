"""Batched pseudo-spectral solver for forced, dissipative beta-plane 2D turbulence.

SMARL (Mojgani, Waelchli, Guan, Koumoutsakos, Hassanzadeh, arXiv 2312.00907),
authors' code rmojgani/RLonKorali. On the doubly periodic square [0, 2pi]^2:

    d omega/dt + J(psi, omega) = nu lap(omega) - mu omega + F + beta u - Pi,
    lap(psi) = omega,   u = -d psi/dy,   v = d psi/dx,   J(psi, omega) = u . grad(omega),
    F = A (cos(k_f x) + cos(k_f y)),   A = -k_f by default,

with Pi the closure (``closures.py``). Signs follow what the authors' solver
*does* (``turb.py``: ``psi = -omega/k^2``, convection with ``u = -i k_y psi``,
``v = i k_x psi``, ``RHS += dt * beta * u``, ``Fk = -n cos(nX) - n cos(nY)``),
which is what their reference data were made with: the initial fields are
anti-correlated with ``cos(k_f x) + cos(k_f y)`` and the beta = 20 jets vary
along x. The paper notes write ``u = d psi/dy, v = -d psi/dx, -beta v,
F = +k_f(...)``: with ``lap(psi) = omega`` that velocity has curl ``-omega``
(the py2d convention, where ``omega = -lap(psi)``), and the sign/direction of
beta and F only mirror, rotate or shift the statistics; see docs/smarl.md.

Numerics: Fourier pseudo-spectral on ``rfft2`` (x = first grid index, y =
second); advection as the mean of the advective and conservative forms
(skew-symmetric: conserves enstrophy exactly even without dealiasing);
Adams-Bashforth 2 for everything explicit (advection, forcing, beta, closure;
forward Euler on a run's first step); Crank-Nicolson for viscosity; drag
backward Euler (the authors' scheme):

    (1 + dt mu + dt nu k^2 / 2) w^{n+1} = (1 - dt nu k^2 / 2) w^n + dt (3/2 N^n - 1/2 N^{n-1}).

Optional 2/3 dealiasing (Orszag; ``dealias=True``, the default) zeroes the
nonlinear tendencies (advection and closure) at ``|k_x|`` or ``|k_y| >= n/3``;
then the retained modes form an exact Galerkin truncation (energy and
enstrophy both conserved by the inviscid, unforced system). The authors' code
does not dealias. The mean and the Nyquist modes are kept at zero.

Batched: a state holds ``B`` independent runs, ``(B, N, N)`` in physical space.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

from obliviate.core.errors import ConfigError
from obliviate.core.registry import Registry

TWO_PI = 2.0 * math.pi


@dataclass
class SolverParams:
    """Physical and numerical parameters (defaults: the paper's Re = 20,000 runs).

    Args:
        n: grid points per side (even).
        nu: viscosity (1 / Re).
        mu: linear drag.
        dt: time step.
        k_f: forcing wavenumber.
        beta: beta-plane parameter.
        forcing: amplitude ``A`` of ``F = A (cos k_f x + cos k_f y)``; ``None`` = ``-k_f`` (authors' code).
        dealias: 2/3-rule dealiasing of the nonlinear terms.
        blowup: ``|omega|`` above this flags a run as blown up (``Solver.blown_up``).
    """

    n: int = 64
    nu: float = 5e-5
    mu: float = 0.1
    dt: float = 5e-4
    k_f: int = 4
    beta: float = 0.0
    forcing: float | None = None
    dealias: bool = True
    blowup: float = 1e3

    def __post_init__(self) -> None:
        if self.n < 8 or self.n % 2:
            raise ConfigError(f"n must be an even number >= 8, got {self.n}")
        if self.nu < 0 or self.mu < 0:
            raise ConfigError(f"nu and mu must be >= 0, got nu={self.nu}, mu={self.mu}")
        if not self.dt > 0:
            raise ConfigError(f"dt must be > 0, got {self.dt}")
        if self.k_f < 0:
            raise ConfigError(f"k_f must be >= 0, got {self.k_f}")
        if self.amplitude != 0 and self.k_f >= self.n / 2:
            raise ConfigError(f"forcing wavenumber k_f={self.k_f} is not resolved on an n={self.n} grid "
                              f"(needs k_f < n/2); use a larger n")
        if self.dealias and self.amplitude != 0 and self.k_f >= self.n / 3:
            raise ConfigError(f"k_f={self.k_f} lies outside the 2/3-dealiased band (|k| < n/3 = {self.n / 3:.1f}); "
                              f"use dealias=False (as the authors do) or a larger n")
        if not self.blowup > 0:
            raise ConfigError(f"blowup must be > 0, got {self.blowup}")

    @property
    def amplitude(self) -> float:
        """The forcing amplitude A actually used."""
        return -float(self.k_f) if self.forcing is None else float(self.forcing)


@dataclass(frozen=True)
class Case:
    """One of the paper's three flows: forcing wavenumber, beta, and its reference-data folder."""

    name: str
    k_f: int
    beta: float
    folder: str
    authors_case: str

    def params(self, n: int = 64, **overrides) -> SolverParams:
        """``SolverParams`` of this case at resolution ``n`` (any field overridable)."""
        return SolverParams(**{"n": n, "k_f": self.k_f, "beta": self.beta, **overrides})


CASES: Registry[Case] = Registry("SMARL case")
for _c in (Case("k4", 4, 0.0, "Re20kf4", "1"), Case("k4-beta20", 4, 20.0, "Re20kf4beta20", "2"),
           Case("k25", 25, 0.0, "Re20kf25", "4")):
    CASES.register(_c.name, paper="Mojgani et al. 2023, arXiv 2312.00907",
                   summary=f"k_f={_c.k_f}, beta={_c.beta:g} (authors' case {_c.authors_case})")(_c)


def case(name: str) -> Case:
    """``"k4"``, ``"k4-beta20"`` or ``"k25"`` (case- and dash-insensitive); unknown names list the valid ones."""
    try:
        return CASES.get(name)
    except Exception as e:  # ObliviateError from the registry: re-raise as a config error
        raise ConfigError(str(e)) from None


class ClosureLike(Protocol):
    def pi_hat(self, solver: Solver, w_hat: torch.Tensor) -> torch.Tensor | None: ...


@dataclass
class State:
    """``B`` runs: spectral vorticity, the previous explicit tendency (AB2) and steps taken per run.

    Attributes:
        w_hat: ``(B, N, N//2+1)`` complex, ``rfft2`` of omega.
        prev: ``(B, N, N//2+1)`` complex, last step's explicit tendency.
        steps: ``(B,)`` int64; a run with 0 steps takes a forward-Euler first step.
    """

    w_hat: torch.Tensor
    prev: torch.Tensor
    steps: torch.Tensor

    @property
    def batch(self) -> int:
        return self.w_hat.shape[0]

    def __getitem__(self, index) -> State:
        if isinstance(index, int):
            index = slice(index, index + 1)
        return State(self.w_hat[index], self.prev[index], self.steps[index])

    def where(self, mask: torch.Tensor, other: State) -> State:
        """Per run: ``other`` where ``mask`` (B,) is true, else self (e.g. reset blown-up runs)."""
        m = mask.to(self.w_hat.device).view(-1, 1, 1)
        return State(torch.where(m, other.w_hat, self.w_hat), torch.where(m, other.prev, self.prev),
                     torch.where(mask, other.steps, self.steps))

    @staticmethod
    def cat(states: list[State]) -> State:
        return State(torch.cat([s.w_hat for s in states]), torch.cat([s.prev for s in states]),
                     torch.cat([s.steps for s in states]))


class Solver:
    """The time stepper and its spectral operators for one grid, dtype and device.

    Example:
        >>> solver = Solver(case("k4").params(n=64), dtype=torch.float32)
        >>> state = solver.initial_state(omega0)            # (B, 64, 64)
        >>> state = solver.step(state, closure, n_steps=10)
        >>> dead = solver.blown_up(state)                     # (B,) bool
    """

    def __init__(self, params: SolverParams, dtype: torch.dtype = torch.float64,
                 device: str | torch.device | None = None) -> None:
        if dtype not in (torch.float32, torch.float64):
            raise ConfigError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.params, self.dtype = params, dtype
        self.device = torch.device(device or "cpu")
        self.cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        n = self.n = params.n
        real = dict(dtype=dtype, device=self.device)
        self.kx = torch.fft.fftfreq(n, 1.0 / n, **real).view(n, 1)  # (N, 1)
        self.ky = torch.fft.rfftfreq(n, 1.0 / n, **real).view(1, n // 2 + 1)  # (1, N//2+1)
        self.k2 = self.kx**2 + self.ky**2  # (N, N//2+1)
        self.inv_k2 = torch.where(self.k2 > 0, 1.0 / self.k2.clamp_min(1.0), torch.zeros_like(self.k2))
        self.ikx, self.iky = 1j * self.kx.to(self.cdtype), 1j * self.ky.to(self.cdtype)
        keep = (self.kx.abs() < n / 2) & (self.ky < n / 2)
        self.keep = (keep & (self.k2 > 0)).to(dtype)  # state: no mean, no Nyquist
        band = keep & (self.kx.abs() < n / 3) & (self.ky < n / 3) if params.dealias else keep
        self.mask = band.to(dtype)  # nonlinear tendencies
        self.x = torch.arange(n, **real) * (TWO_PI / n)  # grid coordinates (x along dim -2, y along dim -1)
        xx, yy = self.x.view(n, 1), self.x.view(1, n)
        forcing = params.amplitude * (torch.cos(params.k_f * xx) + torch.cos(params.k_f * yy))
        self.forcing_hat = torch.fft.rfft2(forcing) * self.keep  # (N, N//2+1)
        dt = params.dt
        self._explicit = 1.0 - 0.5 * dt * params.nu * self.k2
        self._inv_implicit = 1.0 / (1.0 + dt * params.mu + 0.5 * dt * params.nu * self.k2)

    def __repr__(self) -> str:
        return f"Solver({self.params}, dtype={self.dtype}, device={self.device})"

    # -- transforms ---------------------------------------------------------------------------
    def to_spectral(self, omega: torch.Tensor) -> torch.Tensor:
        """``(B, N, N)`` real -> ``(B, N, N//2+1)`` complex, mean and Nyquist removed."""
        return torch.fft.rfft2(omega.to(device=self.device, dtype=self.dtype)) * self.keep

    def to_physical(self, f_hat: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft2(f_hat, s=(self.n, self.n))

    def omega(self, state: State) -> torch.Tensor:
        """Physical vorticity ``(B, N, N)``."""
        return self.to_physical(state.w_hat)

    def psi_hat(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Stream function: ``lap(psi) = omega``, i.e. ``psi^ = -omega^ / k^2``."""
        return -w_hat * self.inv_k2

    def velocity_hat(self, w_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(u^, v^)`` with ``u = -d psi/dy``, ``v = d psi/dx`` (curl = omega)."""
        psi = self.psi_hat(w_hat)
        return -self.iky * psi, self.ikx * psi

    def velocity(self, w_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u, v = self.velocity_hat(w_hat)
        return self.to_physical(u), self.to_physical(v)

    # -- right-hand side ------------------------------------------------------------------------
    def advection_hat(self, w_hat: torch.Tensor) -> torch.Tensor:
        """``J(psi, omega)^`` as (advective + conservative) / 2, dealiased."""
        u_hat, v_hat = self.velocity_hat(w_hat)
        u, v, w = self.to_physical(u_hat), self.to_physical(v_hat), self.to_physical(w_hat)
        wx, wy = self.to_physical(self.ikx * w_hat), self.to_physical(self.iky * w_hat)
        adv = torch.fft.rfft2(u * wx + v * wy)
        cons = self.ikx * torch.fft.rfft2(u * w) + self.iky * torch.fft.rfft2(v * w)
        return 0.5 * (adv + cons) * self.mask

    def tendency_hat(self, w_hat: torch.Tensor, closure: ClosureLike | None = None) -> torch.Tensor:
        """The explicit part ``N = -J + F + beta u - Pi`` (spectral, ``(B, N, N//2+1)``)."""
        rhs = self.forcing_hat - self.advection_hat(w_hat)
        if self.params.beta:
            rhs = rhs + self.params.beta * (-self.iky * self.psi_hat(w_hat))
        if closure is not None:
            pi = closure.pi_hat(self, w_hat)
            if pi is not None:
                rhs = rhs - pi * self.mask
        return rhs

    # -- time stepping --------------------------------------------------------------------------
    def initial_state(self, omega: torch.Tensor) -> State:
        """A state from physical vorticity ``(B, N, N)`` or ``(N, N)``; the mean is removed."""
        if omega.dim() == 2:
            omega = omega.unsqueeze(0)
        if omega.shape[-2:] != (self.n, self.n):
            raise ConfigError(f"initial field has shape {tuple(omega.shape[-2:])}, solver grid is "
                              f"{self.n}x{self.n}; resample it first (obliviate.smarl.resample)")
        w_hat = self.to_spectral(omega)
        return State(w_hat, torch.zeros_like(w_hat), torch.zeros(w_hat.shape[0], dtype=torch.long,
                                                                   device=self.device))

    def step(self, state: State, closure: ClosureLike | None = None, n_steps: int = 1) -> State:
        """Advance every run ``n_steps`` steps (AB2/CN); never raises on a blow-up (see ``blown_up``)."""
        w, prev, steps = state.w_hat, state.prev, state.steps
        dt = self.params.dt
        for _ in range(n_steps):
            nl = self.tendency_hat(w, closure)
            first = (steps == 0).view(-1, 1, 1)
            a = torch.where(first, 1.0, 1.5).to(self.dtype)
            b = torch.where(first, 0.0, -0.5).to(self.dtype)
            w = (self._explicit * w + dt * (a * nl + b * prev)) * self._inv_implicit * self.keep
            prev, steps = nl, steps + 1
        return State(w, prev, steps)

    def blown_up(self, state: State, bound: float | None = None) -> torch.Tensor:
        """``(B,)`` bool: the run holds a non-finite value or ``max |omega| > bound`` (default ``params.blowup``)."""
        bound = self.params.blowup if bound is None else bound
        bad = ~torch.isfinite(torch.view_as_real(state.w_hat)).flatten(1).all(dim=1)
        with torch.no_grad():
            big = self.omega(state).abs().flatten(1).amax(dim=1) > bound
        return bad | big

    def time(self, state: State) -> torch.Tensor:
        """``(B,)`` simulated time of each run."""
        return state.steps.to(self.dtype) * self.params.dt


# -- diagnostics on physical fields (B, N, N) -------------------------------------------------------
def _k_full(n: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    k = torch.fft.fftfreq(n, 1.0 / n, dtype=like.dtype, device=like.device)
    return k.view(n, 1), k.view(1, n)


def _real_dtype(omega: torch.Tensor) -> torch.Tensor:
    return omega if omega.is_floating_point() else omega.to(torch.float64)


def energy(omega: torch.Tensor) -> torch.Tensor:
    """Kinetic energy ``<|u|^2>/2`` per run, ``(B,)`` (domain mean)."""
    omega = _real_dtype(omega)
    n = omega.shape[-1]
    kx, ky = _k_full(n, omega)
    p = torch.fft.fft2(omega).abs() ** 2 / n**4
    k2 = kx**2 + ky**2
    return 0.5 * (p * torch.where(k2 > 0, 1.0 / k2.clamp_min(1.0), 0.0)).flatten(1).sum(1)


def enstrophy(omega: torch.Tensor) -> torch.Tensor:
    """Enstrophy ``<omega^2>/2`` per run, ``(B,)``."""
    omega = _real_dtype(omega)
    return 0.5 * (omega - omega.mean(dim=(-2, -1), keepdim=True)).pow(2).flatten(1).mean(1)


SPECTRUM_KINDS = ("enstrophy", "energy")
SPECTRUM_HOWS = ("xy", "x", "y", "shell")


def spectrum(omega: torch.Tensor, kind: str = "enstrophy", how: str = "xy") -> torch.Tensor:
    """Spectrum ``(B, N//2)`` at k = 0 .. N/2-1, in the reference files' normalisation.

    With ``c = fft2(omega) / N^2`` (x = first index) and ``P = |c|^2 / 2`` (enstrophy) or
    ``P = |c|^2 / k^2`` (energy: the authors' code has no 1/2 here):

    - ``x``: ``S(k) = sum_{k_x} P(k_x, k_y = k)``; ``y``: ``S(k) = sum_{k_y} P(k_x = k, k_y)``;
    - ``xy`` (the ``*_DNS1024_xy.dat`` files, the reward's spectrum): ``(S_x + S_y) / 2``;
    - ``shell``: the isotropic shell sum over ``k - 1/2 <= |k| < k + 1/2`` with ``|c|^2/2`` and
      ``|c|^2/(2 k^2)``, so that summed over all shells it gives ``enstrophy`` / ``energy`` exactly.
    """
    if kind not in SPECTRUM_KINDS:
        raise ConfigError(f"unknown spectrum kind {kind!r}; choose one of {', '.join(SPECTRUM_KINDS)}")
    if how not in SPECTRUM_HOWS:
        raise ConfigError(f"unknown spectrum type {how!r}; choose one of {', '.join(SPECTRUM_HOWS)}")
    omega = _real_dtype(omega)
    if omega.dim() == 2:
        omega = omega.unsqueeze(0)
    n = omega.shape[-1]
    kx, ky = _k_full(n, omega)
    k2 = kx**2 + ky**2
    inv_k2 = torch.where(k2 > 0, 1.0 / k2.clamp_min(1.0), 0.0)
    c2 = torch.fft.fft2(omega).abs() ** 2 / n**4  # (B, N, N)
    h = n // 2
    if how == "shell":
        p = 0.5 * c2 * (inv_k2 if kind == "energy" else 1.0)
        idx = torch.floor(k2.sqrt() + 0.5).long().expand(n, n)
        inside = idx < h
        out = torch.zeros(omega.shape[0], h, dtype=omega.dtype, device=omega.device)
        return out.index_add_(1, idx[inside], p[:, inside])
    p = c2 * inv_k2 if kind == "energy" else 0.5 * c2
    s_x = p.sum(dim=-2)[:, :h]  # sum over k_x at k_y = k
    s_y = p.sum(dim=-1)[:, :h]  # sum over k_y at k_x = k
    return {"x": s_x, "y": s_y, "xy": 0.5 * (s_x + s_y)}[how]


def vorticity_pdf(omega: torch.Tensor, bins: int = 101, limit: float | None = None,
                  standardize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Histogram PDF of all the values given (any shape): ``(centres, density)``, integral 1.

    Args:
        bins: number of bins.
        limit: the histogram spans ``[-limit, limit]`` (default: the largest ``|value|``).
        standardize: divide by the standard deviation first (``omega / std``), so runs of
            different intensity compare; the reference PDF files are in raw omega units.
    """
    x = _real_dtype(omega).flatten()
    if standardize:
        x = (x - x.mean()) / x.std()
    lim = float(x.abs().max()) if limit is None else float(limit)
    hist = torch.histc(x, bins=bins, min=-lim, max=lim)
    width = 2 * lim / bins
    centres = -lim + width * (torch.arange(bins, dtype=x.dtype, device=x.device) + 0.5)
    return centres, hist / (hist.sum() * width)


# -- fields ------------------------------------------------------------------------------------------
def resample(omega: torch.Tensor, n: int) -> torch.Tensor:
    """Spectral resampling of ``(..., M, M)`` fields to ``(..., n, n)``: zero-padding up, sharp cut-off down.

    Values are preserved (not energies per mode rescaled); the Nyquist modes are dropped.
    """
    m = omega.shape[-1]
    if m == n:
        return omega.clone()
    w = torch.fft.rfft2(omega)
    out = torch.zeros(*omega.shape[:-2], n, n // 2 + 1, dtype=w.dtype, device=w.device)
    k = min(m, n) // 2
    out[..., :k, :k] = w[..., :k, :k]
    out[..., n - k + 1:, :k] = w[..., m - k + 1:, :k]
    return torch.fft.irfft2(out, s=(n, n)) * (n / m) ** 2


def random_vorticity(n: int, batch: int = 1, k_peak: float = 10.0, rms: float = 5.0,
                     seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Random-phase fields ``(batch, n, n)``, ``E(k) ~ k^4 exp(-(k/k_peak)^2)`` (the authors' IC), rms omega ``rms``."""
    g = torch.Generator().manual_seed(seed)
    kx = torch.fft.fftfreq(n, 1.0 / n, dtype=torch.float64).view(n, 1)
    ky = torch.fft.rfftfreq(n, 1.0 / n, dtype=torch.float64).view(1, -1)
    k = (kx**2 + ky**2).sqrt()
    amp = (k**4 * torch.exp(-((k / k_peak) ** 2))).sqrt() * k  # |omega^| ~ k sqrt(E(k)/k)
    amp = amp * ((kx.abs() < n / 2) & (ky < n / 2))
    phase = torch.rand(batch, *amp.shape, generator=g, dtype=torch.float64) * TWO_PI
    w = torch.fft.irfft2(amp * torch.exp(1j * phase), s=(n, n))
    w = w - w.mean(dim=(-2, -1), keepdim=True)
    return (w * rms / w.flatten(1).std(dim=1).view(-1, 1, 1)).to(dtype)
