"""Interpretability machinery: activation hooks, sparse autoencoders, entity latents, knowledge neurons."""

from obliviate.llm.interp.hooks import (
    Point,
    capture,
    decoder_blocks,
    entity_position,
    gather,
    mlp_out_proj,
    model_fingerprint,
    read,
    record_activations,
    text_activations,
)

__all__ = [
    "Point",
    "capture",
    "decoder_blocks",
    "entity_position",
    "gather",
    "mlp_out_proj",
    "model_fingerprint",
    "read",
    "record_activations",
    "text_activations",
]
