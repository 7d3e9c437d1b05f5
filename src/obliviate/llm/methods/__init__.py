"""LLM unlearning methods, one file each, all in the ``METHODS`` registry.

Importing this package registers every built-in method.
"""

from obliviate.llm.methods import (  # noqa: F401  (registers)
    altpo,
    ceu,
    flat,
    grad_ascent,
    grad_diff,
    idk_po,
    kl,
    klue,
    meow,
    npo,
    pdu,
    rmu,
    sae_guided,
    satimp,
    simnpo,
    undial,
    wga,
)
from obliviate.llm.methods.base import METHODS, Method, MethodContext, get_method

__all__ = ["METHODS", "Method", "MethodContext", "get_method"]
