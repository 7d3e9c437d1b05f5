"""Render ``report.html`` for a run: a side-by-side table and charts (PNG, embedded).

Everything comes from ``metrics.json``, ``events.jsonl`` and (with evaluations
during unlearning) ``trajectory.jsonl`` in the run folder,
so a report can be rebuilt at any time with ``obliviate report RUN_DIR``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from obliviate.core.config import load_yaml
from obliviate.core.report.page import (
    Examples,
    Figure,
    Page,
    Table,
    figure_png,
    pyplot,
    today,
    version_line,
    write_page,
)

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


# The README's demo table: (split, key, label, format) of the rows a reader needs first.
README_ROWS = [
    ("forget", "answer_prob", "forget answer probability", ".3f"),
    ("forget", "rouge_l_recall", "forget ROUGE-L recall", ".3f"),
    ("forget", "exact_answer_match", "forget exact-answer match", ".2f"),
    ("forget", "plausible", "forget answers of the right kind (a year, a city...)", ".2f"),
    (None, "forget_quality_ks_pvalue", "forget quality (KS p-value vs gold)", ".3g"),
    ("retain", "exact_answer_match", "retain exact-answer match", ".3g"),
    (None, "model_utility_hmean", "model utility (harmonic mean over retain, real entities, world facts)", ".3f"),
]


def readme_table(metrics: dict) -> str:
    """The README's demo table from a demo run's ``metrics.json`` (``scripts/readme_table.py`` writes it; a test
    checks the README against the committed ``docs/demo-metrics.json``)."""
    models = metrics["models"]
    names = {"target": "target", "unlearned": f"unlearned ({metrics.get('method', '').upper()})",
             "gold": "gold (retain-only)"}
    lines = ["| metric | " + " | ".join(names.get(m, m) for m in models) + " |",
             "| --- |" + " ---: |" * len(models)]
    for split, key, label, fmt in README_ROWS:
        vals = [(m.get(split, {}) if split else m).get(key) for m in models.values()]
        cells = ["–" if v is None else format(v, fmt) for v in vals]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
    ax.set_xlim(-0.03, 1.05)  # both are shares: full axes, so a small drop does not look like a collapse
    ax.set_ylim(0, 1.05)
    ax.set_title("forgetting vs utility")
    ax.grid(alpha=0.3)
    charts.append(("Forgetting vs utility", figure_png(fig)))
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
        charts.append(("Unlearning losses", figure_png(fig)))
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
    chart = figure_png(fig)
    plt.close(fig)
    return title, chart


def _get(models: dict[str, dict], name: str, split: str | None, key: str) -> float | None:
    v = (models.get(name, {}).get(split, {}) if split else models.get(name, {})).get(key)
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def run_reading(metrics: dict) -> str:
    """A run's result in words: what happened to the forget answers and to utility, against gold when there is one."""
    models = metrics["models"]
    names = list(models)
    parts = []
    if metrics.get("nothing_unlearned"):
        parts.append("Nothing was unlearned: the kept model is the one of step 0, before any unlearning step "
                     "(--keep best found no later evaluation better).")
    if len(names) < 2:
        return " ".join(parts)
    before, after = names[0], next((n for n in names[1:] if n != "gold"), names[1])
    gold = "gold" if "gold" in models else None
    pb, pa = _get(models, before, "forget", "answer_prob"), _get(models, after, "forget", "answer_prob")
    if pb is not None and pa is not None:
        g = _get(models, gold, "forget", "answer_prob") if gold else None
        s = f"The forget answers' probability went from {pb:.3f} ({before}) to {pa:.3f} ({after})"
        s += f"; a model never trained on them (gold) gives {g:.3f}." if g is not None else "."
        if g is not None and pa < 0.5 * g:
            s += (" Far below gold: the answers are pushed away harder than never learning them would "
                  "(over-forgetting, or answers that changed form).")
        parts.append(s)
    fq = _get(models, after, None, "forget_quality_ks_pvalue")
    if fq is not None:
        parts.append(f"Forget quality {fq:.2g}: the KS p-value of the truth ratios against gold's (1 = "
                     f"indistinguishable; below 0.05 the two are told apart{', as here' if fq < 0.05 else ''}).")
    ub, ua = _get(models, before, None, "model_utility_hmean"), _get(models, after, None, "model_utility_hmean")
    if ub is not None and ua is not None:
        ug = _get(models, gold, None, "model_utility_hmean") if gold else None
        parts.append(f"Model utility {ub:.3f} -> {ua:.3f} ({ua / ub:.0%} of before" if ub else
                     f"Model utility {ub:.3f} -> {ua:.3f} (")
        parts[-1] += f"; gold {ug:.3f})." if ug is not None else ")."
    return " ".join(parts)


def run_header(metrics: dict, config: dict) -> dict[str, str]:
    """What a run ran, from its ``config.yaml`` (a demo's or an unlearn run's) and ``metrics.json``."""
    train = config.get("unlearn") or config.get("train") or {}
    splits = metrics.get("splits", {})
    world = config.get("world") or {}
    method_config = config.get("method_config") or {}
    header = {
        "model": str(config.get("model", "")),
        "data": (f"generated world of {world['n_entities']} people (seed {world.get('seed', 0)}), "
                 if world.get("n_entities") else "")
                + f"forget set {splits.get('variant', '')}: "
                + ", ".join(f"{k} {v}" for k, v in (splits.get("n") or {}).items()),
        "method": f"{metrics.get('method', config.get('method', ''))}"
                  + (f" ({', '.join(f'{k}={v}' for k, v in method_config.items())})" if method_config else "")
                  + (f"; combiner {train.get('combiner')}, sampler {train.get('sampling')}" if train else ""),
        "unlearning": (f"{train.get('epochs')} epochs, lr {train.get('lr')}, batch {train.get('batch_size')}"
                       if train else ""),
        "seed": str(metrics.get("seed", train.get("seed", ""))),
    }
    header.update(metrics.get("header") or {})
    secs = [f"{k.replace('_seconds', '')} {metrics[k]:.0f} s" for k in ("unlearn_seconds", "wall_seconds")
            if isinstance(metrics.get(k), (int, float))]
    if secs:
        header["time"] = ", ".join(secs)
    header["date"] = today()
    versions = metrics.get("versions") or {}
    header["version"] = version_line() + (f"; torch {versions['torch']}" if versions.get("torch") else "")
    return {k: v for k, v in header.items() if v}


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` from the run's files and return its path."""
    run_dir = Path(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = load_yaml(run_dir / "config.yaml") if (run_dir / "config.yaml").is_file() else {}
    events_path = run_dir / "events.jsonl"
    events = [json.loads(line) for line in events_path.read_text().splitlines() if line.strip()] \
        if events_path.is_file() else []
    models = metrics["models"]
    trajectory_path = run_dir / "trajectory.jsonl"  # evaluations during unlearning (llm/eval/during.py)
    trajectory = [json.loads(line) for line in trajectory_path.read_text().splitlines() if line.strip()] \
        if trajectory_path.is_file() else []
    rows = [[label] + ["" if v is None else f"{v:.4g}" for v in vals] for label, vals in table_rows(models)]
    blocks: list = [Table(["metric", *models], rows)]
    if metrics.get("examples"):
        blocks.append(Examples(list(models), metrics["examples"],
                               title="Example questions and each model's greedy answer"))
    blocks += [Figure(title, png) for title, png in _charts(models, events, trajectory, metrics.get("eval_during"))]
    page = Page(f"obliviate run {run_dir.name}", run_header(metrics, config), run_reading(metrics), blocks)
    return write_page(run_dir / "report.html", page)
