"""PDU: primal-dual unlearning (Entesari et al. 2025, "Constrained Entropic Unlearning: A Primal-Dual
Framework for Large Language Models", arXiv 2506.05314).

Unlearning as a constrained problem: flatten the forget answers' next-token
distributions while the retain NLL stays under a bound ``eps``::

    min  L_F = mean_t (max_v z_t[v] - mean_v z_t[v])^2        (forget answer positions t)
    s.t. NLL(R) <= eps

solved by gradient descent on the Lagrangian and ascent on its multiplier::

    L      = gamma * L_F + lambda * (NLL(R) - eps)
    lambda <- max(0, lambda + dual_lr * (NLL(R) - eps))      once per optimizer step

The dual step reads the step's retain NLL averaged over every micro-batch of
every process (:meth:`PDU.after_step`), so all processes hold the same
lambda; it is logged as ``dual_lambda`` and kept in checkpoints. The logged
``retain`` term is ``NLL(R)`` itself, the constrained quantity; its gradient
is ``lambda * grad NLL(R)``. eps = 0.3 (the authors' TOFU run), lambda starts
at 1 (OpenUnlearning starts it at alpha = 1), dual_lr = 1 (their dual step
size); their dual warm-up epochs are not implemented (the dual variable moves
from the first step). The margin is taken over answer tokens only (ignored
positions dropped first; OpenUnlearning's code averages over every position),
on log-softmax rows, which equal the logits up to a constant per row.
"""

from dataclasses import dataclass

import torch

from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import mean_nll
from obliviate.llm.methods.base import METHODS, Method, answer_tokens, field_help


def pdu_forget_loss(logits: torch.Tensor) -> torch.Tensor:
    """``mean_t (max_v z_t[v] - mean_v z_t[v])^2`` over rows (n, vocab) of logits (or log-probs)."""
    logits = logits.float()
    margin = logits.max(-1).values - logits.mean(-1)  # (n,)
    return margin.pow(2).sum() / max(len(margin), 1)


def dual_update(lam: float, retain: float, eps: float, lr: float) -> float:
    """One projected dual ascent step: ``max(0, lam + lr * (retain - eps))``."""
    return max(0.0, lam + lr * (retain - eps))


@METHODS.register("PDU")
class PDU(Method):
    """L = gamma mean_t (max z_t - mean z_t)^2 + lambda (NLL(R) - eps), lambda by dual ascent."""

    @dataclass
    class Config:
        eps: float = field_help(0.3, "bound on the retain NLL (the constraint NLL(R) <= eps)")
        dual_lr: float = field_help(1.0, "step size of the dual ascent on lambda")
        lambda_init: float = field_help(1.0, "the dual variable (retain weight) at the first step")
        gamma: float = field_help(1.0, "weight of the forget term")

        def __post_init__(self):
            for name in ("eps", "dual_lr", "lambda_init"):
                if not getattr(self, name) >= 0:
                    raise ConfigError(f"PDU.{name} must be >= 0, got {getattr(self, name)}")

    paper = "Entesari et al. 2025, arXiv 2506.05314"
    needs_retain = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.dual_lambda = self.config.lambda_init

    def prepare(self, ctx):
        self.dual_lambda = self.config.lambda_init  # a fresh run; a resumed one loads its checkpoint's value

    def losses(self, model, batch):
        logits, _ = answer_tokens(model, batch["forget"])
        nll = mean_nll(model, batch["retain"])
        lam = self.dual_lambda
        # value NLL(R) (what the dual step reads), gradient lambda * grad NLL(R); eps shifts no gradient
        retain = lam * nll + (1.0 - lam) * nll.detach()
        return {"forget": self.config.gamma * pdu_forget_loss(logits), "retain": retain}

    def after_step(self, logs):
        c = self.config
        if "retain" in logs:
            self.dual_lambda = dual_update(self.dual_lambda, logs["retain"], c.eps, c.dual_lr)
        return {"dual_lambda": self.dual_lambda}

    def state_dict(self):
        return {"dual_lambda": self.dual_lambda}

    def load_state_dict(self, state):
        self.dual_lambda = float(state["dual_lambda"])
