"""Intervals over seeds (``obliviate.core.stats``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from obliviate.core.stats import mean_ci, t_interval


def test_t_interval_agrees_with_scipy():
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 9):
        xs = rng.normal(0.5, 0.2, n)
        want = stats.t.interval(0.95, n - 1, loc=xs.mean(), scale=stats.sem(xs))
        assert t_interval(xs) == pytest.approx(want, rel=1e-12)
        assert t_interval(xs, level=0.9) == pytest.approx(
            stats.t.interval(0.9, n - 1, loc=xs.mean(), scale=stats.sem(xs)), rel=1e-12)
    assert t_interval([1.0, math.nan, 3.0]) == pytest.approx(stats.t.interval(0.95, 1, loc=2.0, scale=1.0))
    assert all(math.isnan(v) for v in t_interval([0.4]))  # one run: no interval


def test_mean_ci_by_hand():
    runs = [{"a": 1.0}, {"a": 3.0}, {"a": math.nan}, {}]
    out = mean_ci(runs, ["a", "b"])
    # two values 1 and 3: mean 2, s = sqrt(2), t_{0.975, 1} = 12.706; half-width 12.706 * sqrt(2) / sqrt(2)
    assert out["a"] == 2.0 and out["a_std"] == pytest.approx(math.sqrt(2))
    assert out["a_ci"] == pytest.approx([2 - 12.7062, 2 + 12.7062], abs=1e-3)
    assert math.isnan(out["b"]) and out["b_ci"] is None
