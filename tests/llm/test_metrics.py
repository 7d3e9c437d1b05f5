import random

import numpy as np
import pytest

from obliviate.llm.eval.metrics.tofu import (
    exact_answer_match,
    forget_quality,
    model_utility,
    rouge_l_recall,
    truth_ratio,
)

WORDS = "she he was born in 1961 paris the quill prize a an chemist won his her year is".split()


def _sentence(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 9))) + rng.choice(["", ".", "!"])


def test_rouge_l_recall_agrees_with_rouge_score():
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rng = random.Random(0)
    for _ in range(300):
        pred, ref = _sentence(rng), _sentence(rng)
        assert rouge_l_recall(pred, ref) == pytest.approx(scorer.score(ref, pred)["rougeL"].recall)


def test_rouge_l_recall_worked_example():
    # LCS("she was born in paris", "she was born in 1961") = 4 of 5 reference tokens
    assert rouge_l_recall("She was born in Paris.", "She was born in 1961.") == pytest.approx(0.8)
    assert rouge_l_recall("", "x") == 0.0


def test_ks_forget_quality_agrees_with_scipy_and_by_hand():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 40), rng.normal(0.5, 1, 30)
    assert forget_quality(a, b) == pytest.approx(ks_2samp(a, b).pvalue)
    # statistic by hand: the largest gap between the empirical CDFs
    grid = np.sort(np.concatenate([a, b]))
    gap = np.abs((a[:, None] <= grid).mean(0) - (b[:, None] <= grid).mean(0)).max()
    assert gap == pytest.approx(ks_2samp(a, b).statistic)
    assert forget_quality(a, a) == pytest.approx(1.0)
    assert forget_quality(a, a + 10) < 1e-10


def test_truth_ratio_and_utility():
    ref = np.log(np.array([0.5, 0.1]))
    pert = np.log(np.array([[0.25, 0.25, 0.25], [0.1, 0.1, 0.1]]))
    assert truth_ratio(ref, pert) == pytest.approx([0.5, 1.0])
    assert model_utility([0.5, 0.5, 1.0]) == pytest.approx(3 / (2 + 2 + 1))
    assert model_utility([0.5, 0.0]) == 0.0


def test_exact_answer_match():
    assert exact_answer_match("she was born in 1961. And more", "She was born in 1961.")
    assert not exact_answer_match("She was born in 1962.", "She was born in 1961.")
