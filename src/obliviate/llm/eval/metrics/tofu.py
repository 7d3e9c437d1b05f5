"""TOFU metrics (Maini et al. 2024, arXiv 2401.06121), OpenUnlearning conventions.

* answer probability ``P(a|q)^(1/|a|)`` (on option sets, world facts and real
  entities: the correct option's share of all options, OpenUnlearning's
  ``probability_w_options``);
* ROUGE-L recall of the greedy answer against the gold answer;
* truth ratio ``R = geomean_pert P(a_pert|q)^(1/|a_pert|) / P(a_ref|q)^(1/|a_ref|)``,
  ``a_ref`` the paraphrased answer (the perturbed answers are written in its
  template, as in TOFU) and, on option sets, the answer; reported as
  ``mean(min(R, 1/R))`` on forget (OpenUnlearning's ``closer_to_1_better``),
  ``mean(max(0, 1 - R))`` elsewhere (``true_better``);
* forget quality: KS-test p-value between the unlearned and the gold model's
  per-sample forget truth ratios, and its log10, finite even where the
  p-value underflows;
* model utility: harmonic mean of {probability, ROUGE-L, truth ratio} over
  the utility splits (retain, real entities, world facts).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from obliviate.llm.eval.metrics.base import METRICS, MetricContext

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
OPTION_SPLITS = ("world_facts", "real_entities")  # multiple-choice sets: probability is the correct option's share


def rouge_tokens(text: str) -> list[str]:
    """rouge-score's default tokenisation (lower-case, alphanumeric runs, no stemming)."""
    return [t for t in _NON_ALNUM.sub(" ", text.lower()).split() if t]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (O(len(a) * len(b)) DP, one row)."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l_recall(prediction: str, reference: str) -> float:
    """ROUGE-L recall: LCS(prediction, reference) / |reference| in rouge tokens."""
    ref = rouge_tokens(reference)
    return lcs_length(rouge_tokens(prediction), ref) / len(ref) if ref else 0.0


def exact_answer_match(prediction: str, reference: str) -> bool:
    """The generation starts with the gold answer (rouge tokens, case and punctuation ignored)."""
    ref, pred = rouge_tokens(reference), rouge_tokens(prediction)
    return bool(ref) and pred[: len(ref)] == ref


def answer_probability(logp: np.ndarray, ntok: np.ndarray) -> np.ndarray:
    """Per sample ``exp(-mean token NLL) = P(a|q)^(1/|a|)`` from summed log-probs and token counts.

    OpenUnlearning's ``probability`` (``exp(-avg_loss)``); the split's figure is its mean.
    """
    return np.exp(np.asarray(logp, float) / np.maximum(np.asarray(ntok), 1))


def option_share(correct_norm_logp: np.ndarray, wrong_norm_logp: np.ndarray) -> np.ndarray:
    """Per sample, the correct option's share ``p_c / (p_c + sum_j p_j)`` of length-normalised probabilities.

    OpenUnlearning's ``probability_w_options`` (without its ``1e-10``), computed
    in log space so that options with tiny probabilities do not give 0/0.

    Args:
        correct_norm_logp: (N,) ``log P(a|q) / |a|`` of the correct option.
        wrong_norm_logp: (N, K) the same for the K wrong options.
    """
    both = np.concatenate([np.asarray(correct_norm_logp, float)[:, None], np.asarray(wrong_norm_logp, float)], axis=1)
    top = both.max(axis=1, keepdims=True)
    weights = np.exp(both - top)  # (N, K+1), the largest option at 1
    return weights[:, 0] / weights.sum(axis=1)


def truth_ratio(ref_norm_logp: np.ndarray, pert_norm_logp: np.ndarray) -> np.ndarray:
    """Per-sample ``R = exp(mean_k pert_k - ref)``; inputs are length-normalised log-probs.

    The wrong answers' probabilities are averaged geometrically (their mean
    NLLs arithmetically), as OpenUnlearning's ``truth_ratio``.

    Args:
        ref_norm_logp: (N,) ``log P(a_ref|q) / |a_ref|``.
        pert_norm_logp: (N, K) the same for the K perturbed answers.
    """
    return np.exp(pert_norm_logp.mean(axis=1) - ref_norm_logp)


def closer_to_1_better(tr: np.ndarray) -> float:
    """Forget-set truth ratio figure ``mean(min(R, 1/R))``: 1 = true and wrong answers equally likely."""
    tr = np.asarray(tr, float)
    return float(np.minimum(tr, 1 / tr).mean())


def true_better(tr: np.ndarray) -> float:
    """Truth ratio figure of the other sets, ``mean(max(0, 1 - R))``: 1 = the true answer far likelier."""
    return float(np.maximum(0.0, 1 - np.asarray(tr, float)).mean())


def truth_ratio_figure(tr: np.ndarray, split: str) -> float:
    """The reported truth ratio of a split: :func:`closer_to_1_better` on forget, :func:`true_better` elsewhere."""
    return closer_to_1_better(tr) if split == "forget" else true_better(tr)


def forget_quality(unlearned_tr: np.ndarray, gold_tr: np.ndarray) -> float:
    """Two-sample KS-test p-value between truth-ratio samples (high = like the gold model).

    ``scipy.stats.ks_2samp`` with its defaults, as OpenUnlearning's ``ks_test``.
    (Their older ``get_forget_quality`` tests ``1/R``; KS is invariant under a
    monotone map, so the p-value is the same.)
    """
    from scipy.stats import ks_2samp

    return float(ks_2samp(np.asarray(unlearned_tr), np.asarray(gold_tr)).pvalue)


def forget_quality_log10(unlearned_tr: np.ndarray, gold_tr: np.ndarray) -> float:
    """``log10`` of :func:`forget_quality`, finite where the p-value underflows to 0.

    Where scipy's p-value is a normal float it is ``log10(p)`` exactly. Below
    that (p < 2.2e-308, samples of hundreds that are told apart completely)
    it comes from the KS statistic ``D`` and the sample sizes ``m, n``:

    * ``D = 1`` (complete separation): the exact ``log10(2 / C(m+n, m))``;
    * otherwise the asymptotic (Kolmogorov) tail with the effective size
      ``en = m n / (m + n)``: ``log(2 sum_k (-1)^(k-1) exp(-2 k^2 x^2))``,
      ``x = D sqrt(en)``, summed in log space (``kstwobign.logsf`` itself
      underflows there).

    Both decrease with ``D``, so saturated models still compare.
    """
    from scipy.special import gammaln
    from scipy.stats import ks_2samp

    a, b = np.asarray(unlearned_tr, float), np.asarray(gold_tr, float)
    res = ks_2samp(a, b)
    if res.pvalue >= np.finfo(float).tiny:
        return math.log10(res.pvalue)
    m, n, d = len(a), len(b), float(res.statistic)
    if d >= 1.0:
        log_p = math.log(2.0) - (gammaln(m + n + 1) - gammaln(m + 1) - gammaln(n + 1))
    else:
        x2 = d * d * m * n / (m + n)
        # 2 exp(-2 x^2) (1 - exp(-6 x^2) + exp(-16 x^2) - ...): the bracket is 1 to float precision here
        terms = sum((-1) ** (k - 1) * math.exp(-2 * (k * k - 1) * x2) for k in range(1, 6))
        log_p = math.log(2.0) - 2 * x2 + math.log(terms)
    return float(log_p / math.log(10))


def model_utility(values: Sequence[float]) -> float:
    """Harmonic mean, ``scipy.stats.hmean`` (0 if any value is 0; negatives clipped to 0)."""
    from scipy.stats import hmean

    vals = np.clip(np.asarray(values, dtype=float), 0.0, None)
    return 0.0 if (vals <= 0).any() or len(vals) == 0 else float(hmean(vals))


@METRICS.register("tofu_qa", paper="Maini et al. 2024, arXiv 2401.06121")
def tofu_qa(scorer, records, ctx: MetricContext) -> dict[str, float]:
    """Probability, ROUGE-L recall, truth ratio and exact-answer match on one split."""
    n = len(records)
    k = min(len(r.perturbed_answers) for r in records)
    options = ctx.split in OPTION_SPLITS
    pairs = [(r.question, r.answer) for r in records]
    pairs += [(r.question, r.paraphrased_answer) for r in records]
    pairs += [(r.question, p) for r in records for p in r.perturbed_answers[:k]]
    logp, ntok = scorer.answer_logprobs(pairs, desc=f"scoring {ctx.split}")
    norm = logp / np.maximum(ntok, 1)
    ans, para, pert = norm[:n], norm[n : 2 * n], norm[2 * n :].reshape(n, k)
    prob = option_share(ans, pert) if options else answer_probability(logp[:n], ntok[:n])
    tr = truth_ratio(ans if options else para, pert)
    gens = scorer.generate([r.question for r in records], desc=f"generating {ctx.split}")
    rouge = np.array([rouge_l_recall(g, r.answer) for g, r in zip(gens, records)])
    exact = np.array([exact_answer_match(g, r.answer) for g, r in zip(gens, records)], dtype=float)
    ctx.extra.setdefault("per_sample", {})[ctx.split] = {
        "truth_ratio": tr.tolist(),
        "generations": gens,
        "ids": [r.id for r in records],
    }
    return {
        "answer_prob": float(prob.mean()),
        "rouge_l_recall": float(rouge.mean()),
        "truth_ratio": truth_ratio_figure(tr, ctx.split),
        "exact_answer_match": float(exact.mean()),
        "n": n,
    }
