"""CUPID: robust unlearning under bias (Kwon et al., AAAI 2026, arXiv 2602.21773).

A model that learned a shortcut (colour predicts the class) unlearns the
shortcut instead of the class when asked to forget a class. CUPID separates
the two, using the forget set only:

1. Sharpness partition. For each forget sample ``x``::

       w(x) = L(theta + eta * g / ||g||, x) - L(theta, x),   g = grad L(theta, x)

   the sharpest ``causal_share`` (5%) form the *causal* subset (hard samples,
   learned through the class's shape); the rest approximate the bias-aligned ones.
2. Causal pathway. Optimal-Brain-Damage saliency ``s_i = 0.5 theta_i^2 E_causal[H_ii]``,
   with ``H_ii`` estimated by the squared per-sample gradients over the causal
   subset (the empirical Fisher diagonal; the paper does not say which estimate);
   ``m_c = 1`` on the top ``mask_share`` (50%) of parameters.
3. Gradient routing, every step::

       g_c    = grad of the mean loss over the causal subset
       g_f    = grad of the mean loss over the forget set;  g_f^w the same with each
                sample weighted by w(x) / mean(w)
       g_proj = (g_f^w . g_c / ||g_c||^2) g_c,    g_bias = g_f - (g_f . g_c / ||g_c||^2) g_c
       L      = surrogate whose gradient is -[g_proj * m_c + g_bias * (1 - m_c)]   (ascent)

   run by the project's trainer (AdamW), so the step is Adam's normalisation of
   that direction rather than a plain ``alpha``-step: eta, the step size and the
   number of steps were not given by the paper; ours are tuned on the tiny
   digits benchmark and reported in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from obliviate.core.config import field_help
from obliviate.core.errors import ConfigError
from obliviate.vision.methods.base import VISION_METHODS, VisionContext, VisionMethod
from obliviate.vision.train import fit, vision_config


def per_sample_grads(model, x: torch.Tensor, y: torch.Tensor, chunk: int = 64) -> dict[str, torch.Tensor]:
    """``{name: (N, *shape)}`` gradients of each sample's cross-entropy (torch.func, in chunks)."""
    params = {n: p.detach() for n, p in model.named_parameters()}

    def loss(p, xi, yi):
        return F.cross_entropy(functional_call(model, p, (xi[None],)), yi[None])

    g = vmap(grad(loss), in_dims=(None, 0, 0))
    parts = [g(params, x[i: i + chunk], y[i: i + chunk]) for i in range(0, len(x), chunk)]
    return {n: torch.cat([p[n] for p in parts]) for n in params}


def sharpness(model, x: torch.Tensor, y: torch.Tensor, eta: float, chunk: int = 64) -> torch.Tensor:
    """``w(x) = L(theta + eta g/||g||, x) - L(theta, x)`` per sample (its own gradient ``g``)."""
    model = copy.deepcopy(model).eval()
    params = {n: p.detach() for n, p in model.named_parameters()}
    out = []
    for i in range(0, len(x), chunk):
        xs, ys = x[i: i + chunk], y[i: i + chunk]
        gs = per_sample_grads(model, xs, ys, chunk)
        norm = torch.sqrt(sum(v.flatten(1).pow(2).sum(1) for v in gs.values())).clamp_min(1e-12)

        def loss_at(gi, n, xi, yi):
            p = {k: params[k] + eta * gi[k] / n for k in params}
            return F.cross_entropy(functional_call(model, p, (xi[None],)), yi[None])

        adv = vmap(loss_at, in_dims=(0, 0, 0, 0))(gs, norm, xs, ys)
        with torch.no_grad():
            base = F.cross_entropy(model(xs), ys, reduction="none")
        out.append(adv.detach() - base)
    return torch.cat(out)


@VISION_METHODS.register("CUPID")
class CUPID(VisionMethod):
    """L = surrogate of the routed ascent: projected forget gradient on the causal pathway, the rest elsewhere."""

    @dataclass
    class Config:
        causal_share: float = field_help(0.05, "share of the sharpest forget samples forming the causal subset "
                                               "(paper: 5%)")
        mask_share: float = field_help(0.5, "share of parameters in the causal pathway (paper: 50%)")
        eta: float = field_help(0.05, "radius of the sharpness perturbation")
        steps: int = field_help(10, "routed ascent steps (full forget set per step)")
        lr: float = field_help(1e-3, "learning rate (AdamW)")

        def __post_init__(self):
            for name in ("causal_share", "mask_share"):
                v = getattr(self, name)
                if not 0 < v <= 1:
                    raise ConfigError(f"CUPID.{name} must be in (0, 1], got {v}")
            if self.eta <= 0 or self.steps < 1 or self.lr <= 0:
                raise ConfigError("CUPID: eta and lr must be > 0 and steps >= 1")

    paper = "Kwon et al. 2026 (AAAI), arXiv 2602.21773"

    def partition(self, model, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sharpness ``w`` of every forget sample and the indices of the causal subset (the sharpest)."""
        w = sharpness(model, x, y, self.config.eta)
        k = max(1, round(self.config.causal_share * len(w)))
        return w, torch.argsort(w, descending=True)[:k]

    def pathway(self, model, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Bool masks ``m_c`` (True = causal pathway): the top ``mask_share`` of OBD saliency."""
        gs = per_sample_grads(model, x, y)
        params = dict(model.named_parameters())
        sal = {n: 0.5 * params[n].detach().pow(2) * gs[n].pow(2).mean(0) for n in params}
        flat = torch.cat([v.flatten() for v in sal.values()])
        k = max(1, round(self.config.mask_share * len(flat)))
        threshold = torch.topk(flat, k).values.min()
        return {n: v >= threshold for n, v in sal.items()}

    def unlearn(self, ctx: VisionContext):
        c, train = self.config, ctx.data.train
        model = copy.deepcopy(ctx.original)
        forget = ctx.request.forget
        xf, yf = train.x[forget], train.y[forget]
        w, causal = self.partition(model, xf, yf)
        self.sharpness, self.causal = w, forget[causal]
        self.mask = self.pathway(model, xf[causal], yf[causal])
        weights = (w / w.mean().clamp_min(1e-12)).clamp_min(0)
        xc, yc = xf[causal], yf[causal]

        def objective(net, batch):
            params = [p for p in net.parameters() if p.requires_grad]
            names = [n for n, p in net.named_parameters() if p.requires_grad]
            per = F.cross_entropy(net(xf), yf, reduction="none")
            g_f = torch.autograd.grad(per.mean(), params, retain_graph=True)
            g_w = torch.autograd.grad((weights * per).mean(), params)
            g_c = torch.autograd.grad(F.cross_entropy(net(xc), yc), params)
            cc = sum((a * a).sum() for a in g_c).clamp_min(1e-12)
            coef_w = sum((a * b).sum() for a, b in zip(g_w, g_c)) / cc
            coef_f = sum((a * b).sum() for a, b in zip(g_f, g_c)) / cc
            surrogate = 0.0
            for n, p, gf, gc in zip(names, params, g_f, g_c):
                m = self.mask[n].to(p.dtype)
                direction = (coef_w * gc) * m + (gf - coef_f * gc) * (1 - m)
                surrogate = surrogate - ((p - p.detach()) * direction.detach()).sum()
            return {"forget": surrogate, "forget_ce": per.mean().detach()}

        return fit(model, objective, forget, vision_config(float(round(c.steps * ctx.budget)), c.lr,
                                                           batch_size=len(forget), seed=ctx.seed),
                   description="CUPID", callbacks=ctx.callbacks())
