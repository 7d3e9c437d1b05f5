"""The one method base of the graph and vision domains (a config with the paper's defaults and ``unlearn``),
the gradient-ascent objective of every domain, and the run folder of a graph or vision unlearning run.

A method takes a context (the original model, the data, the deletion request, the seed, the original's training
budget) and returns a new model; the original is never modified. The LLM methods share the trainer instead
(``llm.methods.base.Method``: ``losses(model, batch)``), since one loop runs every one of them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from obliviate.core.config import Configurable, save_yaml
from obliviate.core.registry import Registry
from obliviate.core.store import atomic_write_bytes, atomic_write_json, finish_run, new_run_dir


class UnlearningMethod(Configurable):
    """Base class: subclasses set ``Config`` (a dataclass of the paper's defaults) and ``paper``, and implement
    ``unlearn(ctx) -> model``."""

    paper: ClassVar[str] = ""

    def unlearn(self, ctx: Any):
        raise NotImplementedError


def gradient_ascent(loss: Any, gamma: float = 1.0) -> dict[str, Any]:
    """``L = -gamma * loss(forget)``: ascend the task loss on what is to be forgotten. The one gradient-ascent
    objective of every domain (LLM GradAscent, graph GradAscent, vision NegGrad, and NegGrad+'s forget term)."""
    return {"forget": -gamma * loss}


def make_method(registry: Registry, name: str, overrides: dict[str, Any] | None = None) -> UnlearningMethod:
    """The method ``name`` of ``registry`` with its config overridden (unknown names and keys refused)."""
    return registry.get(name).from_dict(overrides)


def save_method_run(runs_dir: str | os.PathLike, name: str, command: str, config: dict[str, Any], model,
                   figures: dict[str, Any]) -> Path:
    """A finished run folder ``<runs_dir>/<stamp>-<name>/`` of a plain torch model: ``config.yaml``,
    ``model.safetensors`` (the state dict) and ``metrics.json``, each written atomically; returns the folder."""
    from safetensors.torch import save  # deferred: only the graph and vision commands save a plain state dict

    run_dir = new_run_dir(runs_dir, name, command=command, settings=config)
    save_yaml(run_dir / "config.yaml", config)
    atomic_write_bytes(run_dir / "model.safetensors", save({k: v.contiguous() for k, v in model.state_dict().items()}))
    atomic_write_json(run_dir / "metrics.json", figures)
    finish_run(run_dir)
    return run_dir
