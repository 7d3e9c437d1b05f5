"""Read a causal LM's activations at named points and token positions, and cache them on disk.

Points (``"<kind>.<block>"``, blocks 0-based, negative counts from the end):

* ``resid.L``: the residual stream after decoder block ``L`` (the block's output);
* ``mlp.L``: the output of block ``L``'s MLP (before it is added to the residual);
* ``mlp_act.L``: the MLP's intermediate activation, i.e. the input of its output
  projection (``down_proj`` in Llama): one value per *neuron* (KLUE's units).

Positions:

* ``entity``: the last token of the record's entity name in the prompt (where
  Ferrando et al. 2025 read "do I know this entity?"); the last prompt token
  when the name is not in the question;
* ``last``: the last prompt token (just before the answer);
* ``all``: every real token (for SAE training on text).

:func:`record_activations` and :func:`text_activations` run the model batched,
without gradients, and keep the results in ``<cache>/activations/`` keyed by a
fingerprint of the weights, the point and the inputs, so a second call (a later
run on the same target) reads them back. :func:`capture` is the same reading
inside a forward pass that keeps gradients (for training objectives).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from obliviate.core.errors import ConfigError
from obliviate.core.progress import progress
from obliviate.core.store import atomic_write_bytes, cache_home, stable_hash
from obliviate.llm.encoding import PromptFormat, collate

_BLOCK_PATHS = ("model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers")
_OUT_PROJ = ("down_proj", "dense_4h_to_h", "c_proj", "fc2", "fc_out")
KINDS = ("resid", "mlp", "mlp_act")
POSITIONS = ("entity", "last", "all")
ACT_VERSION = 1


class _Stop(Exception):
    """Raised by a capture hook to end a forward pass after the deepest point read."""


def base_model(model):
    """The bare transformers model under DDP and peft wrappers."""
    base = getattr(model, "module", model)
    return getattr(base, "get_base_model", lambda: base)()


def decoder_blocks(model) -> torch.nn.ModuleList:
    """The list of decoder blocks of a causal LM (unwrapping DDP and peft)."""
    base = base_model(model)
    for path in _BLOCK_PATHS:
        obj = base
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, torch.nn.ModuleList):
            return obj
    raise ConfigError(f"cannot find the decoder blocks of {type(base).__name__} (tried {', '.join(_BLOCK_PATHS)})")


def hidden_size(model) -> int:
    """Width of the residual stream."""
    return int(base_model(model).config.hidden_size)


def mlp_out_proj(block: torch.nn.Module) -> torch.nn.Module:
    """The MLP's output projection of a decoder block (its input is the neuron activations)."""
    mlp = getattr(block, "mlp", None)
    for name in _OUT_PROJ:
        mod = getattr(mlp, name, None)
        if isinstance(mod, torch.nn.Module):
            return mod
    raise ConfigError(f"cannot find the MLP output projection of {type(block).__name__} "
                      f"(tried mlp.{', mlp.'.join(_OUT_PROJ)})")


@dataclass(frozen=True)
class Point:
    """A named place in the network: ``kind`` (resid, mlp, mlp_act) at decoder block ``block``."""

    kind: str
    block: int

    @classmethod
    def parse(cls, text: str | Point, n_blocks: int | None = None) -> Point:
        """``"resid.3"`` -> Point("resid", 3); with ``n_blocks``, negative blocks count from the end."""
        if isinstance(text, Point):
            point = text
        else:
            m = re.fullmatch(r"(resid|mlp|mlp_act)\.(-?\d+)", str(text).strip())
            if not m:
                raise ConfigError(f"bad activation point {text!r}: use resid.L, mlp.L or mlp_act.L (L a block index)")
            point = cls(m.group(1), int(m.group(2)))
        if n_blocks is not None:
            block = point.block + n_blocks if point.block < 0 else point.block
            if not 0 <= block < n_blocks:
                raise ConfigError(f"activation point {point} is outside the model's {n_blocks} blocks")
            point = cls(point.kind, block)
        return point

    def __str__(self) -> str:
        return f"{self.kind}.{self.block}"


def _module(model, point: Point) -> tuple[torch.nn.Module, bool]:
    """The module to hook and whether to read its input (True) or its output."""
    block = decoder_blocks(model)[point.block]
    if point.kind == "resid":
        return block, False
    if point.kind == "mlp":
        return block.mlp, False
    return mlp_out_proj(block), True


@contextlib.contextmanager
def capture(model, points: Sequence[str | Point], *, stop: bool = False) -> Iterator[dict[str, torch.Tensor]]:
    """Record ``(B, T, d)`` activations at ``points`` during the forward passes run inside the block.

    Keys are the points as the caller wrote them (``"mlp.-1"`` stays ``"mlp.-1"``).

    Gradients flow through the recorded tensors (use in training objectives).
    With ``stop`` the forward pass ends after the deepest point (the caller
    must catch nothing: the exception is swallowed here), so later blocks and
    the LM head never run; wrapped (DDP) models always run to the end.

    Example::

        with capture(model, ["resid.3"], stop=True) as acts:
            run_forward(model, batch)
        h = acts["resid.3"]
    """
    n = len(decoder_blocks(model))
    parsed = [Point.parse(p, n) for p in points]
    deepest = max(parsed, key=lambda p: (p.block, KINDS.index(p.kind) if p.kind != "resid" else 9))
    stop = stop and not hasattr(model, "module")
    acts: dict[str, torch.Tensor] = {}
    handles = []
    for label, p in zip(points, parsed):
        module, read_input = _module(model, p)

        def hook(mod, args, output, p=p, label=str(label), read_input=read_input):
            x = args[0] if read_input else (output[0] if isinstance(output, tuple) else output)
            acts[label] = x
            if stop and p == deepest:
                raise _Stop

        handles.append(module.register_forward_hook(hook))
    try:
        yield acts
    except _Stop:
        pass
    finally:
        for h in handles:
            h.remove()


def forward(model, batch: dict) -> None:
    """Run ``model`` on a collated batch (for use inside :func:`capture`)."""
    model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False)


def read(model, batch: dict, points: Sequence[str | Point], *, stop: bool = True) -> dict[str, torch.Tensor]:
    """Activations at ``points`` for one collated batch: ``{point as given: (B, T, d)}``."""
    with capture(model, points, stop=stop) as acts:
        try:
            forward(model, batch)
        except _Stop:
            pass
    return dict(acts)


# ---------------------------------------------------------------- positions


def entity_span(fmt, question: str, entity: str) -> tuple[int, int]:
    """Token indices ``[start, end)``, in ``fmt.encode_prompt(question)``, of ``entity``'s name in the question.

    The last prompt token alone when the name does not occur in the question.
    """
    tok = fmt.tokenizer
    prompt = fmt.prompt(question)
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    q_at = prompt.rfind(question)
    at = question.find(entity) if entity else -1
    if q_at < 0 or at < 0:
        return len(ids) - 1, len(ids)
    begin = q_at + at
    end = begin + len(entity)  # char just after the name
    if getattr(tok, "is_fast", False):
        offsets = tok(prompt, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        inside = [i for i, (s, e) in enumerate(offsets) if s < end and e > begin and e > s]
        return (inside[0], inside[-1] + 1) if inside else (len(ids) - 1, len(ids))
    first = len(tok(prompt[:begin], add_special_tokens=False)["input_ids"])
    last = len(tok(prompt[:end], add_special_tokens=False)["input_ids"])
    return (min(first, last - 1), last) if last else (len(ids) - 1, len(ids))


def entity_position(fmt, question: str, entity: str) -> int:
    """Index, in ``fmt.encode_prompt(question)``, of the last token of ``entity`` in the question
    (the last prompt token when the name does not occur in it)."""
    return entity_span(fmt, question, entity)[1] - 1


def positions_of(fmt, records: Sequence, where: str) -> list[int]:
    """Token index per record for ``where`` = ``entity`` or ``last`` (see the module docstring)."""
    if where == "entity":
        return [entity_position(fmt, r.question, r.entity) for r in records]
    if where == "last":
        return [len(fmt.encode_prompt(r.question)) - 1 for r in records]
    raise ConfigError(f"position {where!r} picks one token per record; use entity or last")


def gather(h: torch.Tensor, positions: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """``h[b, positions[b]]`` for a ``(B, T, d)`` tensor: ``(B, d)``."""
    pos = torch.as_tensor(positions, device=h.device, dtype=torch.long)
    return h[torch.arange(h.shape[0], device=h.device), pos]


# ---------------------------------------------------------------- cached reading


def model_fingerprint(model) -> str:
    """A short hash of the weights (a strided sample of every parameter) and the architecture."""
    h = hashlib.sha1()
    for name, p in base_model(model).named_parameters():
        flat = p.detach().reshape(-1)
        step = max(1, flat.numel() // 4096)
        h.update(name.encode())
        h.update(flat[::step].float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def _cache_path(kind: str, key: dict) -> Path:
    return cache_home() / "activations" / f"{kind}-{stable_hash({**key, 'v': ACT_VERSION})}.safetensors"


def _load_or(path: Path, compute) -> torch.Tensor:
    # deferred: loads safetensors
    from safetensors.torch import load_file, save

    if path.is_file():
        return load_file(str(path))["acts"]
    acts = compute().contiguous()
    atomic_write_bytes(path, save({"acts": acts}))
    return acts


def _read_all(model, point: Point, items: list, batch_size: int, desc: str, batch_of, pick) -> torch.Tensor:
    """Run ``model`` in eval mode over ``items`` in batches; ``pick(h, chunk, batch)`` keeps rows of
    each batch's ``(B, T, d)`` activations at ``point``. Returns them stacked as float32 on the CPU."""
    out = []
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with progress(len(items), desc) as advance:
            for i in range(0, len(items), batch_size):
                chunk = items[i : i + batch_size]
                batch = {k: v.to(device) for k, v in batch_of(chunk).items()}
                h = read(model, batch, [point])[str(point)]
                out.append(pick(h, chunk, batch).float().cpu())
                advance(len(chunk))
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, hidden_size(model))


@torch.no_grad()
def record_activations(model, tokenizer, records: Sequence, point: str | Point, where: str = "entity", *,
                       batch_size: int = 16, cache: bool = True, desc: str = "reading activations") -> torch.Tensor:
    """``(N, d)`` float32 activations at ``point`` of each QA record's prompt at one position.

    Args:
        model, tokenizer: the model to read.
        records: QA records (their question and entity are used).
        point: ``resid.L``, ``mlp.L`` or ``mlp_act.L``.
        where: ``entity`` or ``last`` (see the module docstring).
        cache: keep the result in the activation cache, keyed by the weights.
    """
    point = Point.parse(point, len(decoder_blocks(model)))
    records = list(records)
    fmt = PromptFormat(tokenizer)

    def batch_of(chunk: list) -> dict:
        return collate(fmt, [(r.question, "") for r in chunk])

    def pick(h: torch.Tensor, chunk: list, batch: dict) -> torch.Tensor:
        return gather(h, positions_of(fmt, chunk, where))

    def compute() -> torch.Tensor:
        return _read_all(model, point, records, batch_size, desc, batch_of, pick)

    if not cache:
        return compute()
    key = {"model": model_fingerprint(model), "point": str(point), "where": where, "chat": fmt.chat,
           "records": [(r.question, r.entity) for r in records]}
    return _load_or(_cache_path("records", key), compute)


@torch.no_grad()
def text_activations(model, tokenizer, texts: Sequence[str], point: str | Point, *, batch_size: int = 16,
                     max_tokens: int = 256, cache: bool = True, desc: str = "reading activations") -> torch.Tensor:
    """``(n_tokens, d)`` float32 activations at ``point`` for every real token of raw ``texts``.

    Texts are tokenized without a prompt format and cut at ``max_tokens``.
    """
    point = Point.parse(point, len(decoder_blocks(model)))
    texts = [t for t in texts if t.strip()]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def batch_of(chunk: list[str]) -> dict:
        enc = [tokenizer(t, add_special_tokens=False)["input_ids"][:max_tokens] for t in chunk]
        ids = torch.full((len(enc), max(len(e) for e in enc)), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for j, e in enumerate(enc):
            ids[j, : len(e)], mask[j, : len(e)] = torch.tensor(e), 1
        return {"input_ids": ids, "attention_mask": mask}

    def pick(h: torch.Tensor, chunk: list, batch: dict) -> torch.Tensor:
        return h[batch["attention_mask"].bool()]

    def compute() -> torch.Tensor:
        return _read_all(model, point, texts, batch_size, desc, batch_of, pick)

    if not cache:
        return compute()
    key = {"model": model_fingerprint(model), "point": str(point), "texts": stable_hash(list(texts)),
           "max_tokens": max_tokens}
    return _load_or(_cache_path("text", key), compute)
