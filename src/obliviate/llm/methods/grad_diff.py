"""Gradient Difference (GradDiff): ascend on forget, descend on retain.

Objective: ``L = -gamma * NLL(F) + alpha * NLL(R)`` (Liu et al. 2022,
"Continual Learning and Private Unlearning"; TOFU baseline).
"""

from dataclasses import dataclass

from obliviate.llm.encoding import mean_nll
from obliviate.llm.methods.base import METHODS, Method, field_help


@METHODS.register("GradDiff")
class GradDiff(Method):
    """L = -gamma * NLL(F) + alpha * NLL(R)."""

    @dataclass
    class Config:
        gamma: float = field_help(1.0, "weight of the forget term")
        alpha: float = field_help(1.0, "weight of the retain NLL")

    paper = "Liu et al. 2022, arXiv 2203.12817"
    needs_retain = True

    def losses(self, model, batch):
        return {
            "forget": -self.config.gamma * mean_nll(model, batch["forget"]),
            "retain": self.config.alpha * mean_nll(model, batch["retain"]),
        }
