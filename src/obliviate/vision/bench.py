"""``obliviate vision unlearn`` and ``obliviate vision bench``: forgetting a class of biased coloured digits.

One run = (method, seed): the seed fixes the train/test split, the colours
and every initialisation; the original model of a seed is trained once and
shared by its methods. Each run is a folder ``<out>/runs/<method>-s<seed>/``
with ``config.yaml`` and ``metrics.json`` (written last, atomically); a
re-run skips finished runs. The report draws forget accuracy on the
bias-aligned against the bias-conflicting forget samples per method.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from obliviate.core.config import check_number, mean_std, save_yaml, to_dict
from obliviate.core.errors import ConfigError
from obliviate.core.progress import log
from obliviate.core.store import atomic_write_bytes, atomic_write_json, atomic_write_text
from obliviate.vision.data import SOURCES, coloured_digits, forget_class, forget_random
from obliviate.vision.metrics import evaluate
from obliviate.vision.models import ARCHS, classifier
from obliviate.vision.train import ce_loss, fit, vision_config


def _all_methods() -> list[str]:
    from obliviate.vision.methods import VISION_METHODS

    return VISION_METHODS.names()


@dataclass
class VisionRunConfig:
    """One setting: ``source`` (mnist, digits), ``aligned`` share, the model, the request, the training budget."""

    source: str = "mnist"
    aligned: float = 0.995
    arch: str = "cnn"
    forget: str = "class"
    forget_class: int = 0
    forget_fraction: float = 0.1
    train_epochs: float = 5.0
    train_lr: float = 3e-3
    data_dir: str = ""

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        if self.arch not in ARCHS:
            raise ConfigError(f"model must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.forget not in ("class", "random"):
            raise ConfigError(f"forget must be class or random, got {self.forget!r}")
        check_number("VisionRunConfig.aligned (--aligned)", self.aligned, low=0, high=1)
        if not 0 <= self.forget_class <= 9:  # both sources are digits 0-9
            raise ConfigError(f"VisionRunConfig.forget_class (--forget-class) must be a digit 0-9, "
                              f"got {self.forget_class}")
        check_number("VisionRunConfig.forget_fraction", self.forget_fraction, low=0, high=1, low_open=True,
                     high_open=True)
        check_number("VisionRunConfig.train_epochs", self.train_epochs, low=0, low_open=True)
        check_number("VisionRunConfig.train_lr", self.train_lr, low=0, low_open=True)


@dataclass
class VisionBenchConfig:
    methods: list[str] = field(default_factory=_all_methods)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    run: VisionRunConfig = field(default_factory=VisionRunConfig)

    def __post_init__(self) -> None:
        from obliviate.vision.methods import VISION_METHODS

        if isinstance(self.run, dict):
            self.run = VisionRunConfig(**self.run)
        for m in self.methods:
            VISION_METHODS.get(m)
        if not self.methods or not self.seeds:
            raise ConfigError("a vision bench needs at least one method and one seed")
        if min(self.seeds) < 0:
            raise ConfigError(f"VisionBenchConfig.seeds (--seeds) must be >= 0, got {self.seeds}")


def prepare(cfg: VisionRunConfig, seed: int):
    """The data of ``seed``, its forget request and the trained original model (and its training time)."""
    data = coloured_digits(cfg.source, cfg.aligned, seed=seed, data_dir=cfg.data_dir or None)
    req = forget_class(data, cfg.forget_class) if cfg.forget == "class" else forget_random(data, cfg.forget_fraction,
                                                                                           seed)
    t = time.time()
    model = fit(classifier(cfg.arch, tuple(data.train.x.shape[1:]), data.num_classes, seed=seed),
                ce_loss(data.train), torch.arange(len(data.train)), vision_config(cfg.train_epochs, cfg.train_lr,
                                                                                  seed=seed),
                description=f"training {cfg.arch} on {data.name}")
    return data, req, model, time.time() - t


def unlearn_run(cfg: VisionRunConfig, method: str, seed: int, prepared=None, method_config: dict | None = None):
    """Run one method; returns the model and ``{metric: value}`` (with the original's figures beside)."""
    from obliviate.vision.methods import VisionContext, get_vision_method

    data, req, original, train_s = prepared or prepare(cfg, seed)
    m = get_vision_method(method, method_config)
    ctx = VisionContext(original, data, req, seed=seed, train_epochs=cfg.train_epochs, train_lr=cfg.train_lr,
                        arch=cfg.arch)
    t = time.time()
    model = m.unlearn(ctx)
    seconds = time.time() - t
    figures = {**evaluate(model, data, req), "seconds": seconds, "original_train_seconds": train_s,
               **{f"original_{k}": v for k, v in evaluate(original, data, req).items()},
               "n_forget": len(req.forget), "n_forget_conflicting": int((~data.train.aligned[req.forget]).sum())}
    return model, figures


def run_vision_bench(cfg: VisionBenchConfig, out: str | Path) -> Path:
    from obliviate.core.store import open_shared_out_dir

    out = Path(out)
    open_shared_out_dir(out, "vision bench", "bench.yaml")  # new, empty, or an earlier vision bench here: nothing else
    save_yaml(out / "bench.yaml", to_dict(cfg))
    for seed in cfg.seeds:
        todo = [m for m in cfg.methods if not (out / "runs" / f"{m.lower()}-s{seed}" / "metrics.json").is_file()]
        if not todo:
            continue
        log(f"vision bench: seed {seed}: {', '.join(todo)}")
        prepared = prepare(cfg.run, seed)
        for method in todo:
            folder = out / "runs" / f"{method.lower()}-s{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            save_yaml(folder / "config.yaml", {"run": to_dict(cfg.run), "method": method, "seed": seed})
            _, figures = unlearn_run(cfg.run, method, seed, prepared)
            atomic_write_json(folder / "metrics.json", {"method": method, "seed": seed, **figures})
    board = vision_leaderboard(out)
    write_vision_report(out, board)
    return out


COLUMNS = [("forget_acc", "forget acc"), ("forget_acc_aligned", "forget acc aligned"),
           ("forget_acc_conflicting", "forget acc conflicting"), ("bias_gap", "aligned - conflicting"),
           ("retain_acc", "retain acc"), ("test_acc", "test acc"), ("worst_group_acc", "worst-group acc"),
           ("mia_auc", "MIA AUC"), ("seconds", "time s")]


def vision_leaderboard(out: str | Path) -> dict[str, Any]:
    runs = [json.loads(p.read_text()) for p in sorted((Path(out) / "runs").glob("*/metrics.json"))]
    groups: dict[str, list[dict]] = {}
    for r in runs:
        groups.setdefault(r["method"], []).append(r)
    rows = []
    first = runs[0] if runs else {}
    if first:
        orig = {k: float(np.nanmean([r.get(f"original_{k}", math.nan) for r in runs if r["method"] == first["method"]]))
                for k, _ in COLUMNS if k != "seconds"}
        rows.append({"method": "original (before)", "runs": len({r["seed"] for r in runs}), **orig})
    for method, rs in sorted(groups.items()):
        rows.append({"method": method, "runs": len(rs), **mean_std(rs, [k for k, _ in COLUMNS])})
    board = {"rows": rows, "n_runs": len(runs)}
    atomic_write_json(Path(out) / "leaderboard.json", board)
    atomic_write_text(Path(out) / "leaderboard.md", format_vision_leaderboard(board))
    return board


def _cell(row: dict, key: str) -> str:
    v, s = row.get(key, math.nan), row.get(key + "_std", math.nan)
    if v is None or not math.isfinite(v):
        return "–"
    d = 1 if key == "seconds" else 3
    return f"{v:.{d}f}" + (f" ± {s:.{d}f}" if math.isfinite(s) else "")


def format_vision_leaderboard(board: dict[str, Any]) -> str:
    heads = ["method", "runs"] + [h for _, h in COLUMNS]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in board["rows"]:
        lines.append("| " + " | ".join([r["method"], str(r["runs"])] + [_cell(r, k) for k, _ in COLUMNS]) + " |")
    return "\n".join(lines) + "\n"


def write_vision_report(out: str | Path, board: dict[str, Any]) -> Path:
    """``report.html`` and ``chart.png``: forget accuracy on aligned vs conflicting forget samples per method."""
    import base64

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from obliviate.core.report.html import _png, render_html

    rows = board["rows"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    xs = np.arange(len(rows))
    for off, key, label in ((-0.2, "forget_acc_aligned", "bias-aligned"), (0.2, "forget_acc_conflicting",
                                                                             "bias-conflicting")):
        ax.bar(xs + off, [r.get(key, math.nan) for r in rows], 0.4, yerr=[r.get(key + "_std") or 0 for r in rows],
               label=label, capsize=2)
    ax.set_xticks(xs, [r["method"] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("forget accuracy (lower = forgotten)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    png = _png(fig)
    plt.close(fig)
    atomic_write_bytes(Path(out) / "chart.png", base64.b64decode(png))
    heads = ["method", "runs"] + [h for _, h in COLUMNS]
    table = [[r["method"], str(r["runs"])] + [_cell(r, k) for k, _ in COLUMNS] for r in rows]
    html = render_html(_TEMPLATE, heads=heads, table=table, png=png, n=board["n_runs"], out=str(out))
    return atomic_write_text(Path(out) / "report.html", html)


_TEMPLATE = """<!doctype html><html><head><meta charset="utf-8"><title>obliviate vision bench</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:75em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}
img{max-width:100%}</style></head><body>
<h1>obliviate vision bench</h1><p>{{ n }} finished runs in <code>{{ out }}</code>.</p>
<table><tr>{% for h in heads %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in table %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>
<figure><img src="data:image/png;base64,{{ png }}" alt="forget accuracy, aligned vs conflicting">
<figcaption>Forget accuracy on bias-aligned and bias-conflicting forget samples, mean ± std over seeds</figcaption>
</figure></body></html>
"""
