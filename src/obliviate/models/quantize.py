"""Weight quantisation round trip: round every Linear weight to ``bits`` and back.

This is the attack studied by Zhang et al. 2024, "Catastrophic Failure of LLM
Unlearning via Quantization", arXiv 2410.16454: unlearning with a small
learning rate and a utility constraint moves the weights so little that 4-bit
quantisation maps the unlearned model back onto (almost) the same grid points
as the original one, and the "forgotten" knowledge comes back.

The scheme is symmetric absmax round-to-nearest, per output channel (each row
of ``W``, shape ``(out, in)``) or per group of ``group_size`` input columns
within a row::

    qmax = 2^(bits-1) - 1,   s = max|w| / qmax,   q = clip(round(w / s), -qmax, qmax),   w' = q * s

The arithmetic is done in float32 and the result cast back to the weight's
dtype. Embeddings, norms and biases are left alone by default, and so is a
Linear weight shared with a skipped module (a tied ``lm_head``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from obliviate.core.errors import ConfigError

DEFAULT_SKIP = ("embed_tokens", "lm_head", "norm")


def check_bits(bits: int, group_size: int | None = None) -> None:
    """Raise a ConfigError unless ``bits`` is an integer in 2..16 and ``group_size`` is None or >= 1."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 16:
        raise ConfigError(f"quantisation bits must be an integer from 2 to 16 (8 and 4 are usual), got {bits!r}")
    if group_size is not None and (isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1):
        raise ConfigError(f"quantisation group_size must be a positive integer or None, got {group_size!r}")


def round_trip(weight: torch.Tensor, bits: int, group_size: int | None = None) -> torch.Tensor:
    """The quantised-then-dequantised copy of a 2-D weight ``(out, in)``.

    Args:
        weight: the weight; left unchanged.
        bits: bits per value (symmetric, so ``2^bits - 1`` levels).
        group_size: input columns sharing one scale (None: the whole row).
            A last group shorter than ``group_size`` gets its own scale.

    Returns:
        A tensor like ``weight`` holding ``q * s``.
    """
    check_bits(bits, group_size)
    qmax = 2 ** (bits - 1) - 1
    rows, cols = weight.shape
    width = group_size or cols
    pad = (-cols) % width
    x = torch.nn.functional.pad(weight.detach().float(), (0, pad)).view(rows, -1, width)  # (out, groups, width)
    scale = x.abs().amax(-1, keepdim=True) / qmax
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero group stays zero
    q = torch.clamp(torch.round(x / scale), -qmax, qmax)
    return (q * scale).view(rows, -1)[:, :cols].to(weight.dtype)


def _skipped_params(model: nn.Module, skip: Sequence[str]) -> set[int]:
    """Ids of every parameter of a module whose qualified name contains a ``skip`` string."""
    return {id(p) for name, module in model.named_modules() if any(s in name for s in skip)
            for p in module.parameters()}


def quantize_weights(
    model: nn.Module,
    bits: int,
    *,
    group_size: int | None = None,
    skip: Sequence[str] = DEFAULT_SKIP,
) -> nn.Module:
    """Round every ``nn.Linear`` weight of ``model`` to ``bits`` in place (see the module docstring).

    Args:
        model: any module; its Linear weights are overwritten.
        bits: 2..16 (8 and 4 are the settings of Zhang et al.).
        group_size: input columns per scale (None: one scale per output row).
        skip: modules whose qualified name contains one of these strings are
            left alone, with every weight they share (tied embeddings).

    Returns:
        ``model`` itself.

    Raises:
        ConfigError: bits outside 2..16 or a bad group_size.
    """
    check_bits(bits, group_size)
    frozen = _skipped_params(model, skip)
    done: set[int] = set()
    with torch.no_grad():
        for name, module in model.named_modules():
            if not isinstance(module, nn.Linear) or any(s in name for s in skip):
                continue
            weight = module.weight
            if id(weight) in frozen or id(weight) in done:
                continue
            weight.copy_(round_trip(weight, bits, group_size))
            done.add(id(weight))
    return model


def quantized_copy(model: nn.Module, bits: int, **kwargs) -> nn.Module:
    """A deep copy of ``model`` with its weights quantised; ``model`` is untouched."""
    check_bits(bits, kwargs.get("group_size"))
    return quantize_weights(copy.deepcopy(model), bits, **kwargs)
