"""Configs are dataclasses; this module turns them into plain data and back.

``to_dict``/``from_dict`` validate keys and basic types so that a YAML file or a
CLI ``--set key=value`` with a typo fails with a message naming the valid keys.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from obliviate.core.errors import ConfigError
from obliviate.core.store import atomic_write_text

C = TypeVar("C")


def to_dict(cfg: Any) -> dict[str, Any]:
    """A dataclass (nested allowed) as a plain dict."""
    return dataclasses.asdict(cfg)


def _coerce(name: str, value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(name, value, arg)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{name}: invalid value {value!r}")
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return from_dict(tp, value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.lower() in {"true", "1", "yes"}
        raise ConfigError(f"{name}: expected true/false, got {value!r}")
    if tp in (int, float, str):
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        if isinstance(value, bool) and tp is not str:
            raise ConfigError(f"{name}: expected {tp.__name__}, got {value!r}")
        try:
            out = tp(value) if not (tp is int and isinstance(value, str)) else int(float(value))
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{name}: expected {tp.__name__}, got {value!r}") from None
        if tp is float and not math.isfinite(out):  # no setting means anything with nan or inf
            raise ConfigError(f"{name}: expected a finite number, got {value!r}")
        return out
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        (arg, *_) = typing.get_args(tp) or (Any,)
        return [_coerce(name, v, arg) for v in value] if arg is not Any else list(value)
    return value


def from_dict(cls: type[C], data: dict[str, Any] | None) -> C:
    """Build dataclass ``cls`` from ``data``; unknown keys and bad types raise ConfigError."""
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{cls.__name__}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {k: _coerce(f"{cls.__name__}.{k}", v, hints.get(k, Any)) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{cls.__name__}: {e}") from None


def check_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> None:
    """Raise a ConfigError naming ``name`` unless ``value`` is a finite number within the bounds given.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``; nan and inf are always refused (no
    setting of this project means anything with them).
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or (value < high if high_open else value <= high))
    if ok:
        return
    if low is not None and high is not None:
        where = f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        where = f" {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        where = f" {'<' if high_open else '<='} {high:g}"
    else:
        where = ""
    raise ConfigError(f"{name} must be a finite number{where}, got {value!r}")


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["beta=0.2", "alpha=1"]`` -> ``{"beta": "0.2", "alpha": "1"}`` (typed later)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data["a"]["b"] = value`` for ``key`` ``a.b`` (a ``--set`` override into a config's plain data); a
    missing section or setting is refused, naming the valid ones."""
    *path, last = key.split(".")
    at = data
    for part in path:
        if not isinstance(at.get(part), dict):
            sections = [k for k, v in at.items() if isinstance(v, dict)]
            raise ConfigError(f"--set {key}: {part!r} is not a section of the config (sections: "
                              f"{', '.join(sections) or 'none'})")
        at = at[part]
    if last not in at:
        raise ConfigError(f"--set {key}: unknown setting {last!r}; valid: {', '.join(at)}")
    at[last] = value


def save_yaml(path: str | Path, data: dict[str, Any]) -> None:
    # deferred: loads yaml
    import yaml

    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))


def load_yaml(path: str | Path) -> dict[str, Any]:
    # deferred: loads yaml
    import yaml

    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, expected a YAML config file")
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    return data


class Configurable:
    """A component with a ``Config`` dataclass: built from a config, from overrides, or both."""

    @dataclasses.dataclass
    class Config:
        pass

    def __init__(self, config: Any | None = None, **overrides: Any) -> None:
        if config is None:
            config = from_dict(self.Config, overrides)
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None):
        """An instance from plain config data (validated against ``Config``)."""
        return cls(from_dict(cls.Config, data))

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self.config)


def mean_std(runs: list[dict[str, Any]], keys) -> dict[str, float]:
    """``{key: mean, key_std: sample std}`` of each key over ``runs`` (NaNs ignored; std NaN below 2 values)."""
    # deferred: loads numpy
    import numpy as np

    out: dict[str, float] = {}
    for key in keys:
        xs = np.array([r.get(key, math.nan) for r in runs], dtype=float)
        ok = np.isfinite(xs)
        out[key] = float(xs[ok].mean()) if ok.any() else math.nan
        out[key + "_std"] = float(xs[ok].std(ddof=1)) if ok.sum() > 1 else math.nan
    return out


def field_help(default: Any, help: str) -> Any:
    """``dataclasses.field`` with a help string (shown by ``obliviate methods``)."""
    return dataclasses.field(default=default, metadata={"help": help})
