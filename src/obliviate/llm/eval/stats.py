"""Statistics that fit the forget-quality question: power, intervals over people, equivalence.

Forget quality (:func:`obliviate.llm.eval.metrics.tofu.forget_quality`) is the
two-sample KS-test p-value between the unlearned and the gold model's
per-record forget truth ratios, the field's convention, and it stays the
headline figure. A p-value alone answers "can 20 answers tell the two models
apart?", which is not the question "is the unlearned model like the gold
one?". This module adds what reads the second question:

* :func:`ks_detectable_distance`: the KS distance ``D = sup |F - G|`` the test
  detects with 80% power at the sample sizes used. A p >= 0.05 says nothing
  about differences smaller than it.
* :func:`bootstrap_people`, :func:`bootstrap_people_two`: percentile intervals
  that resample *people*, not answers: the answers about one person are not
  independent (one unlearning step moves all of them), so a per-answer
  bootstrap gives intervals too narrow.
* :func:`equivalence_to_gold`: the KS distance to the gold model, its
  people-bootstrap interval and the equivalence reading "within ``delta`` of
  gold": the interval's upper end is at most ``delta``.

docs/metrics.md ("Power, intervals over people, equivalence") has the formulas
and worked numbers.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

ALPHA = 0.05  # the KS test's level: a p-value below it rejects "same distribution"
POWER = 0.8
EQUIVALENCE_DELTA = 0.2  # largest KS distance to the gold model read as "like gold"; see equivalence_to_gold
EQUIVALENCE_LEVEL = 0.90  # two-sided interval whose upper end bounds D at the 5% level (TOST convention)
N_BOOT = 1000
_SEED = 20240523  # the Monte Carlo of ks_detectable_distance (fixed: the function is deterministic)


# ---------------------------------------------------------------- power of the two-sample KS test


def ks_distance(x: Sequence[float], y: Sequence[float]) -> float:
    """The two-sample KS statistic ``D = sup_t |F_x(t) - F_y(t)|`` (equal to ``scipy.stats.ks_2samp``'s)."""
    return float(_weighted_ks(np.asarray(x, float), np.asarray(y, float),
                              np.ones((1, len(x))), np.ones((1, len(y))))[0])


def _weighted_ks(x: np.ndarray, y: np.ndarray, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
    """KS statistics of weighted samples, one per row of the weights: ``wx`` (B, m), ``wy`` (B, n) >= 0.

    Integer weights are the multiplicities of a resample, so a row's value is the KS statistic of
    the resampled data. The ECDFs are read after each run of tied values (right-continuous), as scipy does.
    """
    z = np.concatenate([x, y])
    order = np.argsort(z, kind="stable")
    zs = z[order]
    ends = np.r_[zs[1:] != zs[:-1], True]  # the last of each run of equal values
    b = wx.shape[0]
    w_x = np.concatenate([wx, np.zeros((b, len(y)))], axis=1)[:, order]
    w_y = np.concatenate([np.zeros((b, len(x))), wy], axis=1)[:, order]
    fx = np.cumsum(w_x, axis=1) / w_x.sum(axis=1, keepdims=True)
    fy = np.cumsum(w_y, axis=1) / w_y.sum(axis=1, keepdims=True)
    return np.abs(fx - fy)[:, ends].max(axis=1)


def _merge_pattern_sample(m: int, n: int, h: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Samples of sizes ``m``, ``n`` whose KS statistic is ``h / lcm(m, n)`` (None where no merge order has it).

    A merge order of the two samples is a lattice path from (0, 0) to (m, n); after ``i`` values of the
    first and ``j`` of the second the ECDF difference is ``(i n' - j m') / lcm`` with ``m = g m'``,
    ``n = g n'``. The path stays within one step of the diagonal except for one excursion to a point
    ``(i, j)`` with ``i n' - j m' = h``, so the statistic is ``h / lcm`` when ``h >= max(m', n')``.
    """
    g = math.gcd(m, n)
    mp, np_ = m // g, n // g
    point = next(((i, (i * np_ - h) // mp) for i in range(m + 1)
                  if i * np_ >= h and (i * np_ - h) % mp == 0 and (i * np_ - h) // mp <= n), None)
    if point is None:
        return None
    i_top, j_top = point
    seq: list[bool] = []  # True: a value of the first sample
    ia = ib = 0

    def step(first: bool) -> None:
        nonlocal ia, ib
        seq.append(first)
        ia, ib = ia + first, ib + (not first)

    while ib < j_top:
        step(ia < i_top and ia * np_ - ib * mp <= 0)
    while ia < i_top:
        step(True)
    while ia < m or ib < n:
        step(ib == n or (ia < m and ia * np_ - ib * mp <= 0))
    pos = np.arange(m + n, dtype=float)
    mask = np.array(seq)
    return pos[mask], pos[~mask]


@functools.lru_cache(maxsize=256)
def ks_critical_lattice(m: int, n: int, alpha: float = ALPHA) -> int | None:
    """``h`` of the smallest KS statistic ``h / lcm(m, n)`` whose ``ks_2samp`` p-value is below ``alpha``.

    ``scipy.stats.ks_2samp`` with its defaults (the exact null distribution up to 10,000 per
    sample, the test :func:`~obliviate.llm.eval.metrics.tofu.forget_quality` runs); the p-value is a
    function of ``(D, m, n)`` only, read off samples built to have each ``D``
    (:func:`_merge_pattern_sample`), and found by bisection over ``h`` (it decreases with ``D``).
    None when even complete separation (``D = 1``) is not significant (e.g. 3 vs 3 answers).
    """
    # deferred: loads scipy
    from scipy.stats import ks_2samp

    g = math.gcd(m, n)
    lcm = m * n // g
    low = max(m, n) // g  # D >= max(1/m, 1/n): the construction is exact from here on

    def pvalue(h: int) -> float:  # the p-value of the smallest attainable statistic >= h / lcm
        for hh in range(h, lcm + 1):
            pair = _merge_pattern_sample(m, n, hh)
            if pair is not None:
                with warnings.catch_warnings():  # scipy's switch to the asymptotic p-value, as in forget quality
                    warnings.simplefilter("ignore", RuntimeWarning)
                    return float(ks_2samp(*pair).pvalue)
        return 1.0

    if pvalue(lcm) >= alpha:
        return None
    if pvalue(low) < alpha:
        return low
    lo, hi = low, lcm  # p(lo) >= alpha > p(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if pvalue(mid) < alpha else (mid, hi)
    return hi


@functools.lru_cache(maxsize=256)
def ks_detectable_distance(m: int, n: int, power: float = POWER, alpha: float = ALPHA) -> float:
    """The smallest true KS distance that the two-sample KS test at level ``alpha`` detects with ``power``.

    The distance is ``Delta = sup_t |F(t) - G(t)|`` between the two populations (the quantity the
    sample statistic ``D`` estimates); "detects" is ``ks_2samp(x, y).pvalue < alpha`` (the rejection
    region comes from :func:`ks_critical_lattice`, so it is the exact test forget quality runs) with
    ``m`` values from ``F`` and ``n`` from ``G``.

    **Alternative family**: a location shift of a continuous distribution, ``G(t) = F(t - theta)``
    with ``F`` normal (the KS test is invariant under monotone maps, so any continuous ``F`` with the
    normal's shape of shift gives the same power); then ``Delta = 2 Phi(theta / 2) - 1``. Other
    shapes of difference with the same ``Delta`` (a change of spread, a difference in one tail) have
    other powers; the location shift is the textbook reference.

    **Computation**: Monte Carlo with a fixed seed, ``R = max(2000, min(20000, 4e6 / (m + n)))``
    replicates of sorted normal samples ``x`` and ``y0``. With ``y = y0 + theta`` the one-sided
    statistic ``D+ = sup (F_m - G_n)`` grows with ``theta``, and ``D+ >= c`` exactly when
    ``theta > min_i (x_(i) - y0_(k_i + 1))``, ``k_i = floor((i n' - h) / m')`` (``c = h / lcm``,
    ``m = g m'``, ``n = g n'``); ``D- >= c`` likewise below a threshold. So each replicate has the
    set of shifts its test rejects, the power at any ``theta`` is a mean over replicates, and the
    ``theta`` of the wanted power is found by bisection on the same replicates (no re-simulation).
    The Monte Carlo standard error of the power is about ``sqrt(0.16 / R) <= 0.009``.

    Returns ``inf`` when no distance is detectable at level ``alpha`` (tiny samples). Cached by
    ``(m, n, power, alpha)``; about 0.2 s uncached at ``m = n = 1000``.
    Worked numbers (80%, alpha 0.05): 20 vs 20 answers 0.42, 100 vs 100 0.19, 400 vs 400 0.092.
    They are a little *below* the critical values (0.45, 0.20, 0.0975): the sample statistic overshoots
    the true distance (it is a supremum of noisy differences), so a true distance just under the
    critical value is already detected more often than not.
    """
    # deferred: loads scipy
    from scipy.special import ndtr

    m, n = int(m), int(n)
    if m < 1 or n < 1:
        raise ValueError(f"sample sizes must be >= 1, got {m} and {n}")
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise ValueError(f"power and alpha must be in (0, 1), got {power} and {alpha}")
    h = ks_critical_lattice(m, n, alpha)
    if h is None:
        return math.inf
    g = math.gcd(m, n)
    mp, np_ = m // g, n // g
    reps = max(2000, min(20000, 4_000_000 // (m + n)))
    rng = np.random.default_rng([_SEED, m, n])
    x = np.sort(rng.standard_normal((reps, m)), axis=1)
    y0 = np.sort(rng.standard_normal((reps, n)), axis=1)
    i = np.arange(1, m + 1)
    i = i[i * np_ >= h]
    theta_plus = (x[:, i - 1] - y0[:, (i * np_ - h) // mp]).min(axis=1)  # D+ >= c for theta above
    j = np.arange(1, n + 1)
    j = j[j * mp >= h]
    theta_minus = (x[:, (j * mp - h) // np_] - y0[:, j - 1]).max(axis=1)  # D- >= c for theta below

    def power_at(theta: float) -> float:
        return float(np.mean((theta > theta_plus) | (theta < theta_minus)))

    lo, hi = 0.0, float(theta_plus.max()) + 1.0
    if power_at(lo) >= power:
        return 0.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if power_at(mid) >= power else (mid, hi)
    return float(2 * ndtr(hi / 2) - 1)


def shift_for_distance(delta: float) -> float:
    """The normal location shift ``theta`` (in SDs) whose KS distance is ``delta``: ``2 Phi^-1((1 + delta) / 2)``."""
    # deferred: loads scipy
    from scipy.special import ndtri

    return float(2 * ndtri((1 + delta) / 2))


# ---------------------------------------------------------------- intervals over people


def _group_index(groups: Sequence[Any]) -> tuple[list[Any], np.ndarray]:
    labels = list(dict.fromkeys(groups))  # first-seen order: deterministic
    where = {g: k for k, g in enumerate(labels)}
    return labels, np.array([where[g] for g in groups], dtype=int)


def _percentile(stats: np.ndarray, level: float) -> tuple[float, float]:
    stats = stats[np.isfinite(stats)]
    if not len(stats):
        return math.nan, math.nan
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _check(level: float, n_boot: int) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")


def bootstrap_people(values: Sequence[float], groups: Sequence[Any], statistic: Callable[[np.ndarray], float],
                     n_boot: int = N_BOOT, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of ``statistic(values)`` over resamples of the *groups* (people).

    Each resample draws as many groups as there are, with replacement, and takes all the values of
    every drawn group (a group drawn twice counts twice): the cluster bootstrap, the right one when
    values within a group are correlated (the answers about one person). ``(nan, nan)`` with fewer
    than 2 groups: one person's answers say nothing about how people vary. The percentile interval
    runs a little short with few groups (a nominal 95% covers ~92% with 30 people, tests/llm/test_stats.py);
    under ~10 it is a rough guide: it can only show the spread those few people have.

    Args:
        values: one value per record.
        groups: one label per record (the person it is about).
        statistic: a function of a 1-D array (e.g. ``np.mean``).
        n_boot: resamples; level: coverage of the two-sided interval; seed: of the resampling.
    """
    _check(level, n_boot)
    values = np.asarray(values, float)
    if len(values) != len(groups):
        raise ValueError(f"{len(values)} values but {len(groups)} group labels")
    labels, gi = _group_index(groups)
    if len(labels) < 2:
        return math.nan, math.nan
    members = [np.flatnonzero(gi == k) for k in range(len(labels))]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(labels), size=(n_boot, len(labels)))
    stats = np.array([statistic(values[np.concatenate([members[k] for k in d])]) for d in draws], float)
    return _percentile(stats, level)


def bootstrap_people_two(x: Sequence[float], x_groups: Sequence[Any], y: Sequence[float], y_groups: Sequence[Any],
                         statistic: Callable[[np.ndarray, np.ndarray], float] = ks_distance, n_boot: int = N_BOOT,
                         level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of a two-sample ``statistic(x, y)`` over joint resamples of people.

    For two models scored on the same records (the unlearned and the gold model on the forget set):
    each resample draws people with replacement from those in either sample, and the *same* draw
    picks each model's answers about them, so what the models share (which people, which questions)
    is held fixed and only the people vary. ``statistic`` defaults to :func:`ks_distance` (computed
    for all resamples at once: the same values as a loop). ``(nan, nan)`` with fewer than 2 people.
    """
    _check(level, n_boot)
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) != len(x_groups) or len(y) != len(y_groups):
        raise ValueError("each sample needs one group label per value")
    labels, _ = _group_index(list(x_groups) + list(y_groups))
    if len(labels) < 2:
        return math.nan, math.nan
    where = {g: k for k, g in enumerate(labels)}
    gx = np.array([where[g] for g in x_groups], dtype=int)
    gy = np.array([where[g] for g in y_groups], dtype=int)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(labels), size=(n_boot, len(labels)))
    counts = np.zeros((n_boot, len(labels)))
    np.add.at(counts, (np.repeat(np.arange(n_boot), len(labels)), draws.ravel()), 1.0)
    wx, wy = counts[:, gx], counts[:, gy]
    ok = (wx.sum(axis=1) > 0) & (wy.sum(axis=1) > 0)  # a resample must hold answers of both models
    if statistic is ks_distance:
        stats = np.full(n_boot, math.nan)
        if ok.any():
            stats[ok] = _weighted_ks(x, y, wx[ok], wy[ok])
    else:
        stats = np.array([statistic(np.repeat(x, wx[b].astype(int)), np.repeat(y, wy[b].astype(int)))
                          if ok[b] else math.nan for b in range(n_boot)], float)
    return _percentile(stats, level)


# ---------------------------------------------------------------- equivalence to the gold model


def person_groups(per_sample_split: dict[str, Any]) -> list[str] | None:
    """The person of each record of a split's per-sample data, or None where it cannot be told.

    ``entities`` when the scoring stored them (``tofu_qa`` does), else the id prefix before the
    first ``/`` (ids are ``<person-slug>/<fact type>``) when every id has one.
    """
    n = len(per_sample_split.get("truth_ratio", []))
    ents = per_sample_split.get("entities")
    if ents is not None and len(ents) == n:
        return [str(e) for e in ents]
    ids = per_sample_split.get("ids")
    if ids is not None and len(ids) == n and all("/" in str(i) for i in ids):
        return [str(i).split("/", 1)[0] for i in ids]
    return None


def equivalence_to_gold(model_tr: Sequence[float], gold_tr: Sequence[float],
                        model_groups: Sequence[Any] | None = None, gold_groups: Sequence[Any] | None = None, *,
                        delta: float = EQUIVALENCE_DELTA, level: float = EQUIVALENCE_LEVEL,
                        n_boot: int = N_BOOT, seed: int = 0) -> dict[str, Any]:
    """The KS distance of a model's forget truth ratios to the gold model's, read as an equivalence test.

    Returns ``{"ks_distance": D, "detectable_distance": (80% power at these sizes), "ks_distance_ci":
    [lo, hi], "level": level, "delta": delta, "people": count, "equivalent": hi <= delta}``. The
    interval is :func:`bootstrap_people_two` over the people (``model_groups``; ``gold_groups``
    defaults to them: the gold model scored on the same records in the same order). Without groups,
    or with fewer than 2 people, the interval is ``[nan, nan]`` and ``equivalent`` False.

    **Reading**: "equivalent" = indistinguishable from gold within ``delta``: the data bound the KS
    distance below ``delta``. It is an equivalence test in the TOST sense: the upper end of the
    ``1 - 2 * 0.05 = 90%`` two-sided interval is a 95% upper confidence bound, so a model further than
    ``delta`` from gold is called equivalent at most ~5% of the time (up to the bootstrap's accuracy).
    Unlike "p >= 0.05 passes" it does not reward small samples: with too few answers the interval is
    wide and nothing is called equivalent. The percentile interval of ``D`` is conservative near 0
    (``D`` is biased upward by sampling noise, and a resample adds that bias again).

    **Default** ``delta = 0.2``: a KS distance of 0.2 is a normal location shift of
    ``2 Phi^-1(0.6) = 0.51`` standard deviations, Cohen's "medium" effect; at most 20% of the answers
    on either side of any truth-ratio level. A fixed ``delta`` states the effect size that counts as
    "like gold" whatever the sample size; tying it to the detectable distance instead would make a
    small sample's wide margin a pass. At 20 vs 20 answers (detectable distance 0.42) no model can
    be shown within 0.2; at 400 vs 400 (0.092) a model truly like gold is.
    """
    model_tr, gold_tr = np.asarray(model_tr, float), np.asarray(gold_tr, float)
    d = ks_distance(model_tr, gold_tr)
    gold_groups = model_groups if gold_groups is None and model_groups is not None \
        and len(model_groups) == len(gold_tr) else gold_groups
    lo = hi = math.nan
    people = 0
    if model_groups is not None and gold_groups is not None:
        people = len(set(model_groups) | set(gold_groups))
        lo, hi = bootstrap_people_two(model_tr, model_groups, gold_tr, gold_groups, ks_distance,
                                      n_boot=n_boot, level=level, seed=seed)
    return {"ks_distance": d, "detectable_distance": ks_detectable_distance(len(model_tr), len(gold_tr)),
            "ks_distance_ci": [lo, hi], "level": level, "delta": delta, "people": people,
            "equivalent": bool(math.isfinite(hi) and hi <= delta)}
