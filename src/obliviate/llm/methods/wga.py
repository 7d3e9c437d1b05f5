"""WGA: weighted gradient ascent (Wang et al. 2025, "Rethinking LLM Unlearning Objectives: A Gradient
Perspective and Go Beyond", arXiv 2502.19301).

Gradient ascent on each forget answer token, weighted by that token's own
(detached) probability, so tokens the model already doubts stop pulling::

    L = gamma * mean_t[ sg(p_t)^beta * log p_t ] + alpha * NLL(R),    p_t = pi(y_t | q, y_<t)

(minimising ``w * log p`` ascends ``w * CE``). beta = 1, gamma = alpha = 1,
5 epochs in OpenUnlearning's config. The mean runs over answer tokens only:
ignored (-100) positions are dropped first.
"""

from dataclasses import dataclass

import torch

from obliviate.llm.methods.base import METHODS, Method, answer_tokens, field_help


def target_logprobs(model, batch: dict) -> torch.Tensor:
    """``log p_t`` of every answer token of the batch: (n,)."""
    logp, target = answer_tokens(model, batch)  # (n, vocab), (n,)
    return logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)


def weighted_ascent(logp: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``mean_t w_t log p_t`` with ``w`` detached: its gradient ascends each token's NLL in proportion to ``w_t``."""
    return (weight.detach() * logp).sum() / max(len(logp), 1)


def wga_loss(logp: torch.Tensor, beta: float) -> torch.Tensor:
    """WGA's forget term from per-token log-probs (n,): ``mean_t p_t^beta log p_t``."""
    return weighted_ascent(logp, logp.detach().exp() ** beta)


@METHODS.register("WGA")
class WGA(Method):
    """L = gamma mean_t sg(p_t)^beta log p_t + alpha NLL(R)."""

    @dataclass
    class Config:
        beta: float = field_help(1.0, "exponent of the token-probability weight")
        gamma: float = field_help(1.0, "weight of the forget term")
        alpha: float = field_help(1.0, "weight of the retain NLL")

    paper = "Wang et al. 2025, arXiv 2502.19301"
    needs_retain = True

    def losses(self, model, batch):
        forget = wga_loss(target_logprobs(model, batch["forget"]), self.config.beta)
        return self.with_retain_nll(model, batch, {"forget": self.config.gamma * forget})
