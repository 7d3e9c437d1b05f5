"""Training image classifiers through THE training loop (``obliviate.train.trainer.Trainer``).

The sampler is the project's ``SingleSampler`` over sample indices (or a pair
of them for forget/retain objectives); ``collate`` turns an index list into a
tensor, and objectives index the split's tensors.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from obliviate.train.samplers import PairedSampler, SingleSampler
from obliviate.train.trainer import TrainConfig, Trainer
from obliviate.vision.data import Split


def vision_config(epochs: float = 5.0, lr: float = 1e-3, batch_size: int = 64, seed: int = 0, **kw) -> TrainConfig:
    base = dict(epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=0.0, max_grad_norm=0.0,
                scheduler="constant", checkpoint_every=0, seed=seed)
    return TrainConfig(**{**base, **kw})


def _index(ids: list) -> torch.Tensor:
    return torch.as_tensor(ids, dtype=torch.long)


def fit(model, objective: Callable, indices: torch.Tensor, cfg: TrainConfig, *, retain: torch.Tensor | None = None,
        description: str = "training classifier"):
    """Train ``model`` on mini-batches of ``indices`` (with ``retain`` indices paired 1:1 when given)."""
    if retain is None:
        sampler = SingleSampler(indices.tolist(), cfg.batch_size, cfg.seed, key="forget")
    else:
        sampler = PairedSampler(indices.tolist(), retain.tolist(), cfg.batch_size, cfg.seed)
    return Trainer(model, objective, sampler, _index, cfg, description=description).fit()


def ce_loss(split: Split, key: str = "forget") -> Callable:
    """Cross-entropy on the batch's ``key`` indices of ``split`` (the sampler's one key is ``forget``)."""

    def objective(model, batch) -> dict[str, torch.Tensor]:
        i = batch[key]
        return {"train": F.cross_entropy(model(split.x[i]), split.y[i])}

    return objective


@torch.no_grad()
def predict(model, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i: i + batch_size]) for i in range(0, len(x), batch_size)]) if len(x) else torch.zeros(0)
