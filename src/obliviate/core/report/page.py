"""The one HTML page every report is: a header saying what ran, a reading of the result in words, then blocks
(tables, notes, example answers, figures, text), laid out to fit a 1280 px screen.

A table cell is text, or :class:`Cell` with a second, smaller line (an interval, a count) so that columns stay
narrow. Everything is HTML-escaped (``render_html``): names and answers from user files show as text.
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from obliviate import __version__
from obliviate.core.store import atomic_write_text, git_sha


@dataclass(frozen=True)
class Cell:
    """A table cell: its value and an optional second, smaller line (e.g. ``[0.41, 0.52]``)."""

    text: str
    sub: str = ""


@dataclass
class Table:
    heads: Sequence[str]
    rows: Sequence[Sequence[str | Cell]]
    left: int = 1  # the first ``left`` columns are text (left-aligned), the rest numbers
    title: str = ""


@dataclass
class Notes:
    items: Sequence[tuple[str, str]]  # (heading, how to read it); an empty heading: the text alone
    title: str = ""


@dataclass
class Figure:
    caption: str
    png: str  # base64


@dataclass
class Examples:
    """Questions with the true answer and each model's answer."""

    models: Sequence[str]
    rows: Sequence[dict[str, Any]]  # {"split", "question", "answer", "answers": {model: text}}
    title: str = "Example answers"


@dataclass
class Text:
    text: str
    title: str = ""
    pre: bool = False


Block = Table | Notes | Figure | Examples | Text


@dataclass
class Page:
    """A report: ``header`` (label -> value, what ran), ``reading`` (the result in words), then ``blocks``."""

    title: str
    header: dict[str, str] = field(default_factory=dict)
    reading: str = ""
    blocks: list[Block] = field(default_factory=list)
    written_by: str = ""  # "obliviate <command>" when the page is a command's own output file (check_own_file)


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend: the one way every report draws."""
    # deferred: loads matplotlib
    import matplotlib

    matplotlib.use("Agg")
    # deferred: loads matplotlib
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def render_html(template: str, **values) -> str:
    """Render a jinja2 template with every value HTML-escaped (autoescape), for every report we write.

    A forget file, run folder or method name holding ``<script>`` shows as text.
    Nothing is passed pre-built as HTML: charts go in as base64 text.
    """
    # deferred: loads jinja2
    from jinja2 import Environment

    def ticks(text: str) -> Markup:
        """Escaped text with each `quoted` span as <code> (commands, names in our own sentences)."""
        return Markup(re.sub(r"`([^`\n]+)`", r"<code>\1</code>", str(escape(text))))

    env = Environment(autoescape=True)
    env.filters["ticks"] = ticks
    return env.from_string(template).render(**values)


def version_line() -> str:
    """``obliviate 0.1.0 (git abc1234)``: the code that wrote a report."""
    sha = git_sha()
    return f"obliviate {__version__}" + (f" (git {sha[:7]})" if sha else "")


def today() -> str:
    return _dt.datetime.now().strftime("%Y-%m-%d %H:%M")


def flat(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"unlearn": {"lr": 1e-5}}`` -> ``{"unlearn.lr": 1e-5}`` (lists and scalars are leaves)."""
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for k, v in data.items():
        out.update(flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def changed_settings(config: dict[str, Any], defaults: dict[str, Any], skip: Iterable[str] = ()) -> str:
    """The settings of ``config`` that differ from ``defaults``, as ``key=value`` (dotted keys), or ``none``."""
    skip = tuple(skip)
    base = flat(defaults)
    diff = [f"{k}={v}" for k, v in flat(config).items()
            if not k.startswith(skip) and (k not in base or base[k] != v)]
    return ", ".join(diff) if diff else "none (the defaults)"


MAX_COLUMNS = 8  # value columns per table: more would not fit 1280 px with their intervals


def page_html(page: Page) -> str:
    blocks = []
    for b in page.blocks:
        kind = type(b).__name__.lower()
        if isinstance(b, Table):
            rows = [[c if isinstance(c, Cell) else Cell(str(c)) for c in row] for row in b.rows]
            # a wide table is shown as several, each with the name columns and at most MAX_COLUMNS others
            for i, at in enumerate(range(b.left, max(len(b.heads), b.left + 1), MAX_COLUMNS)):
                cols = list(range(b.left)) + list(range(at, min(at + MAX_COLUMNS, len(b.heads))))
                part = Table([b.heads[c] for c in cols], [], left=b.left, title=b.title if i == 0 else "")
                blocks.append({"kind": kind, "b": part, "rows": [[r[c] for c in cols] for r in rows]})
        else:
            blocks.append({"kind": kind, "b": b})
    return render_html(_TEMPLATE, page=page, blocks=blocks)


def write_page(path: str | Path, page: Page) -> Path:
    """Write ``page`` as HTML at ``path`` (atomically) and return the path."""
    return atomic_write_text(path, page_html(page))


_TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ page.title }}</title>
{% if page.written_by %}<meta name="written_by" content="{{ page.written_by }}">{% endif %}
<style>
body{font-family:system-ui,sans-serif;font-size:14px;line-height:1.4;margin:1.5em auto;max-width:1220px;
padding:0 16px;color:#222}
h1{font-size:1.5em;margin:0 0 .4em}h2{font-size:1.15em;margin:1.4em 0 .4em}
table{border-collapse:collapse;margin:.4em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;vertical-align:top;overflow-wrap:break-word}
th{background:#f4f4f4;font-weight:600}td.l,th.l{text-align:left}
td small{display:block;color:#666;font-size:11px}
code{font-size:.92em;background:#f1f1f1;padding:0 3px;border-radius:3px}
table.head td{border:none;padding:1px 12px 1px 0;text-align:left}table.head td:first-child{color:#666}
.reading{background:#f6f8fa;border-left:4px solid #4878cf;padding:.6em 1em;max-width:60em}
ul.notes{font-size:13px;color:#333;max-width:75em}
figure{display:inline-block;margin:.8em 1em 0 0;max-width:100%}figure img{max-width:100%;height:auto}
figcaption{font-size:12px;color:#555}
.ex td,.ex th{text-align:left;max-width:18em}.ex td:first-child{white-space:nowrap}
pre{white-space:pre-wrap;font-size:12px;background:#f6f8fa;padding:.6em}
</style></head><body>
<h1>{{ page.title }}</h1>
{% if page.header %}<table class="head">{% for k, v in page.header.items() %}<tr><td>{{ k }}</td><td>{{ v }}</td>
</tr>{% endfor %}</table>{% endif %}
{% if page.reading %}<p class="reading">{{ page.reading|ticks }}</p>{% endif %}
{% for blk in blocks %}{% set b = blk.b %}
{% if b.title %}<h2>{{ b.title }}</h2>{% endif %}
{% if blk.kind == "table" %}<table><tr>
{% for h in b.heads %}<th class="{{ 'l' if loop.index <= b.left }}">{{ h }}</th>
{% endfor %}</tr>
{% for row in blk.rows %}<tr>{% for c in row %}<td class="{{ 'l' if loop.index <= b.left }}">{{ c.text }}{% if c.sub %}
<small>{{ c.sub }}</small>{% endif %}</td>{% endfor %}</tr>
{% endfor %}</table>
{% elif blk.kind == "notes" %}<ul class="notes">{% for h, how in b.items %}<li>{% if h %}<b>{{ h }}</b>: {% endif %}
{{ how|ticks }}</li>{% endfor %}</ul>
{% elif blk.kind == "figure" %}<figure><img src="data:image/png;base64,{{ b.png }}" alt="{{ b.caption }}">
<figcaption>{{ b.caption }}</figcaption></figure>
{% elif blk.kind == "examples" %}<table class="ex"><tr><th>split</th><th>question</th><th>true answer</th>
{% for m in b.models %}<th>{{ m }}</th>{% endfor %}</tr>
{% for r in b.rows %}<tr><td>{{ r.split }}</td><td>{{ r.question }}</td><td>{{ r.answer }}</td>
{% for m in b.models %}<td>{{ r.answers.get(m, "") }}</td>{% endfor %}</tr>{% endfor %}</table>
{% elif blk.kind == "text" %}{% if b.pre %}<pre>{{ b.text }}</pre>{% else %}<p>{{ b.text|ticks }}</p>{% endif %}
{% endif %}{% endfor %}
<p style="color:#888;font-size:12px;margin-top:2em">Written by {{ page.header.get("version", "obliviate") }}.</p>
</body></html>
"""
