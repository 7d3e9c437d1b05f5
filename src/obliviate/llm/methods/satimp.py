"""SatImp: saturation-importance reweighted ascent (Yang et al. 2025, "Exploring Criteria of Loss
Reweighting to Enhance LLM Unlearning", arXiv 2505.11953).

Gradient ascent on each forget answer token with a detached weight that
combines *saturation* (``p^beta1``: tokens still likely) and *importance*
(``(1 - p)^beta2``)::

    L = gamma * mean_t[ sg(p_t^beta1 * (1 - p_t)^beta2) * log p_t ] + alpha * NLL(R)

beta1 = 5, beta2 = 1, gamma = 0.1, alpha = 1, 5 epochs: OpenUnlearning's
``SatImp.yaml`` (its README swaps gamma and alpha; the config's values are
used). Ignored (-100) positions are dropped before the mean.
"""

from dataclasses import dataclass

import torch

from obliviate.llm.methods.base import METHODS, Method, field_help
from obliviate.llm.methods.wga import target_logprobs, weighted_ascent


def satimp_loss(logp: torch.Tensor, beta1: float, beta2: float) -> torch.Tensor:
    """SatImp's forget term from per-token log-probs (n,): ``mean_t p_t^beta1 (1 - p_t)^beta2 log p_t``."""
    p = logp.detach().exp()
    return weighted_ascent(logp, p**beta1 * (1 - p) ** beta2)


@METHODS.register("SatImp")
class SatImp(Method):
    """L = gamma mean_t sg(p_t^beta1 (1 - p_t)^beta2) log p_t + alpha NLL(R)."""

    @dataclass
    class Config:
        beta1: float = field_help(5.0, "exponent of the saturation weight p^beta1")
        beta2: float = field_help(1.0, "exponent of the importance weight (1 - p)^beta2")
        gamma: float = field_help(0.1, "weight of the forget term")
        alpha: float = field_help(1.0, "weight of the retain NLL")

    paper = "Yang et al. 2025, arXiv 2505.11953"
    needs_retain = True

    def losses(self, model, batch):
        c = self.config
        forget = satimp_loss(target_logprobs(model, batch["forget"]), c.beta1, c.beta2)
        return self.with_retain_nll(model, batch, {"forget": c.gamma * forget})
