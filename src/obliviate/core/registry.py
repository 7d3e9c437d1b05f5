"""Registries: one per kind of component (methods, metrics, models, ...).

Lookup is case- and dash-insensitive (``NPO``, ``npo``, ``grad-ascent`` and
``grad_ascent`` all match); an unknown name raises an error listing the valid
ones, and a duplicate registration is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from obliviate.core.errors import ObliviateError

T = TypeVar("T")


def _key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    paper: str = ""
    summary: str = ""


class Registry(Generic[T]):
    """A named family of components, e.g. ``METHODS = Registry("method")``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, *, paper: str = "", summary: str = "") -> Callable[[T], T]:
        """Decorator: ``@METHODS.register("npo", paper="Zhang et al. 2024")``."""

        def deco(obj: T) -> T:
            key = _key(name)
            if key in self._entries:
                raise ObliviateError(
                    f"duplicate {self.kind} name {name!r}: already registered as "
                    f"{self._entries[key].name!r}; choose another name"
                )
            doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
            paper_ = paper or getattr(obj, "paper", "")
            self._entries[key] = Entry(name, obj, paper_, summary or (doc[0] if doc else ""))
            return obj

        return deco

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[_key(name)]
        except KeyError:
            raise ObliviateError(
                f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}"
            ) from None

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def names(self) -> list[str]:
        return sorted(e.name for e in self._entries.values())

    def entries(self) -> list[Entry[T]]:
        return sorted(self._entries.values(), key=lambda e: e.name)

    def __contains__(self, name: str) -> bool:
        return _key(name) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
