"""SMARL solver, closures and reference data: exact solutions, conservation, finite differences, batching."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch

from obliviate.core.errors import ConfigError, DataError
from obliviate.smarl import (
    DynamicSmagorinsky,
    FieldClosure,
    Leith,
    Smagorinsky,
    Solver,
    SolverParams,
    agent_states,
    case,
    energy,
    enstrophy,
    lattice_to_field,
    load_initial_fields,
    load_spectrum,
    log_enstrophy_spectrum,
    make_closure,
    random_vorticity,
    resample,
    spectrum,
    spectrum_reward,
    vorticity_pdf,
)
from obliviate.smarl.closures import pi_hat_from_tau

torch.set_num_threads(1)


def grid(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    return x.view(n, 1).expand(n, n), x.view(1, n).expand(n, n)


def smooth_field(n: int) -> torch.Tensor:
    """A sum of a few low Fourier modes, (1, n, n)."""
    x, y = grid(n)
    return (torch.cos(x + 2 * y) + 0.7 * torch.sin(2 * x - y + 0.3) + 0.5 * torch.cos(3 * y - 1.0)
            + 0.4 * torch.sin(x)).unsqueeze(0)


# 8th-order central first derivative on the periodic grid
_FD = (4 / 5, -1 / 5, 4 / 105, -1 / 280)


def d(f: torch.Tensor, dim: int) -> torch.Tensor:
    h = 2 * math.pi / f.shape[dim]
    return sum(c * (f.roll(-s, dim) - f.roll(s, dim)) for s, c in enumerate(_FD, start=1)) / h


def dx(f):
    return d(f, -2)


def dy(f):
    return d(f, -1)


def params(**kw) -> SolverParams:
    return SolverParams(**{"n": 32, **kw})


# (a) a single Fourier mode decays at exp(-(nu k^2 + mu) t)
def test_single_mode_decays_at_the_exact_rate():
    errs = []
    for dt in (1e-2, 5e-3):
        p = params(nu=0.01, mu=0.1, dt=dt, forcing=0.0)
        s = Solver(p)
        x, y = grid(p.n)
        w0 = torch.cos(3 * x + 2 * y).unsqueeze(0)
        steps = round(1.0 / dt)
        w = s.omega(s.step(s.initial_state(w0), n_steps=steps))
        k2 = 13.0
        g = (1 - 0.5 * dt * p.nu * k2) / (1 + dt * p.mu + 0.5 * dt * p.nu * k2)
        assert torch.allclose(w, w0 * g**steps, atol=1e-13)  # the scheme's own amplification, exactly
        exact = w0 * math.exp(-(p.nu * k2 + p.mu) * 1.0)
        errs.append(float((w - exact).abs().max() / exact.abs().max()))
    assert errs[0] < 1e-3
    assert 1.8 < errs[0] / errs[1] < 4.2  # first order (backward-Euler drag) to second order


def test_beta_term_is_a_rossby_wave():
    p = params(nu=0.0, mu=0.0, dt=1e-3, beta=20.0, forcing=0.0)
    s = Solver(p)
    x, y = grid(p.n)
    kx, ky = 1, 2
    w0 = torch.cos(kx * x + ky * y).unsqueeze(0)
    t = 0.2
    w = s.omega(s.step(s.initial_state(w0), n_steps=round(t / p.dt)))
    # d omega/dt = beta u = -beta psi_y, psi = -omega/k^2: omega = cos(k.x + beta k_y t / k^2)
    exact = torch.cos(kx * x + ky * y + p.beta * ky * t / (kx**2 + ky**2)).unsqueeze(0)
    assert float((w - exact).abs().max()) < 1e-3


# (b) the inviscid, unforced, undamped truncated system conserves energy and enstrophy
@pytest.mark.parametrize("dealias", [True, False])
def test_inviscid_system_conserves_energy_and_enstrophy(dealias):
    n = 32
    w0 = random_vorticity(n, 1, k_peak=4.0, rms=2.0, seed=1)
    w0 = resample(resample(w0, 20), n)  # band-limited to |k| < 10 < n/3: an exact Galerkin truncation
    drifts = []
    for dt in (4e-3, 2e-3):
        s = Solver(params(n=n, nu=0.0, mu=0.0, forcing=0.0, dt=dt, dealias=dealias))
        w = s.omega(s.step(s.initial_state(w0), n_steps=round(0.6 / dt)))
        de = float((energy(w) / energy(w0) - 1).abs())
        dz = float((enstrophy(w) / enstrophy(w0) - 1).abs())
        drifts.append((de, dz))
    (e1, z1), (e2, z2) = drifts
    assert z1 < 1e-3 and z1 / z2 > 3  # the skew-symmetric form conserves enstrophy with or without dealiasing
    if dealias:
        assert e1 < 1e-3 and e1 / e2 > 3  # energy: only the dealiased (Galerkin) system conserves it exactly


# (c) steady Kolmogorov flow
def test_steady_kolmogorov_flow():
    p = case("k4").params(n=32)
    s = Solver(p)
    a = p.amplitude / (p.nu * p.k_f**2 + p.mu)  # forcing = (nu k_f^2 + mu) omega, J = 0 on one shell
    x, y = grid(p.n)
    w0 = (a * (torch.cos(p.k_f * x) + torch.cos(p.k_f * y))).unsqueeze(0)
    w = s.omega(s.step(s.initial_state(w0), n_steps=200))
    assert float((w - w0).abs().max()) < 1e-9 * abs(a)
    off = s.omega(s.step(s.initial_state(1.1 * w0), n_steps=200))  # the wrong amplitude is not steady
    assert float((off - 1.1 * w0).abs().max()) > 1e-3 * abs(a)


# (d) Poisson solve and closure term against finite differences
def test_poisson_and_velocity_against_finite_differences():
    s = Solver(params(n=64))
    w = smooth_field(64)
    w_hat = s.to_spectral(w)
    psi = s.to_physical(s.psi_hat(w_hat))
    assert torch.allclose(dx(dx(psi)) + dy(dy(psi)), w - w.mean(), atol=1e-6)
    u, v = s.velocity(w_hat)
    assert torch.allclose(u, -dy(psi), atol=1e-6) and torch.allclose(v, dx(psi), atol=1e-6)
    assert torch.allclose(dx(v) - dy(u), w - w.mean(), atol=1e-6)  # the velocity's curl is omega


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


# (e) batched = one at a time
def test_batched_equals_single_runs():
    n = 32
    w0 = random_vorticity(n, 3, rms=5.0, seed=2)
    c = lattice_to_field(0.1 * torch.randn(3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)), n)
    s = Solver(case("k4-beta20").params(n=n))
    for closure in (FieldClosure(c, form="smagorinsky"), DynamicSmagorinsky()):
        batched = s.omega(s.step(s.initial_state(w0), closure, n_steps=20))
        singles = []
        for i in range(3):
            one = FieldClosure(c[i:i + 1], form="smagorinsky") if isinstance(closure, FieldClosure) else closure
            singles.append(s.omega(s.step(s.initial_state(w0[i:i + 1]), one, n_steps=20)))
        assert torch.allclose(batched, torch.cat(singles), rtol=1e-10, atol=1e-10)


# (f) blow-up is flagged per run, without raising
def test_blowup_is_flagged_per_run():
    n = 32
    w0 = random_vorticity(n, 2, rms=5.0, seed=3)
    w0[1] *= 1e4
    s = Solver(case("k4").params(n=n))
    st = s.step(s.initial_state(w0), n_steps=30)
    assert s.blown_up(st).tolist() == [False, True]
    assert torch.isfinite(s.omega(st)[0]).all()
    big_dt = Solver(case("k4").params(n=n, dt=0.5))
    st = big_dt.step(big_dt.initial_state(w0[:1]), n_steps=60)
    assert big_dt.blown_up(st).tolist() == [True]
    fresh = s.initial_state(w0[:1].expand(2, n, n))
    reset = st.where(torch.tensor([True]), fresh[:1])  # an environment resets the dead run
    assert not s.blown_up(reset).any()


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


# diagnostics and agents
def test_spectra_sum_to_energy_and_enstrophy():
    w = random_vorticity(32, 2, k_peak=4.0, seed=5)
    w = resample(resample(w, 16), 32)  # no power beyond the N/2 shells
    assert torch.allclose(spectrum(w, "enstrophy", "shell").sum(1), enstrophy(w), rtol=1e-10)
    assert torch.allclose(spectrum(w, "energy", "shell").sum(1), energy(w), rtol=1e-10)
    x, y = grid(32)
    single = torch.cos(3 * x).unsqueeze(0)  # modes (+-3, 0): c = 1/2 each
    zx, zy = spectrum(single, how="x"), spectrum(single, how="y")
    assert float(zx[0, 0]) == pytest.approx(0.25)
    assert float(zy[0, 3]) == pytest.approx(0.125)  # one-sided: only k_x = +3 counts
    assert float(spectrum(single, how="xy")[0, 0]) == pytest.approx(0.125)
    centres, dens = vorticity_pdf(random_vorticity(32, 4, seed=6), bins=41)
    assert float(dens.sum() * (centres[1] - centres[0])) == pytest.approx(1.0)


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


def test_config_errors_name_the_choices():
    with pytest.raises(ConfigError, match="k4"):
        case("k7")
    with pytest.raises(ConfigError, match="dealias"):
        case("k25").params(n=64)
    assert case("K4-Beta20").beta == 20.0 and case("k25").params(n=64, dealias=False).k_f == 25
    with pytest.raises(ConfigError, match="leith"):
        make_closure("leith-dynamic")
    assert isinstance(make_closure("Smagorinsky"), Smagorinsky)


# (h) reference data
def test_reference_files_need_the_setting(monkeypatch, tmp_path):
    monkeypatch.delenv("OBLIVIATE_DATA", raising=False)
    with pytest.raises(DataError, match="OBLIVIATE_DATA"):
        load_spectrum("k4")
    with pytest.raises(DataError, match="OBLIVIATE_DATA"):
        load_initial_fields("k4", 32, data_dir=tmp_path)


def _data() -> Path:
    root = os.environ.get("OBLIVIATE_DATA")
    if not root or not (Path(root) / "smarl").is_dir():
        pytest.skip("set OBLIVIATE_DATA to the folder holding smarl/ (e.g. ../shared/data) to read the reference files")
    return Path(root)


def test_reference_files_read_and_match_our_normalisation():
    _data()
    ref = load_spectrum("k4", "enstrophy")
    assert ref.value.shape == (512,) and float(ref.k[-1]) == 511 and (ref.value > 0).all()
    beta = load_spectrum("k4-beta20", "energy", "x")
    assert beta.low is not None and (beta.low <= beta.value).all()
    w = load_initial_fields("k4", 64)
    assert w.shape == (5, 64, 64) and w.dtype == torch.float64
    ours = spectrum(w, "enstrophy", "xy").mean(0)
    assert torch.allclose(ours[:5], ref.value[:5], rtol=0.02)  # same normalisation as the DNS files
    r = spectrum_reward(ours.unsqueeze(0), ref.value)
    assert r.shape == (1,) and float(r) > 0
