"""Gradient Ascent (GA): maximise the NLL of the forget answers.

Objective: ``L = -NLL(F)``, the first and simplest unlearning baseline
(Jang et al. 2023, "Knowledge Unlearning for Mitigating Privacy Risks in
Language Models"; as in TOFU, Maini et al. 2024).
"""

from dataclasses import dataclass

from obliviate.core.method import gradient_ascent
from obliviate.llm.encoding import mean_nll
from obliviate.llm.methods.base import METHODS, Method, field_help


@METHODS.register("GradAscent")
class GradAscent(Method):
    """Ascend the forget-set NLL: L = -NLL(F)."""

    @dataclass
    class Config:
        gamma: float = field_help(1.0, "weight of the forget term")

    paper = "Jang et al. 2023, arXiv 2210.01504"

    def losses(self, model, batch):
        return gradient_ascent(mean_nll(model, batch["forget"]), self.config.gamma)
