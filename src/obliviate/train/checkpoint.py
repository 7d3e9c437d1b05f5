"""Checkpoints that survive a crash: written to a temp folder, then renamed into place.

Weights go through safetensors; optimizer/scheduler/RNG state through
``torch.save`` and back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from obliviate.core.store import atomic_dir


def save(path: Path, model, optimizer, scheduler, state: dict, extra: dict[str, torch.Tensor] | None = None) -> None:
    """Write a checkpoint; ``extra`` holds other tensors to keep (e.g. the GU combiner's basis)."""
    # deferred: loads safetensors
    import safetensors.torch

    with atomic_dir(path) as tmp:
        safetensors.torch.save_model(model, str(tmp / "model.safetensors"))
        if extra:
            safetensors.torch.save_file({k: v.detach().contiguous().cpu() for k, v in extra.items()},
                                        str(tmp / "combiner.safetensors"))
        torch.save(
            {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
            },
            tmp / "optim.pt",
        )
        py_state = random.getstate()
        state = {**state, "python_rng": [py_state[0], list(py_state[1]), py_state[2]]}
        (tmp / "state.json").write_text(json.dumps(state))


def exists(path: Path) -> bool:
    return (path / "state.json").is_file()


def load(path: Path, model, optimizer, scheduler, combiner=None) -> dict:
    # deferred: loads safetensors
    import safetensors.torch

    safetensors.torch.load_model(model, str(path / "model.safetensors"))
    if combiner is not None and (path / "combiner.safetensors").is_file():
        combiner.load_state_dict(safetensors.torch.load_file(str(path / "combiner.safetensors")))
    blob = torch.load(path / "optim.pt", weights_only=True)
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    torch.set_rng_state(blob["torch_rng"])
    state = json.loads((path / "state.json").read_text())
    v, internal, gauss = state.pop("python_rng")
    random.setstate((v, tuple(internal), gauss))
    return state
