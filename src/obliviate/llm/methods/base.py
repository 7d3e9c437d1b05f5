"""The method contract.

A method is a config dataclass with the paper's defaults, ``prepare(ctx)`` for
anything it needs before training (reference log-probs, neurons, templates),
and ``losses(model, batch) -> {"forget": t, "retain": t, ...}`` with its
weights already applied. Optional hooks: ``trainable_parameters(model)``,
``parameter_masks(model)`` (entry-level gradient masks) and
``forget_filter(model, records)`` (which forget records each epoch trains
on). Sampling, projection, checkpoints and logging belong to the trainer, so
every method gets them for free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from obliviate.core.config import Configurable, field_help  # noqa: F401  (field_help re-exported)
from obliviate.core.registry import Registry

METHODS: Registry[type["Method"]] = Registry("method")


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

    def with_retain_nll(self, model, batch: dict, out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Add ``alpha * NLL(R)`` as ``out["retain"]`` when alpha > 0 and a retain batch exists."""
        alpha = getattr(self.config, "alpha", 0.0)
        if alpha and "retain" in batch:
            from obliviate.llm.encoding import mean_nll

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
    from obliviate.llm.eval.scoring import Scorer

    answers = answers if answers is not None else [r.answer for r in records]
    scorer = Scorer(ctx.model, ctx.tokenizer, batch_size=ctx.batch_size)
    logp, _ = scorer.answer_logprobs([(r.question, a) for r, a in zip(records, answers)], desc="reference log-probs")
    return {r.id: float(v) for r, v in zip(records, logp)}


def lookup(table: dict[str, float], ids: list[str], like: torch.Tensor) -> torch.Tensor:
    """Per-record values from a precomputed table, as a tensor beside ``like``."""
    return torch.tensor([table[i] for i in ids], dtype=like.dtype, device=like.device)


def frozen_copy(model):
    """A frozen, eval-mode copy of ``model`` (the reference for KL-style terms)."""
    import copy

    ref = copy.deepcopy(model).eval()
    ref.requires_grad_(False)
    return ref


def require_positive(owner: str, **values: float) -> None:
    """Raise a ConfigError naming the field when a value that must be > 0 is not."""
    from obliviate.core.errors import ConfigError

    for name, value in values.items():
        if not value > 0:
            raise ConfigError(f"{owner}.{name} must be > 0, got {value}")
