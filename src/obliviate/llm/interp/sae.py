"""TopK sparse autoencoders on a model's activations (Gao et al. 2024, arXiv 2406.04093).

The autoencoder itself is EleutherAI's ``sparsify.SparseCoder`` (TopK, decoder
initialised as the encoder's transpose, unit-norm decoder rows, AuxK loss for
dead latents); this module trains it on activations we read ourselves
(:mod:`obliviate.llm.interp.hooks`), from a corpus the project produces offline,
and measures it::

    z   = TopK_k(ReLU(W_enc (s x - b_dec) + b_enc))      latent code, k non-zeros
    x^  = (W_dec^T z + b_dec) / s                         reconstruction
    FVE = 1 - sum ||x - x^||^2 / sum ||x - mean(x)||^2    fraction of variance explained
    L   = FVU + aux_coef * AuxK                           training loss

``s`` scales inputs so that their mean squared norm is ``d`` (residual norms
differ by orders of magnitude between models and layers). FVE = 0 is what
reconstructing every input by the mean gives; 1 is perfect. Sparsity is L0,
the mean number of non-zero latents per token (``k`` unless some top-k values
are 0), and the share of *dead* latents (never active on the held-out tokens).

An :class:`SAE` saves to a folder (``sae.safetensors`` + ``cfg.json`` in
sparsify's format, plus ``obliviate.json`` with the scale, the activation point
and the quality report) and loads back with :meth:`SAE.load`.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from obliviate.core.config import check_number
from obliviate.core.errors import ConfigError, DataError
from obliviate.core.progress import log, progress
from obliviate.core.store import atomic_dir

SAE_VERSION = 1


def _sparsify():
    """Import ``sparsify`` quietly (it prints a line about Triton on CPU machines)."""
    with contextlib.redirect_stdout(io.StringIO()):
        # deferred: loads sparsify
        import sparsify
    return sparsify


@dataclass
class SAEConfig:
    """How to train a TopK SAE.

    Attributes:
        expansion: latents per input dimension (``d_sae = expansion * d``).
        k: active latents per token; 0 = ``min(32, d_sae // 64)``, which keeps the mean
            latent density (k / d_sae) under the 2% that marks a latent as dense.
        epochs: passes over the training tokens.
        batch_size: tokens per step.
        lr: Adam learning rate; 0 = Gao et al.'s rule ``2e-4 / sqrt(d_sae / 2^14)``.
        aux_coef: weight of the AuxK loss on dead latents (0 = off).
        heldout: share of tokens kept out of training to measure quality.
        outlier_factor: drop tokens whose norm exceeds this many times the median
            (attention-sink tokens with huge norms would dominate the loss).
        seed: initialisation and shuffling seed.
    """

    expansion: int = 8
    k: int = 0
    epochs: int = 20
    batch_size: int = 256
    lr: float = 0.0
    aux_coef: float = 1 / 32
    heldout: float = 0.1
    outlier_factor: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.expansion < 1 or self.k < 0 or self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("SAEConfig: expansion, epochs and batch_size must be >= 1 and k >= 0")
        if not 0 < self.heldout < 0.5:
            raise ConfigError(f"SAEConfig.heldout must be in (0, 0.5), got {self.heldout}")
        check_number("SAEConfig.lr", self.lr, low=0)
        check_number("SAEConfig.aux_coef", self.aux_coef, low=0)
        check_number("SAEConfig.outlier_factor", self.outlier_factor, low=1, low_open=True)
        check_number("SAEConfig.seed", self.seed, low=0)


class SAE(torch.nn.Module):
    """A trained TopK SAE for one activation point, frozen by default.

    Attributes:
        coder: the ``sparsify.SparseCoder``.
        scale: input scale ``s`` (see the module docstring).
        point: the activation point it was trained on (``resid.L``...).
        info: provenance and the quality report.
    """

    def __init__(self, coder, scale: float, point: str, info: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.coder, self.scale, self.point, self.info = coder, float(scale), str(point), dict(info or {})
        self.requires_grad_(False)

    @property
    def k(self) -> int:
        return int(self.coder.cfg.k)

    @property
    def n_latents(self) -> int:
        return int(self.coder.num_latents)

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-activations ``W_enc (s x - b_dec) + b_enc`` of every latent: ``(N, d_sae)``."""
        c = self.coder
        return F.linear(x.float() * self.scale - c.b_dec, c.encoder.weight, c.encoder.bias)

    def codes(self, x: torch.Tensor, pre: torch.Tensor | None = None) -> torch.Tensor:
        """The dense latent code ``z`` (k non-zeros per row), differentiable in ``x``."""
        pre = self.pre(x) if pre is None else pre
        vals, idx = torch.relu(pre).topk(self.k, dim=-1)
        return torch.zeros_like(pre).scatter(-1, idx, vals)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.coder.W_dec + self.coder.b_dec) / self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction of ``x``."""
        return self.decode(self.codes(x))

    @torch.no_grad()
    def quality(self, x: torch.Tensor, batch_size: int = 4096) -> dict[str, float]:
        """FVE, L0, dead share and per-token MSE of the reconstruction of ``x`` (N, d)."""
        x = x.float()
        err, fired, l0 = 0.0, torch.zeros(self.n_latents, dtype=torch.bool), 0.0
        for i in range(0, len(x), batch_size):
            z = self.codes(x[i : i + batch_size])
            err += float((x[i : i + batch_size] - self.decode(z)).pow(2).sum())
            fired |= (z > 0).any(0).cpu()
            l0 += float((z > 0).sum())
        total = float((x - x.mean(0)).pow(2).sum())
        return {"fve": 1 - err / max(total, 1e-12), "l0": l0 / max(len(x), 1),
                "dead_fraction": float((~fired).float().mean()), "mse": err / max(len(x), 1), "n_tokens": len(x)}

    def save(self, folder: str | Path) -> Path:
        """Write the SAE to ``folder`` atomically (sparsify's files plus ``obliviate.json``)."""
        folder = Path(folder)
        with atomic_dir(folder) as tmp:
            self.coder.save_to_disk(tmp)
            (tmp / "obliviate.json").write_text(json.dumps(
                {"scale": self.scale, "point": self.point, "info": self.info, "version": SAE_VERSION}, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SAE:
        """Read an SAE written by :meth:`save` (weights via safetensors)."""
        SparseCoder = _sparsify().SparseCoder
        folder = Path(folder)
        meta_path = folder / "obliviate.json"
        if not (folder / "sae.safetensors").is_file() or not meta_path.is_file():
            raise DataError(f"{folder}: not an SAE folder (needs sae.safetensors, cfg.json and obliviate.json)")
        meta = json.loads(meta_path.read_text())
        return cls(SparseCoder.load_from_disk(folder), meta["scale"], meta["point"], meta.get("info"))


def _split(acts: torch.Tensor, cfg: SAEConfig) -> tuple[torch.Tensor, torch.Tensor]:
    norms = acts.norm(dim=-1)
    keep = norms <= cfg.outlier_factor * norms.median()
    acts = acts[keep]
    order = torch.randperm(len(acts), generator=torch.Generator().manual_seed(cfg.seed))
    n_held = max(1, int(cfg.heldout * len(acts)))
    return acts[order[n_held:]], acts[order[:n_held]]


def train_sae(acts: torch.Tensor, cfg: SAEConfig | None = None, *, point: str = "", info: dict | None = None) -> SAE:
    """Train a TopK SAE on ``acts`` (N, d); its quality on held-out tokens lands in ``sae.info["quality"]``.

    Raises:
        DataError: fewer than 64 tokens, too few to train and measure anything.
    """
    sp = _sparsify()
    cfg = cfg or SAEConfig()
    if acts.ndim != 2 or len(acts) < 64:
        raise DataError(f"an SAE needs a (tokens, d) matrix of at least 64 tokens, got shape {tuple(acts.shape)}")
    t0 = time.time()
    train, held = _split(acts.float(), cfg)
    d = train.shape[1]
    n_latents = cfg.expansion * d
    k = cfg.k or max(1, min(32, n_latents // 64))
    if k > n_latents:
        raise ConfigError(f"SAEConfig.k={k} exceeds the {n_latents} latents")
    scale = math.sqrt(d / float(train.pow(2).sum(-1).mean()))
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        coder = sp.SparseCoder(d, sp.SparseCoderConfig(expansion_factor=cfg.expansion, k=k))
    x = train * scale
    coder.b_dec.data = x.mean(0)
    lr = cfg.lr or 2e-4 / math.sqrt(n_latents / 2**14)
    opt = torch.optim.Adam(coder.parameters(), lr=lr, eps=6.25e-10)
    gen = torch.Generator().manual_seed(cfg.seed)
    steps = math.ceil(len(x) / cfg.batch_size)
    total_var = (x - x.mean(0)).pow(2).sum(-1).mean()
    dead = torch.zeros(n_latents, dtype=torch.bool)
    with progress(cfg.epochs * steps, f"training SAE ({n_latents} latents, k={k})") as advance:
        for _ in range(cfg.epochs):
            fired = torch.zeros(n_latents, dtype=torch.bool)
            for idx in torch.randperm(len(x), generator=gen).split(cfg.batch_size):
                out = coder(x[idx], dead_mask=dead if cfg.aux_coef and dead.any() else None,
                            total_variance=total_var * len(idx))
                loss = out.fvu + cfg.aux_coef * out.auxk_loss
                if not torch.isfinite(loss):
                    raise DataError("SAE training diverged (non-finite loss); lower SAEConfig.lr")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                coder.remove_gradient_parallel_to_decoder_directions()
                opt.step()
                coder.set_decoder_norm_to_unit_norm()
                fired[out.latent_indices[out.latent_acts > 0].unique()] = True
                advance(1, fvu=f"{float(out.fvu.detach()):.3f}")
            dead = ~fired
    sae = SAE(coder, scale, point, {**(info or {}), "config": asdict(cfg), "lr": lr})
    sae.info["quality"] = {"heldout": sae.quality(held), "train": sae.quality(train),
                           "seconds": round(time.time() - t0, 1)}
    q = sae.info["quality"]["heldout"]
    log(f"SAE on {point or 'activations'}: held-out FVE {q['fve']:.3f}, L0 {q['l0']:.1f}, "
        f"dead {q['dead_fraction']:.1%} ({len(train)} training tokens)")
    return sae
