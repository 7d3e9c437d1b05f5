"""The metric contract and registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from obliviate.core.errors import ConfigError
from obliviate.core.registry import Registry

METRICS: Registry[Any] = Registry("metric")

COMPAT_MODES = ("obliviate", "openunlearning")
"""How shared metrics are computed: ``obliviate`` (the default, argued metric by metric in docs/metrics.md)
or ``openunlearning`` (OpenUnlearning's exact conventions: its 1e-10 guards, the last label token dropped
from token-wise figures, Porter-stemmed ROUGE on answers of up to 200 new tokens, GradNorm over trainable
parameters in train mode, MUSE's PrivLeak)."""

OU_EPS = 1e-10  # OpenUnlearning's guard in its divisions (truth ratio, option share, PrivLeak, rel_diff)
OU_MAX_NEW_TOKENS = 200  # OpenUnlearning's generation length (configs/generation/default.yaml)


def check_compat(compat: str) -> str:
    """``compat`` if it names a mode, else a ConfigError listing them."""
    if compat not in COMPAT_MODES:
        raise ConfigError(f"compat must be one of {', '.join(COMPAT_MODES)}, got {compat!r}")
    return compat


@dataclass
class MetricContext:
    """What a metric may need beyond the scorer and records.

    Attributes:
        split: split name (``forget``, ``retain``, ``world_facts``...); some
            metrics change form by split (TOFU's truth ratio does).
        extra: per-run values, e.g. the gold model's per-sample truth ratios, and ``compat``.
    """

    split: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def compat(self) -> str:
        """The conventions to compute by (``extra["compat"]``, default ``obliviate``): :data:`COMPAT_MODES`."""
        return check_compat(self.extra.get("compat", "obliviate"))

    @property
    def openunlearning(self) -> bool:
        return self.compat == "openunlearning"
