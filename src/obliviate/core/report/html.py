"""Render ``report.html`` for a run: a side-by-side table and charts (PNG, embedded).

Everything comes from ``metrics.json``, ``events.jsonl`` and (with evaluations
during unlearning) ``trajectory.jsonl`` in the run folder,
so a report can be rebuilt at any time with ``obliviate report RUN_DIR``.
"""

from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path

from obliviate.core.store import atomic_write_text

ROWS = [
    ("forget", "answer_prob", "forget answer probability (lower = forgotten)"),
    ("forget", "rouge_l_recall", "forget ROUGE-L recall (lower = forgotten)"),
    ("forget", "exact_answer_match", "forget exact-answer match"),
    ("forget", "truth_ratio", "forget truth ratio mean(min(R,1/R))"),
    ("forget", "plausible", "forget answers of the right kind (a year, a city, a person...)"),
    ("forget", "plausible_wrong", "forget answers of the right kind but a wrong value"),
    (None, "forget_quality_ks_pvalue", "forget quality (KS p-value vs gold; higher = like gold)"),
    ("retain", "answer_prob", "retain answer probability"),
    ("retain", "rouge_l_recall", "retain ROUGE-L recall"),
    ("retain", "exact_answer_match", "retain exact-answer match"),
    ("neighbours", "answer_prob", "neighbours answer probability"),
    ("neighbours", "rouge_l_recall", "neighbours ROUGE-L recall"),
    ("real_entities", "answer_prob", "real entities correct-option share"),
    ("real_entities", "rouge_l_recall", "real entities ROUGE-L recall"),
    ("world_facts", "answer_prob", "world facts correct-option share"),
    ("world_facts", "rouge_l_recall", "world facts ROUGE-L recall"),
    (None, "model_utility_hmean", "model utility (harmonic mean over retain, real entities, world facts)"),
]


def table_rows(models: dict[str, dict]) -> list[tuple[str, list[float | None]]]:
    """(label, value per model) for the rows present in at least one model."""
    out = []
    for split, key, label in ROWS:
        vals = [(m.get(split, {}) if split else m).get(key) for m in models.values()]
        if any(v is not None for v in vals):
            out.append((label, vals))
    return out


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend: the one way every report draws."""
    # deferred: loads matplotlib
    import matplotlib

    matplotlib.use("Agg")
    # deferred: loads matplotlib
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _charts(models: dict[str, dict], events: list[dict], trajectory: list[dict] | None = None,
            during: dict | None = None) -> list[tuple[str, str]]:
    plt = pyplot()

    charts = []
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, m in models.items():
        x, y = m.get("forget", {}).get("answer_prob"), m.get("model_utility_hmean")
        if x is not None and y is not None:
            ax.scatter([x], [y], s=80, label=name)
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 6))
    ax.set_xlabel("forget answer probability (lower = forgotten)")
    ax.set_ylabel("model utility (harmonic mean)")
    ax.set_title("forgetting vs utility")
    ax.grid(alpha=0.3)
    charts.append(("Forgetting vs utility", _png(fig)))
    plt.close(fig)
    keys = sorted({k for e in events for k in e if k not in ("step", "lr", "time_s", "grad_norm")})
    if events and keys:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for k in keys:
            ax.plot([e["step"] for e in events if k in e], [e[k] for e in events if k in e], label=k)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("loss term")
        ax.legend()
        ax.grid(alpha=0.3)
        charts.append(("Unlearning losses", _png(fig)))
        plt.close(fig)
    if trajectory:
        charts.append(_trajectory_chart(plt, trajectory, during or {}))
    return charts


def _trajectory_chart(plt, rows: list[dict], during: dict) -> tuple[str, str]:
    """Forget quality (log10 KS p) and model utility at each evaluation during unlearning; the kept step marked."""
    def values(key):
        return [math.nan if r.get(key) is None else r[key] for r in rows]

    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    lines = ax.plot(steps, values("forget_quality_log10_pvalue"), "o-", color="C0",
                    label="forget quality (log10 KS p vs gold)")
    if during.get("keep") == "best" and during.get("keep_threshold"):
        lines += [ax.axhline(math.log10(during["keep_threshold"]), color="C0", ls=":", lw=1,
                             label=f"threshold p = {during['keep_threshold']:g}")]
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("forget quality, log10 p (higher = like gold)")
    right = ax.twinx()
    lines += right.plot(steps, values("model_utility_hmean"), "s-", color="C1", label="model utility")
    right.set_ylabel("model utility (harmonic mean)")
    kept = during.get("kept_step")
    title = "Evaluation during unlearning"
    if kept is not None:
        lines += [ax.axvline(kept, color="k", ls="--", lw=1, label=f"kept: step {kept} ({during.get('keep')})")]
        title += f" (kept: step {kept})"
    right.legend(handles=lines, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)  # below, on top
    ax.grid(alpha=0.3)
    png = _png(fig)
    plt.close(fig)
    return title, png


def render_html(template: str, **values) -> str:
    """Render a jinja2 template with every value HTML-escaped (autoescape), for every report we write.

    A forget file, run folder or method name holding ``<script>`` shows as text.
    Nothing is passed pre-built as HTML: charts go in as base64 text.
    """
    # deferred: loads jinja2
    from jinja2 import Environment

    return Environment(autoescape=True).from_string(template).render(**values)


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` from the run's files and return its path."""
    run_dir = Path(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    events_path = run_dir / "events.jsonl"
    events = [json.loads(line) for line in events_path.read_text().splitlines() if line.strip()] \
        if events_path.is_file() else []
    models = metrics["models"]
    trajectory_path = run_dir / "trajectory.jsonl"  # evaluations during unlearning (llm/eval/during.py)
    trajectory = [json.loads(line) for line in trajectory_path.read_text().splitlines() if line.strip()] \
        if trajectory_path.is_file() else []
    html = render_html(
        _TEMPLATE,
        run=run_dir.name,
        nothing_unlearned=bool(metrics.get("nothing_unlearned")),
        method=metrics.get("method"),
        splits=metrics.get("splits", {}),
        names=list(models),
        rows=table_rows(models),
        charts=_charts(models, events, trajectory, metrics.get("eval_during")),
        meta={k: metrics.get(k) for k in ("unlearn_seconds", "wall_seconds", "git_sha", "seed", "versions")},
    )
    return atomic_write_text(run_dir / "report.html", html)


_TEMPLATE = """<!doctype html><html><head><meta charset="utf-8"><title>obliviate {{ run }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}td:first-child{text-align:left}
img{margin:1em 1em 0 0}</style></head><body>
<h1>obliviate run {{ run }}</h1>
{% if nothing_unlearned %}<p style="color:#b00;font-weight:bold">Nothing was unlearned: the kept model is the one of step 0, before any unlearning step (--keep best found no later evaluation better).</p>
{% endif %}<p>Method <b>{{ method }}</b> on split <b>{{ splits.variant }}</b>; records: {% for k, v in splits.n.items() %}{{ k }} {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}.</p>
<table><tr><th>metric</th>{% for n in names %}<th>{{ n }}</th>{% endfor %}</tr>
{% for label, vals in rows %}<tr><td>{{ label }}</td>{% for v in vals %}<td>{{ "%.4g"|format(v) if v is not none else "" }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% for title, png in charts %}<figure style="display:inline-block"><img src="data:image/png;base64,{{ png }}" alt="{{ title }}"><figcaption>{{ title }}</figcaption></figure>{% endfor %}
<h2>Run</h2><pre>{% for k, v in meta.items() %}{{ k }}: {{ v }}
{% endfor %}</pre></body></html>
"""
