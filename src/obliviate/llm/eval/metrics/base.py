"""The metric contract and registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from obliviate.core.registry import Registry

METRICS: Registry[Any] = Registry("metric")


@dataclass
class MetricContext:
    """What a metric may need beyond the scorer and records.

    Attributes:
        split: split name (``forget``, ``retain``, ``world_facts``...); some
            metrics change form by split (TOFU's truth ratio does).
        extra: per-run values, e.g. the gold model's per-sample truth ratios.
    """

    split: str
    extra: dict[str, Any] = field(default_factory=dict)
