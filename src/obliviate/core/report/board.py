"""The one leaderboard and bench-report path of the three domains (LLM, graph, vision).

A bench folder holds one folder per finished run, ``runs/<name>/metrics.json``. A domain reads them
(:func:`read_runs`), groups them into rows (one per method and setting, mean and spread over seeds) and
hands the rows to :func:`write_board`, which writes ``leaderboard.json`` and ``leaderboard.md``, then to
:func:`write_bench_html`, which writes ``report.html`` (the same table, the notes saying how to read each
column, the charts embedded). What differs between domains is only the columns and the charts.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obliviate.core.config import load_yaml
from obliviate.core.report.page import (
    Cell,
    Examples,
    Figure,
    Notes,
    Page,
    Table,
    changed_settings,
    figure_png,
    flat,
    today,
    version_line,
    write_page,
)
from obliviate.core.store import atomic_write_bytes, atomic_write_json, atomic_write_text


@dataclass(frozen=True)
class Column:
    """One leaderboard column: the row key, its heading, the digits shown and how to read it."""

    key: str
    head: str
    digits: int = 3
    how: str = ""


def read_runs(out: str | Path) -> list[dict[str, Any]]:
    """Every finished run's ``metrics.json`` under ``out/runs/``, in folder-name order."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((Path(out) / "runs").glob("*/metrics.json"))]


def group_runs(runs: Iterable[dict[str, Any]], by: Sequence[str]) -> dict[tuple, list[dict[str, Any]]]:
    """Runs grouped by the values of the ``by`` keys, groups in sorted order."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault(tuple(r[k] for k in by), []).append(r)
    return dict(sorted(groups.items()))


def spread_cell(row: dict[str, Any], key: str, digits: int = 3) -> str:
    """``mean [low, high]`` with the row's interval, else ``mean ± std``, else the mean; ``–`` when missing.

    A string value (e.g. a ``3/5`` count) is shown as it is."""
    v = row.get(key)
    if isinstance(v, str):
        return v
    if v is None or not math.isfinite(float(v)):
        return "–"
    s = f"{v:.{digits}f}"
    ci, std = row.get(key + "_ci"), row.get(key + "_std")
    if ci:
        s += f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    elif std is not None and math.isfinite(std):
        s += f" ± {std:.{digits}f}"
    return s


def markdown_table(heads: Sequence[str], table: Sequence[Sequence[str]]) -> str:
    """A Markdown table (no trailing newline)."""
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    return "\n".join(lines)


def column_notes(columns: Iterable[Column]) -> list[tuple[str, str]]:
    """``(heading, how to read it)`` of every column that says how."""
    return [(c.head, c.how) for c in columns if c.how]


def format_board(heads: Sequence[str], table: Sequence[Sequence[str]], notes: Iterable[tuple[str, str]] = (),
                 extra: str = "") -> str:
    """The leaderboard as Markdown: the table, one bullet per note (``**heading**: how``, or the text alone
    when the heading is empty), then ``extra`` (a further section)."""
    lines = [markdown_table(heads, table)]
    notes = list(notes)
    if notes:
        lines.append("")
        lines += [f"- **{h}**: {how}" if h else f"- {how}" for h, how in notes]
    if extra:
        lines += ["", extra.rstrip("\n")]
    return "\n".join(lines) + "\n"


def write_board(out: str | Path, board: dict[str, Any], markdown: str) -> dict[str, Any]:
    """``leaderboard.json`` (the rows and what they were computed from) and ``leaderboard.md``."""
    atomic_write_json(Path(out) / "leaderboard.json", board)
    atomic_write_text(Path(out) / "leaderboard.md", markdown)
    return board


def chart_png(fig, out: str | Path | None = None, name: str = "chart.png") -> str:
    """The figure as base64 PNG text for a report; also written to ``out/name`` when ``out`` is given."""
    png = figure_png(fig)
    if out is not None:
        atomic_write_bytes(Path(out) / name, base64.b64decode(png))
    return png


def bench_yaml(out: str | Path) -> dict[str, Any]:
    """The settings a bench folder ran with (its ``bench.yaml``; empty when there is none)."""
    path = Path(out) / "bench.yaml"
    return load_yaml(path) if path.is_file() else {}


def header_tail(data: dict[str, Any], defaults: dict[str, Any], skip: Sequence[str] = ()) -> dict[str, str]:
    """The end of every bench header: methods, seeds, the settings changed from the defaults, the date."""
    return {"methods": ", ".join(data.get("methods", [])), "seeds": ", ".join(str(x) for x in data.get("seeds", [])),
            "settings changed from the defaults": changed_settings(data, defaults, skip=("methods", "seeds", *skip)),
            "date": today()}


def cell_parts(text: str) -> Cell:
    """A leaderboard cell's text as a :class:`Cell`: the value (with its mark) on the first line, the interval or
    spread on a second, smaller one (``"0.52 [0.41, 0.60] ★"`` -> ``"0.52 ★"`` over ``"[0.41, 0.60]"``)."""
    m = re.match(r"^(\S+)\s*(.*?)\s*([★†])?$", text)
    if not m or not m.group(2):
        return Cell(text)
    return Cell(m.group(1) + (f" {m.group(3)}" if m.group(3) else ""), m.group(2))


def write_bench_html(out: str | Path, title: str, heads: Sequence[str], table: Sequence[Sequence[str]], *,
                     n_runs: int, charts: Sequence[tuple[str, str]] = (), notes: Iterable[tuple[str, str]] = (),
                     left_columns: int = 1, header: dict[str, str] | None = None, reading: str = "",
                     tables: Sequence[Table] = (), examples: Examples | None = None) -> Path:
    """``report.html`` of a bench: what ran (``header``), the result in words (``reading``), the leaderboard
    (each interval on a second line), further ``tables``, the notes saying how to read each column, then each
    ``(caption, png)``."""
    header = {**(header or {}), "runs": f"{n_runs} finished, in {out}"}
    header.setdefault("version", version_line())
    rows = [[Cell(c) if i < left_columns else cell_parts(c) for i, c in enumerate(row)] for row in table]
    blocks = [Table(heads, rows, left=left_columns), *tables, Notes(list(notes), title="How to read the columns")]
    if examples is not None:
        blocks.append(examples)
    blocks += [Figure(caption, png) for caption, png in charts]
    return write_page(Path(out) / "report.html", Page(title, header, reading, blocks))


def single_run_page(title: str, config: dict[str, Any], figures: dict[str, Any], columns: Sequence[Column],
                    reading: str, written_by: str = "") -> Page:
    """The report of one graph or vision run: its settings, the result in words, and each figure beside the
    original's (``original_<key>``) with how to read it."""
    header = {k: str(v) for k, v in flat(config).items() if v not in ("", None, {})}
    header.update({"date": today(), "version": version_line()})

    def shown(v: Any, digits: int) -> str:
        return f"{v:.{digits}f}" if isinstance(v, (int, float)) and math.isfinite(v) else "–"

    rows = [[c.head, shown(figures[c.key], c.digits), shown(figures.get(f"original_{c.key}"), c.digits), c.how]
            for c in columns if c.key in figures]
    return Page(title, header, reading, [Table(["figure", "after unlearning", "original", "how to read it"], rows,
                                               left=1)], written_by=written_by)
