"""HTML report of a run folder, rendered from its files only (metrics.json, events.jsonl)."""

from obliviate.core.report.html import write_report

__all__ = ["write_report"]
