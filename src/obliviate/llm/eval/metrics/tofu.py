"""TOFU metrics (Maini et al. 2024, arXiv 2401.06121), OpenUnlearning conventions.

* answer probability ``P(a|q)^(1/|a|)`` (on option sets: the correct option's
  share of all options);
* ROUGE-L recall of the greedy answer against the gold answer;
* truth ratio ``R = geomean_pert P(a_pert|q)^(1/|a_pert|) / P(a_ref|q)^(1/|a_ref|)``,
  ``a_ref`` the paraphrased answer (the perturbed answers are written in its
  template, as in TOFU) and, on option sets (world facts), the answer;
  reported as ``mean(min(R, 1/R))`` on forget, ``mean(max(0, 1 - R))`` elsewhere;
* forget quality: KS-test p-value between the unlearned and the gold model's
  per-sample forget truth ratios;
* model utility: harmonic mean of {probability, ROUGE-L, truth ratio} over
  the utility splits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from obliviate.llm.eval.metrics.base import METRICS, MetricContext

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


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


def truth_ratio(ref_norm_logp: np.ndarray, pert_norm_logp: np.ndarray) -> np.ndarray:
    """Per-sample ``R = exp(mean_k pert_k - ref)``; inputs are length-normalised log-probs.

    Args:
        ref_norm_logp: (N,) ``log P(a_ref|q) / |a_ref|``.
        pert_norm_logp: (N, K) the same for the K perturbed answers.
    """
    return np.exp(pert_norm_logp.mean(axis=1) - ref_norm_logp)


def forget_quality(unlearned_tr: np.ndarray, gold_tr: np.ndarray) -> float:
    """Two-sample KS-test p-value between truth-ratio samples (high = like the gold model)."""
    from scipy.stats import ks_2samp

    return float(ks_2samp(np.asarray(unlearned_tr), np.asarray(gold_tr)).pvalue)


def model_utility(values: Sequence[float]) -> float:
    """Harmonic mean (0 if any value is 0)."""
    from scipy.stats import hmean

    vals = np.clip(np.asarray(values, dtype=float), 0.0, None)
    return 0.0 if (vals <= 0).any() or len(vals) == 0 else float(hmean(vals))


@METRICS.register("tofu_qa", paper="Maini et al. 2024, arXiv 2401.06121")
def tofu_qa(scorer, records, ctx: MetricContext) -> dict[str, float]:
    """Probability, ROUGE-L recall, truth ratio and exact-answer match on one split."""
    n = len(records)
    k = min(len(r.perturbed_answers) for r in records)
    options = ctx.split == "world_facts"
    use_para = not options
    pairs = [(r.question, r.answer) for r in records]
    pairs += [(r.question, r.paraphrased_answer) for r in records]
    pairs += [(r.question, p) for r in records for p in r.perturbed_answers[:k]]
    logp, ntok = scorer.answer_logprobs(pairs, desc=f"scoring {ctx.split}")
    norm = logp / np.maximum(ntok, 1)
    ans, para, pert = norm[:n], norm[n : 2 * n], norm[2 * n :].reshape(n, k)
    if options:  # correct option's share among all options
        all_opts = np.concatenate([ans[:, None], pert], axis=1)
        prob = np.exp(ans) / np.exp(all_opts).sum(axis=1)
    else:
        prob = np.exp(ans)
    tr = truth_ratio(para if use_para else ans, pert)
    tr_stat = np.minimum(tr, 1 / tr) if ctx.split == "forget" else np.maximum(0.0, 1 - tr)
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
        "truth_ratio": float(tr_stat.mean()),
        "exact_answer_match": float(exact.mean()),
        "n": n,
    }
