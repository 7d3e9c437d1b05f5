"""SAE-guided representation unlearning (Yamashita et al. 2025, arXiv 2509.15631).

A target is forgotten when the model's internal activation for it is
indistinguishable from that of entities the model never knew. With an
:class:`~obliviate.llm.interp.latents.EntityLens` built on the frozen model
before training (a TopK SAE on the residual stream after block ``l`` and its
known latents K and unknown latents U, Ferrando et al. 2025), let
``c(x, t) = [z_K, pre_U]`` be the known latents' activations and the unknown
latents' *pre*-activations (an inactive latent passes no gradient) of the
residual ``h_l`` at token ``t`` (``code: latents``), or the whole code ``z``
with the U entries replaced by their pre-activations (``code: full``, the
default). For a forget question ``x_F``::

    L = sum_t || c(x_F, t) - c*(t) ||^2 / sum_t || c^frozen(x_F, t) - c*(t) ||^2
        + beta  * || h_l(x_R) - h_l^frozen(x_R) ||^2 / || h_l^frozen(x_R) ||^2
        + alpha * NLL(R)

so the forget term starts at 1 and is 0 when the code has reached the target
``c*``. Targets (``target``):

* ``paired`` (default): ``x_F`` is paired with a never-seen (holdout) person's
  question of the same fact type, "In what year was <unknown> born?", and
  ``c*(t)`` is the frozen model's code of that question at the same position,
  counted back from the end of the prompt, for ``t`` from the last token of the
  name to the end of the prompt: the forget person's question must read, inside
  the model, exactly like a question about someone it never saw;
* ``mean``: the literal reading of the paper note, ``c*`` = the mean code of
  unknown entities at the last token of the name, and ``t`` that token only.

Measured on the tiny demo (``benchmarks/sae_alignment.py --full``: 60 steps at
lr 1e-3; forget answer likelihood p(a|q) 0.97 before, alignment 0.10):
``mean`` keeps p = 0.90 (code: full) and 0.89 (latents) while the alignment
metric calls the forget people unknown (1.56, 0.81): the knowledge reaches the
answer through the other prompt tokens, which attend to the name. ``paired``
with K and U only: p = 0.39, alignment 0.66; ``paired`` with the full code:
p = 0.10, alignment 1.30, retain answer probability 0.995 -> 0.994. Hence the
defaults ``paired`` and ``full``: moving the whole code forgets, moving the few
latents that *label* an entity as known mostly relabels it.

The preservation term keeps other known entities' hidden states (all tokens of
retain questions) where the frozen model had them, as a relative squared
error; ``alpha`` adds the optional retain NLL. The SAE is frozen. Trained: the
blocks up to ``l`` (the later ones cannot change ``h_l``; ``train_layers``
limits them to the last few) and the input embeddings (the names' own vectors).
Where the paper was silent (no code was released): the targets above,
``beta = 1``, ``alpha = 0`` and the layer a third of the way up.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import collate_records, mean_nll
from obliviate.llm.interp.hooks import base_model, decoder_blocks, entity_span, read
from obliviate.llm.interp.latents import LensConfig, build_lens
from obliviate.llm.interp.sae import SAEConfig
from obliviate.llm.methods.base import METHODS, Method, MethodContext, Reference, field_help, require_positive
from obliviate.llm.methods.rmu import resolve_layers, token_mask

TARGETS = ("mean", "paired")
CODES = ("latents", "full")


@METHODS.register("SAEGuided")
class SAEGuided(Method):
    """L = ||c(x_F) - c*||^2 (relative) + beta ||h_l(R) - h_l^frozen(R)||^2 (relative) + alpha NLL(R): SAE code to a never-seen person's."""  # noqa: E501

    @dataclass
    class Config:
        layer: int = field_help(-1, "decoder block whose output the SAE reads; -1 = a third of the way up")
        top_latents: int = field_help(10, "size of the known (K) and unknown (U) latent sets")
        max_density: float = field_help(0.02, "exclude latents firing on more than this share of corpus tokens")
        sae_expansion: int = field_help(8, "SAE latents per residual dimension")
        sae_k: int = field_help(0, "SAE active latents per token; 0 = min(32, latents / 64)")
        sae_epochs: int = field_help(20, "SAE training passes over the corpus")
        sae_path: str = field_help("", "a trained SAE folder to use instead of training one")
        corpus_file: str = field_help("", "extra SAE training text, one passage per line")
        target: str = field_help("paired", "where the code goes: mean (the mean unknown code, at the last name "
                                           "token) or paired (a never-seen person's same question, position by "
                                           "position from the last name token on)")
        beta: float = field_help(1.0, "weight of the preservation term on retain hidden states")
        alpha: float = field_help(0.0, "weight of the optional retain NLL")
        train_layers: int = field_help(0, "train this many blocks ending at the read one; 0 = all of them")
        train_embeddings: bool = field_help(True, "also train the input embeddings (the names' own vectors)")
        code: str = field_help("full", "full (every latent, U as pre-activations) or latents (K and U only)")

        def __post_init__(self):
            require_positive("SAEGuided", top_latents=self.top_latents, max_density=self.max_density,
                             sae_expansion=self.sae_expansion, sae_epochs=self.sae_epochs)
            if self.target not in TARGETS:
                raise ConfigError(f"SAEGuided.target must be one of {', '.join(TARGETS)}, got {self.target!r}")
            if self.code not in CODES:
                raise ConfigError(f"SAEGuided.code must be one of {', '.join(CODES)}, got {self.code!r}")
            if self.beta < 0 or self.alpha < 0 or self.train_layers < 0 or self.sae_k < 0:
                raise ConfigError("SAEGuided: beta, alpha, train_layers and sae_k must be >= 0")

        def lens(self):
            return LensConfig(layer=self.layer, sae=SAEConfig(expansion=self.sae_expansion, k=self.sae_k,
                                                              epochs=self.sae_epochs),
                              sae_path=self.sae_path, corpus_file=self.corpus_file, top_latents=self.top_latents,
                              max_density=self.max_density)

    paper = "Yamashita et al. 2025, arXiv 2509.15631"
    needs_retain = True
    needs_reference = True

    def prepare(self, ctx: MethodContext) -> None:
        c = self.config
        self.lens = build_lens(ctx.model, ctx.tokenizer, ctx.splits, c.lens())
        self.block = int(self.lens.point.split(".")[1])
        _, self.layer_ids = resolve_layers(len(decoder_blocks(ctx.model)), self.block,
                                           c.train_layers or self.block + 1)
        self.ref = Reference(ctx.model)
        self.fmt = ctx.fmt
        self._positions: dict[tuple, list[int]] = {}
        known_ids = set(self.lens.info["known_records"])
        known = [r for r in ctx.splits.retain if r.id in known_ids]
        unknown = list(ctx.splits.holdout)
        self.mu = {g: torch.cat([v for v in self.codes(ctx.model, recs).values()]).mean(0)
                   for g, recs in (("known", known), ("unknown", unknown))}
        forget = list(ctx.splits.forget)
        self.by_id = {r.id: r for r in forget}
        if c.target == "mean":
            self.targets = {r.id: self.mu["unknown"].unsqueeze(0) for r in forget}
            self.scale = {r.id: float((self.mu["known"] - self.mu["unknown"]).pow(2).sum()) for r in forget}
        else:
            partner = pair_unknown(forget, unknown)
            theirs = self.codes(ctx.model, [partner[r.id] for r in forget], suffix=True)
            mine = self.codes(ctx.model, forget, suffix=True)
            self.targets, self.scale = {}, {}
            for r in forget:
                t, m = theirs[partner[r.id].id], mine[r.id]
                n = min(len(t), len(m))
                self.targets[r.id] = t[len(t) - n:]
                self.scale[r.id] = float((m[len(m) - n:] - self.targets[r.id]).pow(2).sum(-1).mean())

    def positions(self, record, suffix: bool) -> list[int]:
        """The last token of the entity's name, and with ``suffix`` every later prompt token (memoised:
        the forget questions are asked every step)."""
        key = (record.id, record.question, suffix)
        if key not in self._positions:
            last = entity_span(self.fmt, record.question, record.entity)[1] - 1
            end = len(self.fmt.encode_prompt(record.question)) if suffix else last + 1
            self._positions[key] = list(range(last, end))
        return self._positions[key]

    def code_at(self, model, batch: dict, records: list, suffix: bool) -> list[torch.Tensor]:
        """``c(x)`` of each record of a collated ``batch`` at its positions, one ``(n_positions, width)``
        tensor per record."""
        h = read(model, batch, [self.lens.point])[self.lens.point]
        pos = [self.positions(r, suffix) for r in records]
        rows = [b for b, p in enumerate(pos) for _ in p]
        codes = self.lens.code_vector(h[rows, [t for p in pos for t in p]], full=self.config.code == "full")
        return list(codes.split([len(p) for p in pos]))

    @torch.no_grad()
    def codes(self, model, records: list, suffix: bool = False) -> dict[str, torch.Tensor]:
        """``{record id: c(x)}`` for ``records``, batched, without gradients."""
        device = next(model.parameters()).device
        out = {}
        for i in range(0, len(records), 16):
            chunk = records[i : i + 16]
            batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in collate_records(self.fmt, chunk).items()}
            out.update({r.id: c for r, c in zip(chunk, self.code_at(model, batch, chunk, suffix))})
        return out

    def trainable_parameters(self, model) -> list[torch.nn.Parameter]:
        """Every parameter of the trained blocks (those up to the read block), and the input embeddings."""
        blocks = decoder_blocks(model)
        layer_ids = getattr(self, "layer_ids", None) or list(range(len(blocks)))
        params = [p for i in layer_ids for p in blocks[i].parameters()]
        if self.config.train_embeddings:
            params.append(base_model(model).get_input_embeddings().weight)
        return params

    def forget_loss(self, model, batch: dict, records: list) -> torch.Tensor:
        """Squared distance of each forget question's code to its target, relative to where it started."""
        suffix = self.config.target == "paired"
        terms = []
        for r, code in zip(records, self.code_at(model, batch, records, suffix)):
            target = self.targets[r.id].to(code.device)
            n = min(len(code), len(target))
            terms.append((code[len(code) - n:] - target[len(target) - n:]).pow(2).sum(-1).mean()
                         / max(self.scale[r.id], 1e-8))
        return torch.stack(terms).mean()

    def losses(self, model, batch):
        f, r = batch["forget"], batch.get("retain")
        out = {"forget": self.forget_loss(model, f, [self.by_id[i] for i in f["ids"]])}
        if r is None:
            return out
        point = self.lens.point
        h = read(model, r, [point])[point]
        with self.ref(h.device) as ref:
            h_ref = read(ref, r, [point])[point]
        mask = token_mask(r, "all").unsqueeze(-1).to(h.dtype)
        rel = ((h.float() - h_ref.float()).pow(2) * mask).sum() / (h_ref.float().pow(2) * mask).sum().clamp_min(1e-8)
        out["retain"] = self.config.beta * rel
        if self.config.alpha:
            out["retain"] = out["retain"] + self.config.alpha * mean_nll(model, r)
        return out


def pair_unknown(forget: list, unknown: list) -> dict:
    """Each forget record's partner: a never-seen entity's question of the same fact type (in turn
    over the unknown entities), else any unknown question; deterministic."""
    by_type: dict[str, list] = {}
    for u in unknown:
        by_type.setdefault(u.fact_type, []).append(u)
    used: dict[str, int] = {}
    out = {}
    for r in forget:
        pool = by_type.get(r.fact_type) or unknown
        i = used.get(r.fact_type, 0)
        out[r.id] = pool[i % len(pool)]
        used[r.fact_type] = i + 1
    return out
