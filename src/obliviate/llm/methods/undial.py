"""UNDIAL: self-distillation with adjusted logits (Dong et al. 2024, arXiv 2402.10052).

At every forget answer position ``t`` with true token ``y_t``, the model is
distilled towards the reference model's distribution with the true token's
logit lowered by ``beta``::

    q_t = softmax(z_ref_t - beta * onehot(y_t))
    L   = gamma * mean_t CE(q_t, softmax(z_t)) + alpha * NLL(R)

``z_ref`` are the logits of the model before unlearning (``Reference``: a
frozen copy, or under LoRA the model with its adapter off; rows cached per
record). beta = 10, gamma = 1, alpha = 0, lr 1e-4 in OpenUnlearning's config.
Only answer tokens count: ignored (-100) positions are dropped before the
one-hot and the mean (OpenUnlearning's code averages over every position,
padding and prompt included). Logits enter through log-softmax rows, which
leave both softmaxes unchanged.
"""

from dataclasses import dataclass

import torch

from obliviate.llm.encoding import IGNORE, answer_token_logprobs
from obliviate.llm.methods.base import METHODS, Method, Reference, answer_tokens, field_help, require_positive


def undial_loss(logits: torch.Tensor, ref_logits: torch.Tensor, target: torch.Tensor, beta: float) -> torch.Tensor:
    """Mean cross-entropy from ``softmax(ref_logits - beta * onehot(target))`` to the model's rows.

    Args:
        logits: (n, vocab) the model's logits (or log-probs) at answer positions.
        ref_logits: (n, vocab) the reference model's at the same positions.
        target: (n,) the true tokens.
        beta: how much the true token's logit is lowered.
    """
    ref = ref_logits.detach().float()
    adjusted = ref.scatter_add(-1, target.unsqueeze(-1), ref.new_full((len(target), 1), -beta))  # - beta onehot
    soft = torch.softmax(adjusted, dim=-1)  # (n, vocab) the distillation target
    return -(soft * torch.log_softmax(logits.float(), dim=-1)).sum(-1).mean()


@METHODS.register("UNDIAL")
class UNDIAL(Method):
    """L = gamma mean_t CE(softmax(z_ref - beta onehot(y)), pi) + alpha NLL(R)."""

    @dataclass
    class Config:
        beta: float = field_help(10.0, "how far the true token's reference logit is lowered")
        gamma: float = field_help(1.0, "weight of the distillation term")
        alpha: float = field_help(0.0, "weight of the retain NLL (0 in OpenUnlearning's config)")

        def __post_init__(self):
            require_positive("UNDIAL", beta=self.beta)

    paper = "Dong et al. 2024, arXiv 2402.10052"
    needs_reference = True

    def prepare(self, ctx):
        self.ref = Reference(ctx.model)

    def losses(self, model, batch):
        f = batch["forget"]
        logp, target = answer_tokens(model, f)  # (n, vocab), (n,)
        counts = (f["labels"][:, 1:] != IGNORE).sum(1).tolist()  # answer tokens per record
        with self.ref(logp.device) as ref:
            ref_logp = self.ref.rows(f["ids"], counts, lambda: answer_token_logprobs(ref, f))
        forget = undial_loss(logp, ref_logp, target, self.config.beta)
        return self.with_retain_nll(model, batch, {"forget": self.config.gamma * forget})
