"""CE-U: cross-entropy unlearning (Bo Yang 2025, "CE-U: Cross Entropy Unlearning", arXiv 2503.01224).

At every forget answer position ``t`` with true token ``y_t``, the model's own
distribution with the true token removed is the target::

    q_t = softmax(stopgrad(z_t) with z_t[y_t] = -inf)
    L   = gamma * mean_t CE(q_t, softmax(z_t))

The gradient with respect to the logits is ``softmax(z_t) - q_t``: the true
token's probability is pushed to 0 and its mass spread over the other tokens
in proportion to their probabilities. As in the paper's footnote (and
OpenUnlearning's ``ignore_first_n_answer_tokens``), the first
``skip_first`` answer tokens of each answer are left out. Forget data only; no
reference model. Ignored (-100) positions are dropped before the target and
the mean.
"""

from dataclasses import dataclass

import torch

from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import IGNORE
from obliviate.llm.methods.base import METHODS, Method, answer_tokens, field_help


def ceu_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy from ``softmax(logits with the true token at -inf)`` (no gradient) to the model's rows.

    Args:
        logits: (n, vocab) logits (or log-probs) at answer positions.
        target: (n,) the true tokens.
    """
    if not len(target):
        return logits.sum() * 0.0  # no answer token left: nothing to unlearn in this batch
    logits = logits.float()
    masked = logits.detach().scatter(-1, target.unsqueeze(-1), float("-inf"))
    q = torch.softmax(masked, dim=-1)  # (n, vocab), 0 at the true token
    logp = torch.log_softmax(logits, dim=-1)
    return -(q * logp).sum(-1).mean()


def skip_answer_tokens(batch: dict, n: int) -> dict:
    """The batch with the first ``n`` answer tokens of each row relabelled -100 (ignored)."""
    labels = batch["labels"]
    answer = labels != IGNORE
    first = answer & (answer.cumsum(1) <= n)  # (B, T)
    return {**batch, "labels": labels.masked_fill(first, IGNORE)}


@METHODS.register("CE-U")
class CEU(Method):
    """L = gamma mean_t CE(softmax(z with the true token at -inf), softmax(z)), first answer token skipped."""

    @dataclass
    class Config:
        skip_first: int = field_help(1, "answer tokens left out at the start of each answer")
        gamma: float = field_help(1.0, "weight of the loss")

        def __post_init__(self):
            if self.skip_first < 0:
                raise ConfigError(f"CE-U.skip_first must be >= 0, got {self.skip_first}")

    paper = "Yang 2025, arXiv 2503.01224; as in OpenUnlearning, Dorna et al. 2025, arXiv 2506.12618"

    def losses(self, model, batch):
        logits, target = answer_tokens(model, skip_answer_tokens(batch["forget"], self.config.skip_first))
        return {"forget": self.config.gamma * ceu_loss(logits, target)}
