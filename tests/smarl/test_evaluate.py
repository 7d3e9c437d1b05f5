"""Per-run figures of the SMARL evaluation (the intervals over runs and seeds are built on them)."""

from __future__ import annotations

import math

import pytest
import torch

from obliviate.smarl.evaluate import (
    PER_RUN_KEYS,
    EvalConfig,
    SimResult,
    pdf_stats,
    per_run_metrics,
    simulate,
    standardized_histogram,
    tail_divergence,
)


def _result(samples: torch.Tensor, spectra: torch.Tensor, blowups: int = 0) -> SimResult:
    r = samples.shape[1]
    return SimResult("x", r + blowups, blowups, [1.0] * blowups, spectra.mean(0), spectra.mean(0), samples,
                     [0.0], [0.0], 0.0, spectrum_z_runs=spectra, spectrum_e_runs=2 * spectra)


def test_per_run_metrics_measure_each_run_on_its_own():
    g = torch.Generator().manual_seed(0)
    gauss = torch.randn(20, 1, 16, 16, generator=g, dtype=torch.float64)
    heavy = torch.randn(20, 1, 16, 16, generator=g, dtype=torch.float64) ** 3  # kurtosis far above 3
    samples = torch.cat([gauss, 5 * heavy], dim=1)
    z_ref = torch.linspace(1.0, 0.1, 8, dtype=torch.float64)
    spectra = torch.stack([z_ref, 2 * z_ref])  # run 0 exact, run 1 twice the reference
    ref = pdf_stats(gauss, "ref")
    runs = per_run_metrics(_result(samples, spectra, blowups=1), z_ref, 2 * z_ref, ref)
    assert len(runs) == 3 and runs[2] == {"blown_up": 1}
    assert set(runs[0]) == set(PER_RUN_KEYS) and runs[0]["blown_up"] == runs[1]["blown_up"] == 0
    assert runs[0]["z_log_error"] == pytest.approx(0.0, abs=1e-12)
    assert runs[1]["z_log_error"] == pytest.approx(math.log(2), rel=1e-9)  # k >= 1 only, every k off by 2x
    assert runs[1]["e_log_error"] == pytest.approx(math.log(2), rel=1e-9)
    for i in range(2):  # each run standardised by its own std, as pdf_stats of that run alone
        st = pdf_stats(samples[:, i], "run")
        assert runs[i]["p4"] == st.p4 and runs[i]["kurtosis"] == st.kurtosis
        assert runs[i]["tail_divergence"] == tail_divergence(standardized_histogram(samples[:, i]), ref.density)
    assert runs[0]["kurtosis"] == pytest.approx(3.0, abs=0.3) and runs[1]["kurtosis"] > 10
    assert runs[0]["tail_divergence"] < runs[1]["tail_divergence"]
    no_ref = per_run_metrics(_result(samples, spectra), z_ref, z_ref, None)
    assert len(no_ref) == 2 and "tail_divergence" not in no_ref[0]


def test_simulate_keeps_each_runs_spectrum(data_dir):
    cfg = EvalConfig(case="k4", n=16, t_end=0.02, t_avg=0.0, sample_every=0.01, init_fields=[1, 2],
                     dtype="float64", dns_n=32, data_dir=data_dir)
    res = simulate("leith", cfg)
    assert res.spectrum_z_runs.shape == (2, 8) and res.spectrum_e_runs.shape == (2, 8)
    assert torch.allclose(res.spectrum_z_runs.mean(0), res.spectrum_z, rtol=1e-12)
    assert torch.allclose(res.spectrum_e_runs.mean(0), res.spectrum_e, rtol=1e-12)
    assert not torch.allclose(res.spectrum_z_runs[0], res.spectrum_z_runs[1])  # two different initial fields
