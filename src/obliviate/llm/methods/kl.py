"""KL minimisation (TOFU baseline; OpenUnlearning's GradDiff with a KL retain loss).

Objective::

    L = -gamma * NLL(F) + alpha * KL(pi_ref || pi)  on retain answers

where ``pi_ref`` is the frozen model before unlearning and the KL is averaged
over retain answer tokens (OpenUnlearning averages over the whole retain
sequence; answer tokens are what the retain set is about). gamma = alpha = 1.
Maini et al. 2024, "TOFU: A Task of Fictitious Unlearning for LLMs", arXiv 2401.06121.
"""

from dataclasses import dataclass

import torch.nn.functional as F

from obliviate.llm.encoding import IGNORE, answer_token_logprobs, mean_nll
from obliviate.llm.methods.base import METHODS, Method, Reference, field_help


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
        self.ref = Reference(ctx.model)

    def losses(self, model, batch):
        r = batch["retain"]
        logp = answer_token_logprobs(model, r)  # (n_tokens, vocab)
        counts = (r["labels"][:, 1:] != IGNORE).sum(1).tolist()  # answer tokens per record
        with self.ref(logp.device) as ref:
            ref_logp = self.ref.rows(r["ids"], counts, lambda: answer_token_logprobs(ref, r))
        kl = F.kl_div(logp, ref_logp, reduction="batchmean", log_target=True)  # KL(ref || pi) per token
        return {
            "forget": -self.config.gamma * mean_nll(model, batch["forget"]),
            "retain": self.config.alpha * kl,
        }
