"""Intervals over seeds, shared by every bench (LLM, graph, vision, SMARL)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

LEVEL = 0.95  # confidence level of the intervals


def finite(xs: Any) -> np.ndarray:
    """The finite values of ``xs`` as a flat float array."""
    a = np.asarray(xs, dtype=float).ravel()
    return a[np.isfinite(a)]


def t_interval(xs: Any, level: float = LEVEL) -> tuple[float, float]:
    """The t-interval of the mean over seeds: ``mean ± t_{(1+level)/2, n-1} * s / sqrt(n)``.

    ``s`` is the sample standard deviation (ddof 1) of the finite values;
    ``(nan, nan)`` for fewer than two of them. Equal to
    ``scipy.stats.t.interval(level, n - 1, loc=mean, scale=s / sqrt(n))``.
    """
    # deferred: loads scipy
    from scipy import stats

    a = finite(xs)
    if len(a) < 2:
        return math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, len(a) - 1)) * float(a.std(ddof=1)) / math.sqrt(len(a))
    return float(a.mean()) - half, float(a.mean()) + half


def mean_ci(runs: list[dict[str, Any]], keys, level: float = LEVEL) -> dict[str, Any]:
    """``{key: mean, key_std: sample std, key_ci: [low, high] or None}`` of each key over ``runs`` (NaNs ignored;
    no interval below 2 values), the t-interval of :func:`t_interval`."""
    out: dict[str, Any] = {}
    for key in keys:
        a = finite([r.get(key, math.nan) for r in runs])
        out[key] = float(a.mean()) if len(a) else math.nan
        out[key + "_std"] = float(a.std(ddof=1)) if len(a) > 1 else math.nan
        out[key + "_ci"] = list(t_interval(a, level)) if len(a) > 1 else None
    return out
