"""The baselines of CUPID (Kwon et al. 2026, arXiv 2602.21773) and the unlearning literature.

* Retrain (gold): L = CE(retain), from a fresh initialisation, the original's budget.
* Finetune: L = CE(retain), from the original, a short budget (catastrophic forgetting).
* NegGrad: L = -CE(forget) (gradient ascent), from the original.
* NegGrad+: L = -gamma CE(forget) + CE(retain), batches paired 1:1.
* SCRUB (Kurmanji et al. 2023, arXiv 2302.09880), as a single loop: the student (from the
  original) maximises KL(teacher || student) on forget batches and minimises it, plus
  CE, on the paired retain batches; the teacher is the frozen original.
* SalUn (Fan et al. 2024, arXiv 2310.12508): weight saliency ``|grad CE(forget)|`` at the
  original; only the top ``mask_share`` (50%) of weights train, on random labelling:
  L = CE(forget, a random other label, drawn once per image) + CE(retain), paired 1:1.
* Bad Teaching (Chundawat et al. 2023, arXiv 2205.08096): the student (from the original)
  matches an incompetent teacher (a fresh initialisation) on forget batches and the
  competent one (the original) on the paired retain batches: L = KL(T || S).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from obliviate.core.config import field_help
from obliviate.core.errors import ConfigError
from obliviate.core.method import gradient_ascent
from obliviate.vision.methods.base import VISION_METHODS, VisionContext, VisionMethod
from obliviate.vision.models import classifier
from obliviate.vision.train import ce_loss, fit, vision_config


def _fresh(ctx: VisionContext, offset: int = 1):
    x = ctx.data.train.x
    return classifier(ctx.arch, tuple(x.shape[1:]), ctx.data.num_classes, seed=ctx.seed + offset)


@VISION_METHODS.register("Retrain")
class Retrain(VisionMethod):
    """L = CE(retain), from scratch (exact unlearning)."""

    @dataclass
    class Config:
        pass

    paper = "Kwon et al. 2026 (CUPID's gold standard), arXiv 2602.21773"

    def unlearn(self, ctx):
        train = ctx.data.train
        return fit(_fresh(ctx), ce_loss(train), ctx.request.retain,
                   vision_config(ctx.train_epochs, ctx.train_lr, seed=ctx.seed), description="retraining")


class _FromOriginal(VisionMethod):
    """The shape the baselines share: a copy of the original trained with ``objective(ctx)`` for
    ``config.epochs`` passes at ``config.lr`` over the forget indices (paired 1:1 with retain indices when
    ``paired``), or over the retain indices when ``over == "retain"``."""

    over: ClassVar[str] = "forget"
    paired: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def objective(self, ctx: VisionContext) -> Callable:
        raise NotImplementedError

    def unlearn(self, ctx):
        c, req = self.config, ctx.request
        over = req.retain if self.over == "retain" else req.forget
        model = copy.deepcopy(ctx.original)
        return fit(model, self.objective(ctx), over, vision_config(c.epochs * ctx.budget, c.lr, seed=ctx.seed),
                   retain=req.retain if self.paired else None, description=self.description,
                   callbacks=ctx.callbacks(), masks=self.masks(ctx, model))

    def masks(self, ctx: VisionContext, model) -> dict | None:
        """0/1 gradient masks of ``model``'s parameters (SalUn's saliency); None trains every weight."""
        return None


@VISION_METHODS.register("Finetune")
class Finetune(_FromOriginal):
    """L = CE(retain), from the original, a short budget."""

    @dataclass
    class Config:
        epochs: float = field_help(3.0, "passes over the retain set")
        lr: float = field_help(3e-3, "learning rate")

    paper = "Golatkar et al. 2020 (fine-tuning baseline), arXiv 1911.04933"
    over, description = "retain", "fine-tuning on retain"

    def objective(self, ctx):
        return ce_loss(ctx.data.train)


@VISION_METHODS.register("NegGrad")
class NegGrad(_FromOriginal):
    """L = -CE(forget)."""

    @dataclass
    class Config:
        epochs: float = field_help(5.0, "passes over the forget set")
        lr: float = field_help(1e-3, "learning rate")

    paper = "Golatkar et al. 2020 (NegGrad baseline), arXiv 1911.04933"
    description = "NegGrad"

    def objective(self, ctx):
        train = ctx.data.train
        return lambda model, batch: gradient_ascent(F.cross_entropy(model(train.x[batch["forget"]]),
                                                                    train.y[batch["forget"]]))


@VISION_METHODS.register("NegGradPlus")
class NegGradPlus(_FromOriginal):
    """L = -gamma CE(forget) + CE(retain)."""

    @dataclass
    class Config:
        epochs: float = field_help(5.0, "passes over the forget set")
        lr: float = field_help(1e-3, "learning rate")
        gamma: float = field_help(1.0, "weight of the ascended forget loss")

    paper = "Kurmanji et al. 2023 (NegGrad+), arXiv 2302.09880"
    paired, description = True, "NegGrad+"

    def objective(self, ctx):
        c, train = self.config, ctx.data.train

        def objective(model, batch):
            f, r = batch["forget"], batch["retain"]
            return {**gradient_ascent(F.cross_entropy(model(train.x[f]), train.y[f]), c.gamma),
                    "retain": F.cross_entropy(model(train.x[r]), train.y[r])}

        return objective


@VISION_METHODS.register("SalUn")
class SalUn(_FromOriginal):
    """L = CE(forget, random other labels) + CE(retain), only the salient weights updated."""

    @dataclass
    class Config:
        epochs: float = field_help(5.0, "passes over the forget set")
        lr: float = field_help(1e-3, "learning rate")
        mask_share: float = field_help(0.5, "share of weights updated: the largest |gradient of the forget loss| "
                                            "(paper: 50%)")

        def __post_init__(self):
            if not 0 < self.mask_share <= 1:
                raise ConfigError(f"SalUn.mask_share must be in (0, 1], got {self.mask_share}")

    paper = "Fan et al. 2024 (SalUn, ICLR), arXiv 2310.12508"
    paired, description = True, "SalUn"

    def masks(self, ctx, model):
        """1 on the top ``mask_share`` of ``|grad CE(forget)|`` over all weights (one global threshold)."""
        train, forget = ctx.data.train, ctx.request.forget
        model.eval()
        model.zero_grad()
        for i in range(0, len(forget), 256):  # the mean loss's gradient, accumulated chunk by chunk
            f = forget[i: i + 256]
            (F.cross_entropy(model(train.x[f]), train.y[f], reduction="sum") / len(forget)).backward()
        params = [p for p in model.parameters() if p.requires_grad]
        sal = [p.grad.detach().abs() for p in params]
        model.zero_grad(set_to_none=True)
        model.train()
        flat = torch.cat([s.flatten() for s in sal])
        threshold = torch.topk(flat, max(1, round(self.config.mask_share * len(flat)))).values.min()
        return {p: (s >= threshold).to(p.dtype) for p, s in zip(params, sal)}

    def objective(self, ctx):
        train, n = ctx.data.train, ctx.data.num_classes
        gen = torch.Generator().manual_seed(ctx.seed)
        shift = torch.randint(1, n, (len(train),), generator=gen)
        random_label = (train.y + shift) % n  # any class but the true one

        def objective(model, batch):
            f, r = batch["forget"], batch["retain"]
            return {"forget": F.cross_entropy(model(train.x[f]), random_label[f]),
                    "retain": F.cross_entropy(model(train.x[r]), train.y[r])}

        return objective


@VISION_METHODS.register("BadTeaching")
class BadTeaching(_FromOriginal):
    """L = KL(random teacher || S) on forget + KL(original || S) on retain."""

    @dataclass
    class Config:
        epochs: float = field_help(5.0, "passes over the forget set")
        lr: float = field_help(1e-3, "learning rate")
        temperature: float = field_help(1.0, "softmax temperature of both teachers and the student (paper: 1)")

        def __post_init__(self):
            if not self.temperature > 0:
                raise ConfigError(f"BadTeaching.temperature must be > 0, got {self.temperature}")

    paper = "Chundawat et al. 2023 (Bad Teaching, AAAI), arXiv 2205.08096"
    paired, description = True, "Bad Teaching"

    def objective(self, ctx):
        c, train = self.config, ctx.data.train
        good = copy.deepcopy(ctx.original).eval().requires_grad_(False)
        bad = _fresh(ctx, offset=2).eval().requires_grad_(False)
        t = c.temperature

        def objective(model, batch):
            f, r = batch["forget"], batch["retain"]
            with torch.no_grad():
                tf, tr = bad(train.x[f]) / t, good(train.x[r]) / t
            return {"forget": _kl(model(train.x[f]) / t, tf), "retain": _kl(model(train.x[r]) / t, tr)}

        return objective


def _kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    return F.kl_div(F.log_softmax(student_logits, -1), F.log_softmax(teacher_logits, -1), log_target=True,
                    reduction="batchmean")


@VISION_METHODS.register("SCRUB")
class SCRUB(_FromOriginal):
    """L = -KL(T || S) on forget + alpha KL(T || S) + gamma CE on retain."""

    @dataclass
    class Config:
        epochs: float = field_help(5.0, "passes over the forget set")
        lr: float = field_help(1e-3, "learning rate")
        alpha: float = field_help(1.0, "weight of the retain KL")
        gamma: float = field_help(1.0, "weight of the retain CE")

    paper = "Kurmanji et al. 2023 (SCRUB), arXiv 2302.09880"
    paired, description = True, "SCRUB"

    def objective(self, ctx):
        c, train = self.config, ctx.data.train
        teacher = copy.deepcopy(ctx.original).eval().requires_grad_(False)

        def objective(model, batch):
            f, r = batch["forget"], batch["retain"]
            with torch.no_grad():
                tf, tr = teacher(train.x[f]), teacher(train.x[r])
            sr = model(train.x[r])
            return {"forget": -_kl(model(train.x[f]), tf),
                    "retain": c.alpha * _kl(sr, tr) + c.gamma * F.cross_entropy(sr, train.y[r])}

        return objective
