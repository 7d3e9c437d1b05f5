"""Conformance with OpenUnlearning's metric conventions, on worked examples computed by hand.

Each test feeds the project's own functions small literal inputs (summed
log-probs, TokenStats, truth ratios, AUCs) and checks the number against the
arithmetic in the comments, or against the scipy/sklearn call OpenUnlearning
makes. The metric code is reached through a stand-in scorer where a split's
convention is at stake; GradNorm, the one attack that needs gradients, runs on
a tiny model trained here. See docs/metrics.md, "Conformance with OpenUnlearning".
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from obliviate.llm.data import QARecord, Splits
from obliviate.llm.eval.metrics import METRICS, MetricContext
from obliviate.llm.eval.metrics.mia import (
    gradnorm_score,
    loss_score,
    mia_auc,
    mink_score,
    minkpp_score,
    muse_privleak,
    privleak,
    reference_score,
    zlib_score,
)
from obliviate.llm.eval.metrics.muse import exact_memorization, extraction_strength
from obliviate.llm.eval.metrics.tofu import (
    answer_probability,
    closer_to_1_better,
    forget_quality,
    forget_quality_log10,
    model_utility,
    option_share,
    true_better,
    truth_ratio,
    truth_ratio_figure,
)
from obliviate.llm.eval.scoring import TokenStats
from obliviate.llm.eval.suite import add_forget_quality, evaluate


def stats(logp, mu=None, sigma=None, match=None) -> TokenStats:
    n = len(logp)
    return TokenStats(logp, mu if mu is not None else [0.0] * n, sigma if sigma is not None else [1.0] * n,
                      match if match is not None else [True] * n)


# ------------------------------------------------------------- probability


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


# ------------------------------------------------------------- truth ratio


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


class TableScorer:
    """A stand-in Scorer: summed log-prob and token count per answer text; greedy answers per question."""

    def __init__(self, table: dict[str, tuple[float, int]], answers: dict[str, str] | None = None) -> None:
        self.table, self.answers = table, answers or {}

    def answer_logprobs(self, pairs, desc=""):
        logp = np.array([self.table[a][0] for _, a in pairs], dtype=float)
        return logp, np.array([self.table[a][1] for _, a in pairs])

    vocab_size = 100

    def generate(self, questions, desc="", max_new_tokens=None):
        return [self.answers.get(q, "A.") for q in questions]


def record(i: int, prefix: str = "") -> QARecord:
    return QARecord(id=f"{prefix}r{i}", entity="e", question=f"{prefix}Question {i}?", answer=f"{prefix}A.",
                    paraphrased_question=f"{prefix}Question {i} again?", paraphrased_answer=f"{prefix}P.",
                    perturbed_answers=[f"{prefix}W1.", f"{prefix}W2."], fact_type="t")


# normalised log-probs: answer -0.2, paraphrase -1.0, wrong answers -1.5 and -2.5
TABLE = {"A.": (-0.4, 2), "P.": (-1.0, 1), "W1.": (-3.0, 2), "W2.": (-2.5, 1)}


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


# ------------------------------------------------------------- model utility


def test_model_utility_is_scipy_hmean():
    from scipy.stats import hmean

    # 3 / (1/1 + 1/0.5 + 1/0.25) = 3 / 7
    assert model_utility([1.0, 0.5, 0.25]) == pytest.approx(3 / 7)
    nine = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.2]
    assert model_utility(nine) == pytest.approx(hmean(nine))
    assert model_utility([0.5, 0.0, 0.9]) == 0.0  # a zero makes the harmonic mean 0


def test_model_utility_uses_retain_real_entities_and_world_facts_not_neighbours():
    from scipy.stats import hmean

    table = {**TABLE, **{f"{p}{a}": v for p in ("n-", "re-", "wf-") for a, v in TABLE.items()}}
    table["n-A."] = (-6.0, 2)  # neighbours' answer unlikely (exp(-3) = 0.0498): it would drag the utility down
    splits = Splits(forget=[record(0)], retain=[record(1)], holdout=[], world_facts=[record(2, "wf-")],
                    neighbours=[record(3, "n-")], real_entities=[record(4, "re-")])
    records = splits.forget + splits.retain + splits.world_facts + splits.neighbours + splits.real_entities
    scorer = TableScorer(table, {r.question: r.answer for r in records})  # every greedy answer right: ROUGE 1
    out, _ = evaluate(None, None, splits, scorer=scorer)
    assert out["model_utility_splits"] == ["retain", "real_entities", "world_facts"]
    nine = [out[s][m] for s in ("retain", "real_entities", "world_facts")
            for m in ("answer_prob", "rouge_l_recall", "truth_ratio")]
    # retain: exp(-0.2), 1, 1 - exp(-1); real entities and world facts: the option share, 1, 1 - exp(-1.8)
    assert nine == pytest.approx([0.818731, 1, 0.632121, 0.728443, 1, 0.834701, 0.728443, 1, 0.834701], abs=1e-6)
    assert out["model_utility_hmean"] == pytest.approx(hmean(nine))
    assert out["neighbours"]["answer_prob"] == pytest.approx(math.exp(-3))  # scored and reported, not counted
    with_neighbours = nine + [out["neighbours"][m] for m in ("answer_prob", "rouge_l_recall", "truth_ratio")]
    assert out["model_utility_hmean"] > hmean(with_neighbours) + 0.1
    # without real entities: the six numbers of retain and world facts
    splits.real_entities = []
    out, _ = evaluate(None, None, splits, scorer=scorer)
    assert out["model_utility_splits"] == ["retain", "world_facts"]
    six = [out[s][m] for s in ("retain", "world_facts") for m in ("answer_prob", "rouge_l_recall", "truth_ratio")]
    assert out["model_utility_hmean"] == pytest.approx(hmean(six))


# ------------------------------------------------------------- forget quality


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


def test_add_forget_quality_reports_the_pvalue_and_its_log10():
    x = list(np.arange(3000.0))
    out = add_forget_quality({}, {"forget": {"truth_ratio": x}}, [v + 10_000 for v in x])
    assert out["forget_quality_ks_pvalue"] == 0.0
    assert math.isfinite(out["forget_quality_log10_pvalue"]) and out["forget_quality_log10_pvalue"] < -1800
    out = add_forget_quality({}, {"forget": {"truth_ratio": [0.1, 0.2, 0.3]}}, [0.25, 0.35, 0.45, 0.55])
    assert out["forget_quality_log10_pvalue"] == pytest.approx(math.log10(out["forget_quality_ks_pvalue"]))


# ------------------------------------------------------------- PrivLeak and AUC


def test_privleak_signs_ours_and_openunlearnings():
    # our AUC 0.8 on the unlearned model, 0.4 on the retain-only (gold) model
    # ours: (0.8 - 0.4) / 0.4 * 100 = +100 (positive = the forget set still leaks)
    assert privleak(0.8, 0.4) == pytest.approx(100.0)
    # OpenUnlearning's privleak(): score = 1 - 0.8 = 0.2, ref = 1 - 0.4 = 0.6, (0.2 - 0.6) / 0.6 * 100 = -66.67
    score, ref = 1 - 0.8, 1 - 0.4
    assert muse_privleak(0.8, 0.4) == pytest.approx((score - ref) / (ref + 1e-10) * 100, abs=1e-6)
    assert muse_privleak(0.8, 0.4) == pytest.approx(-200 / 3)
    assert privleak(0.4, 0.4) == muse_privleak(0.4, 0.4) == 0.0


def test_our_auc_equals_openunlearnings_on_loss_like_scores():
    from sklearn.metrics import roc_auc_score

    members, nonmembers = [stats([-0.1, -0.2]), stats([-0.5])], [stats([-0.3]), stats([-2.0, -1.0])]
    ours = mia_auc(loss_score(members), loss_score(nonmembers))
    # pairs (member > non-member): -0.15 > -0.3, -0.15 > -1.5, -0.5 < -0.3, -0.5 > -1.5 -> 3 of 4
    assert ours == pytest.approx(0.75)
    # OpenUnlearning: scores are mean NLLs (higher = non-member), forget labelled 0 and holdout 1
    nll = [0.15, 0.5, 0.3, 1.5]
    assert roc_auc_score([0, 0, 1, 1], nll) == pytest.approx(ours)


# ------------------------------------------------------------- memorization


def test_extraction_strength_and_exact_memorization_by_hand():
    def openunlearning_es(match):  # their loop, literally: k stops at len - 1
        n = len(match)
        for k in range(n):
            if all(match[k:]):
                break
        return 1 - k / n

    cases = [
        ([True, True, False, True, True], 1 - 3 / 5, 4 / 5),  # suffix from index 3 matches: ES 0.4, EM 0.8
        ([True, True, True], 1.0, 1.0),  # everything matches: k = 0
        ([False, True, True, True], 1 - 1 / 4, 3 / 4),
        ([True, True, False], 0.0, 2 / 3),  # last token misses: k = |y| = 3 (OpenUnlearning: 1/3)
    ]
    s = [stats([-0.1] * len(m), match=m) for m, _, _ in cases]
    assert extraction_strength(s) == pytest.approx([es for _, es, _ in cases])
    assert exact_memorization(s) == pytest.approx([em for _, _, em in cases])
    assert [openunlearning_es(m) for m, _, _ in cases[:3]] == pytest.approx([es for _, es, _ in cases[:3]])
    assert openunlearning_es(cases[3][0]) == pytest.approx(1 / 3)  # the one documented difference


# ------------------------------------------------------------- MIA directions


def test_every_mia_score_is_higher_for_members():
    # members: the model is sure of them; non-members: not
    members = [stats([-0.1, -0.2, -0.1], mu=[-0.5] * 3, sigma=[0.5] * 3), stats([-0.05, -0.3], mu=[-0.5] * 2,
                                                                                 sigma=[0.5] * 2)]
    nonmembers = [stats([-2.0, -3.0, -1.0], mu=[-0.5] * 3, sigma=[0.5] * 3), stats([-4.0, -0.5], mu=[-0.5] * 2,
                                                                                     sigma=[0.5] * 2)]
    texts = ["Paris.", "Berlin."]
    reference = [stats([-1.0, -1.0, -1.0]), stats([-1.0, -1.0])]  # a reference model equally unsure of all
    # LOSS = -mean NLL: members -0.1333, -0.175; non-members -2.0, -2.25
    assert loss_score(members) == pytest.approx([-0.4 / 3, -0.175])
    scores = {
        "loss": (loss_score(members), loss_score(nonmembers)),
        "zlib": (zlib_score(members, texts), zlib_score(nonmembers, texts)),
        # Min-K (k 0.4): int(3 * .4) = 1 lowest token: members -0.2, -0.3; non-members -3.0, -4.0
        "mink": (mink_score(members), mink_score(nonmembers)),
        # Min-K++: z = (logp + 0.5) / 0.5, lowest: members 0.6, 0.4; non-members -5.0, -7.0
        "minkpp": (minkpp_score(members), minkpp_score(nonmembers)),
        "reference": (reference_score(members, reference), reference_score(nonmembers, reference)),
    }
    assert scores["mink"][0] == pytest.approx([-0.2, -0.3]) and scores["minkpp"][1] == pytest.approx([-5.0, -7.0])
    for name, (m, n) in scores.items():
        assert mia_auc(m, n) == 1.0, name


def test_gradnorm_by_hand_direction_and_no_side_effects():
    from obliviate.llm.encoding import collate, mean_nll
    from obliviate.llm.eval.scoring import Scorer
    from obliviate.models.tiny import tiny_model_for

    names = ["ada", "bo", "cy", "di", "ed", "fay", "gus", "hal"]
    cities = ["rome", "oslo", "lima", "kiev", "bern", "doha", "riga", "baku"]
    pairs = [(f"where does {n} live ?", f"{n} lives in {c} .") for n, c in zip(names, cities)]
    members = pairs[:4]
    model, tok = tiny_model_for([t for p in pairs for t in p] + ["Question:", "Answer:"], seed=0,
                                hidden_size=32, layers=1, heads=2, intermediate_size=64)
    scorer = Scorer(model, tok, batch_size=8)
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = collate(scorer.fmt, members)
    for _ in range(60):  # memorise the members
        opt.zero_grad()
        mean_nll(model, batch).backward()
        opt.step()
    model.zero_grad(set_to_none=True)

    # by hand: backward on one member, the mean over parameter tensors of the gradients' 2-norms, negated
    loss = mean_nll(model, collate(scorer.fmt, members[:1]))
    loss.backward()
    by_hand = -torch.stack([w.grad.norm(2) for w in model.parameters()]).mean().item()
    model.zero_grad(set_to_none=True)

    model.train()
    frozen = next(model.parameters())
    frozen.requires_grad_(False)
    last = list(model.parameters())[-1]
    last.grad = torch.full_like(last, 7.0)  # an accumulated gradient the attack must leave alone
    scores = gradnorm_score(scorer, pairs)
    assert scores[0] == pytest.approx(by_hand, rel=1e-4)
    assert model.training and not frozen.requires_grad  # mode and flags restored
    assert torch.equal(last.grad, torch.full_like(last, 7.0))
    assert all(w.grad is None for w in model.parameters() if w is not last)
    # members sit near a minimum: smaller gradients, higher score
    assert mia_auc(scores[:4], scores[4:]) == 1.0
    # through the metric, opt-in
    recs = [QARecord(id=f"x{i}", entity="e", question=q, answer=a, paraphrased_question=q, paraphrased_answer=a,
                     perturbed_answers=[a], fact_type="t") for i, (q, a) in enumerate(pairs)]
    ctx = MetricContext("forget", {"nonmembers": recs[4:]})
    assert "auc_gradnorm" not in METRICS.get("mia")(scorer, recs[:4], ctx)
    ctx = MetricContext("forget", {"nonmembers": recs[4:], "gradnorm": True})
    aucs = METRICS.get("mia")(scorer, recs[:4], ctx)
    assert aucs["auc_gradnorm"] == 1.0
    assert ctx.extra["per_sample"]["mia"]["members"]["gradnorm"] == pytest.approx(scores[:4].tolist(), rel=1e-4)
