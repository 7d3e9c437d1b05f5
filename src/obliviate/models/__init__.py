"""Models: ``load(spec)`` for real models, ``tiny`` for tests."""

from obliviate.models.load import ALIASES, load, resolve_spec

__all__ = ["ALIASES", "load", "resolve_spec"]
