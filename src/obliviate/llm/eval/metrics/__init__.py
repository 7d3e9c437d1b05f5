"""Metrics, each ``compute(scorer, records, ctx) -> dict[str, float]``, in ``METRICS``."""

from obliviate.llm.eval.metrics.base import METRICS, MetricContext
from obliviate.llm.eval.metrics import faithfulness, memo, mia, muse, sae_alignment, tofu  # noqa: F401  (registers)

__all__ = ["METRICS", "MetricContext"]
