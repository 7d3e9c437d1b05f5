"""Negative Preference Optimization (NPO, Zhang et al. 2024, arXiv 2404.05868).

Objective (forget term, with ``pi_ref`` the model before unlearning and
``log pi(a|q)`` summed over answer tokens)::

    L_F = (2 / beta) * E_F[ log(1 + (pi(a|q) / pi_ref(a|q))^beta) ]
        = -(2 / beta) * E_F[ log sigmoid(-beta * (log pi - log pi_ref)) ]

plus ``alpha * NLL(R)`` on retain (the paper's NPO+RT). beta = 0.1, alpha = 1
(OpenUnlearning's TOFU defaults). Reference log-probs are computed once in
``prepare``; no second model is kept.
"""

from dataclasses import dataclass

import torch.nn.functional as F

from obliviate.llm.encoding import answer_logprob
from obliviate.llm.methods.base import METHODS, Method, field_help, lookup, reference_logprobs, require_positive


@METHODS.register("NPO")
class NPO(Method):
    """L = -(2/beta) E_F log sigmoid(-beta (log pi - log pi_ref)) + alpha NLL(R)."""

    @dataclass
    class Config:
        beta: float = field_help(0.1, "inverse temperature of the preference loss")
        gamma: float = field_help(1.0, "weight of the forget term")
        alpha: float = field_help(1.0, "weight of the retain NLL (0 = plain NPO)")

        def __post_init__(self):
            require_positive("NPO", beta=self.beta)

    paper = "Zhang et al. 2024, arXiv 2404.05868"
    needs_retain = True
    needs_reference = True

    def prepare(self, ctx):
        self.ref_logp = reference_logprobs(ctx, ctx.splits.forget)

    def losses(self, model, batch):
        f = batch["forget"]
        logp, _ = answer_logprob(model, f)  # (B,)
        ref = lookup(self.ref_logp, f["ids"], logp)
        beta = self.config.beta
        forget = -(2.0 / beta) * F.logsigmoid(-beta * (logp - ref)).mean()
        return self.with_retain_nll(model, batch, {"forget": self.config.gamma * forget})
