"""FLAT: loss adjustment with forget data only (Wang et al., ICLR 2025, arXiv 2410.11143).

Each forget question gets a template answer ``y_e`` ("I don't know"-style). With
``P_e`` and ``P_f`` the mean token *probabilities* (not log-probs) of the
template and the true forget answer, FLAT maximises the variational form of an
f-divergence between the two answer distributions (f-GAN, Nowozin et al. 2016)::

    L = gamma * E_F[ -g*(P_e) + f*(g*(P_f)) ]

with the output activation ``g*`` and the conjugate ``f*`` of each divergence:

===============  =====================================================
divergence       per-sample loss
===============  =====================================================
tv (default)     ``0.5 * (tanh(P_f) - tanh(P_e))``
kl               ``-P_e + exp(P_f - 1)``
pearson          ``-P_e + P_f^2 / 4 + P_f``
jensen_shannon   ``softplus(-P_e) + softplus(P_f) - 2 log 2``
jeffrey          ``-P_e + W(e^(1-P_f)) + 1/W(e^(1-P_f)) + P_f - 2``
===============  =====================================================

Each is decreasing in ``P_e`` and increasing in ``P_f``: the template becomes
more likely and the forget answer less. (Reverse KL, squared Hellinger and
Neyman as released push one term the wrong way and are left out.) ``W`` is the
Lambert W function, computed by Newton steps in torch.

No retain set and no reference model. ``length_norm=answer`` averages token
probabilities over each answer's own tokens (the paper's per-sample
normalisation); ``padded`` divides by the padded batch length as the official
code does. The per-sample losses are averaged over the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import PromptFormat, answer_logits, token_logprobs
from obliviate.llm.methods.base import METHODS, Method, field_help, require_positive
from obliviate.llm.methods.idk_po import refusal_batch

LN2 = math.log(2.0)


def lambert_w(x: torch.Tensor, iters: int = 30) -> torch.Tensor:
    """Principal branch of Lambert W for ``x >= 0`` (Newton on ``w e^w = x``), differentiable."""
    w = torch.log1p(x)
    for _ in range(iters):
        ew = torch.exp(w)
        w = w - (w * ew - x) / (ew * (w + 1))
    return w


def _jeffrey_conjugate(t: torch.Tensor) -> torch.Tensor:
    w = lambert_w(torch.exp(1 - t))
    return w + 1 / w + t - 2


DIVERGENCES = {
    "tv": lambda pe, pf: 0.5 * (torch.tanh(pf) - torch.tanh(pe)),
    "kl": lambda pe, pf: -pe + torch.exp(pf - 1),
    "pearson": lambda pe, pf: -pe + pf.pow(2) / 4 + pf,
    "jensen_shannon": lambda pe, pf: F.softplus(-pe) + F.softplus(pf) - 2 * LN2,
    "jeffrey": lambda pe, pf: -pe + _jeffrey_conjugate(pf),
}
LENGTH_NORMS = ("answer", "padded")


def flat_loss(p_template: torch.Tensor, p_forget: torch.Tensor, divergence: str = "tv") -> torch.Tensor:
    """Per-sample FLAT loss from template and forget answer probabilities (see the module table)."""
    try:
        fn = DIVERGENCES[divergence]
    except KeyError:
        raise ConfigError(f"FLAT.divergence must be one of {', '.join(DIVERGENCES)}, got {divergence!r}") from None
    return fn(p_template, p_forget)


def mean_token_prob(model, batch: dict, length_norm: str = "answer") -> torch.Tensor:
    """Per-sample mean probability of the answer tokens: (B,)."""
    picked, mask = token_logprobs(*answer_logits(model, batch))
    probs = picked.exp() * mask
    if length_norm == "answer":
        denom = mask.sum(-1).clamp_min(1)
    else:  # the whole padded sequence, whatever window of logits the model returned
        denom = torch.full_like(probs[:, 0], batch["input_ids"].shape[1])
    return probs.sum(-1) / denom


@METHODS.register("FLAT")
class FLAT(Method):
    """L = E_F[-g*(P_template) + f*(g*(P_forget))] for an f-divergence (TV by default)."""

    @dataclass
    class Config:
        divergence: str = field_help("tv", "f-divergence: tv, kl, pearson, jensen_shannon, jeffrey")
        gamma: float = field_help(1.0, "weight of the loss")
        length_norm: str = field_help("answer", "answer: mean over each answer's tokens; padded: over the "
                                                "padded length (official code)")

        def __post_init__(self):
            require_positive("FLAT", gamma=self.gamma)
            if self.divergence not in DIVERGENCES:
                raise ConfigError(f"FLAT.divergence must be one of {', '.join(DIVERGENCES)}, "
                                  f"got {self.divergence!r}")
            if self.length_norm not in LENGTH_NORMS:
                raise ConfigError(f"FLAT.length_norm must be one of {', '.join(LENGTH_NORMS)}, "
                                  f"got {self.length_norm!r}")

    paper = "Wang et al. 2025 (ICLR), arXiv 2410.11143"

    def prepare(self, ctx):
        self.fmt: PromptFormat = ctx.fmt
        self.question = {r.id: r.question for r in ctx.splits.forget}

    def template_batch(self, ids: list[str], device) -> dict:
        """The forget questions with their template answers, collated."""
        return refusal_batch(self.fmt, self.question, ids, device)

    def losses(self, model, batch):
        f = batch["forget"]
        c = self.config
        p_f = mean_token_prob(model, f, c.length_norm)
        p_e = mean_token_prob(model, self.template_batch(f["ids"], f["input_ids"].device), c.length_norm)
        return {"forget": c.gamma * flat_loss(p_e, p_f, c.divergence).mean()}
