"""Models: ``load(spec)`` for real models, ``tiny`` for tests."""

from obliviate.models.load import ALIASES, load, loaded_from, resolve_spec

__all__ = ["ALIASES", "load", "loaded_from", "resolve_spec"]
