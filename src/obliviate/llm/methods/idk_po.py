"""IdkPO: DPO with an "I don't know" answer preferred over the true one.

Objective (Rafailov et al. 2023 DPO; the TOFU "IdkDPO" baseline, Maini et al.
2024; OpenUnlearning's DPO trainer), with ``r(y) = log pi(y|q) - log pi_ref(y|q)``::

    L = -gamma * (2 / beta) * E_F[ log sigmoid(beta * (r(a_idk) - r(a_true))) ] + alpha * NLL(R)

beta = 0.1, gamma = alpha = 1. Each forget question gets one refusal from a
fixed list, chosen by a stable hash of its id; reference log-probs of both
answers are computed once in ``prepare``. AltPO is the same objective with
another preferred answer (a subclass that overrides :meth:`IdkPO.preferred`).
"""

import zlib
from dataclasses import dataclass

import torch
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


def qa_batch(fmt: PromptFormat, pairs: list[tuple[str, str]], device) -> dict:
    """(question, answer) pairs collated on ``device``."""
    return {k: v.to(device) for k, v in collate(fmt, pairs).items()}


def refusal_batch(fmt: PromptFormat, question: dict[str, str], ids: list[str], device) -> dict:
    """The questions ``question[id]`` with their refusals (:func:`idk_answer`), collated on ``device``."""
    return qa_batch(fmt, [(question[i], idk_answer(i)) for i in ids], device)


def dpo_loss(model, win: dict, lose: dict, ref_win: dict[str, float], ref_lose: dict[str, float],
             beta: float) -> torch.Tensor:
    """``-(2/beta) mean log sigmoid(beta (r(win) - r(lose)))`` with ``r(y) = log pi(y|q) - log pi_ref(y|q)``.

    Args:
        model: the model being unlearned.
        win, lose: collated batches of the same questions in the same order, with
            the preferred and the rejected answers; ``lose["ids"]`` names the records.
        ref_win, ref_lose: ``log pi_ref`` of those answers per record id (:func:`reference_logprobs`).
        beta: the DPO inverse temperature.
    """
    ids = lose["ids"]
    win_logp, _ = answer_logprob(model, win)  # (B,)
    lose_logp, _ = answer_logprob(model, lose)
    margin = (win_logp - lookup(ref_win, ids, win_logp)) - (lose_logp - lookup(ref_lose, ids, lose_logp))
    return -(2.0 / beta) * F.logsigmoid(beta * margin).mean()


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

    def preferred(self, record) -> str:
        """The answer preferred over the true one: a refusal."""
        return idk_answer(record.id)

    def prepare(self, ctx):
        forget = ctx.splits.forget
        self.fmt: PromptFormat = ctx.fmt
        self.pairs = {r.id: (r.question, self.preferred(r)) for r in forget}
        self.ref_true = reference_logprobs(ctx, forget)
        self.ref_preferred = reference_logprobs(ctx, forget, [self.pairs[r.id][1] for r in forget])

    def losses(self, model, batch):
        f = batch["forget"]
        win = qa_batch(self.fmt, [self.pairs[i] for i in f["ids"]], f["input_ids"].device)
        c = self.config
        forget = dpo_loss(model, win, f, self.ref_preferred, self.ref_true, c.beta)
        return self.with_retain_nll(model, batch, {"forget": c.gamma * forget})
