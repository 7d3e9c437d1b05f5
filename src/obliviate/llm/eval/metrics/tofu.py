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

import logging
import math
import re
from collections.abc import Sequence

import numpy as np

from obliviate.llm.eval.metrics.base import METRICS, OU_EPS, OU_MAX_NEW_TOKENS, MetricContext
from obliviate.llm.eval.metrics.plausibility import summarize

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


def rouge_figures(prediction: str, reference: str, *, stem: bool = False) -> dict[str, float]:
    """ROUGE-1 recall, ROUGE-L recall and ROUGE-L F1 (``rouge1_recall``, ``rougeL_recall``, ``rougeL_f1``).

    ``stem=False``: our tokenisation (rouge-score's default, no stemming; :func:`rouge_tokens`, :func:`lcs_length`).
    ``stem=True``: rouge-score itself with ``use_stemmer=True``, OpenUnlearning's ``eval_text_similarity``.
    """
    if stem:
        s = _stemming_scorer().score(reference, prediction)
        return {"rouge1_recall": s["rouge1"].recall, "rougeL_recall": s["rougeL"].recall,
                "rougeL_f1": s["rougeL"].fmeasure}
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    lcs = lcs_length(pred, ref)
    unigrams = sum(min(pred.count(t), ref.count(t)) for t in set(ref))
    f1 = 0.0 if lcs == 0 else 2 * lcs / (len(pred) + len(ref))  # = 2PR/(P+R) with P = lcs/|pred|, R = lcs/|ref|
    return {"rouge1_recall": unigrams / len(ref) if ref else 0.0, "rougeL_recall": lcs / len(ref) if ref else 0.0,
            "rougeL_f1": f1}


_STEMMING_SCORER = None


def _stemming_scorer():
    global _STEMMING_SCORER
    if _STEMMING_SCORER is None:
        # deferred: loads rouge_score
        from rouge_score import rouge_scorer

        logging.getLogger("absl").setLevel(logging.WARNING)
        _STEMMING_SCORER = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)
    return _STEMMING_SCORER


def exact_answer_match(prediction: str, reference: str) -> bool:
    """The generation starts with the gold answer (rouge tokens, case and punctuation ignored)."""
    ref, pred = rouge_tokens(reference), rouge_tokens(prediction)
    return bool(ref) and pred[: len(ref)] == ref


def answer_probability(logp: np.ndarray, ntok: np.ndarray) -> np.ndarray:
    """Per sample ``exp(-mean token NLL) = P(a|q)^(1/|a|)`` from summed log-probs and token counts.

    OpenUnlearning's ``probability`` (``exp(-avg_loss)``); the split's figure is its mean.
    """
    return np.exp(np.asarray(logp, float) / np.maximum(np.asarray(ntok), 1))


def option_share(correct_norm_logp: np.ndarray, wrong_norm_logp: np.ndarray, *, ou: bool = False) -> np.ndarray:
    """Per sample, the correct option's share ``p_c / (p_c + sum_j p_j)`` of length-normalised probabilities.

    OpenUnlearning's ``probability_w_options``. By default without its ``1e-10``
    and in log space, so that options with tiny probabilities do not give 0/0;
    ``ou=True``: theirs, ``p_c / (p_c + sum_j p_j + 1e-10)`` (0 once every option is below ~1e-10).

    Args:
        correct_norm_logp: (N,) ``log P(a|q) / |a|`` of the correct option.
        wrong_norm_logp: (N, K) the same for the K wrong options.
    """
    if ou:
        pc, pw = np.exp(np.asarray(correct_norm_logp, float)), np.exp(np.asarray(wrong_norm_logp, float))
        return pc / (pc + pw.sum(axis=1) + OU_EPS)
    both = np.concatenate([np.asarray(correct_norm_logp, float)[:, None], np.asarray(wrong_norm_logp, float)], axis=1)
    top = both.max(axis=1, keepdims=True)
    weights = np.exp(both - top)  # (N, K+1), the largest option at 1
    return weights[:, 0] / weights.sum(axis=1)


def truth_ratio(ref_norm_logp: np.ndarray, pert_norm_logp: np.ndarray, *, ou: bool = False) -> np.ndarray:
    """Per-sample ``R = exp(mean_k pert_k - ref)``; inputs are length-normalised log-probs.

    The wrong answers' probabilities are averaged geometrically (their mean
    NLLs arithmetically), as OpenUnlearning's ``truth_ratio``. ``ou=True``: theirs
    exactly, ``exp(mean_k pert_k) / (exp(ref) + 1e-10)``. The two part where the
    true answer's per-token probability nears 1e-10 (a mean token NLL past ~20
    nats, a model that gradient ascent destroyed): there theirs tends to 0 (like
    a model that knows the answer), ours stays the ratio of the two probabilities.

    Args:
        ref_norm_logp: (N,) ``log P(a_ref|q) / |a_ref|``.
        pert_norm_logp: (N, K) the same for the K perturbed answers.
    """
    ref, pert = np.asarray(ref_norm_logp, float), np.asarray(pert_norm_logp, float)
    if ou:
        return np.exp(pert.mean(axis=1)) / (np.exp(ref) + OU_EPS)
    return np.exp(pert.mean(axis=1) - ref)


def truth_ratio_prob_mean(ref_norm_logp: np.ndarray, pert_norm_logp: np.ndarray, *, ou: bool = False) -> float:
    """OpenUnlearning's ``prob_mean`` reading of the truth ratio: ``mean(p_true / (p_true + p_wrong))``.

    ``p_true = exp(ref)``, ``p_wrong = exp(mean_k pert_k)`` (the geometric mean of the wrong answers'
    normalised probabilities). 1 = the true answer far likelier, 0.5 = as likely as the wrong ones.
    Default: in log space, ``1 / (1 + R)`` with ``R`` of :func:`truth_ratio` (no 0/0 when both
    underflow); ``ou=True``: theirs, ``p_true / (p_true + p_wrong + 1e-10)``.
    """
    ref, pert = np.asarray(ref_norm_logp, float), np.asarray(pert_norm_logp, float)
    if ou:
        pt, pw = np.exp(ref), np.exp(pert.mean(axis=1))
        return float((pt / (pt + pw + OU_EPS)).mean())
    return float((1.0 / (1.0 + np.exp(pert.mean(axis=1) - ref))).mean())


def closer_to_1_better(tr: np.ndarray, *, ou: bool = False) -> float:
    """Forget-set truth ratio figure ``mean(min(R, 1/R))``: 1 = true and wrong answers equally likely.

    ``ou=True``: OpenUnlearning's ``mean(min(R, 1/(R + 1e-10)))``.
    """
    tr = np.asarray(tr, float)
    with np.errstate(divide="ignore"):
        return float(np.minimum(tr, 1 / (tr + OU_EPS) if ou else 1 / tr).mean())


def true_better(tr: np.ndarray) -> float:
    """Truth ratio figure of the other sets, ``mean(max(0, 1 - R))``: 1 = the true answer far likelier."""
    return float(np.maximum(0.0, 1 - np.asarray(tr, float)).mean())


def truth_ratio_figure(tr: np.ndarray, split: str, *, ou: bool = False) -> float:
    """The reported truth ratio of a split: :func:`closer_to_1_better` on forget, :func:`true_better` elsewhere."""
    return closer_to_1_better(tr, ou=ou) if split == "forget" else true_better(tr)


def forget_quality(unlearned_tr: np.ndarray, gold_tr: np.ndarray) -> float:
    """Two-sample KS-test p-value between truth-ratio samples (high = like the gold model).

    ``scipy.stats.ks_2samp`` with its defaults, as OpenUnlearning's ``ks_test``.
    (Their older ``get_forget_quality`` tests ``1/R``; KS is invariant under a
    monotone map, so the p-value is the same.)
    """
    # deferred: loads scipy
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
    # deferred: loads scipy
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
    # deferred: loads scipy
    from scipy.stats import hmean

    vals = np.clip(np.asarray(values, dtype=float), 0.0, None)
    return 0.0 if (vals <= 0).any() or len(vals) == 0 else float(hmean(vals))


COLLAPSE_MARGIN_NATS = 5.0


def collapse_threshold(vocab_size: int) -> float:
    """Mean token NLL (nats) of true answers above which a model counts as collapsed: ``log V + 5``.

    ``log V`` is what a uniform guess over the vocabulary gives; a model that merely does not know an
    answer (the gold model on the forget set) stays below it, while one that gradient ascent pushed away
    from the answers puts them ``e^5`` (~150) times below a uniform guess and more. Such a model's truth
    ratio can look "like gold" (a ratio of two vanishing probabilities), so it is marked, never ranked.
    """
    return math.log(max(int(vocab_size), 2)) + COLLAPSE_MARGIN_NATS


@METRICS.register("tofu_qa", paper="Maini et al. 2024, arXiv 2401.06121")
def tofu_qa(scorer, records, ctx: MetricContext) -> dict[str, float]:
    """Probability, ROUGE, truth ratio and exact-answer match on one split, with OpenUnlearning's other figures.

    Keys (OpenUnlearning's name in brackets, ``<s>`` its split prefix): ``answer_prob`` (``<s>_Q_A_Prob``;
    on option sets ``<s>_Q_A_Prob_normalised``, the raw one is ``answer_prob_raw``), ``para_prob``
    (``<s>_Q_A_PARA_Prob``), ``pert_prob`` (``<s>_Q_A_PERT_Prob``: per record the mean over its perturbed
    answers), ``rouge_l_recall`` (``<s>_Q_A_ROUGE``), ``rouge1_recall``, ``rouge_l_f1``,
    ``para_rouge_l_recall`` and ``pert_rouge_l_recall`` (``<s>_Q_A_PARA_ROUGE``, ``<s>_Q_A_PERT_ROUGE``: the
    same greedy answer against the paraphrased and the perturbed answers), ``truth_ratio``
    (``<s>_Truth_Ratio``), ``truth_ratio_prob_mean`` (the ``prob_mean`` aggregator), ``exact_answer_match``,
    ``median_token_nll`` (the median over records of the true answer's mean token NLL) and ``collapsed`` (it
    exceeds :func:`collapse_threshold`). ``ctx.compat == "openunlearning"``: their
    1e-10 guards, Porter-stemmed ROUGE, up to 200 new tokens. On a forget split of generated people also
    ``plausible`` and ``plausible_wrong``: the share of greedy answers of the right kind for their fact type,
    and of the right kind but not the true value (see :mod:`~obliviate.llm.eval.metrics.plausibility`).
    """
    ou = ctx.openunlearning
    n = len(records)
    k = min(len(r.perturbed_answers) for r in records)
    options = ctx.split in OPTION_SPLITS
    pairs = [(r.question, r.answer) for r in records]
    pairs += [(r.question, r.paraphrased_answer) for r in records]
    pairs += [(r.question, p) for r in records for p in r.perturbed_answers[:k]]
    logp, ntok = scorer.answer_logprobs(pairs, desc=f"scoring {ctx.split}")
    norm = logp / np.maximum(ntok, 1)
    ans, para, pert = norm[:n], norm[n : 2 * n], norm[2 * n :].reshape(n, k)
    raw = answer_probability(logp[:n], ntok[:n])
    prob = option_share(ans, pert, ou=ou) if options else raw
    ref = ans if options else para
    tr = truth_ratio(ref, pert, ou=ou)
    gens = scorer.generate([r.question for r in records], desc=f"generating {ctx.split}",
                           max_new_tokens=OU_MAX_NEW_TOKENS if ou else None)
    rouge = [rouge_figures(g, r.answer, stem=ou) for g, r in zip(gens, records)]
    para_rouge = [rouge_figures(g, r.paraphrased_answer, stem=ou)["rougeL_recall"] for g, r in zip(gens, records)]
    pert_rouge = [np.mean([rouge_figures(g, p, stem=ou)["rougeL_recall"] for p in r.perturbed_answers[:k]])
                  for g, r in zip(gens, records)]
    exact = np.array([exact_answer_match(g, r.answer) for g, r in zip(gens, records)], dtype=float)
    nll = -ans  # mean token NLL of each true answer
    ctx.extra.setdefault("per_sample", {})[ctx.split] = {
        "truth_ratio": tr.tolist(),
        "generations": gens,
        "ids": [r.id for r in records],
        "entities": [r.entity for r in records],  # the person of each record: intervals resample people
    }
    out = {
        "answer_prob": float(prob.mean()),
        "para_prob": float(np.exp(para).mean()),
        "pert_prob": float(np.exp(pert).mean(axis=1).mean()),
        "rouge_l_recall": float(np.mean([r["rougeL_recall"] for r in rouge])),
        "rouge1_recall": float(np.mean([r["rouge1_recall"] for r in rouge])),
        "rouge_l_f1": float(np.mean([r["rougeL_f1"] for r in rouge])),
        "para_rouge_l_recall": float(np.mean(para_rouge)),
        "pert_rouge_l_recall": float(np.mean(pert_rouge)),
        "truth_ratio": truth_ratio_figure(tr, ctx.split, ou=ou),
        "truth_ratio_prob_mean": truth_ratio_prob_mean(ref, pert, ou=ou),
        "exact_answer_match": float(exact.mean()),
        "median_token_nll": float(np.median(nll)),
        "collapsed": bool(np.median(nll) > collapse_threshold(scorer.vocab_size)),
        "n": n,
    }
    if options:
        out["answer_prob_raw"] = float(raw.mean())
    if ctx.split == "forget":  # answers of the right kind for their fact type, from the same greedy answers

        kinds, _ = summarize(records, gens)
        if kinds["n"]:  # generated people only: other records have no known pool of values
            out.update(plausible=kinds["plausible"], plausible_wrong=kinds["plausible_wrong"])
    return out
