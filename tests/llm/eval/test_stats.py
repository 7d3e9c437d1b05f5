"""Statistics for forget quality (``obliviate.llm.eval.stats``): the KS test's power, intervals that resample
people, and the equivalence reading; all on synthetic data with known answers (no model)."""

import math
import time

import numpy as np
import pytest
from scipy.stats import ks_2samp

from obliviate.llm.eval import stats as st
from tests.llm.eval.helpers import answers_by_person, truth_ratios_by_person


def _power(m, n, delta, reps=2000, seed=0):
    """The rejection rate of ``ks_2samp`` (p < 0.05) for a normal location shift of KS distance ``delta``."""
    rng = np.random.default_rng(seed)
    theta = st.shift_for_distance(delta)
    return float(np.mean([ks_2samp(rng.standard_normal(m), rng.standard_normal(n) + theta).pvalue < 0.05
                          for _ in range(reps)]))


def test_ks_distance_is_scipys_statistic():
    rng = np.random.default_rng(0)
    for m, n in ((5, 7), (20, 20), (31, 12)):
        x, y = rng.normal(size=m), rng.normal(0.5, 1, size=n)
        assert st.ks_distance(x, y) == pytest.approx(ks_2samp(x, y).statistic, abs=1e-12)
    tied = ([1, 1, 2, 3], [1, 2, 2, 2, 5])  # ties: the ECDFs are read after each run of equal values
    assert st.ks_distance(*tied) == pytest.approx(ks_2samp(*tied).statistic, abs=1e-12)


def test_critical_value_is_the_exact_tests():
    # 20 vs 20: D = 9/20 is the smallest statistic with p < 0.05 (p = 0.034; 8/20 has p = 0.081),
    # the value printed in two-sample KS tables
    assert st.ks_critical_lattice(20, 20) == 9
    a, b = st._merge_pattern_sample(20, 20, 9)
    assert ks_2samp(a, b).statistic == pytest.approx(0.45) and ks_2samp(a, b).pvalue < 0.05
    assert ks_2samp(*st._merge_pattern_sample(20, 20, 8)).pvalue >= 0.05
    # unequal sizes: D = h / lcm(30, 50) = h / 150
    h = st.ks_critical_lattice(30, 50)
    assert ks_2samp(*st._merge_pattern_sample(30, 50, h)).pvalue < 0.05
    assert ks_2samp(*st._merge_pattern_sample(30, 50, h - 1)).pvalue >= 0.05
    # 3 vs 3: even complete separation has p = 2 / C(6, 3) = 0.1, so nothing is detectable
    assert st.ks_critical_lattice(3, 3) is None and st.ks_detectable_distance(3, 3) == math.inf


@pytest.mark.parametrize("m,n", [(20, 20), (30, 50)])
def test_detectable_distance_has_the_stated_power(m, n):
    """At the returned distance an independent simulation (scipy's own test, another seed) rejects 80% +- 0.04
    of the time (2000 replicates: standard error 0.009). A broken computation shows: the asymptotic
    ``c + z_0.8 sigma`` reading (0.56 at 20/20) has power ~0.98, and 0.05 less than the returned distance
    ~0.65 at 20/20 and ~0.61 at 30/50."""
    d = st.ks_detectable_distance(m, n)
    assert _power(m, n, d, seed=1000 + m) == pytest.approx(0.8, abs=0.04)
    assert _power(m, n, d - 0.05, reps=1000, seed=2000 + m) < 0.72


def test_detectable_distance_decreases_with_the_sample_sizes():
    # 20 vs 20 answers: 0.42; 100 vs 100: 0.19; 400 vs 400: 0.092 (80% power, alpha 0.05)
    equal = [st.ks_detectable_distance(n, n) for n in (10, 20, 50, 100, 200, 400)]
    assert all(a > b for a, b in zip(equal, equal[1:]))
    assert equal[1] == pytest.approx(0.42, abs=0.01)
    assert equal[3] == pytest.approx(0.19, abs=0.01)
    assert equal[5] == pytest.approx(0.092, abs=0.006)
    one_fixed = [st.ks_detectable_distance(20, n) for n in (20, 40, 80, 160)]
    assert all(a > b for a, b in zip(one_fixed, one_fixed[1:]))
    assert st.ks_detectable_distance(20, 20, power=0.9) > equal[1] > st.ks_detectable_distance(20, 20, alpha=0.1)


def test_detectable_distance_is_deterministic_fast_and_cached():
    first = st.ks_detectable_distance(1000, 1000)
    st.ks_detectable_distance.cache_clear()
    st.ks_critical_lattice.cache_clear()
    t = time.perf_counter()
    again = st.ks_detectable_distance(1000, 1000)
    took = time.perf_counter() - t
    assert again == first  # fixed seed
    assert took < 1.0  # ~0.25 s on a busy 2-core machine
    t = time.perf_counter()
    st.ks_detectable_distance(1000, 1000)
    assert time.perf_counter() - t < 0.01  # cached
    with pytest.raises(ValueError):
        st.ks_detectable_distance(0, 10)


def test_people_interval_is_wider_than_a_per_answer_one():
    values, groups = answers_by_person(20, 10, np.random.default_rng(0))
    lo, hi = st.bootstrap_people(values, groups, np.mean, seed=1)
    naive_lo, naive_hi = st.bootstrap_people(values, list(range(len(values))), np.mean, seed=1)
    # the mean's standard error is sqrt((1 + 0.09 / 10) / 20) = 0.22 over people, the per-answer bootstrap
    # sees sqrt(1.09 / 200) = 0.07: about 3 times narrower
    assert hi - lo > 2 * (naive_hi - naive_lo)
    assert lo < values.mean() < hi


def test_people_interval_covers_the_true_mean():
    """Coverage over 200 simulated data sets (30 people x 5 answers, true mean 0). A nominal 95% percentile
    interval over 30 groups runs a little short (its spread is sqrt(29/30) of the truth, with normal rather than
    t quantiles): 0.923 measured over 1000 data sets. Binomial standard error at 200: 0.018, so [0.87, 0.98]
    is 3 standard errors below that and 3 above the nominal level (this seed gives 0.915). A per-answer
    bootstrap (the broken reading that treats one person's answers as independent) covers ~63% here."""
    rng = np.random.default_rng(42)
    hits = naive_hits = 0
    for k in range(200):
        values, groups = answers_by_person(30, 5, rng)
        lo, hi = st.bootstrap_people(values, groups, np.mean, n_boot=300, seed=k)
        hits += lo <= 0 <= hi
        if k < 100:
            nlo, nhi = st.bootstrap_people(values, list(range(len(values))), np.mean, n_boot=300, seed=k)
            naive_hits += nlo <= 0 <= nhi
    assert 0.87 <= hits / 200 <= 0.98
    assert naive_hits / 100 < 0.8


def test_people_interval_needs_two_people_and_matching_labels():
    assert all(math.isnan(v) for v in st.bootstrap_people([1.0, 2.0, 3.0], ["a", "a", "a"], np.mean))
    with pytest.raises(ValueError):
        st.bootstrap_people([1.0, 2.0], ["a"], np.mean)
    with pytest.raises(ValueError):
        st.bootstrap_people([1.0, 2.0], ["a", "b"], np.mean, level=1.5)


def test_two_sample_interval_resamples_people_jointly():
    rng = np.random.default_rng(3)
    x, groups = answers_by_person(12, 5, rng)
    y = x + rng.normal(0.3, 0.3, len(x))  # the same records scored by a second model
    fast = st.bootstrap_people_two(x, groups, y, groups, n_boot=300, seed=5)  # vectorised KS distance
    loop = st.bootstrap_people_two(x, groups, y, groups, lambda a, b: ks_2samp(a, b).statistic, n_boot=300, seed=5)
    assert fast == pytest.approx(loop, abs=1e-9)
    # the difference of means must cover the shift of 0.3; with the same people drawn for both models the
    # person effects (SD 1) cancel and the interval is ~0.15 wide (noise 0.3 / sqrt(60)); drawing people
    # separately per model would leave them in: ~1.1 wide (2 x 1.96 x sqrt(2 / 12))
    lo, hi = st.bootstrap_people_two(x, groups, y, groups, lambda a, b: b.mean() - a.mean(), n_boot=300)
    assert lo < 0.3 < hi and hi - lo < 0.5


def test_equivalence_with_enough_people_and_not_with_a_shift():
    model, gold, groups = truth_ratios_by_person(40, 10, 0.0, seed=0)  # 400 answers, like gold
    eq = st.equivalence_to_gold(model, gold, groups)
    assert eq["equivalent"] and eq["ks_distance_ci"][1] <= 0.2 and eq["people"] == 40
    assert eq["detectable_distance"] == pytest.approx(st.ks_detectable_distance(400, 400))
    model, gold, groups = truth_ratios_by_person(40, 10, 1.0, seed=0)  # shifted by 1 SD of the within-person spread
    eq = st.equivalence_to_gold(model, gold, groups)
    assert not eq["equivalent"] and eq["ks_distance_ci"][0] > 0.2


def test_small_samples_are_not_called_equivalent():
    """Two people, 10 answers each, no difference at all: the KS test cannot tell them apart (p >= 0.05, the old
    rule's pass) but the data cannot bound the distance below 0.2 either; a rule that read the interval of
    answers, not people, or tied delta to the detectable distance (0.42 here) would call it equivalent."""
    model, gold, groups = truth_ratios_by_person(2, 10, 0.0, seed=1)
    assert ks_2samp(model, gold).pvalue >= 0.05
    eq = st.equivalence_to_gold(model, gold, groups)
    assert not eq["equivalent"] and eq["ks_distance_ci"][1] > 0.2
    no_groups = st.equivalence_to_gold(model, gold)
    assert not no_groups["equivalent"] and math.isnan(no_groups["ks_distance_ci"][1])


def test_person_groups_from_entities_or_ids():
    assert st.person_groups({"truth_ratio": [1, 2], "ids": ["ann/born", "bo/job"], "entities": ["Ann", "Bo"]}) \
        == ["Ann", "Bo"]
    assert st.person_groups({"truth_ratio": [1, 2], "ids": ["ann/born", "bo/job"]}) == ["ann", "bo"]
    assert st.person_groups({"truth_ratio": [1, 2], "ids": ["q1", "q2"]}) is None
    assert st.person_groups({"truth_ratio": [1, 2]}) is None
