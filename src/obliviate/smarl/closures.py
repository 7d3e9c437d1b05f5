"""Eddy-viscosity closures for the SMARL solver, and the agents' interface to them.

SMARL (Mojgani et al., arXiv 2312.00907). The subgrid term of the vorticity
equation is ``Pi = curl div tau`` with ``tau_ij = -2 nu_e S_ij``:

    Pi^ = k_x k_y (tau11^ - tau22^) - (k_x^2 - k_y^2) tau12^,

``S`` the strain rate of the velocity whose curl is omega (``u = -psi_y``,
``v = psi_x``), so that a constant ``nu_e`` gives ``Pi = -nu_e lap(omega)``:
``-Pi`` dissipates. (The authors' code takes ``S`` from ``u = psi_y`` while its
``psi = -omega/k^2``, which flips the sign of Pi; ours is the dissipative one.)

Eddy viscosities, ``Delta = 2 pi / N`` and ``c`` a number or a field ``c(x, y)``:

- Smagorinsky ``nu_e = c Delta^2 |S|``, ``|S| = sqrt(2 S_ij S_ij)``; static: ``c = C_S^2``, ``C_S = 0.11``;
- Leith ``nu_e = c Delta^3 |grad omega|``; static: ``c = C_L^3``, ``C_L = 0.17``;
- by default ``|S|`` is its domain RMS and ``|grad omega|`` its domain mean, one number per run,
  times the local ``c(x, y)`` (the authors' code); ``local=True`` uses the local values;
- dynamic Smagorinsky (Germano et al. 1991, Lilly 1992): ``c = <L_ij M_ij> / <M_ij M_ij>`` per run
  (domain averages, clipped at >= 0), sharp spectral test filter at ``2 Delta``, local ``|S|``.

The agents: 16 agents on a 4x4 lattice each give one value; ``lattice_to_field``
interpolates them (trigonometric, periodic, exact at the lattice points) to
``c(x, y)``, which ``FieldClosure`` turns into Pi. ``agent_states`` gives each
agent the invariants of the velocity gradient and of the second-derivative
matrix at its lattice point; ``log_enstrophy_spectrum`` the global state.
"""

from __future__ import annotations

import math

import torch

from obliviate.core.errors import ConfigError
from obliviate.core.registry import Registry
from obliviate.smarl.solver import Solver, spectrum

C_SMAGORINSKY = 0.11
C_LEITH = 0.17
FORMS = ("smagorinsky", "leith")

CLOSURES: Registry[type] = Registry("SMARL closure")


def delta(n: int) -> float:
    """Grid filter width ``2 pi / N``."""
    return 2 * math.pi / n


def strain(solver: Solver, w_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(S11, S12)`` in physical space, ``(B, N, N)`` each (``S22 = -S11``)."""
    psi = solver.psi_hat(w_hat)
    s11 = solver.to_physical(solver.kx * solver.ky * psi)  # u_x = -psi_xy
    s12 = solver.to_physical(0.5 * (solver.ky**2 - solver.kx**2) * psi)  # (u_y + v_x)/2 = (psi_xx - psi_yy)/2
    return s11, s12


def strain_magnitude(s11: torch.Tensor, s12: torch.Tensor) -> torch.Tensor:
    """``|S| = sqrt(2 S_ij S_ij) = 2 sqrt(S11^2 + S12^2)``."""
    return 2.0 * (s11**2 + s12**2).sqrt()


def grad_omega_magnitude(solver: Solver, w_hat: torch.Tensor) -> torch.Tensor:
    wx, wy = solver.to_physical(solver.ikx * w_hat), solver.to_physical(solver.iky * w_hat)
    return (wx**2 + wy**2).sqrt()


def pi_hat_from_tau(solver: Solver, t11: torch.Tensor, t12: torch.Tensor, t22: torch.Tensor) -> torch.Tensor:
    """``(curl div tau)^ = k_x k_y (tau11^ - tau22^) - (k_x^2 - k_y^2) tau12^`` from physical ``tau``."""
    kx, ky = solver.kx, solver.ky
    return kx * ky * torch.fft.rfft2(t11 - t22) - (kx**2 - ky**2) * torch.fft.rfft2(t12)


def pi_hat_from_nu(solver: Solver, w_hat: torch.Tensor, nu_e: torch.Tensor) -> torch.Tensor:
    """Pi^ for ``tau = -2 nu_e S``; ``nu_e`` is ``(B, 1, 1)`` (one per run: ``nu_e k^2 omega^``) or ``(B, N, N)``."""
    nu_e = nu_e.to(device=solver.device, dtype=solver.dtype)
    if nu_e.shape[-2:] == (1, 1):
        return nu_e * solver.k2 * w_hat
    s11, s12 = strain(solver, w_hat)
    return pi_hat_from_tau(solver, -2 * nu_e * s11, -2 * nu_e * s12, 2 * nu_e * s11)


def eddy_viscosity(solver: Solver, w_hat: torch.Tensor, c: torch.Tensor | float, form: str = "smagorinsky",
                   local: bool = False) -> torch.Tensor:
    """``nu_e = c Delta^2 |S|`` or ``c Delta^3 |grad omega|``: ``(B, 1, 1)`` or ``(B, N, N)``.

    ``c`` is a number, ``(B,)``, or a field ``(B, N, N)``; with ``local=False`` the flow
    factor is the domain RMS of ``|S|`` / the domain mean of ``|grad omega|`` (authors' code).
    """
    if form not in FORMS:
        raise ConfigError(f"unknown eddy-viscosity form {form!r}; choose one of {', '.join(FORMS)}")
    d = delta(solver.n)
    if form == "smagorinsky":
        g = strain_magnitude(*strain(solver, w_hat))
        g = g if local else g.pow(2).mean(dim=(-2, -1), keepdim=True).sqrt()
        scale = d**2
    else:
        g = grad_omega_magnitude(solver, w_hat)
        g = g if local else g.mean(dim=(-2, -1), keepdim=True)
        scale = d**3
    c = torch.as_tensor(c, dtype=solver.dtype, device=solver.device)
    if c.dim() == 1:
        c = c.view(-1, 1, 1)
    return c * scale * g


class Closure:
    """A closure: ``pi_hat(solver, w_hat) -> (B, N, N//2+1)`` or None (no closure)."""

    name = "closure"

    def pi_hat(self, solver: Solver, w_hat: torch.Tensor) -> torch.Tensor | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not isinstance(v, torch.Tensor))
        return f"{type(self).__name__}({fields})"


@CLOSURES.register("none", summary="no closure (Pi = 0)")
class NoClosure(Closure):
    """No subgrid model."""

    name = "none"

    def pi_hat(self, solver: Solver, w_hat: torch.Tensor) -> None:
        return None


@CLOSURES.register("smagorinsky", paper="Smagorinsky 1963", summary="static, nu_e = C_S^2 Delta^2 |S|, C_S = 0.11")
class Smagorinsky(Closure):
    """Static Smagorinsky, ``nu_e = C_S^2 Delta^2 |S|``."""

    name = "smagorinsky"

    def __init__(self, c_s: float = C_SMAGORINSKY, local: bool = False) -> None:
        self.c_s, self.local = c_s, local

    def pi_hat(self, solver: Solver, w_hat: torch.Tensor) -> torch.Tensor:
        return pi_hat_from_nu(solver, w_hat, eddy_viscosity(solver, w_hat, self.c_s**2, "smagorinsky", self.local))


@CLOSURES.register("leith", paper="Leith 1996", summary="static, nu_e = C_L^3 Delta^3 |grad omega|, C_L = 0.17")
class Leith(Closure):
    """Static Leith, ``nu_e = C_L^3 Delta^3 |grad omega|``."""

    name = "leith"

    def __init__(self, c_l: float = C_LEITH, local: bool = False) -> None:
        self.c_l, self.local = c_l, local

    def pi_hat(self, solver: Solver, w_hat: torch.Tensor) -> torch.Tensor:
        return pi_hat_from_nu(solver, w_hat, eddy_viscosity(solver, w_hat, self.c_l**3, "leith", self.local))


@CLOSURES.register("dynamic-smagorinsky", paper="Germano et al. 1991; Lilly 1992",
                   summary="Germano identity, least-squares coefficient per run, clipped >= 0")
class DynamicSmagorinsky(Closure):
    """Dynamic Smagorinsky: ``c = <L:M>/<M:M>`` per run, ``nu_e = c Delta^2 |S|`` (local ``|S|``).

    ``L_ij = F(u_i u_j) - F(u_i) F(u_j)`` (traceless part), ``M_ij = 2 Delta^2 F(|S| S_ij)
    - 2 (r Delta)^2 |S(F u)| S_ij(F u)``, ``F`` a sharp spectral filter keeping
    ``|k_x|, |k_y| < N / (2 r)`` (test filter width ``r Delta``, ``r = 2``).
    """

    name = "dynamic-smagorinsky"

    def __init__(self, ratio: float = 2.0, clip: bool = True) -> None:
        if ratio <= 1:
            raise ConfigError(f"test-filter ratio must be > 1, got {ratio}")
        self.ratio, self.clip = ratio, clip

    def coefficient(self, solver: Solver, w_hat: torch.Tensor, clip: bool | None = None) -> torch.Tensor:
        """``(B,)`` the least-squares coefficient (``C_S^2`` equivalent)."""
        clip = self.clip if clip is None else clip
        cut = solver.n / (2 * self.ratio)
        test = ((solver.kx.abs() < cut) & (solver.ky < cut)).to(solver.dtype)

        def filt(f: torch.Tensor) -> torch.Tensor:
            return solver.to_physical(torch.fft.rfft2(f) * test)

        u_hat, v_hat = solver.velocity_hat(w_hat)
        u, v = solver.to_physical(u_hat), solver.to_physical(v_hat)
        s11, s12 = strain(solver, w_hat)
        s = strain_magnitude(s11, s12)
        s11_t, s12_t = strain(solver, w_hat * test)
        s_t = strain_magnitude(s11_t, s12_t)
        uf, vf = filt(u), filt(v)
        l11, l22, l12 = filt(u * u) - uf * uf, filt(v * v) - vf * vf, filt(u * v) - uf * vf
        l11d = 0.5 * (l11 - l22)  # traceless part: L11^d = -L22^d
        d2, dt2 = delta(solver.n) ** 2, (self.ratio * delta(solver.n)) ** 2
        m11 = 2 * d2 * filt(s * s11) - 2 * dt2 * s_t * s11_t
        m12 = 2 * d2 * filt(s * s12) - 2 * dt2 * s_t * s12_t
        lm = (2 * l11d * m11 + 2 * l12 * m12).flatten(1).sum(1)  # L:M with M22 = -M11
        mm = (2 * m11 * m11 + 2 * m12 * m12).flatten(1).sum(1)
        c = lm / mm.clamp_min(torch.finfo(solver.dtype).tiny)
        return c.clamp_min(0.0) if clip else c

    def pi_hat(self, solver: Solver, w_hat: torch.Tensor) -> torch.Tensor:
        c = self.coefficient(solver, w_hat).view(-1, 1, 1)
        return pi_hat_from_nu(solver, w_hat, eddy_viscosity(solver, w_hat, c, "smagorinsky", local=True))


@CLOSURES.register("field", summary="a per-point coefficient c(x, y) in Smagorinsky or Leith form (the agents')")
class FieldClosure(Closure):
    """``nu_e = c(x, y) Delta^p G``: the learned closure. Set ``closure.c`` (``(B, N, N)``) between steps.

    Args:
        c: coefficient field ``(B, N, N)`` (``C_S^2`` or ``C_L^3`` units; the paper's actions
            lie in ``[-0.125, 0.125]``), ``(B,)`` or a number.
        form: ``smagorinsky`` (``G = |S|``, ``p = 2``) or ``leith`` (``G = |grad omega|``, ``p = 3``).
        local: local ``G`` instead of its domain aggregate.
    """

    name = "field"

    def __init__(self, c: torch.Tensor | float = 0.0, form: str = "leith", local: bool = False) -> None:
        if form not in FORMS:
            raise ConfigError(f"unknown eddy-viscosity form {form!r}; choose one of {', '.join(FORMS)}")
        self.c, self.form, self.local = c, form, local

    def pi_hat(self, solver: Solver, w_hat: torch.Tensor) -> torch.Tensor:
        return pi_hat_from_nu(solver, w_hat, eddy_viscosity(solver, w_hat, self.c, self.form, self.local))


def make_closure(name: str, **kwargs) -> Closure:
    """A closure by registry name (``none``, ``smagorinsky``, ``leith``, ``dynamic-smagorinsky``, ``field``)."""
    try:
        cls = CLOSURES.get(name)
    except Exception as e:
        raise ConfigError(str(e)) from None
    return cls(**kwargs)


# -- agents ------------------------------------------------------------------------------------------
def _cardinal(n: int, m: int, dtype: torch.dtype, device: torch.device | None) -> torch.Tensor:
    """``(n, m)``: periodic trigonometric cardinal functions of m lattice points, at n grid points."""
    x = torch.arange(n, dtype=dtype, device=device).view(n, 1) * (2 * math.pi / n)
    xi = torch.arange(m, dtype=dtype, device=device).view(1, m) * (2 * math.pi / m)
    d = x - xi
    out = torch.ones_like(d)
    for k in range(1, (m + 1) // 2):
        out = out + 2 * torch.cos(k * d)
    if m % 2 == 0:
        out = out + torch.cos((m // 2) * d)  # the lattice's Nyquist mode, split evenly between +-m/2
    return out / m


def lattice_to_field(values: torch.Tensor, n: int) -> torch.Tensor:
    """``(B, m, m)`` agent values -> ``(B, n, n)`` smooth periodic field.

    Trigonometric interpolation: the field is the unique sum of Fourier modes
    ``|k_x|, |k_y| <= m/2`` (Nyquist split as a cosine) through the values at the lattice
    points ``(2 pi i / m, 2 pi j / m)`` = grid indices ``(i n/m, j n/m)``, i along x. It is band-
    limited to ``k <= m/2`` (2 for 4x4), so ``c(x, y)`` times a flow field adds no aliasing beyond that.
    Between the points it may overshoot the values' range slightly.
    """
    if values.dim() != 3 or values.shape[-1] != values.shape[-2]:
        raise ConfigError(f"values must be (B, m, m), got {tuple(values.shape)}")
    dtype = values.dtype if values.is_floating_point() else torch.float64
    a = _cardinal(n, values.shape[-1], dtype, values.device)
    return torch.einsum("xi,bij,yj->bxy", a, values.to(dtype), a)


def agent_indices(n: int, n_agents_side: int = 4) -> torch.Tensor:
    """Grid indices ``(m,)`` of the lattice points along each axis (``i n / m``, as the authors' ``pickcenter``)."""
    return torch.arange(n_agents_side) * n // n_agents_side


def _invariants(a11, a12, a21, a22) -> list[torch.Tensor]:
    """``[tr S, tr S^2, tr R^2]`` of a 2x2 matrix A, ``S``/``R`` its (anti)symmetric parts (authors' ``invariant``)."""
    s12, r12 = 0.5 * (a12 + a21), 0.5 * (a12 - a21)
    return [a11 + a22, a11**2 + a22**2 + 2 * s12**2, -2 * r12**2]


def agent_states(omega: torch.Tensor, n_agents_side: int = 4) -> torch.Tensor:
    """Local state of each agent, ``(B, m*m, 6)``; agent ``a = i*m + j`` sits at grid point ``(i n/m, j n/m)``.

    The six numbers: ``[tr S, tr S^2, tr R^2]`` of the velocity gradient
    ``[[u_x, u_y], [v_x, v_y]]`` and of the second-derivative matrix ``[[u_xx, v_xx], [u_yy, v_yy]]``
    (the authors' ``invariantlocalandglobalgradgrad`` state; ``tr`` of the velocity gradient is 0 by
    continuity). Velocity ``u = -psi_y, v = psi_x`` (curl = omega): the authors use its negative,
    which flips the sign of the 4th number only.
    """
    omega = omega if omega.is_floating_point() else omega.to(torch.float64)
    if omega.dim() == 2:
        omega = omega.unsqueeze(0)
    n = omega.shape[-1]
    dtype = omega.dtype
    kx = torch.fft.fftfreq(n, 1.0 / n, dtype=dtype, device=omega.device).view(n, 1)
    ky = torch.fft.rfftfreq(n, 1.0 / n, dtype=dtype, device=omega.device).view(1, -1)
    k2 = kx**2 + ky**2
    keep = (kx.abs() < n / 2) & (ky < n / 2) & (k2 > 0)
    psi = torch.where(keep, -torch.fft.rfft2(omega) / k2.clamp_min(1.0), 0)
    u_hat, v_hat = -1j * ky * psi, 1j * kx * psi
    idx = agent_indices(n, n_agents_side).to(omega.device)

    def at_agents(f_hat: torch.Tensor) -> torch.Tensor:  # (B, N, N//2+1) -> (B, m*m)
        f = torch.fft.irfft2(f_hat, s=(n, n))
        return f[:, idx][:, :, idx].flatten(1)

    dx, dy = 1j * kx, 1j * ky
    grad = [at_agents(d * f) for f in (u_hat, v_hat) for d in (dx, dy)]  # u_x, u_y, v_x, v_y
    hess = [at_agents(dx * dx * u_hat), at_agents(dx * dx * v_hat),
            at_agents(dy * dy * u_hat), at_agents(dy * dy * v_hat)]  # u_xx, v_xx, u_yy, v_yy
    return torch.stack(_invariants(*grad) + _invariants(*hess), dim=-1)


def log_enstrophy_spectrum(omega: torch.Tensor, floor: float = 1e-30) -> torch.Tensor:
    """The global state: ``log`` of the xy enstrophy spectrum, ``(B, N/2)`` (floored, so never -inf)."""
    return spectrum(omega, "enstrophy", "xy").clamp_min(floor).log()
