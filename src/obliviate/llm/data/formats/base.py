"""The benchmark-format registry, the loaded :class:`Benchmark`, and :func:`load_benchmark`."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obliviate.core.errors import ConfigError
from obliviate.core.registry import Registry
from obliviate.llm.data.facts import load_world_facts
from obliviate.llm.data.records import QARecord
from obliviate.llm.data.splits import Splits, _checked


@dataclass
class Benchmark:
    """A published benchmark read from a local folder.

    Attributes:
        name: The format's registry name (``"tofu"``, ``"muse"``...).
        source: The folder it was read from (absolute).
        splits: What ``api.unlearn`` and ``evaluate`` take; ``None`` where the
            folder holds evaluation sets only (see ``notes``).
        sets: Extra evaluation sets by name (``"real_authors"``, ``"verbmem_forget"``...).
        notes: Every fallback used, in words (missing optional files, fields
            with no counterpart).
        options: The options it was loaded with, defaults included.
    """

    name: str
    source: Path
    splits: Splits | None
    sets: dict[str, list[QARecord]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        if self.splits is None:
            split = "splits=None"
        else:
            sizes = {k: len(getattr(self.splits, k)) for k in ("forget", "retain", "holdout", "world_facts")}
            split = "splits(" + ", ".join(f"{k}={v}" for k, v in sizes.items()) + ")"
        sets = ", ".join(f"{k}={len(v)}" for k, v in self.sets.items())
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"Benchmark({self.name!r}, {str(self.source)!r}, {opts}; {split}; sets: {sets or 'none'})"


FORMATS: Registry[Callable[..., Benchmark]] = Registry("benchmark format")


def load_benchmark(name: str, folder: str | os.PathLike, **options: Any) -> Benchmark:
    """Read benchmark ``name`` from a local ``folder`` (never the network).

    Args:
        name: A :data:`FORMATS` name (case- and dash-insensitive).
        folder: The folder with the published files, as downloaded.
        **options: The format's options, e.g. ``variant="forget05"`` (TOFU),
            ``subset="books"`` (MUSE), ``subset="cyber"`` (WMDP).

    Raises:
        ConfigError: Unknown format, option or option value.
        DataError: A missing folder or file, or a malformed record.

    Example:
        >>> bench = load_benchmark("tofu", "/data/TOFU", variant="forget10")  # doctest: +SKIP
        >>> bench.splits.forget[0].entity  # doctest: +SKIP
        'tofu-author-180'
    """
    if name not in FORMATS:
        raise ConfigError(f"unknown benchmark format {name!r}; valid: {', '.join(FORMATS.names())}")
    entry = FORMATS.entry(name)
    params = inspect.signature(entry.obj).parameters
    valid = [p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(map(repr, unknown))} for benchmark format "
                          f"{entry.name!r}; valid: {', '.join(valid) or 'none'}")
    for key, value in list(options.items()):  # command-line strings take the type of the option's default
        default = params[key].default
        if isinstance(value, str) and isinstance(default, (int, float)) and not isinstance(default, bool):
            try:
                options[key] = type(default)(value)
            except ValueError:
                raise ConfigError(f"option {key!r} of benchmark format {entry.name!r} must be a "
                                  f"{type(default).__name__}, got {value!r}") from None
    return entry.obj(folder, **options)


def choice(benchmark: str, option: str, value: Any, valid: Sequence[str]) -> str:
    """``value`` if it is one of ``valid``, else a ConfigError listing them."""
    if value not in valid:
        raise ConfigError(f"{benchmark}: unknown {option} {value!r}; choose one of {', '.join(valid)}")
    return value


def build_splits(
    forget: list[QARecord],
    retain: list[QARecord],
    holdout: list[QARecord],
    world_facts: list[QARecord] | None,
    source: str,
    notes: list[str],
) -> Splits:
    """:class:`Splits` through the shared checks; ``world_facts`` ``None``: the shipped facts (noted)."""
    if world_facts is None:
        world_facts = load_world_facts()
        notes.append("world_facts: none in these files; the shipped world facts are used")
    return _checked(forget, retain, holdout, world_facts, source)
