"""SMARL's solver (``obliviate.smarl.solver``): exact solutions, conservation, finite differences, batching,
blow-ups, spectra and cases."""

from __future__ import annotations

import math

import pytest
import torch

from obliviate.core.errors import ConfigError
from obliviate.smarl import (
    DynamicSmagorinsky,
    FieldClosure,
    Smagorinsky,
    Solver,
    case,
    energy,
    enstrophy,
    lattice_to_field,
    make_closure,
    random_vorticity,
    resample,
    spectrum,
    vorticity_pdf,
)
from tests.smarl.helpers import dx, dy, grid, params, smooth_field

torch.set_num_threads(1)


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


def test_config_errors_name_the_choices():
    with pytest.raises(ConfigError, match="k4"):
        case("k7")
    with pytest.raises(ConfigError, match="dealias"):
        case("k25").params(n=64)
    assert case("K4-Beta20").beta == 20.0 and case("k25").params(n=64, dealias=False).k_f == 25
    with pytest.raises(ConfigError, match="leith"):
        make_closure("leith-dynamic")
    assert isinstance(make_closure("Smagorinsky"), Smagorinsky)
