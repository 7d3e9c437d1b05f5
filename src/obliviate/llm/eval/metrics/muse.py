"""MUSE memorisation metrics, OpenUnlearning's extraction metrics, and BLUR's answer checks.

* verbatim memorisation (MUSE VerbMem): ROUGE-L F1 between the greedy
  continuation of a text prefix and its true continuation;
* knowledge memorisation (MUSE KnowMem): ROUGE-L F1 between the greedy answer
  and the gold answer;
* exact memorisation: share of answer tokens whose teacher-forced argmax is
  the label; extraction strength: ``1 - k/|y|``, ``k`` the smallest index from
  which the teacher-forced argmax matches the answer to its end (both
  OpenUnlearning; answer tokens include eos, as everywhere in the scorer);
* BLUR (Hu et al. 2025): ROUGE-L recall of the model's greedy answer against
  the *base* model's greedy answer, and fluency as the perplexity of the
  model's greedy answers under the base model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from obliviate.core.errors import ObliviateError
from obliviate.llm.eval.metrics.base import METRICS, MetricContext
from obliviate.llm.eval.metrics.tofu import lcs_length, rouge_l_recall, rouge_tokens
from obliviate.llm.eval.scoring import TokenStats

VERBATIM_MAX_NEW_TOKENS = 48


def rouge_l_f1(prediction: str, reference: str) -> float:
    """ROUGE-L F1 (rouge-score's ``fmeasure``, default tokenisation, no stemming)."""
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    lcs = lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def _matches(s: TokenStats, ou: bool) -> np.ndarray:
    """The argmax matches a token-wise figure reads: every answer token (eos included), or with ``ou``
    all but the last, as OpenUnlearning's ``tokenwise_vocab_logprobs`` ("-1 to ignore eos prediction")."""
    return s.argmax_match[:-1] if ou else s.argmax_match


def exact_memorization(stats: Sequence[TokenStats], *, ou: bool = False) -> np.ndarray:
    """Per sample, the share of answer tokens whose teacher-forced argmax equals the label.

    ``ou=True``: without the last label token (eos); a sample left with no token is NaN (theirs: None,
    left out of the mean).
    """
    out = []
    for s in stats:
        m = _matches(s, ou)
        out.append(m.mean() if len(m) else (np.nan if ou else 0.0))
    return np.array(out, dtype=float)


def extraction_strength(stats: Sequence[TokenStats], *, ou: bool = False) -> np.ndarray:
    """Per sample, ``1 - k/|y|``, ``k`` the smallest index from which every argmax matches its label.

    All tokens match: 1; the last token mismatches: 0 (``k = |y|``). ``ou=True``: OpenUnlearning's exactly:
    the last label token (eos) is dropped first (so a model that reproduces the answer but does not stop
    scores 1), and its loop stops at ``k = |y| - 1``, giving ``1/|y|`` when the last token mismatches.
    """
    out = np.zeros(len(stats))
    for i, s in enumerate(stats):
        m = _matches(s, ou)
        n = len(m)
        if n == 0:
            continue
        miss = ~m[::-1]  # from the end
        trailing = int(np.argmax(miss)) if miss.any() else n  # matches at the end
        k = n - trailing
        out[i] = 1 - (min(k, n - 1) if ou else k) / n
    return out


def perplexity(logp: np.ndarray, ntok: np.ndarray) -> np.ndarray:
    """Per-sample perplexity ``exp(-logp / n)`` from summed log-probs and token counts."""
    return np.exp(-np.asarray(logp, float) / np.maximum(np.asarray(ntok), 1))


def _base_scorer(ctx: MetricContext, metric: str):
    base = ctx.extra.get("base_scorer")
    if base is None:
        raise ObliviateError(f"the {metric} metric needs ctx.extra['base_scorer'], a Scorer on the base model")
    return base


@METRICS.register("memorization", paper="OpenUnlearning (Dorna et al. 2025), arXiv 2506.12618")
def memorization(scorer, records, ctx: MetricContext) -> dict[str, float]:
    """Mean exact memorisation and extraction strength of the answers (teacher forcing)."""
    stats = scorer.token_stats([(r.question, r.answer) for r in records], desc=f"memorisation {ctx.split}")
    ou = ctx.openunlearning
    return {
        "exact_memorization": float(np.nanmean(exact_memorization(stats, ou=ou))),
        "extraction_strength": float(extraction_strength(stats, ou=ou).mean()),
    }


@METRICS.register("verbatim", paper="Shi et al. 2024 (MUSE), arXiv 2407.06460")
def verbatim(scorer, records, ctx: MetricContext) -> dict[str, float]:
    """MUSE VerbMem: ROUGE-L F1 of the greedy continuation of ``question`` (a raw text prefix) against ``answer``."""
    conts = scorer.continue_text([r.question for r in records], max_new_tokens=VERBATIM_MAX_NEW_TOKENS,
                                 desc=f"continuing {ctx.split}")
    f1 = [rouge_l_f1(c, r.answer) for c, r in zip(conts, records)]
    return {"verbmem_rouge_l_f1": float(np.mean(f1))}


@METRICS.register("knowledge", paper="Shi et al. 2024 (MUSE), arXiv 2407.06460")
def knowledge(scorer, records, ctx: MetricContext) -> dict[str, float]:
    """MUSE KnowMem: ROUGE-L F1 of the greedy answer against the gold answer."""
    gens = scorer.generate([r.question for r in records], desc=f"generating {ctx.split}")
    return {"knowmem_rouge_l_f1": float(np.mean([rouge_l_f1(g, r.answer) for g, r in zip(gens, records)]))}


@METRICS.register("base_rouge", paper="Hu et al. 2025 (BLUR), arXiv 2506.15699")
def base_rouge(scorer, records, ctx: MetricContext) -> dict[str, float]:
    """BLUR: ROUGE-L recall of the greedy answer against the base model's (``ctx.extra["base_scorer"]``)."""
    questions = [r.question for r in records]
    base_answers = _base_scorer(ctx, "base_rouge").generate(questions, desc=f"base answers {ctx.split}")
    gens = scorer.generate(questions, desc=f"generating {ctx.split}")
    return {"base_rouge_l_recall": float(np.mean([rouge_l_recall(g, b) for g, b in zip(gens, base_answers)]))}


@METRICS.register("fluency", paper="Hu et al. 2025 (BLUR), arXiv 2506.15699")
def fluency(scorer, records, ctx: MetricContext) -> dict[str, float]:
    """BLUR fluency: perplexity of the greedy answers under the base model (``ctx.extra["base_scorer"]``).

    Per sample ``exp(mean token NLL)`` of (question, generated answer) with eos,
    so an empty generation is scored as the eos-only answer; mean and median.
    """
    questions = [r.question for r in records]
    gens = scorer.generate(questions, desc=f"generating {ctx.split}")
    logp, ntok = _base_scorer(ctx, "fluency").answer_logprobs(list(zip(questions, gens)),
                                                             desc=f"fluency {ctx.split}")
    ppl = perplexity(logp, ntok)
    return {"fluency_ppl_mean": float(ppl.mean()), "fluency_ppl_median": float(np.median(ppl))}
