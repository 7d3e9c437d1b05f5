"""KL minimisation (TOFU baseline; OpenUnlearning's GradDiff with a KL retain loss).

Objective::

    L = -gamma * NLL(F) + alpha * KL(pi_ref || pi)  on retain answers

where ``pi_ref`` is the frozen model before unlearning and the KL is averaged
over retain answer tokens (OpenUnlearning averages over the whole retain
sequence; answer tokens are what the retain set is about). gamma = alpha = 1.
Maini et al. 2024, "TOFU: A Task of Fictitious Unlearning for LLMs", arXiv 2401.06121.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from obliviate.llm.encoding import answer_token_logprobs, mean_nll
from obliviate.llm.methods.base import METHODS, Method, field_help, frozen_copy


@METHODS.register("KL")
class KL(Method):
    """L = -gamma NLL(F) + alpha KL(pi_ref || pi) on R."""

    @dataclass
    class Config:
        gamma: float = field_help(1.0, "weight of the forget term")
        alpha: float = field_help(1.0, "weight of the retain KL to the reference model")

    paper = "Maini et al. 2024 (TOFU), arXiv 2401.06121"
    needs_retain = True
    needs_reference = True

    def prepare(self, ctx):
        self.ref = frozen_copy(ctx.model)

    def losses(self, model, batch):
        r = batch["retain"]
        logp = answer_token_logprobs(model, r)  # (n_tokens, vocab)
        self.ref.to(logp.device)
        with torch.no_grad():
            ref_logp = answer_token_logprobs(self.ref, r)
        kl = F.kl_div(logp, ref_logp, reduction="batchmean", log_target=True)  # KL(ref || pi) per token
        return {
            "forget": -self.config.gamma * mean_nll(model, batch["forget"]),
            "retain": self.config.alpha * kl,
        }
