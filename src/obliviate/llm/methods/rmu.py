"""RMU: Representation Misdirection for Unlearning (Li et al. 2024, WMDP, arXiv 2403.03218).

Objective, with ``h_l`` the residual stream after decoder block ``l`` (the
output of ``model.model.layers[l]``, 0-based as in the WMDP code), ``u`` a fixed
random unit vector, ``c`` the steering coefficient and ``h_l^frozen`` the model
before unlearning::

    L = mean_{t in F} || h_l(x_F)_t - c * u ||^2 / d
        + alpha * mean_{t in R} || h_l(x_R)_t - h_l^frozen(x_R)_t ||^2 / d

i.e. the element-wise MSE of the WMDP code (``F.mse_loss``), averaged over the
attention-masked tokens, prompt and answer alike (the paper averages over all
tokens of its corpora, padding included; we drop padding). ``forget_tokens:
answer`` restricts the forget term to answer tokens (OpenUnlearning's choice).
``u`` is drawn once in ``prepare`` from ``seed`` as in the WMDP code
(``torch.rand``: uniform in [0, 1)^d, then normalised). The frozen model is a
copy kept on the side; both forward passes stop right after block ``l``.

Layers: ``l = min(layer, n_blocks - 1)`` and the trained blocks are the
``train_layers`` blocks ending at ``l`` (WMDP: l = 7, blocks 5, 6, 7); on the
2-block tiny model that is l = 1 and blocks 0, 1.

Defaults. The WMDP recipe for zephyr-7b is ``layer=7, c=6.5, alpha=1200,
lr=5e-5`` training only ``mlp.down_proj`` of blocks 5-7
(``param_names=down_proj alpha=1200``). That recipe removes a *domain* (bio
and cyber papers against wikitext). Here the forget and retain sets are the
same kind of QA about different people, and forgetting one entity but not its
neighbours needs the trained blocks to tell them apart: on the tiny test model
no value of c or alpha with down_proj alone halves the forget answers before
retain loses ~30%, and alpha = 1200 does not move within 12 epochs at all.
So the defaults train every parameter of the chosen blocks with alpha = 1, as
OpenUnlearning's released TOFU RMU runs do (all parameters trainable,
alpha = 1); layer, train_layers and c are the WMDP values.

Scale: ``c`` is in the model's own activation units, and residual norms differ
by orders of magnitude between models (the tiny model's layer-1 tokens have
norm ~7, close to c = 6.5). ``scale_c_by_norm`` multiplies ``c`` by the mean
norm of the frozen model's forget activations at layer ``l`` (measured in
``prepare``), making ``c`` a multiple of the typical norm (the idea of
adaptive RMU, Dang et al. 2024, arXiv 2408.06223, with one global norm). Off
by default: the paper's form.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import IGNORE, collate_records
from obliviate.llm.interp.hooks import decoder_blocks, hidden_size, read
from obliviate.llm.methods.base import METHODS, Method, MethodContext, Reference, field_help, require_positive

FORGET_TOKENS = ("all", "answer")


def resolve_layers(n_blocks: int, layer: int, train_layers: int) -> tuple[int, list[int]]:
    """The steered block clamped to the model's depth, and the trained blocks ending at it.

    Args:
        n_blocks: decoder blocks in the model.
        layer: requested block (0-based).
        train_layers: how many blocks, ending at the steered one, are trained.

    Returns:
        ``(l, [l - train_layers + 1, ..., l])`` clipped at block 0.
    """
    l = min(layer, n_blocks - 1)
    return l, list(range(max(0, l - train_layers + 1), l + 1))


def block_output(model, block: torch.nn.Module, batch: dict, *, stop: bool = True) -> torch.Tensor:
    """Hidden states ``(B, T, d)`` that ``block`` outputs when ``model`` reads ``batch``.

    With ``stop`` the forward pass ends right after ``block`` (the later blocks
    and the LM head cannot change it); wrapped (DDP/FSDP) models run to the end.
    """
    index = list(decoder_blocks(model)).index(block)
    return read(model, batch, [f"resid.{index}"], stop=stop)[f"resid.{index}"]


def masked_mse(h: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Element-wise MSE between ``h`` (B, T, d) and ``target`` over the tokens where ``mask`` (B, T)."""
    per_token = (h.float() - target.float()).pow(2).mean(-1)  # (B, T)
    mask = mask.to(per_token.dtype)
    return (per_token * mask).sum() / mask.sum().clamp_min(1)


def token_mask(batch: dict, which: str) -> torch.Tensor:
    """(B, T) bool: every real token (``all``) or the answer tokens (``answer``)."""
    if which == "answer":
        return batch["labels"] != IGNORE
    return batch["attention_mask"].bool()


@METHODS.register("RMU")
class RMU(Method):
    """L = mse(h_l(F), c u) + alpha mse(h_l(R), h_l^frozen(R))."""

    @dataclass
    class Config:
        layer: int = field_help(7, "decoder block (0-based) whose output is steered; clamped to the last block")
        train_layers: int = field_help(3, "train the blocks layer-train_layers+1 .. layer (the paper's 5, 6, 7)")
        param_names: str = field_help("all", "trained parameters of those blocks: all, or comma-separated name "
                                             "parts such as down_proj (WMDP) or mlp")
        steering_coeff: float = field_help(6.5, "c: norm of the target c*u, in activation units (zephyr: 6.5)")
        alpha: float = field_help(1.0, "weight of the retain activation MSE (WMDP: 1200 with down_proj)")
        scale_c_by_norm: bool = field_help(False, "multiply c by the frozen model's mean forget activation norm")
        forget_tokens: str = field_help("all", "tokens of the forget term: all (paper) or answer")
        seed: int = field_help(0, "seed of the random direction u")

        def __post_init__(self):
            require_positive("RMU", steering_coeff=self.steering_coeff, train_layers=self.train_layers)
            if self.layer < 0:
                raise ConfigError(f"RMU.layer must be >= 0, got {self.layer}")
            if self.alpha < 0:
                raise ConfigError(f"RMU.alpha must be >= 0, got {self.alpha}")
            if self.forget_tokens not in FORGET_TOKENS:
                raise ConfigError(f"RMU.forget_tokens must be one of {', '.join(FORGET_TOKENS)}, "
                                  f"got {self.forget_tokens!r}")
            if not self.names():
                raise ConfigError("RMU.param_names names no parameter")

        def names(self) -> list[str]:
            return [n.strip() for n in self.param_names.split(",") if n.strip()]

    paper = "Li et al. 2024 (WMDP), arXiv 2403.03218"
    needs_retain = True
    needs_reference = True

    def prepare(self, ctx: MethodContext) -> None:
        c = self.config
        self.layer, self.layer_ids = resolve_layers(len(decoder_blocks(ctx.model)), c.layer, c.train_layers)
        self.ref = Reference(ctx.model)
        u = torch.rand(hidden_size(ctx.model), generator=torch.Generator().manual_seed(c.seed))
        self.u = u / u.norm()
        self.coeff = c.steering_coeff * (self.forget_norm(ctx) if c.scale_c_by_norm else 1.0)

    def forget_norm(self, ctx: MethodContext) -> float:
        """Mean 2-norm of the frozen model's layer-l activations on the forget tokens."""
        device = next(ctx.model.parameters()).device
        total, count = 0.0, 0
        forget = list(ctx.splits.forget)
        for i in range(0, len(forget), ctx.batch_size):
            batch = {k: v.to(device) for k, v in collate_records(ctx.fmt, forget[i : i + ctx.batch_size]).items()
                     if torch.is_tensor(v)}
            with self.ref(device) as ref:
                h = self.activations(ref, batch).float()
            mask = token_mask(batch, self.config.forget_tokens)
            total += float(h.norm(dim=-1)[mask].sum())
            count += int(mask.sum())
        return total / max(count, 1)

    def trainable_parameters(self, model) -> list[torch.nn.Parameter]:
        """Parameters of the trained blocks whose dotted name has a part in ``param_names``."""
        blocks = decoder_blocks(model)
        layer_ids = getattr(self, "layer_ids", None)
        if layer_ids is None:
            _, layer_ids = resolve_layers(len(blocks), self.config.layer, self.config.train_layers)
        wanted = set(self.config.names())
        params = [p for i in layer_ids for name, p in blocks[i].named_parameters()
                  if "all" in wanted or wanted & set(name.split("."))]
        if not params:
            raise ConfigError(f"RMU.param_names={self.config.param_names!r} matches no parameter of blocks {layer_ids}")
        return params

    def activations(self, model, batch: dict) -> torch.Tensor:
        """``h_l`` of ``model`` on a batch: (B, T, d)."""
        return block_output(model, decoder_blocks(model)[self.layer], batch)

    def losses(self, model, batch):
        f, r = batch["forget"], batch.get("retain")
        h_f = self.activations(model, f)
        target = (self.coeff * self.u).to(h_f.device)
        out = {"forget": masked_mse(h_f, target, token_mask(f, self.config.forget_tokens))}
        if r is None:
            return out
        h_r = self.activations(model, r)
        with self.ref(h_r.device) as ref:
            h_ref = self.activations(ref, r)
        out["retain"] = self.config.alpha * masked_mse(h_r, h_ref, token_mask(r, "all"))
        return out

