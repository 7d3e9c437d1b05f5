"""SimNPO: NPO without a reference model (Fan et al. 2024, arXiv 2410.07163).

Objective, with ``|a|`` the answer length in tokens::

    L = -gamma * (2 / beta) * E_F[ log sigmoid(-(beta / |a|) * log pi(a|q) - delta) ]
        + alpha * NLL(R)

beta = 4.5, delta = 0, gamma = 0.125, alpha = 1 (the authors' TOFU settings,
as in OpenUnlearning's SimNPO config).
"""

from dataclasses import dataclass

import torch.nn.functional as F

from obliviate.llm.encoding import answer_logprob
from obliviate.llm.methods.base import METHODS, Method, field_help, require_positive


@METHODS.register("SimNPO")
class SimNPO(Method):
    """L = -gamma (2/beta) E_F log sigmoid(-(beta/|a|) log pi(a|q) - delta) + alpha NLL(R)."""

    @dataclass
    class Config:
        beta: float = field_help(4.5, "inverse temperature on the length-normalised log-prob")
        delta: float = field_help(0.0, "reward margin")
        gamma: float = field_help(0.125, "weight of the forget term")
        alpha: float = field_help(1.0, "weight of the retain NLL")

        def __post_init__(self):
            require_positive("SimNPO", beta=self.beta)

    paper = "Fan et al. 2024, arXiv 2410.07163"
    needs_retain = True

    def losses(self, model, batch):
        logp, n = answer_logprob(model, batch["forget"])  # (B,), (B,)
        c = self.config
        forget = -(2.0 / c.beta) * F.logsigmoid(-(c.beta / n.clamp_min(1)) * logp - c.delta).mean()
        return self.with_retain_nll(model, batch, {"forget": c.gamma * forget})
