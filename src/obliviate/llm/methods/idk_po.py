"""IdkPO: DPO with an "I don't know" answer preferred over the true one.

Objective (Rafailov et al. 2023 DPO; the TOFU "IdkDPO" baseline, Maini et al.
2024; OpenUnlearning's DPO trainer), with ``r(y) = log pi(y|q) - log pi_ref(y|q)``::

    L = -gamma * (2 / beta) * E_F[ log sigmoid(beta * (r(a_idk) - r(a_true))) ] + alpha * NLL(R)

beta = 0.1, gamma = alpha = 1. Each forget question gets one refusal from a
fixed list, chosen by a stable hash of its id; reference log-probs of both
answers are computed once in ``prepare``.
"""

import zlib
from dataclasses import dataclass

import torch.nn.functional as F

from obliviate.llm.encoding import PromptFormat, answer_logprob, collate
from obliviate.llm.methods.base import METHODS, Method, field_help, lookup, reference_logprobs, require_positive

IDK_ANSWERS = [
    "I don't know.",
    "I'm not sure about that.",
    "I have no information about that.",
    "I can't answer that.",
    "That is not something I know.",
    "I don't have that information.",
    "I'm afraid I don't know.",
    "I have no idea.",
]


def idk_answer(record_id: str) -> str:
    """The refusal used for one record (stable across runs and processes)."""
    return IDK_ANSWERS[zlib.crc32(record_id.encode()) % len(IDK_ANSWERS)]


def refusal_batch(fmt: PromptFormat, question: dict[str, str], ids: list[str], device) -> dict:
    """The questions ``question[id]`` with their refusals (:func:`idk_answer`), collated on ``device``."""
    batch = collate(fmt, [(question[i], idk_answer(i)) for i in ids])
    return {k: v.to(device) for k, v in batch.items()}


@METHODS.register("IdkPO")
class IdkPO(Method):
    """L = -gamma (2/beta) E_F log sigmoid(beta (r(idk) - r(a))) + alpha NLL(R)."""

    @dataclass
    class Config:
        beta: float = field_help(0.1, "DPO inverse temperature")
        gamma: float = field_help(1.0, "weight of the preference term")
        alpha: float = field_help(1.0, "weight of the retain NLL")

        def __post_init__(self):
            require_positive("IdkPO", beta=self.beta)

    paper = "Rafailov et al. 2023 (DPO), arXiv 2305.18290; IdkDPO in Maini et al. 2024, arXiv 2401.06121"
    needs_retain = True
    needs_reference = True

    def prepare(self, ctx):
        forget = ctx.splits.forget
        self.fmt: PromptFormat = ctx.fmt
        self.question = {r.id: r.question for r in forget}
        self.ref_true = reference_logprobs(ctx, forget)
        self.ref_idk = reference_logprobs(ctx, forget, [idk_answer(r.id) for r in forget])

    def losses(self, model, batch):
        f = batch["forget"]
        ids = f["ids"]
        idk = refusal_batch(self.fmt, self.question, ids, f["input_ids"].device)
        lose, _ = answer_logprob(model, f)
        win, _ = answer_logprob(model, idk)
        margin = (win - lookup(self.ref_idk, ids, win)) - (lose - lookup(self.ref_true, ids, lose))
        c = self.config
        forget = -(2.0 / c.beta) * F.logsigmoid(c.beta * margin).mean()
        return self.with_retain_nll(model, batch, {"forget": c.gamma * forget})
