"""The baselines of CUPID (Kwon et al. 2026, arXiv 2602.21773) and the unlearning literature.

* Retrain (gold): L = CE(retain), from a fresh initialisation, the original's budget.
* Finetune: L = CE(retain), from the original, a short budget (catastrophic forgetting).
* NegGrad: L = -CE(forget) (gradient ascent), from the original.
* NegGrad+: L = -gamma CE(forget) + CE(retain), batches paired 1:1.
* SCRUB (Kurmanji et al. 2023, arXiv 2302.09880), as a single loop: the student (from the
  original) maximises KL(teacher || student) on forget batches and minimises it, plus
  CE, on the paired retain batches; the teacher is the frozen original.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from obliviate.core.config import field_help
from obliviate.core.method import gradient_ascent
from obliviate.vision.methods.base import VISION_METHODS, VisionContext, VisionMethod
from obliviate.vision.models import classifier
from obliviate.vision.train import ce_loss, fit, vision_config


def _fresh(ctx: VisionContext):
    x = ctx.data.train.x
    return classifier(ctx.arch, tuple(x.shape[1:]), ctx.data.num_classes, seed=ctx.seed + 1)


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
        return fit(copy.deepcopy(ctx.original), self.objective(ctx), over,
                   vision_config(c.epochs, c.lr, seed=ctx.seed), retain=req.retain if self.paired else None,
                   description=self.description)


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
