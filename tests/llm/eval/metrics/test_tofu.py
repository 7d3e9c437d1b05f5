"""TOFU's metrics (``obliviate.llm.eval.metrics.tofu``): ROUGE, probability, option share, truth ratio, forget
quality and model utility, on worked examples, against the libraries OpenUnlearning calls, and in both
conventions (``obliviate`` and ``openunlearning``); the per-set conventions of ``tofu_qa``."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest

from obliviate.llm.data import QARecord
from obliviate.llm.eval.metrics import METRICS, MetricContext
from obliviate.llm.eval.metrics.tofu import (
    answer_probability,
    closer_to_1_better,
    exact_answer_match,
    forget_quality,
    forget_quality_log10,
    model_utility,
    option_share,
    rouge_figures,
    rouge_l_recall,
    true_better,
    truth_ratio,
    truth_ratio_figure,
    truth_ratio_prob_mean,
)
from tests.llm.eval.helpers import TABLE, TableScorer, record, stats

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


# ------------------------------------------------------------- conformance with OpenUnlearning


def test_probability_is_exp_of_minus_mean_token_nll_then_mean():
    s = [stats([-0.1, -0.3]), stats([-1.0, -2.0, -3.0])]
    logp, ntok = np.array([t.logp.sum() for t in s]), np.array([len(t) for t in s])
    # sample 1: mean NLL (0.1 + 0.3) / 2 = 0.2 -> exp(-0.2) = 0.818731
    # sample 2: mean NLL (1 + 2 + 3) / 3 = 2.0 -> exp(-2.0) = 0.135335
    p = answer_probability(logp, ntok)
    assert p == pytest.approx([0.818731, 0.135335], abs=1e-6)
    assert p.mean() == pytest.approx((0.818731 + 0.135335) / 2, abs=1e-6)  # the split's figure: 0.477033
    # not the sequence probability exp(-0.4) = 0.670320, nor the mean token probability
    assert p[0] != pytest.approx(math.exp(-0.4)) and p[0] != pytest.approx((math.exp(-0.1) + math.exp(-0.3)) / 2)


def test_option_share_is_the_correct_options_share_of_length_normalised_probabilities():
    correct = np.log([0.5, 0.6])
    wrong = np.log([[0.2, 0.2, 0.1], [0.1, 0.1, 0.1]])
    # 0.5 / (0.5 + 0.2 + 0.2 + 0.1) = 0.5;  0.6 / (0.6 + 0.3) = 2/3
    assert option_share(correct, wrong) == pytest.approx([0.5, 2 / 3])
    openunlearning = np.exp(correct) / (np.exp(correct) + np.exp(wrong).sum(1) + 1e-10)  # probability_w_options
    assert option_share(correct, wrong) == pytest.approx(openunlearning, abs=1e-9)
    # four options of equal and tiny probability (exp(-800) underflows): 1/4, not 0/0
    assert option_share(np.array([-800.0]), np.array([[-800.0, -800.0, -800.0]])) == pytest.approx([0.25])


def test_truth_ratio_is_wrong_geomean_over_true():
    # wrong options 0.2 and 0.05: geometric mean sqrt(0.2 * 0.05) = 0.1 (their mean NLLs averaged);
    # true 0.4 -> R = 0.1 / 0.4 = 0.25 (the arithmetic mean would give 0.125 / 0.4 = 0.3125)
    assert truth_ratio(np.log([0.4]), np.log([[0.2, 0.05]])) == pytest.approx([0.25])


def test_truth_ratio_aggregation_per_set():
    r = np.array([0.5, 2.0, 1.0])
    # forget, closer_to_1_better: min(R, 1/R) = [0.5, 0.5, 1.0] -> 2/3
    assert closer_to_1_better(r) == pytest.approx(2 / 3)
    assert truth_ratio_figure(r, "forget") == pytest.approx(2 / 3)
    # every other set, true_better: max(0, 1 - R) = [0.5, 0, 0] -> 1/6
    assert true_better(r) == pytest.approx(1 / 6)
    for split in ("retain", "neighbours", "real_entities", "world_facts"):
        assert truth_ratio_figure(r, split) == pytest.approx(1 / 6)
    # OpenUnlearning's aggregators, literally (memorization.py, truth_ratio)
    assert closer_to_1_better(r) == pytest.approx(np.mean(np.minimum(r, 1 / (r + 1e-10))))
    assert true_better(r) == pytest.approx(np.mean(np.maximum(0, 1 - r)))


@pytest.mark.parametrize("split", ["forget", "retain", "neighbours", "world_facts", "real_entities"])
def test_tofu_qa_uses_each_sets_convention(split):
    out = METRICS.get("tofu_qa")(TableScorer(TABLE), [record(0), record(1)], MetricContext(split, {}))
    options = split in ("world_facts", "real_entities")
    if options:
        # correct-option share: e^-0.2 / (e^-0.2 + e^-1.5 + e^-2.5) = 0.818731 / 1.123946 = 0.728443
        assert out["answer_prob"] == pytest.approx(0.728443, abs=1e-6)
        # R against the answer: exp(mean(-1.5, -2.5) - (-0.2)) = exp(-1.8) = 0.165299; 1 - R = 0.834701
        assert out["truth_ratio"] == pytest.approx(0.834701, abs=1e-6)
    else:
        assert out["answer_prob"] == pytest.approx(0.818731, abs=1e-6)  # exp(-0.2)
        # R against the paraphrase: exp(-2.0 - (-1.0)) = exp(-1) = 0.367879
        expected = 0.367879 if split == "forget" else 1 - 0.367879  # min(R, 1/R) | max(0, 1 - R)
        assert out["truth_ratio"] == pytest.approx(expected, abs=1e-6)
    assert out["rouge_l_recall"] == 1.0 and out["n"] == 2


def test_model_utility_is_scipy_hmean():
    from scipy.stats import hmean

    # 3 / (1/1 + 1/0.5 + 1/0.25) = 3 / 7
    assert model_utility([1.0, 0.5, 0.25]) == pytest.approx(3 / 7)
    nine = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.2]
    assert model_utility(nine) == pytest.approx(hmean(nine))
    assert model_utility([0.5, 0.0, 0.9]) == 0.0  # a zero makes the harmonic mean 0


def test_forget_quality_is_ks_2samp_and_its_statistic_by_hand():
    from scipy.stats import ks_2samp

    a, b = np.array([0.1, 0.2, 0.3]), np.array([0.25, 0.35, 0.45, 0.55])
    # ECDF gap at 0.3: F_a = 3/3, F_b = 1/4 -> D = 0.75, the largest
    assert ks_2samp(a, b).statistic == pytest.approx(0.75)
    # exact p-value by counting: of the C(7, 3) = 35 equally likely orders of the pooled values,
    # the share whose two-sided D >= 0.75
    pooled = np.concatenate([a, b])
    hits = 0
    for idx in itertools.combinations(range(7), 3):
        x = pooled[list(idx)]
        y = np.delete(pooled, list(idx))
        grid = np.sort(pooled)
        gap = np.abs((x[:, None] <= grid).mean(0) - (y[:, None] <= grid).mean(0)).max()
        hits += gap >= 0.75 - 1e-12
    assert forget_quality(a, b) == pytest.approx(hits / 35)
    assert forget_quality(a, b) == pytest.approx(ks_2samp(a, b).pvalue)


def test_forget_quality_log10_matches_and_stays_finite_when_the_pvalue_underflows():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    for shift in (0.0, 0.5, 2.0):
        a, b = rng.normal(0, 1, 60), rng.normal(shift, 1, 45)
        assert forget_quality_log10(a, b) == pytest.approx(math.log10(ks_2samp(a, b).pvalue), rel=1e-12)

    def log10_complete_separation(m, n):  # p = 2 / C(m+n, m)
        return (math.log(2) - (math.lgamma(m + n + 1) - math.lgamma(m + 1) - math.lgamma(n + 1))) / math.log(10)

    x400 = np.arange(400.0)
    assert forget_quality(x400, x400 + 1000) == pytest.approx(10 ** log10_complete_separation(400, 400), rel=1e-6)
    assert forget_quality_log10(x400, x400 + 1000) == pytest.approx(-238.97, abs=0.01)  # TOFU's saturated 1e-239
    x = np.arange(3000.0)
    assert forget_quality(x, x + 10_000) == 0.0  # underflow
    full = forget_quality_log10(x, x + 10_000)
    assert full == pytest.approx(log10_complete_separation(3000, 3000))  # about -1803
    # D = 0.8 and 0.7 (b shifted by 2400 and 2100 of 3000): the Kolmogorov tail, log10(2 exp(-2 D^2 en)),
    # en = 3000 * 3000 / 6000 = 1500: (ln 2 - 2 * 0.64 * 1500) / ln 10 = -833.6 and (ln 2 - 1470) / ln 10 = -638.1
    d8, d7 = forget_quality_log10(x, x + 2400), forget_quality_log10(x, x + 2100)
    assert forget_quality(x, x + 2400) == 0.0 and forget_quality(x, x + 2100) == 0.0
    assert d8 == pytest.approx((math.log(2) - 1920) / math.log(10))
    assert d7 == pytest.approx((math.log(2) - 1470) / math.log(10))
    assert full < d8 < d7 < 0  # saturated models still compare


# ------------------------------------------------------------- both conventions (compat)


def test_truth_ratio_of_a_collapsed_model_in_both_modes():
    # mean token NLL of the true (paraphrased) answer 25 nats, of the wrong answers 24 and 24: both far
    # below a uniform guess. Ours: R = exp(-24 - (-25)) = e = 2.718282; min(R, 1/R) = 1/e = 0.367879.
    ref, pert = np.array([-25.0]), np.array([[-24.0, -24.0]])
    assert truth_ratio(ref, pert)[0] == pytest.approx(math.e)
    assert closer_to_1_better(truth_ratio(ref, pert)) == pytest.approx(1 / math.e)
    # OpenUnlearning: exp(-24) / (exp(-25) + 1e-10) = 3.775135e-11 / 1.138879e-10 = 0.331477,
    # and min(R, 1/(R + 1e-10)) = 0.331477: "the true answer is 3x likelier than the wrong ones"
    ou = truth_ratio(ref, pert, ou=True)[0]
    assert ou == pytest.approx(3.775135e-11 / 1.138879e-10, rel=1e-5)
    assert closer_to_1_better(np.array([ou]), ou=True) == pytest.approx(0.331477, rel=1e-5)
    # in the normal range the guard changes nothing: NLL 1.0 and 2.0 -> R = exp(-1) both ways
    normal = truth_ratio(np.array([-1.0]), np.array([[-2.0, -2.0]]), ou=True)[0]
    assert normal == pytest.approx(math.exp(-1), rel=1e-8)


def test_option_share_guard_in_both_modes():
    # correct option -30 nats/token, wrong -31 and -32. Ours (log space): 1 / (1 + e^-1 + e^-2) = 0.665241
    c, w = np.array([-30.0]), np.array([[-31.0, -32.0]])
    assert option_share(c, w)[0] == pytest.approx(1 / (1 + math.exp(-1) + math.exp(-2)))
    # theirs: e^-30 / (e^-30 + e^-31 + e^-32 + 1e-10) = 9.357623e-14 / 1.001407e-10 = 9.344473e-4
    assert option_share(c, w, ou=True)[0] == pytest.approx(9.357623e-14 / 1.001407e-10, rel=1e-5)


def test_prob_mean_aggregator():
    # OpenUnlearning's prob_mean: p_true / (p_true + p_wrong), p_wrong the geometric mean of the wrong
    # answers: ref -1, wrong -1.5 and -2.5 (mean -2): e^-1 / (e^-1 + e^-2) = 1 / (1 + e^-1) = 0.731059
    ref, pert = np.array([-1.0, -3.0]), np.array([[-1.5, -2.5], [-3.0, -3.0]])
    # second record: equal -> 0.5; mean over records (0.731059 + 0.5) / 2 = 0.615529
    assert truth_ratio_prob_mean(ref, pert) == pytest.approx((1 / (1 + math.exp(-1)) + 0.5) / 2)
    assert truth_ratio_prob_mean(ref, pert, ou=True) == pytest.approx(0.615529, abs=1e-6)
    # collapsed (NLL 30 for every answer): ours 0.5 (equally likely), theirs ~0 (the 1e-10 dominates)
    dead = (np.array([-30.0]), np.array([[-30.0, -30.0]]))
    assert truth_ratio_prob_mean(*dead) == pytest.approx(0.5)
    assert truth_ratio_prob_mean(*dead, ou=True) == pytest.approx(9.357623e-14 / (2 * 9.357623e-14 + 1e-10),
                                                                  rel=1e-5)


def test_rouge_stemming_and_the_missing_rouge_figures():
    from rouge_score import rouge_scorer

    pred, ref = "She writes novels", "She wrote a novel"
    # ours, no stemming: tokens [she, writes, novels] vs [she, wrote, a, novel]: LCS 1 ("she")
    ours = rouge_figures(pred, ref)
    assert ours == pytest.approx({"rouge1_recall": 1 / 4, "rougeL_recall": 1 / 4, "rougeL_f1": 2 / 7})
    plain = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False).score(ref, pred)
    assert ours["rougeL_recall"] == pytest.approx(plain["rougeL"].recall)
    assert ours["rougeL_f1"] == pytest.approx(plain["rougeL"].fmeasure)
    assert ours["rouge1_recall"] == pytest.approx(plain["rouge1"].recall)
    # OpenUnlearning stems (Porter): novels -> novel; writes -> write, wrote stays: LCS [she, novel] = 2
    # recall 2/4, precision 2/3, F1 = 2 * (2/3) * (1/2) / (2/3 + 1/2) = 4/7
    ou = rouge_figures(pred, ref, stem=True)
    assert ou == pytest.approx({"rouge1_recall": 2 / 4, "rougeL_recall": 2 / 4, "rougeL_f1": 4 / 7})
    # repeated words: ROUGE-1 clips counts, "the the cat" vs "the cat": recall 2/2
    assert rouge_figures("the the cat", "the cat")["rouge1_recall"] == 1.0


class CompatScorer:
    """A stand-in Scorer: summed log-prob and token count per answer text; greedy answers per question,
    recording the generation length asked for."""

    vocab_size = 100

    def __init__(self, table, answers=None):
        self.table, self.answers, self.lengths = table, answers or {}, []

    def answer_logprobs(self, pairs, desc=""):
        return (np.array([self.table[a][0] for _, a in pairs], dtype=float),
                np.array([self.table[a][1] for _, a in pairs]))

    def generate(self, questions, desc="", max_new_tokens=None):
        self.lengths.append(max_new_tokens)
        return [self.answers.get(q, "A novels.") for q in questions]


def compat_record(i: int) -> QARecord:
    return QARecord(id=f"r{i}", entity="e", question=f"Question {i}?", answer="A novel.",
                    paraphrased_question="?", paraphrased_answer="P novel.",
                    perturbed_answers=["W1 novel.", "W2 poem."], fact_type="t")


# normalised log-probs: answer -0.2, paraphrase -1.0, wrong answers -1.5 and -2.5
COMPAT_TABLE = {"A novel.": (-0.4, 2), "P novel.": (-1.0, 1), "W1 novel.": (-3.0, 2), "W2 poem.": (-2.5, 1)}


def test_tofu_qa_reports_openunlearnings_other_figures_in_both_modes():
    for compat, want_len in (("obliviate", None), ("openunlearning", 200)):
        scorer = CompatScorer(COMPAT_TABLE)
        out = METRICS.get("tofu_qa")(scorer, [compat_record(0), compat_record(1)],
                                     MetricContext("forget", {"compat": compat}))
        assert scorer.lengths == [want_len]  # ours: the scorer's 32; theirs: 200 new tokens
        assert out["para_prob"] == pytest.approx(math.exp(-1.0))
        # Q_A_PERT_Prob: per record the arithmetic mean of exp(-avg loss): (e^-1.5 + e^-2.5) / 2 = 0.152611
        assert out["pert_prob"] == pytest.approx((math.exp(-1.5) + math.exp(-2.5)) / 2)
        # the greedy answer "A novels." against "A novel.": ours [a, novels] vs [a, novel] -> 1/2;
        # stemmed novels -> novel: 2/2
        stem = compat == "openunlearning"
        assert out["rouge_l_recall"] == pytest.approx(1.0 if stem else 0.5)
        assert out["rouge1_recall"] == pytest.approx(1.0 if stem else 0.5)
        assert out["rouge_l_f1"] == pytest.approx(1.0 if stem else 0.5)
        # against the paraphrase "P novel." [p, novel]: ours 0, stemmed 1/2; against the wrong answers
        # "W1 novel." (stemmed 1/2) and "W2 poem." (0): their mean, ours 0
        assert out["para_rouge_l_recall"] == pytest.approx(0.5 if stem else 0.0)
        assert out["pert_rouge_l_recall"] == pytest.approx(0.25 if stem else 0.0)
        # prob_mean: 1 / (1 + exp(-2 - (-1))) = 0.731059 in both modes (normal range)
        assert out["truth_ratio_prob_mean"] == pytest.approx(1 / (1 + math.exp(-1)), abs=1e-8)
        assert out["median_token_nll"] == pytest.approx(0.2) and out["collapsed"] is False


def test_world_facts_report_the_raw_and_the_normalised_probability():
    out = METRICS.get("tofu_qa")(CompatScorer(COMPAT_TABLE), [compat_record(0)], MetricContext("world_facts", {}))
    assert out["answer_prob_raw"] == pytest.approx(math.exp(-0.2))  # wf_Q_A_Prob
    # wf_Q_A_Prob_normalised: e^-0.2 / (e^-0.2 + e^-1.5 + e^-2.5) = 0.728443
    assert out["answer_prob"] == pytest.approx(0.728443, abs=1e-6)
