"""The method contract.

A method is a config dataclass with the paper's defaults, ``prepare(ctx)`` for
anything it needs before training (reference log-probs, neurons, templates),
and ``losses(model, batch) -> {"forget": t, "retain": t, ...}`` with its
weights already applied. Optional hooks: ``trainable_parameters(model)``,
``parameter_masks(model)`` (entry-level gradient masks),
``forget_filter(model, records)`` (which forget records each epoch trains
on) and ``after_step(logs)`` with ``state_dict``/``load_state_dict`` (state
a method updates between optimizer steps, e.g. PDU's dual variable, logged
and checkpointed by the trainer). Sampling, projection, checkpoints and
logging belong to the trainer, so every method gets them for free.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from obliviate.core.config import Configurable, field_help  # noqa: F401  (field_help re-exported)
from obliviate.core.errors import ConfigError
from obliviate.core.registry import Registry
from obliviate.llm.encoding import IGNORE, answer_token_logprobs, mean_nll
from obliviate.llm.eval.scoring import Scorer
from obliviate.train.trainer import is_peft

METHODS: Registry[type[Method]] = Registry("method")


@dataclass
class MethodContext:
    """What ``prepare`` may use: the model before unlearning, its tokenizer and the splits."""

    model: Any
    tokenizer: Any
    fmt: Any
    splits: Any
    batch_size: int = 8


class Method(Configurable):
    """Base class. Subclasses set ``Config``, ``paper``, ``needs_retain`` and implement ``losses``."""

    paper: ClassVar[str] = ""
    needs_retain: ClassVar[bool] = False
    needs_reference: ClassVar[bool] = False

    def prepare(self, ctx: MethodContext) -> None:
        """Compute what the objective needs before training (default: nothing)."""

    def trainable_parameters(self, model) -> list[torch.nn.Parameter] | None:
        """Parameters to update (default: all)."""
        return None

    def parameter_masks(self, model) -> dict[torch.nn.Parameter, torch.Tensor] | None:
        """Gradient masks (True = trainable entry) for some trainable parameters (default: none).

        The trainer zeroes the gradient outside each mask on every backward
        pass and exempts masked parameters from weight decay, so entries
        outside a mask stay bit-identical.
        """
        return None

    def forget_filter(self, model, records: list) -> list | None:
        """The forget records to train on in the coming epoch, given the current model (default: all).

        Called at the start of every epoch; returning an empty list ends
        training. None means no filtering: ``unlearn`` asks once with an empty
        list, and wraps the sampler in a
        :class:`~obliviate.train.samplers.FilteredSampler` unless the answer is None.
        """
        return None

    def losses(self, model, batch: dict) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def after_step(self, logs: dict[str, float]) -> dict[str, float]:
        """Called by the trainer after each optimizer step; returns figures to add to that step's logs (default: none).

        ``logs`` holds the step's loss means over every micro-batch of every
        process (identical on all processes), ``grad_norm`` and ``lr``. A
        method whose state changes here keeps it in :meth:`state_dict`.
        """
        return {}

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready state a checkpoint must keep so a resumed run continues exactly (default: none)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (called after ``prepare`` when a run resumes from a checkpoint)."""

    def with_retain_nll(self, model, batch: dict, out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Add ``alpha * NLL(R)`` as ``out["retain"]`` when alpha > 0 and a retain batch exists."""
        alpha = getattr(self.config, "alpha", 0.0)
        if alpha and "retain" in batch:
            out["retain"] = alpha * mean_nll(model, batch["retain"])
        return out

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in self.to_dict().items())
        return f"{type(self).__name__}({fields})"


def get_method(name: str, overrides: dict[str, Any] | None = None) -> Method:
    """A method instance by registry name, with config overrides (validated)."""
    return METHODS.get(name).from_dict(overrides)


def reference_logprobs(ctx: MethodContext, records, answers: list[str] | None = None) -> dict[str, float]:
    """``log pi_ref(a|q)`` (summed over answer tokens) of each record under the frozen model.

    Computed once before training with the batched scorer, so methods that
    compare against the reference (NPO, DPO-style) need no second model in memory.

    Args:
        ctx: the context (its model is the reference).
        records: QA records; keys of the result are their ids.
        answers: answers to score instead of ``record.answer`` (e.g. refusals).
    """
    answers = answers if answers is not None else [r.answer for r in records]
    scorer = Scorer(ctx.model, ctx.tokenizer, batch_size=ctx.batch_size)
    logp, _ = scorer.answer_logprobs([(r.question, a) for r, a in zip(records, answers)], desc="reference log-probs")
    return {r.id: float(v) for r, v in zip(records, logp)}


def answer_tokens(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-softmax rows at the answer positions and the answer tokens they predict: (n, vocab), (n,).

    Ignored (-100) positions are dropped before anything is computed, so the
    rows do not depend on how much padding the batch has. Token-level
    objectives (UNDIAL, CE-U, WGA, SatImp, PDU) read them; rows are
    log-probabilities, which equal the logits up to a constant per row.
    """
    target = batch["labels"][:, 1:]  # (B, T-1): the token each position predicts
    return answer_token_logprobs(model, batch), target[target != IGNORE]


def lookup(table: dict[str, float], ids: list[str], like: torch.Tensor) -> torch.Tensor:
    """Per-record values from a precomputed table, as a tensor beside ``like``."""
    return torch.tensor([table[i] for i in ids], dtype=like.dtype, device=like.device)


def frozen_copy(model):
    """A frozen, eval-mode copy of ``model``."""
    ref = copy.deepcopy(model).eval()
    ref.requires_grad_(False)
    return ref


class Reference:
    """The model as it was before unlearning, for terms that compare against it (KL, RMU, SAEGuided).

    Under LoRA it is the trained model itself with its adapters switched off
    (the base weights never move), so no second copy is held in memory;
    otherwise a frozen copy made at ``prepare`` time. Use it as a context
    manager: ``with self.ref() as ref: out = ref(**batch)``, which also turns
    off gradients.
    """

    def __init__(self, model, cache_mb: float | None = None) -> None:
        self.shared = is_peft(model)
        self.model = model if self.shared else frozen_copy(model)
        self.budget = (float(os.environ.get("OBLIVIATE_REF_CACHE_MB", 1024)) if cache_mb is None else cache_mb) * 2**20
        self._rows: dict[str, torch.Tensor] = {}
        self._bytes = 0
        self.hits = self.misses = 0

    def rows(self, ids: list[str], counts: list[int], compute) -> torch.Tensor:
        """A reference output of per-record rows (``counts[i]`` rows for record ``ids[i]``), computed once per record.

        The reference never changes during a run, so a record seen again (the
        next epoch, cyclic sampling) reads its rows from memory instead of
        running the reference again, within ``OBLIVIATE_REF_CACHE_MB`` (default 1024).
        """
        if all(i in self._rows for i in ids):
            self.hits += 1
            return torch.cat([self._rows[i] for i in ids])
        self.misses += 1
        out = compute()
        if self._bytes + out.numel() * out.element_size() <= self.budget:
            for i, part in zip(ids, torch.split(out, counts)):
                if i not in self._rows:
                    self._rows[i] = part
                    self._bytes += part.numel() * part.element_size()
        return out

    @contextlib.contextmanager
    def __call__(self, device=None) -> Iterator[Any]:
        if self.shared:
            with self.model.disable_adapter(), torch.no_grad():
                yield self.model
            return
        if device is not None:
            self.model.to(device)
        with torch.no_grad():
            yield self.model


def require_positive(owner: str, **values: float) -> None:
    """Raise a ConfigError naming the field when a value that must be > 0 is not."""
    for name, value in values.items():
        if not value > 0:
            raise ConfigError(f"{owner}.{name} must be > 0, got {value}")
