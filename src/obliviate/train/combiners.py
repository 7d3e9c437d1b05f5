"""Combiners turn a method's named losses into one parameter update.

Loss names carry their role: ``retain...`` terms protect what must stay,
``basis`` is a retain signal used only to build GU's basis (never applied),
every other term is a forget term.

* ``sum`` back-propagates the sum of the losses (each method weights its own terms).
* ``gu`` (Geometric-Disentanglement Unlearning, Zhou, Zhang et al. 2025,
  arXiv 2511.17100) back-propagates the forget and retain terms separately,
  keeps a FIFO basis ``G`` of the ``k`` most recent retain gradients and
  steps along the part of the forget gradient that is orthogonal to it::

      Euclidean:  g_perp = g_f - G (G^T G)^+ G^T g_f
      Adam:       g_perp = g_f - G (G^T P G)^+ G^T P g_f,   P = diag(1 / (sqrt(v_hat) + eps))
      update:     g = gamma * g_perp + g_r

  To first order a step along ``g_perp`` (Euclidean) or along ``P g_perp``
  (what Adam executes, the whitened geometry) leaves every retain loss in
  the basis unchanged. Any method works with any combiner.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from obliviate.core import dist
from obliviate.core.config import Configurable, from_dict
from obliviate.core.errors import ConfigError
from obliviate.core.registry import Registry

COMBINERS: Registry[type] = Registry("combiner")


def is_retain(name: str) -> bool:
    """Whether a loss term is a retain term (its name starts with ``retain``)."""
    return name.startswith("retain")


class Combiner(Configurable):
    """Base: ``backward`` per micro-batch, ``after_accumulation`` once per optimizer step."""

    needs_retain = False  # the trainer must supply retain batches even to forget-only methods
    needs_basis_loss = False  # the objective must add a ``basis`` retain term when it has none

    def setup(self, model, params: list[torch.nn.Parameter], optimizer) -> None:
        """Called once by the trainer before the first step."""

    def optimizer_overrides(self) -> dict[str, Any]:
        """Keyword arguments the optimizer must be built with (e.g. Adam betas)."""
        return {}

    def backward(self, losses: dict[str, torch.Tensor], accelerator, scale: float) -> None:
        raise NotImplementedError

    def all_reduce(self, params: list[torch.nn.Parameter]) -> None:
        """Sum what the micro-batches left (the parameters' gradients) over the processes of a multi-process run.

        Called by the trainer before :meth:`after_accumulation`, only when there
        is more than one process. A process that had no micro-batch contributes zeros.
        """
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        dist.sum_tensors([p.grad for p in params])

    def after_accumulation(self, params: list[torch.nn.Parameter]) -> dict[str, float]:
        """Hook run once per optimizer step, after all micro-batches; returns values to log."""
        return {}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors a checkpoint must keep so a resumed run continues exactly (default: none)."""
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict` (called after :meth:`setup` when resuming)."""


def make_combiner(name: str, config: dict[str, Any] | None = None) -> Combiner:
    """A combiner by registry name, its config validated (unknown keys name the valid ones)."""
    cls = COMBINERS.get(name)
    if config and not dataclasses.fields(cls.Config):
        raise ConfigError(f"the {name} combiner takes no settings, got {', '.join(config)}")
    try:
        return cls(from_dict(cls.Config, config or {}))
    except ConfigError as e:
        raise ConfigError(f"{name} combiner: {e}") from None


@COMBINERS.register("sum", summary="plain sum of the method's weighted losses")
class SumCombiner(Combiner):
    def backward(self, losses: dict[str, torch.Tensor], accelerator, scale: float) -> None:
        total = sum(v for k, v in losses.items() if k != "basis")
        accelerator.backward(total * scale)


GEOMETRIES = ("euclidean", "adam")
BASES = ("retain", "nll")
MOMENTUM = ("off", "keep")


@COMBINERS.register("gu", paper="Zhou, Zhang et al. 2025, arXiv 2511.17100",
                    summary="GU: forget gradient made orthogonal to recent retain gradients")
class GUCombiner(Combiner):
    """Geometric disentanglement: keep only the forget-gradient part orthogonal to retain gradients.

    Choices where the paper notes leave room (all configurable):

    * the basis holds the ``k`` latest retain gradients (FIFO, one pushed every
      ``refresh_every`` steps, each scaled to unit norm for conditioning); the
      current step's retain gradient is pushed before projecting, so the step
      is orthogonal to it too;
    * ``basis=retain`` uses the method's own retain term (NLL, KL or activation
      MSE); a method without one (GradAscent, FLAT, MEOW) or with ``alpha=0``
      gets a retain NLL computed for the basis only (``basis`` loss, not
      applied). ``basis=nll`` always uses the retain NLL (the utility itself);
    * ``geometry=adam`` reads ``P`` from the optimizer's second moments of the
      previous step (the current gradient's share of ``v`` is unknown before
      the step; with beta2 = 0.999 it is 0.1%); before the first step ``P = 1``;
    * the momentum caveat: Adam executes ``P m``, and momentum ``m`` mixes old,
      unprojected gradients into the step. With ``geometry=adam`` and
      ``momentum=off`` the optimizer runs with beta1 = 0, so the executed forget
      step is exactly ``P g_perp`` and retain-invariant to first order;
      ``momentum=keep`` keeps beta1 = 0.9 (invariance only approximate);
    * ``scope``: ``last:N`` projects the last N decoder blocks that have
      trainable parameters (RMU trains blocks 5-7 only: those), the final norm
      and the LM head (tied embeddings included), as the paper does with 3-5
      blocks; ``all``, or comma-separated parameter-name parts. Parameters
      outside the scope get the plain sum of the gradients;
    * a checkpoint keeps the basis, so a resumed run continues exactly.
    """

    @dataclass
    class Config:
        k: int = 8
        refresh_every: int = 1
        geometry: str = "euclidean"
        scope: str = "last:3"
        basis: str = "retain"
        momentum: str = "off"
        gamma: float = 1.0
        rcond: float = 1e-6

        def __post_init__(self) -> None:
            if self.k < 1 or self.refresh_every < 1:
                raise ConfigError(f"gu: k and refresh_every must be >= 1, got {self.k}, {self.refresh_every}")
            for name, value, valid in (("geometry", self.geometry, GEOMETRIES), ("basis", self.basis, BASES),
                                       ("momentum", self.momentum, MOMENTUM)):
                if value not in valid:
                    raise ConfigError(f"gu.{name} must be one of {', '.join(valid)}, got {value!r}")
            if self.scope.startswith("last:"):
                try:
                    n = int(self.scope[5:])
                except ValueError:
                    n = 0
                if n < 1:
                    raise ConfigError(f"gu.scope last:N needs N >= 1, got {self.scope!r}")

    needs_retain = True

    @property
    def needs_basis_loss(self) -> bool:  # type: ignore[override]
        return self.config.basis == "nll"

    def setup(self, model, params, optimizer) -> None:
        self.scoped = scoped_parameters(model, params, self.config.scope)
        self.optimizer = optimizer
        n = sum(p.numel() for p in self.scoped)
        self.G = torch.zeros(self.config.k, n, device=self.scoped[0].device)  # ring buffer of unit vectors
        self.filled, self.next_row, self.steps = 0, 0, 0
        self.keep_last = False  # tests set it to inspect the last projection
        self._reset()

    @property
    def basis_vectors(self) -> list[torch.Tensor]:
        """The basis, oldest first."""
        k = self.config.k
        rows = [(self.next_row - self.filled + i) % k for i in range(self.filled)]
        return [self.G[r] for r in rows]

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"G": self.G, "counters": torch.tensor([self.filled, self.next_row, self.steps])}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.G.copy_(state["G"])
        self.filled, self.next_row, self.steps = (int(x) for x in state["counters"])

    def optimizer_overrides(self) -> dict[str, Any]:
        if self.config.geometry == "adam" and self.config.momentum == "off":
            return {"betas": (0.0, 0.999)}
        return {}

    def _reset(self) -> None:
        self.g_forget: list[torch.Tensor | None] = [None] * len(self.scoped)
        self.g_retain: list[torch.Tensor | None] = [None] * len(self.scoped)
        self.g_basis: list[torch.Tensor | None] = [None] * len(self.scoped)

    @staticmethod
    def _add(acc: list[torch.Tensor | None], grads) -> None:
        """Accumulate ``grads`` into ``acc``; a first gradient is taken over, not copied."""
        for i, g in enumerate(grads):
            if g is not None:
                if acc[i] is None:
                    acc[i] = g.detach()
                else:
                    acc[i].add_(g.detach())

    def _harvest(self, acc: list[torch.Tensor | None]) -> None:
        """Move the scoped parameters' .grad into ``acc`` (other parameters keep accumulating)."""
        self._add(acc, [p.grad for p in self.scoped])
        for p in self.scoped:
            p.grad = None

    def backward(self, losses, accelerator, scale) -> None:
        forget = [v for k, v in losses.items() if not is_retain(k) and k != "basis"]
        retain = [v for k, v in losses.items() if is_retain(k)]
        basis = losses.get("basis")
        # Terms may share a forward pass, so earlier backward passes keep the graph.
        if forget:
            accelerator.backward(sum(forget) * scale, retain_graph=bool(retain) or basis is not None)
        self._harvest(self.g_forget)
        if retain:
            accelerator.backward(sum(retain) * scale, retain_graph=basis is not None)
            self._harvest(self.g_retain)
        if basis is not None:
            grads = torch.autograd.grad(basis * scale, self.scoped, allow_unused=True)
            self._add(self.g_basis, grads)

    def all_reduce(self, params) -> None:
        """Sum the gradients and per-loss buffers over the processes: the projection is of the global gradients."""
        super().all_reduce(params)
        buffers = [self.g_forget, self.g_retain] + ([self.g_basis] if self.needs_basis_loss else [])
        for acc in buffers:
            for i, p in enumerate(self.scoped):
                if acc[i] is None:
                    acc[i] = torch.zeros_like(p)
            dist.sum_tensors(acc)

    def _flat(self, grads: list[torch.Tensor | None]) -> torch.Tensor:
        return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).float()
                          for g, p in zip(grads, self.scoped)])

    def preconditioner(self) -> torch.Tensor | None:
        """Flat ``P = 1 / (sqrt(v_hat) + eps)`` of the scoped parameters (None before Adam's first step)."""
        if self.config.geometry != "adam":
            return None
        parts = []
        for p in self.scoped:
            state = self.optimizer.state.get(p, {}) if self.optimizer is not None else {}
            if "exp_avg_sq" not in state:
                return None
            group = next(g for g in self.optimizer.param_groups if any(q is p for q in g["params"]))
            beta2, eps = group["betas"][1], group["eps"]
            step = float(state["step"])
            v_hat = state["exp_avg_sq"].float() / (1 - beta2**step)
            parts.append((1.0 / (v_hat.sqrt() + eps)).reshape(-1))
        return torch.cat(parts)

    def after_accumulation(self, params) -> dict[str, float]:
        c = self.config
        self.steps += 1
        g_f = self._flat(self.g_forget)  # our own copy: projected in place below
        basis_src = self.g_basis if any(g is not None for g in self.g_basis) else self.g_retain
        if any(g is not None for g in basis_src) and (self.steps - 1) % c.refresh_every == 0:
            row = self.G[self.next_row]
            torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).float()
                       for g, p in zip(basis_src, self.scoped)], out=row)
            norm = row.norm()
            if norm > 0 and torch.isfinite(norm):
                row.div_(norm)
                self.next_row = (self.next_row + 1) % c.k
                self.filled = min(self.filled + 1, c.k)
        P = self.preconditioner()
        f_norm = float(g_f.norm())
        forget = g_f.clone() if self.keep_last else None
        g_perp = project_out(g_f, self.G[: self.filled], P, c.rcond, inplace=True)  # rows 0..filled-1 are set
        logs = {"gu_kept": float(g_perp.norm()) / f_norm if f_norm > 0 else 1.0}
        if self.keep_last:
            self.last = {"forget": forget, "projected": g_perp.clone(), "P": P, "basis": self.basis_vectors}
        if c.gamma != 1.0:
            g_perp.mul_(c.gamma)
        offset = 0  # the scoped .grad become views of g_perp, plus the retain gradient
        for p, g_r in zip(self.scoped, self.g_retain):
            n = p.numel()
            p.grad = g_perp[offset : offset + n].view_as(p).to(p.dtype)
            if g_r is not None:
                p.grad.add_(g_r)
            offset += n
        self._reset()
        return logs


def project_out(g: torch.Tensor, basis, P: torch.Tensor | None = None, rcond: float = 1e-6,
                inplace: bool = False) -> torch.Tensor:
    """``g - G (G^T P G)^+ G^T P g`` (``P`` = identity when None): ``G^T P result = 0``.

    Args:
        g: flat gradient (n,).
        basis: vectors (n,) spanning the directions to keep still, as a list or a (k, n) tensor.
        P: diagonal metric (n,), e.g. Adam's preconditioner; None for Euclidean.
        rcond: relative cut-off of the pseudo-inverse (near-parallel basis vectors).
        inplace: overwrite ``g`` with the result (saves two passes over n).
    """
    out = g if inplace else g.clone()
    if len(basis) == 0:
        return out
    G = basis if torch.is_tensor(basis) else torch.stack(list(basis))  # (k, n)
    G = G.to(g.dtype)
    PG = G if P is None else G * P  # rows P g_i
    gram = (G @ PG.T).double()  # (k, k) = G^T P G
    coef = torch.linalg.pinv(gram, rtol=rcond) @ (PG @ g).double()  # (k,)
    return out.addmv_(G.T, coef.to(g.dtype), alpha=-1)


def scoped_parameters(model, params: list[torch.nn.Parameter], scope: str) -> list[torch.nn.Parameter]:
    """The trainable parameters GU projects, chosen by ``scope`` (see :class:`GUCombiner`)."""
    trainable = {id(p) for p in params}
    base = getattr(model, "module", model)
    named = list(base.named_parameters())
    if scope == "all":
        chosen = [p for _, p in named]
    elif scope.startswith("last:"):
        n = int(scope[5:])
        prefix, blocks = _block_list(base)
        live = [i for i, b in enumerate(blocks) if any(id(p) in trainable for p in b.parameters())]
        first = live[-n] if len(live) >= n else (live[0] if live else len(blocks) - 1)
        start = f"{prefix}.{first}." if prefix else f"{first}."
        idx = next(i for i, (name, _) in enumerate(named) if name.startswith(start))
        chosen = [p for _, p in named[idx:]]
        out_emb = getattr(base, "get_output_embeddings", lambda: None)()
        if out_emb is not None:
            chosen.append(out_emb.weight)  # tied to the input embeddings in many LMs
    else:
        parts = {s.strip() for s in scope.split(",") if s.strip()}
        chosen = [p for name, p in named if parts & set(name.split("."))]
    seen: set[int] = set()
    out = []
    for p in chosen:
        if id(p) in trainable and id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    if not out:
        raise ConfigError(f"gu.scope={scope!r} selects no trainable parameter")
    return out


def _block_list(model) -> tuple[str, torch.nn.ModuleList]:
    """The longest ModuleList (the decoder blocks) and its dotted name."""
    best: tuple[str, torch.nn.ModuleList] | None = None
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) and (best is None or len(module) > len(best[1])):
            best = (name, module)
    if best is None:
        raise ConfigError(f"gu.scope last:N: {type(model).__name__} has no list of blocks; use scope=all")
    return best
