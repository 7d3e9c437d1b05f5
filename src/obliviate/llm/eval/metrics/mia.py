"""Membership-inference attacks (MIA) on answers, as in MUSE and OpenUnlearning.

Sign convention: every score is **higher = more likely a member** (trained on),
so an attack's AUC is ``P(score(member) > score(non-member))``: 1 when the
members (e.g. the forget split) are told apart perfectly, 0.5 at chance. This
is OpenUnlearning's AUC (its scores are losses with the members labelled 0,
which gives the same number).

Scores, per (question, answer) pair, on the answer tokens (eos included):

* LOSS: mean token log-prob ``-NLL``;
* ZLib (Carlini et al. 2021): ``-NLL / zlib``, the mean token NLL over the
  zlib-compressed length in bytes of the answer text;
* Min-K% (Shi et al. 2024): mean of the ``k`` fraction lowest token log-probs
  (``max(1, int(k * n))`` tokens);
* Min-K%++ (Zhang et al. 2024): each token's log-prob standardised by the mean
  and std of the log-prob under the next-token distribution, then Min-K%;
* Reference: ``-(NLL - NLL_ref)``, ``NLL_ref`` the mean token NLL under a
  reference model;
* GradNorm (Maini et al. 2024, arXiv 2402.17012; OpenUnlearning's
  ``mia_gradnorm``): ``-G``, ``G`` the mean over the model's parameter tensors
  of the 2-norm of the gradient of the sample's mean token NLL. A member sits
  near a minimum of the loss, so its gradient is small: lower norm = more
  member-like, hence the minus. OpenUnlearning scores ``+G`` with members
  labelled 0, the same AUC. The only attack that needs gradients; opt-in.

PrivLeak compares an unlearned model's AUC to the gold (retrained) model's:
see :func:`privleak` (ours, positive = leakage) and :func:`muse_privleak`
(MUSE's published numbers, negative = leakage).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np
import torch

from obliviate.core.errors import ObliviateError
from obliviate.core.progress import progress
from obliviate.llm.encoding import collate, mean_nll
from obliviate.llm.eval.metrics.base import METRICS, OU_EPS, MetricContext
from obliviate.llm.eval.scoring import TokenStats

MIN_SIGMA = 1e-3  # floor of the std in Min-K%++ (OpenUnlearning clamps the variance at 1e-6)


def loss_score(stats: Sequence[TokenStats]) -> np.ndarray:
    """LOSS attack: mean token log-prob (``-`` mean NLL) per sample."""
    return np.array([s.mean_logp for s in stats], dtype=float)


def zlib_entropy(text: str) -> int:
    """Length in bytes of the zlib-compressed UTF-8 text (at least 1)."""
    return max(len(zlib.compress(text.encode("utf-8"))), 1)


def zlib_score(stats: Sequence[TokenStats], texts: Sequence[str]) -> np.ndarray:
    """ZLib attack: ``-NLL / zlib_entropy(text)`` per sample, NLL the mean token NLL.

    Args:
        stats: per-sample token statistics.
        texts: the scored text of each sample (here: the answer).
    """
    return loss_score(stats) / np.array([zlib_entropy(t) for t in texts], dtype=float)


def _min_k_mean(values: np.ndarray, k: float) -> float:
    """Mean of the ``max(1, int(k * n))`` smallest values."""
    if not 0 < k <= 1:
        raise ValueError(f"k must be in (0, 1], got {k}")
    if len(values) == 0:
        return 0.0
    m = max(1, int(len(values) * k))
    return float(np.partition(values, m - 1)[:m].mean())


def mink_score(stats: Sequence[TokenStats], k: float = 0.4, *, ou: bool = False) -> np.ndarray:
    """Min-K% attack: mean of the ``k`` fraction lowest token log-probs (at least one token).

    ``ou=True``: without the last answer token (eos), as OpenUnlearning's ``tokenwise_logprobs``.
    """
    return np.array([_min_k_mean(s.logp[:-1] if ou else s.logp, k) for s in stats], dtype=float)


def minkpp_score(stats: Sequence[TokenStats], k: float = 0.4, *, ou: bool = False) -> np.ndarray:
    """Min-K%++ attack: ``(logp - mu) / sigma`` per token, then the mean of the ``k`` lowest.

    ``sigma`` is floored at ``MIN_SIGMA`` (a near-deterministic next-token distribution). ``ou=True``:
    OpenUnlearning's, without the last token and with ``sigma = sqrt(max(E[(log p)^2] - mu^2, 1e-6))``.
    """
    out = []
    for s in stats:
        if ou:
            logp, mu, sigma = s.logp[:-1], s.mu[:-1], s.sigma[:-1]
            # E[(log p)^2] - mu^2 = sigma^2 up to rounding: their uncentred form, clamped
            out.append(_min_k_mean((logp - mu) / np.sqrt(np.maximum(sigma ** 2, 1e-6)), k))
        else:
            out.append(_min_k_mean((s.logp - s.mu) / np.maximum(s.sigma, MIN_SIGMA), k))
    return np.array(out, dtype=float)


def reference_score(stats: Sequence[TokenStats], ref_stats: Sequence[TokenStats]) -> np.ndarray:
    """Reference attack: ``-(NLL - NLL_ref)`` per sample, mean token NLLs of the model and a reference."""
    if len(stats) != len(ref_stats):
        raise ValueError("stats and ref_stats must describe the same samples")
    return loss_score(stats) - loss_score(ref_stats)


def gradnorm_score(scorer, pairs: Sequence[tuple[str, str]], p: float = 2.0,
                   desc: str = "GradNorm", *, ou: bool = False) -> np.ndarray:
    """GradNorm attack: ``-G`` per (question, answer) pair, higher = more likely a member.

    ``G = mean over parameter tensors W of ||d NLL / d W||_p``, ``NLL`` the
    mean token NLL of the answer (eos included, as every score here) given the
    question, one sample at a time, with the model in eval mode. The mean of
    per-tensor norms is OpenUnlearning's (not the norm of the concatenated
    gradient). Gradients are taken with ``torch.autograd.grad`` over every
    floating-point parameter (frozen ones included, their ``requires_grad``
    set for the call and restored), so the model's ``.grad`` fields are never
    touched: none is created, an accumulated one is left as it was.

    ``ou=True``: OpenUnlearning's ``mia_gradnorm``: over the *trainable* parameters only (with LoRA, the
    adapters), the model in train mode, and the NLL without the last answer token (eos). Its
    ``.grad`` fields are still left alone (theirs zeroes them).

    Args:
        scorer: a :class:`~obliviate.llm.eval.scoring.Scorer` (its model, prompt format and device).
        pairs: (question, answer) pairs.
        p: the norm, 1, 2 or ``math.inf`` (OpenUnlearning's TOFU config: 2).
    """
    if p not in (1, 2, math.inf):
        raise ValueError(f"p must be 1, 2 or math.inf, got {p!r}")
    model = scorer.model
    params = [w for w in model.parameters() if w.is_floating_point() and (w.requires_grad or not ou)]
    if not params:
        raise ObliviateError("GradNorm needs at least one trainable parameter (compat openunlearning)")
    flags = [w.requires_grad for w in params]
    was_training = model.training
    out = np.zeros(len(pairs))
    try:
        model.train(ou)
        for w in params:
            w.requires_grad_(True)
        with torch.enable_grad(), progress(len(pairs), desc) as advance:
            for i, pair in enumerate(pairs):
                batch = {k: v.to(scorer.device) for k, v in collate(scorer.fmt, [pair]).items()}
                if ou:  # drop the last answer token (eos) from the loss, as their tokenwise_logprobs
                    labels = batch["labels"].clone()
                    last = (labels[0] != -100).nonzero()[-1]
                    labels[0, last] = -100
                    batch["labels"] = labels
                grads = torch.autograd.grad(mean_nll(model, batch), params, allow_unused=True)
                norms = [torch.linalg.vector_norm(g.float(), ord=p) for g in grads if g is not None]
                out[i] = -float(torch.stack(norms).mean())
                del grads, norms
                advance()
    finally:
        for w, flag in zip(params, flags):
            w.requires_grad_(flag)
        model.train(was_training)
    return out


def mia_auc(member_scores: Sequence[float], nonmember_scores: Sequence[float]) -> float:
    """ROC AUC of telling members from non-members by score (higher score = member; ties count 1/2)."""
    # deferred: loads sklearn
    from sklearn.metrics import roc_auc_score

    members, nonmembers = np.asarray(member_scores, float), np.asarray(nonmember_scores, float)
    if len(members) == 0 or len(nonmembers) == 0:
        raise ValueError("mia_auc needs at least one member and one non-member score")
    labels = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
    return float(roc_auc_score(labels, np.r_[members, nonmembers]))


def privleak(auc_unlearned: float, auc_gold: float) -> float:
    """Relative AUC change against the gold model, in percent: ``(AUC - AUC_gold) / AUC_gold * 100``.

    With our AUC (higher = members detected): 0 is ideal, positive = the forget
    set still leaks (under-unlearning), negative = it looks *less* like training
    data than never-seen text (over-unlearning). E.g. AUC 0.9 against a gold 0.5
    gives +80. A gold AUC of 0 leaves it undefined: NaN.
    """
    if auc_gold == 0:
        return math.nan
    return (auc_unlearned - auc_gold) / auc_gold * 100.0


def muse_privleak(auc_unlearned: float, auc_gold: float) -> float:
    """PrivLeak as MUSE and OpenUnlearning publish it, from our AUCs (their ``privleak``, exactly).

    MUSE's AUC is ``1 - ours``, so ``((1 - AUC) - (1 - AUC_gold)) / (1 - AUC_gold + 1e-10) * 100``:
    negative = leakage, positive = over-unlearning (the target model is near -100).
    Equal to ``-privleak`` only when ``auc_gold == 0.5``. E.g. AUC 0.9 against a
    gold 0.5 gives -80. A gold AUC of 1 gives their guard's value (``+-1e12 x`` the difference), not an error.
    """
    return rel_diff(1 - auc_unlearned, 1 - auc_gold)


def rel_diff(score: float, reference: float) -> float:
    """OpenUnlearning's ``rel_diff``: ``(score - reference) / (reference + 1e-10) * 100``, the relative
    change of a statistic against the retain (gold) model's, in percent."""
    return (score - reference) / (reference + OU_EPS) * 100.0


def mia_scores(stats: Sequence[TokenStats], texts: Sequence[str], ref_stats: Sequence[TokenStats] | None = None,
               k: float = 0.4, *, ou: bool = False) -> dict[str, np.ndarray]:
    """Every attack's per-sample scores: ``{"loss", "zlib", "mink", "minkpp"[, "reference"]}``.

    ``ou=True``: Min-K% and Min-K%++ without the last token (LOSS, ZLib and Reference read every answer
    token in both codebases)."""
    scores = {
        "loss": loss_score(stats),
        "zlib": zlib_score(stats, texts),
        "mink": mink_score(stats, k, ou=ou),
        "minkpp": minkpp_score(stats, k, ou=ou),
    }
    if ref_stats is not None:
        scores["reference"] = reference_score(stats, ref_stats)
    return scores


@METRICS.register("mia", paper="Shi et al. 2024 (MUSE), arXiv 2407.06460")
def mia(scorer, records, ctx: MetricContext) -> dict[str, float]:
    """Membership-inference AUCs: ``records`` (members) against ``ctx.extra["nonmembers"]``.

    ``ctx.extra["reference_scorer"]``, a ``Scorer`` on a reference model, adds
    the reference attack; ``ctx.extra["gradnorm"]`` (True, or the norm's ``p``)
    adds GradNorm (a backward pass per sample). Per-sample scores go to
    ``ctx.extra["per_sample"]["mia"]``.

    Returns:
        ``{"auc_loss", "auc_zlib", "auc_mink", "auc_minkpp"[, "auc_reference"][, "auc_gradnorm"]}``.
    """
    nonmembers = list(ctx.extra.get("nonmembers") or [])
    members = list(records)
    if not members or not nonmembers:
        raise ObliviateError("the mia metric needs member records and ctx.extra['nonmembers'] (e.g. the holdout split)")
    both = members + nonmembers
    pairs = [(r.question, r.answer) for r in both]
    stats = scorer.token_stats(pairs, desc=f"MIA statistics {ctx.split}")
    ref = ctx.extra.get("reference_scorer")
    ref_stats = ref.token_stats(pairs, desc=f"MIA reference {ctx.split}") if ref is not None else None
    ou = ctx.openunlearning
    scores = mia_scores(stats, [r.answer for r in both], ref_stats, ou=ou)
    gradnorm = ctx.extra.get("gradnorm")
    if gradnorm:
        p = 2.0 if gradnorm is True else float(gradnorm)
        scores["gradnorm"] = gradnorm_score(scorer, pairs, p=p, desc=f"GradNorm {ctx.split}", ou=ou)
    m = len(members)
    ctx.extra.setdefault("per_sample", {})["mia"] = {
        "member_ids": [r.id for r in members],
        "nonmember_ids": [r.id for r in nonmembers],
        "members": {name: s[:m].tolist() for name, s in scores.items()},
        "nonmembers": {name: s[m:].tolist() for name, s in scores.items()},
    }
    return {f"auc_{name}": mia_auc(s[:m], s[m:]) for name, s in scores.items()}


def passage_text(record) -> str:
    """A raw-text record's document text: its prefix (``question``) and continuation (``answer``) joined
    as the loaders split them (docs/formats.md), or the answer alone where there is no prefix."""
    return f"{record.question} {record.answer}".strip() if record.question else record.answer


@METRICS.register("mia_text", paper="Shi et al. 2024 (MUSE), arXiv 2407.06460")
def mia_text(scorer, records, ctx: MetricContext) -> dict[str, float]:
    """Membership-inference AUCs on raw text: ``records`` (member passages) against
    ``ctx.extra["nonmembers"]`` (e.g. MUSE's holdout or ``privleak_holdout`` passages), each scored as a
    document (:func:`passage_text`, no prompt format; :meth:`Scorer.text_stats`), as MUSE's PrivLeak.
    ``ctx.extra["reference_scorer"]`` adds the reference attack. Same keys as :func:`mia`."""
    nonmembers = list(ctx.extra.get("nonmembers") or [])
    if not records or not nonmembers:
        raise ObliviateError("the mia_text metric needs member records and ctx.extra['nonmembers'] (e.g. the "
                             "holdout passages)")
    texts = [passage_text(r) for r in [*records, *nonmembers]]
    stats = scorer.text_stats(texts, desc=f"MIA text statistics {ctx.split}")
    ref = ctx.extra.get("reference_scorer")
    ref_stats = ref.text_stats(texts, desc=f"MIA text reference {ctx.split}") if ref is not None else None
    scores = mia_scores(stats, texts, ref_stats, ou=ctx.openunlearning)
    m = len(records)
    ctx.extra.setdefault("per_sample", {})["mia_text"] = {
        "members": {name: s[:m].tolist() for name, s in scores.items()},
        "nonmembers": {name: s[m:].tolist() for name, s in scores.items()},
    }
    return {f"auc_{name}": mia_auc(s[:m], s[m:]) for name, s in scores.items()}
