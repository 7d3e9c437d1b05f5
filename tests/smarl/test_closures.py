"""SMARL's closures (``obliviate.smarl.closures``): the closure term against finite differences, dissipation,
the dynamic coefficient, the agents' lattice and states."""

from __future__ import annotations

import math

import pytest
import torch

from obliviate.smarl import (
    DynamicSmagorinsky,
    FieldClosure,
    Leith,
    Solver,
    agent_states,
    case,
    lattice_to_field,
    log_enstrophy_spectrum,
    random_vorticity,
    resample,
)
from obliviate.smarl.closures import pi_hat_from_tau
from tests.smarl.helpers import dx, dy, params, smooth_field

torch.set_num_threads(1)


def test_pi_against_finite_differences():
    n = 64
    s = Solver(params(n=n, dealias=False))
    w = smooth_field(n)
    w_hat = s.to_spectral(w)
    c = lattice_to_field(torch.rand(1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)), n)
    closure = FieldClosure(c, form="leith")  # nu_e = c(x, y) * const: band-limited, no aliasing
    pi = s.to_physical(closure.pi_hat(s, w_hat))
    # independent route: u, v, S, tau and curl div tau by 8th-order finite differences
    psi = s.to_physical(s.psi_hat(w_hat))
    u, v = -dy(psi), dx(psi)
    s11, s12 = dx(u), 0.5 * (dy(u) + dx(v))
    gw = (dx(w) ** 2 + dy(w) ** 2).sqrt().mean()
    nu_e = c * (2 * math.pi / n) ** 3 * gw
    t11, t12, t22 = -2 * nu_e * s11, -2 * nu_e * s12, 2 * nu_e * s11
    fx, fy = dx(t11) + dy(t12), dx(t12) + dy(t22)
    pi_fd = dx(fy) - dy(fx)
    assert torch.allclose(pi, pi_fd, atol=1e-5 * float(pi_fd.abs().max()))
    # the spectral formula itself on an arbitrary smooth tensor
    a, b, e = smooth_field(n), smooth_field(n).roll(5, -1), smooth_field(n).roll(3, -2) ** 2
    direct = s.to_physical(pi_hat_from_tau(s, a, b, e))
    fd = dx(dx(b) + dy(e)) - dy(dx(a) + dy(b))
    assert torch.allclose(direct, fd, atol=1e-5 * float(fd.abs().max()))


def test_constant_eddy_viscosity_is_dissipative():
    s = Solver(params(n=32, dealias=False))
    w_hat = s.to_spectral(smooth_field(32))
    leith = Leith()
    scalar = leith.pi_hat(s, w_hat)  # (B, 1, 1) shortcut: nu_e k^2 omega^
    field = FieldClosure(torch.full((1, 32, 32), leith.c_l**3, dtype=torch.float64), form="leith").pi_hat(s, w_hat)
    assert torch.allclose(scalar, field, atol=1e-10 * float(scalar.abs().max()))
    # -Pi = nu_e lap(omega): enstrophy tendency -<omega Pi> < 0
    assert float((s.to_physical(w_hat) * s.to_physical(scalar)).sum()) > 0


# (g) dynamic Smagorinsky
def test_dynamic_smagorinsky_coefficient_is_nonnegative():
    n = 64
    s = Solver(case("k4").params(n=n))
    w = torch.cat([random_vorticity(n, 2, rms=5.0, seed=4), -smooth_field(n)])
    dyn = DynamicSmagorinsky()
    w_hat = s.to_spectral(w)
    c = dyn.coefficient(s, w_hat)
    raw = dyn.coefficient(s, w_hat, clip=False)
    assert c.shape == (3,) and torch.isfinite(c).all() and (c >= 0).all()
    assert torch.equal(c, raw.clamp_min(0))
    assert float(raw[0]) > 0  # forward scatter on a broadband field
    assert torch.isfinite(s.to_physical(dyn.pi_hat(s, w_hat))).all()


def test_lattice_interpolation_and_agent_states():
    vals = torch.randn(2, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    field = lattice_to_field(vals, 32)
    assert field.shape == (2, 32, 32)
    assert torch.allclose(field[:, ::8, ::8], vals, atol=1e-12)  # exact at the lattice points
    assert torch.allclose(resample(resample(field, 8), 32), field, atol=1e-12)  # band-limited: smooth, periodic
    w = random_vorticity(32, 2, seed=8)
    st = agent_states(w)
    assert st.shape == (2, 16, 6) and torch.isfinite(st).all()
    assert st[..., 0].abs().max() < 1e-9  # trace of the velocity gradient: continuity
    assert (st[..., 1] >= 0).all() and (st[..., 2] <= 0).all()
    s = Solver(params(n=32))
    u, v = s.velocity(s.to_spectral(w))
    i, j = 8, 16  # agent (1, 2) -> index 1*4 + 2
    ux, uy, vx = (s.to_physical(k * torch.fft.rfft2(f)) for k, f in ((s.ikx, u), (s.iky, u), (s.ikx, v)))
    expected = 2 * ux[0, i, j] ** 2 + 0.5 * (uy[0, i, j] + vx[0, i, j]) ** 2  # tr S^2 = u_x^2 + v_y^2 + 2 S12^2
    assert float(st[0, 6, 1]) == pytest.approx(float(expected), rel=1e-9)
    assert float(st[0, 6, 2]) == pytest.approx(float(-0.5 * (uy[0, i, j] - vx[0, i, j]) ** 2), rel=1e-9)
    assert log_enstrophy_spectrum(w).shape == (2, 16)
