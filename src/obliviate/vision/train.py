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
        description: str = "training classifier", callbacks: list | None = None,
        masks: dict[torch.nn.Parameter, torch.Tensor] | None = None):
    """Train ``model`` on mini-batches of ``indices`` (with ``retain`` indices paired 1:1 when given).
    ``callbacks``: the trainer's (e.g. :class:`ForgetStop`); ``masks``: 0/1 gradient masks of parameters."""
    if retain is None:
        sampler = SingleSampler(indices.tolist(), cfg.batch_size, cfg.seed, key="forget")
    else:
        sampler = PairedSampler(indices.tolist(), retain.tolist(), cfg.batch_size, cfg.seed)
    return Trainer(model, objective, sampler, _index, cfg, description=description, callbacks=callbacks,
                   masks=masks).fit()


class ForgetStop:
    """The stopping rule that puts methods at a matched operating point, and the curve on the way.

    Every ``every`` optimizer steps (and before the first) it measures the model's accuracy on the forget set,
    on its bias-aligned and bias-conflicting parts, and on (up to ``retain_cap`` of) the retain set; the points
    go to ``curve`` as ``[step, forget, aligned, conflicting, retain]``. Training stops at the first check
    where forget accuracy is at most ``target`` (``reached`` is then True; ``target`` < 0 never stops: the
    whole curve). The model is measured in eval mode and put back in train mode.
    """

    def __init__(self, split: Split, forget: torch.Tensor, retain: torch.Tensor, target: float = -1.0,
                 every: int = 5, retain_cap: int = 300):
        self.f = split.subset(forget)
        keep = retain[torch.randperm(len(retain), generator=torch.Generator().manual_seed(0))[:retain_cap]]
        self.r = split.subset(keep)
        self.target, self.every = target, max(1, int(every))
        self.curve: list[list[float]] = []
        self.reached, self.model = False, None

    def measure(self, model, step: int) -> None:
        was = model.training
        f, al = self.f, self.f.aligned
        lf = predict(model, f.x)
        retain = accuracy(predict(model, self.r.x), self.r.y)
        model.train(was)
        self.curve.append([step, accuracy(lf, f.y), accuracy(lf[al], f.y[al]), accuracy(lf[~al], f.y[~al]), retain])
        self.reached = self.curve[-1][1] <= self.target

    def on_fit_start(self, trainer, step: int) -> None:
        self.model = trainer.model
        self.curve, self.reached = [], False
        self.measure(self.model, step)

    def __call__(self, step: int, logs: dict[str, float]) -> bool:
        if self.reached:  # met before the first step: stop at once
            return True
        if step % self.every:
            return False
        self.measure(self.model, step)
        return self.reached

    def figures(self) -> dict:
        """``stop_step`` (the last check's step), ``reached`` and the ``curve`` for metrics.json."""
        return {"stop_step": int(self.curve[-1][0]) if self.curve else 0, "reached": float(self.reached),
                "curve": self.curve}


def ce_loss(split: Split, key: str = "forget") -> Callable:
    """Cross-entropy on the batch's ``key`` indices of ``split`` (the sampler's one key is ``forget``)."""

    def objective(model, batch) -> dict[str, torch.Tensor]:
        i = batch[key]
        return {"train": F.cross_entropy(model(split.x[i]), split.y[i])}

    return objective


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Share of ``logits`` whose argmax is ``y`` (NaN for none)."""
    return float((logits.argmax(-1) == y).float().mean()) if len(y) else float("nan")


@torch.no_grad()
def predict(model, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i: i + batch_size]) for i in range(0, len(x), batch_size)]) if len(x) else torch.zeros(0)
