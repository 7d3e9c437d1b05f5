"""Known and unknown entity latents, and the lens that reads them (Ferrando et al., arXiv 2411.14257).

Ferrando et al. ("Do I know this entity?", ICLR 2025) found SAE latents on the
residual stream, at the last token of an entity's name, that fire for
entities the model knows and others that fire for entities it does not. With
``z`` the SAE code at that position, latent ``j`` scores::

    s_j = freq_known(z_j > 0) - freq_unknown(z_j > 0)

the *known* latents K are the top ``top_latents`` by ``s_j`` and the *unknown*
latents U the top by ``-s_j``, among latents that fire on at most
``max_density`` of ordinary tokens (the SAE's training corpus): a latent that
fires everywhere says nothing about one entity.

Here "known" entities are trained entities whose questions the model answers
correctly (multiple choice; the retain split) and "unknown" ones the holdout
people it never saw. :func:`build_lens` trains the SAE (or loads one), picks K
and U and returns an :class:`EntityLens`, cached on disk per model weights.

An entity's scores are the share of K that fire and the share of U that fire
at its name, averaged over its questions; ``knownness = known - unknown``.
SAE-guided unlearning moves the forget entities' codes toward the unknown
ones; the activation-alignment metric asks where they ended up.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from obliviate.core.config import from_dict
from obliviate.core.errors import ConfigError, DataError
from obliviate.core.progress import log
from obliviate.core.store import atomic_dir, cache_home, stable_hash
from obliviate.llm.data.records import read_text
from obliviate.llm.encoding import PromptFormat
from obliviate.llm.eval import options
from obliviate.llm.eval.scoring import Scorer
from obliviate.llm.interp.hooks import Point, decoder_blocks, model_fingerprint, record_activations, text_activations
from obliviate.llm.interp.sae import SAE, SAEConfig, train_sae

LENS_VERSION = 1


def default_layer(n_blocks: int) -> int:
    """A third of the way up (Ferrando et al. read early-middle layers); never the last block,
    whose output at the name cannot reach the answer through attention."""
    return min(n_blocks // 3, max(n_blocks - 2, 0))


@dataclass
class LensConfig:
    """How to build an entity lens.

    Attributes:
        layer: decoder block whose output (``resid.L``) is read; -1 = :func:`default_layer`.
        sae: the SAE's training settings (ignored with ``sae_path``).
        sae_path: a folder with a trained SAE (:meth:`SAE.save`) to use instead of training one.
        corpus_file: extra text for SAE training, one passage per line (beside the world's QA).
        top_latents: size of K and of U.
        max_density: latents firing on more than this share of corpus tokens are excluded.
    """

    layer: int = -1
    sae: SAEConfig = field(default_factory=SAEConfig)
    sae_path: str = ""
    corpus_file: str = ""
    top_latents: int = 10
    max_density: float = 0.02

    def __post_init__(self) -> None:
        if isinstance(self.sae, dict):
            self.sae = from_dict(SAEConfig, self.sae)
        if self.top_latents < 1:
            raise ConfigError(f"LensConfig.top_latents must be >= 1, got {self.top_latents}")
        if self.layer < -1:
            raise ConfigError(f"LensConfig.layer (--layer) must be a decoder block >= 0, or -1 for the default, "
                              f"got {self.layer}")
        if not 0 < self.max_density <= 1:
            raise ConfigError(f"LensConfig.max_density must be in (0, 1], got {self.max_density}")

    def point(self, model) -> str:
        n = len(decoder_blocks(model))
        layer = default_layer(n) if self.layer == -1 else self.layer
        return str(Point.parse(f"resid.{layer}", n))


@dataclass
class EntityLatents:
    """The chosen latents and the scores they were chosen by (arrays over all latents)."""

    known: list[int]
    unknown: list[int]
    score: np.ndarray
    freq_known: np.ndarray
    freq_unknown: np.ndarray
    density: np.ndarray


def latent_scores(z_known: torch.Tensor, z_unknown: torch.Tensor, density: torch.Tensor, *, top: int,
                  max_density: float) -> EntityLatents:
    """Score every latent (``s_j``, module docstring) and pick K and U among the sparse ones.

    Args:
        z_known, z_unknown: codes at known / unknown entity names, ``(N, d_sae)``.
        density: share of corpus tokens on which each latent fires, ``(d_sae,)``.
        top: how many latents on each side.
        max_density: exclude latents denser than this.
    """
    if not len(z_known) or not len(z_unknown):
        raise DataError("scoring entity latents needs codes of both known and unknown entities")
    fk = (z_known > 0).float().mean(0)
    fu = (z_unknown > 0).float().mean(0)
    s = fk - fu
    ok = density <= max_density
    known = [int(j) for j in torch.argsort(torch.where(ok, s, -2.0), descending=True)[:top] if ok[j] and s[j] > 0]
    unknown = [int(j) for j in torch.argsort(torch.where(ok, -s, -2.0), descending=True)[:top] if ok[j] and s[j] < 0]
    return EntityLatents(known, unknown, s.numpy(), fk.numpy(), fu.numpy(), density.numpy())


def known_and_unknown(model, tokenizer, splits) -> tuple[list, list]:
    """Records of known entities (retain questions the model answers correctly) and unknown ones (holdout)."""

    if not splits.holdout:
        raise DataError("an entity lens needs unknown entities: the splits have no holdout records "
                        "(people the model never saw)")
    ok = options.mc_correct(Scorer(model, tokenizer), list(splits.retain), desc="which retain facts the model knows")
    known = [r for r, good in zip(splits.retain, ok) if good]
    if not known:
        raise DataError("an entity lens needs known entities: the model answers no retain question correctly")
    return known, list(splits.holdout)


def corpus_texts(fmt, splits, corpus_file: str = "") -> list[str]:
    """SAE training text: every QA record of the splits in the prompt format (and its paraphrase),
    a biography per person (the name, then every answer about them), and the lines of ``corpus_file``."""
    records = [*splits.forget, *splits.retain, *splits.holdout, *splits.world_facts]
    texts = [fmt.prompt(q) + fmt.answer(a) for r in records
             for q, a in ((r.question, r.answer), (r.paraphrased_question, r.paraphrased_answer))]
    people: dict[str, list[str]] = {}
    for r in [*splits.forget, *splits.retain, *splits.holdout]:
        people.setdefault(r.entity, []).append(r.answer)
    texts += [f"{name}. " + " ".join(answers) for name, answers in people.items()]
    if corpus_file:
        path = Path(corpus_file)
        if not path.is_file():
            raise DataError(f"{path}: corpus file not found")

        texts += [line for line in read_text(path).split("\n") if line.strip()]  # DataError if not UTF-8
    return texts


class EntityLens:
    """An SAE at one point plus the known (K) and unknown (U) latents; reads entities' codes."""

    def __init__(self, sae: SAE, latents: EntityLatents, info: dict[str, Any] | None = None) -> None:
        self.sae, self.latents, self.info = sae, latents, dict(info or {})
        self.point = sae.point
        self.k_idx = torch.tensor(latents.known, dtype=torch.long)
        self.u_idx = torch.tensor(latents.unknown, dtype=torch.long)

    def code_vector(self, x: torch.Tensor, full: bool = False) -> torch.Tensor:
        """``[z_K, pre_U]`` for activations ``x`` (N, d): the known latents' activations and the
        unknown latents' *pre*-activations (an inactive latent passes no gradient). Differentiable.

        With ``full``, the whole code ``z`` with the U entries replaced by their pre-activations.
        """
        pre = self.sae.pre(x)
        z = self.sae.codes(x, pre)
        u = self.u_idx.to(z.device)
        if full:
            return z.index_copy(1, u, pre[:, u])
        return torch.cat([z[:, self.k_idx.to(z.device)], pre[:, u]], dim=-1)

    @torch.no_grad()
    def firing(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the share of K and the share of U that fire."""
        z = self.sae.codes(x)
        fired = (z > 0).float()
        ks = fired[:, self.k_idx].mean(1) if len(self.k_idx) else torch.zeros(len(z))
        us = fired[:, self.u_idx].mean(1) if len(self.u_idx) else torch.zeros(len(z))
        return ks.numpy(), us.numpy()

    def entity_scores(self, model, tokenizer, records, *, cache: bool = False) -> dict[str, tuple[float, float]]:
        """``{entity: (known score, unknown score)}``, averaged over each entity's questions."""
        if not records:
            return {}
        x = record_activations(model, tokenizer, records, self.point, "entity", cache=cache, desc="entity codes")
        ks, us = self.firing(x)
        out: dict[str, list] = {}
        for r, k, u in zip(records, ks, us):
            out.setdefault(r.entity, []).append((k, u))
        return {e: (float(np.mean([k for k, _ in v])), float(np.mean([u for _, u in v]))) for e, v in out.items()}

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        with atomic_dir(folder) as tmp:
            self.sae.save(tmp / "sae")
            lat = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self.latents).items()}
            (tmp / "latents.json").write_text(json.dumps({"latents": lat, "info": self.info,
                                                          "version": LENS_VERSION}))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> EntityLens:
        folder = Path(folder)
        if not (folder / "latents.json").is_file():
            raise DataError(f"{folder}: not an entity lens folder (no latents.json)")
        blob = json.loads((folder / "latents.json").read_text())
        lat = {k: (np.array(v) if isinstance(v, list) and k not in ("known", "unknown") else v)
               for k, v in blob["latents"].items()}
        return cls(SAE.load(folder / "sae"), EntityLatents(**lat), blob.get("info"))


def build_lens(model, tokenizer, splits, cfg: LensConfig | None = None, *, cache: bool = True) -> EntityLens:
    """Train (or load) the SAE at ``cfg``'s point and pick the known/unknown latents; cached per weights.

    Args:
        model, tokenizer: the model whose activations are read (the target, before unlearning).
        splits: ``retain`` (known candidates), ``holdout`` (unknown), and every split for the corpus.
        cfg: the lens settings.
        cache: keep the lens in ``<cache>/lens/`` and reuse it for the same weights, settings and data.
    """
    cfg = cfg or LensConfig()
    point = cfg.point(model)
    fmt = PromptFormat(tokenizer)
    texts = corpus_texts(fmt, splits, cfg.corpus_file)
    key = stable_hash({"model": model_fingerprint(model), "point": point, "cfg": asdict(cfg),
                       "texts": stable_hash(texts), "holdout": [r.id for r in splits.holdout],
                       "sae_mtime": _mtime(cfg.sae_path), "v": LENS_VERSION})
    folder = cache_home() / "lens" / key
    if cache and (folder / "latents.json").is_file():
        return EntityLens.load(folder)
    acts = text_activations(model, tokenizer, texts, point, cache=cache, desc="reading the SAE corpus")
    acts = torch.unique(acts, dim=0)  # the chat template's shared prefix repeats in every text
    if cfg.sae_path:
        sae = SAE.load(cfg.sae_path)
        if sae.point != point or sae.coder.d_in != acts.shape[1]:
            raise ConfigError(f"the SAE in {cfg.sae_path} was trained on {sae.point} (d={sae.coder.d_in}); "
                              f"this lens reads {point} (d={acts.shape[1]})")
    else:
        sae = train_sae(acts, cfg.sae, point=point, info={"model": model_fingerprint(model), "n_texts": len(texts)})
    density = torch.zeros(sae.n_latents)
    with torch.no_grad():
        for chunk in acts.split(4096):
            density += (sae.codes(chunk) > 0).float().sum(0)
    density /= max(len(acts), 1)
    known, unknown = known_and_unknown(model, tokenizer, splits)
    zk = sae.codes(record_activations(model, tokenizer, known, point, "entity", cache=cache, desc="known entities"))
    zu = sae.codes(record_activations(model, tokenizer, unknown, point, "entity", cache=cache, desc="unknown entities"))
    latents = latent_scores(zk, zu, density, top=cfg.top_latents, max_density=cfg.max_density)
    if not latents.known or not latents.unknown:
        raise DataError(f"no known or no unknown entity latent at {point} (known {len(latents.known)}, unknown "
                        f"{len(latents.unknown)}); try another layer or a larger max_density ({cfg.max_density})")
    lens = EntityLens(sae, latents, {"point": point, "known_records": [r.id for r in known],
                                     "known_entities": sorted({r.entity for r in known}),
                                     "unknown_entities": sorted({r.entity for r in unknown}),
                                     "sae_quality": sae.info.get("quality")})
    log(f"entity lens at {point}: {len(latents.known)} known and {len(latents.unknown)} unknown latents")
    if cache:
        lens.save(folder)
    return lens


def _mtime(path: str) -> float:
    p = Path(path) / "sae.safetensors" if path else None
    return p.stat().st_mtime if p and p.is_file() else 0.0
