"""MEMO: how much of an answer the model reproduces from its own prefixes (Gu et al. 2024, MEOW, arXiv 2409.11844).

For an answer ``y`` to question ``q`` and each cut ``i = 1, 1 + stride, 1 + 2 stride, ...``
characters (``i < |y|``), the model greedily continues ``q`` + ``y[:i]``; the
cut's score is the ROUGE-1 precision of the continuation against ``y[i:]``
(share of the continuation's unigrams, clipped, that occur in the rest of the
answer; rouge-score tokenisation). MEMO is the mean over cuts: 1 when every
prefix leads back to the answer, near 0 when the model goes elsewhere.
MEOW uses it to pick which inverted facts to train on; as a metric on the
forget split it measures how much of the true answers the model still
reproduces.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from obliviate.llm.eval.metrics.base import METRICS, MetricContext
from obliviate.llm.eval.metrics.tofu import rouge_tokens

STRIDE = 5


def rouge1_precision(prediction: str, reference: str) -> float:
    """Clipped unigram overlap / unigrams of ``prediction`` (0 for an empty prediction)."""
    pred, ref = Counter(rouge_tokens(prediction)), Counter(rouge_tokens(reference))
    total = sum(pred.values())
    return sum((pred & ref).values()) / total if total else 0.0


def cuts(answer: str, stride: int = STRIDE) -> list[int]:
    """Character cut points ``1, 1 + stride, ...`` below ``len(answer)`` (at least one for a non-empty answer)."""
    return list(range(1, len(answer), stride)) or ([1] if answer else [])


def memo_scores(scorer, pairs: Sequence[tuple[str, str]], stride: int = STRIDE, max_new_tokens: int | None = None,
                desc: str = "MEMO") -> np.ndarray:
    """MEMO of each ``(question, answer)`` pair under ``scorer``'s model: (n,) in [0, 1].

    Args:
        scorer: a :class:`~obliviate.llm.eval.scoring.Scorer`.
        pairs: questions and the answers to test.
        stride: characters between cuts (5 in the paper: i = 1, 6, 11, ...).
        max_new_tokens: continuation length (default: the longest answer's token count + 2).
    """
    if not pairs:
        return np.zeros(0)
    if max_new_tokens is None:
        tok = scorer.tokenizer
        max_new_tokens = max(len(tok(a, add_special_tokens=False)["input_ids"]) for _, a in pairs) + 2
    probes = [(q, a[:i], a[i:]) for q, a in pairs for i in cuts(a, stride)]
    conts = scorer.continue_answers([(q, pre) for q, pre, _ in probes], max_new_tokens=max_new_tokens, desc=desc)
    scores = iter(rouge1_precision(c, rest) for c, (_, _, rest) in zip(conts, probes))
    return np.array([np.mean([next(scores) for _ in cuts(a, stride)]) if a else 0.0 for _, a in pairs])


@METRICS.register("memo", paper="Gu et al. 2024 (MEOW), arXiv 2409.11844")
def memo(scorer, records, ctx: MetricContext) -> dict[str, float]:
    """Mean MEMO of the true answers (how much of them the model reproduces from prefixes)."""
    scores = memo_scores(scorer, [(r.question, r.answer) for r in records], desc=f"MEMO {ctx.split}")
    return {"memo": float(scores.mean()) if len(scores) else float("nan")}
