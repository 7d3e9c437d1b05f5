"""Metrics, each ``compute(scorer, records, ctx) -> dict[str, float]``, in ``METRICS``."""

from obliviate.llm.eval.metrics import (  # noqa: F401  (registers)
    faithfulness,
    memo,
    mia,
    muse,
    plausibility,
    sae_alignment,
    tofu,
)
from obliviate.llm.eval.metrics.base import METRICS, MetricContext

__all__ = ["METRICS", "MetricContext"]
