"""``obliviate vision unlearn`` and ``obliviate vision bench``: forgetting a class under bias.

Two kinds of data: biased coloured digits (``mnist``, ``digits``: the colour
is the shortcut) and BAR photographs (``bar``: the place is; the pretrained
EfficientNet-Lite0 top is the model, ``bar.py``).

One run = (method, seed): the seed fixes the train/test split, the colours
and every initialisation; the original model of a seed is trained once and
shared by its methods. Each run is a folder ``<out>/runs/<method>-s<seed>/``
with ``config.yaml`` and ``metrics.json`` (written last, atomically); a
re-run skips finished runs. The report draws forget accuracy on the
bias-aligned against the bias-conflicting forget samples per method, with
95% t-intervals over seeds.

Matched operating points: with ``stop_at`` >= 0 every method but Retrain stops
at the first check (every ``check_every`` steps) where its forget accuracy is at
most ``stop_at``, within ``budget`` times its own epochs or steps; the run keeps
the curve of checks (forget, aligned, conflicting and retain accuracy), and
``reached`` says whether the target was met. Methods are then compared where they
forget equally much, not by how long each was allowed to run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from obliviate.core.config import check_number, save_yaml, to_dict
from obliviate.core.errors import ConfigError
from obliviate.core.method import save_method_run
from obliviate.core.progress import log
from obliviate.core.report.board import (
    Column,
    bench_yaml,
    chart_png,
    column_notes,
    format_board,
    group_runs,
    header_tail,
    read_runs,
    single_run_page,
    spread_cell,
    write_bench_html,
    write_board,
)
from obliviate.core.report.page import pyplot, write_page
from obliviate.core.stats import LEVEL, mean_ci
from obliviate.core.store import atomic_write_json, open_shared_out_dir
from obliviate.vision.bar import CLASSES as BAR_CLASSES
from obliviate.vision.bar import bar_data
from obliviate.vision.data import SOURCES, coloured_digits, forget_class, forget_random
from obliviate.vision.methods import VISION_METHODS, VisionContext, get_vision_method
from obliviate.vision.metrics import evaluate
from obliviate.vision.models import ARCHS, classifier
from obliviate.vision.train import ForgetStop, ce_loss, fit, vision_config

ALL_SOURCES = (*SOURCES, "bar")


def _all_methods() -> list[str]:
    return VISION_METHODS.names()


@dataclass
class VisionRunConfig:
    """One setting: ``source`` (mnist, digits, bar), ``aligned`` share, the model (``auto``: cnn for digits,
    lite0-top for bar), the request, the training budget, and the stopping rule (``stop_at`` < 0: off)."""

    source: str = "mnist"
    aligned: float = 0.995
    arch: str = "auto"
    forget: str = "class"
    forget_class: int = 0
    forget_fraction: float = 0.1
    train_epochs: float = 5.0
    train_lr: float = 3e-3
    data_dir: str = ""
    stop_at: float = -1.0
    check_every: int = 5
    budget: float = 1.0

    def __post_init__(self) -> None:
        if self.source not in ALL_SOURCES:
            raise ConfigError(f"source must be one of {', '.join(ALL_SOURCES)}, got {self.source!r}")
        if self.arch == "auto":
            self.arch = "lite0-top" if self.source == "bar" else "cnn"
        if self.arch not in ARCHS:
            raise ConfigError(f"model must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if (self.source == "bar") != (self.arch == "lite0-top"):
            raise ConfigError(f"model {self.arch!r} does not read {self.source} images: lite0-top goes with --source "
                              "bar (cached backbone maps), cnn and mlp with the digits")
        if self.forget not in ("class", "random"):
            raise ConfigError(f"forget must be class or random, got {self.forget!r}")
        check_number("VisionRunConfig.aligned (--aligned)", self.aligned, low=0, high=1)
        n_classes = len(BAR_CLASSES) if self.source == "bar" else 10
        if not 0 <= self.forget_class < n_classes:
            raise ConfigError(f"VisionRunConfig.forget_class (--forget-class) must be a class 0-{n_classes - 1} of "
                              f"{self.source}, got {self.forget_class}")
        check_number("VisionRunConfig.forget_fraction", self.forget_fraction, low=0, high=1, low_open=True,
                     high_open=True)
        check_number("VisionRunConfig.train_epochs", self.train_epochs, low=0, low_open=True)
        check_number("VisionRunConfig.train_lr", self.train_lr, low=0, low_open=True)
        check_number("VisionRunConfig.stop_at (--stop-at)", self.stop_at, high=1)
        check_number("VisionRunConfig.check_every (--check-every)", self.check_every, low=1)
        check_number("VisionRunConfig.budget (--budget)", self.budget, low=0, low_open=True)


@dataclass
class VisionBenchConfig:
    methods: list[str] = field(default_factory=_all_methods)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    run: VisionRunConfig = field(default_factory=VisionRunConfig)

    def __post_init__(self) -> None:
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
    if cfg.source == "bar":
        data = bar_data(cfg.aligned, seed=seed, data_dir=cfg.data_dir or None)
    else:
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
    data, req, original, train_s = prepared or prepare(cfg, seed)
    m = get_vision_method(method, method_config)
    stop = (ForgetStop(data.train, req.forget, req.retain, cfg.stop_at, cfg.check_every)
            if cfg.stop_at >= 0 and method != "Retrain" else None)
    ctx = VisionContext(original, data, req, seed=seed, train_epochs=cfg.train_epochs, train_lr=cfg.train_lr,
                        arch=cfg.arch, stop=stop, budget=cfg.budget)
    t = time.time()
    model = m.unlearn(ctx)
    seconds = time.time() - t
    figures = {**evaluate(model, data, req), "seconds": seconds, "original_train_seconds": train_s,
               **(stop.figures() if stop is not None else {}),
               **{f"original_{k}": v for k, v in evaluate(original, data, req).items()},
               "n_forget": len(req.forget), "n_forget_conflicting": int((~data.train.aligned[req.forget]).sum())}
    return model, figures


SHOWN = ("forget_acc", "original_forget_acc", "forget_acc_aligned", "forget_acc_conflicting", "retain_acc",
         "test_acc", "worst_group_acc", "mia_auc", "seconds")


def unlearn_to_folder(cfg: VisionRunConfig, method: str, seed: int = 0, method_config: dict | None = None,
                      runs_dir: str | Path = "runs") -> tuple[Path, dict[str, Any]]:
    """What ``obliviate vision unlearn`` does: train the original, unlearn with ``method``, measure, and save a
    run folder ``<runs_dir>/<stamp>-vision-<method>`` (config.yaml, model.safetensors, metrics.json)."""
    m = get_vision_method(method, method_config)  # a bad name or override fails before any training
    check_number("seed", seed, low=0)
    net, figures = unlearn_run(cfg, method, seed, method_config=method_config)
    config = {"run": to_dict(cfg), "method": method, "seed": seed, "method_config": m.to_dict()}
    run_dir = save_method_run(runs_dir, f"vision-{method.lower()}", "vision unlearn", config, net, figures)
    reading = (f"{method} moved forget accuracy from {figures['original_forget_acc']:.3f} to "
                 f"{figures['forget_acc']:.3f} (aligned {figures['forget_acc_aligned']:.3f}, conflicting "
                 f"{figures['forget_acc_conflicting']:.3f}) and unbiased test accuracy from "
                 f"{figures['original_test_acc']:.3f} to {figures['test_acc']:.3f}. Retrain's values are the exact "
                 "answer: `obliviate vision bench` runs it beside.")
    page = single_run_page(f"obliviate vision unlearn: {method}", config, figures, COLUMNS, reading)
    write_page(run_dir / "report.html", page)
    return run_dir, figures


def run_vision_bench(cfg: VisionBenchConfig, out: str | Path) -> Path:
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


COLUMNS = [
    Column("forget_acc", "forget acc",
           how="accuracy on the forget set (lower = forgotten; Retrain's value is the target)"),
    Column("forget_acc_aligned", "forget acc aligned",
           how="on bias-aligned forget images (digits: in their class's colour; BAR: at the action's typical place)"),
    Column("forget_acc_conflicting", "forget acc conflicting",
           how="on bias-conflicting forget images (another colour; an atypical place)"),
    Column("bias_gap", "aligned - conflicting",
           how="a large negative gap: the bias was forgotten, not the class (conflicting images still recognised)"),
    Column("forget_test_acc", "forgotten class test acc",
           how="on the forgotten class's held-out test images (Retrain: about 0)"),
    Column("retain_acc", "retain acc"),
    Column("test_acc", "test acc", how="on the test set (digits: unbiased colours; BAR: held-out typical and "
                                       "atypical places), the forgotten class left out for a class request"),
    Column("worst_group_acc", "worst-group acc",
           how="the lowest test accuracy over (class, bias-aligned or not) groups of the retained classes"),
    Column("mia_auc", "MIA AUC",
           how="loss-based membership attack, forget vs test samples of the same classes (0.5 = indistinguishable)"),
    Column("stop_step", "steps", 0, how="optimizer steps at the stopping rule's last check (with --stop-at)"),
    Column("reached", "reached", 2, how="share of seeds that met --stop-at within the budget"),
    Column("seconds", "time s", 1),
]


def vision_leaderboard(out: str | Path) -> dict[str, Any]:
    """Mean and 95% t-interval over seeds per method, after a row of the original (before unlearning)."""
    runs = read_runs(out)
    rows = []
    first = runs[0] if runs else {}
    if first:
        orig = {c.key: float(np.nanmean([r.get(f"original_{c.key}", math.nan) for r in runs
                                         if r["method"] == first["method"]]))
                for c in COLUMNS if c.key not in ("seconds", "stop_step", "reached")}
        rows.append({"method": "original (before)", "runs": len({r["seed"] for r in runs}), **orig})
    for (method,), rs in group_runs(runs, ("method",)).items():
        rows.append({"method": method, "runs": len(rs), **mean_ci(rs, [c.key for c in COLUMNS])})
    board = {"rows": rows, "n_runs": len(runs)}
    return write_board(out, board, format_vision_leaderboard(board))


def _table(board: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    heads = ["method", "runs"] + [c.head for c in COLUMNS]
    return heads, [[r["method"], str(r["runs"])] + [spread_cell(r, c.key, c.digits) for c in COLUMNS]
                   for r in board["rows"]]


def format_vision_leaderboard(board: dict[str, Any]) -> str:
    return format_board(*_table(board), column_notes(COLUMNS))


def _err(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    """Error bars ``(2, n)`` from each row's interval (0 where there is none)."""
    lo, hi = [], []
    for r in rows:
        v, ci = r.get(key, math.nan), r.get(key + "_ci")
        ok = ci is not None and math.isfinite(v)
        lo.append(v - ci[0] if ok else 0.0)
        hi.append(ci[1] - v if ok else 0.0)
    return np.array([lo, hi])


def write_vision_report(out: str | Path, board: dict[str, Any]) -> Path:
    """``report.html`` and ``chart.png``: forget accuracy on aligned vs conflicting forget samples per method;
    with the stopping rule, ``curves.png``: every run's checks (retain against forget accuracy, and conflicting
    against aligned forget accuracy)."""
    plt = pyplot()

    rows = board["rows"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    xs = np.arange(len(rows))
    for off, key, label in ((-0.2, "forget_acc_aligned", "bias-aligned"), (0.2, "forget_acc_conflicting",
                                                                             "bias-conflicting")):
        ax.bar(xs + off, [r.get(key, math.nan) for r in rows], 0.4, yerr=_err(rows, key), label=label, capsize=2)
    ax.set_xticks(xs, [r["method"] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("forget accuracy (lower = forgotten)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    png = chart_png(fig, out)
    plt.close(fig)
    charts = [(f"Forget accuracy on bias-aligned and bias-conflicting forget samples, mean and "
               f"{LEVEL:.0%} t-interval over seeds", png)]
    curves = _curves_png(out)
    if curves is not None:
        charts.append(("Every check of every run on the way to the stopping rule (one line per run)", curves))
    return write_bench_html(out, "obliviate vision bench: forgetting a class under bias", *_table(board),
                            n_runs=board["n_runs"], charts=charts, notes=column_notes(COLUMNS),
                            header=_header(out), reading=_reading(board, bench_yaml(out).get("run", {})))


def _curves_png(out: str | Path) -> str | None:
    """``curves.png`` of every run's checks (also returned as base64 for the report); None without curves."""
    runs = [r for r in read_runs(out) if r.get("curve")]
    if not runs:
        return None
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.8))
    methods = sorted({r["method"] for r in runs})
    for i, method in enumerate(methods):
        colour = plt.get_cmap("tab10")(i % 10)
        for j, r in enumerate(rr for rr in runs if rr["method"] == method):
            c = np.array(r["curve"], dtype=float)
            label = method if j == 0 else None
            a.plot(c[:, 1], c[:, 4], color=colour, lw=1, alpha=0.7, label=label)
            b.plot(c[:, 2], c[:, 3], color=colour, lw=1, alpha=0.7, label=label)
    a.set(xlabel="forget accuracy", ylabel="retain accuracy")
    b.set(xlabel="forget accuracy, bias-aligned", ylabel="forget accuracy, bias-conflicting")
    b.plot([0, 1], [0, 1], color="grey", lw=0.5, ls=":")
    for ax in (a, b):
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
    a.legend(fontsize=7)
    fig.tight_layout()
    png = chart_png(fig, out, "curves.png")
    plt.close(fig)
    return png


def _header(out: str | Path) -> dict[str, str]:
    data = bench_yaml(out)
    run = data.get("run", {})
    if run.get("source") == "bar":
        what = (f"BAR photographs (6 actions; frozen EfficientNet-Lite0, its top trained), {run.get('aligned')} "
                "of each action's training images at its typical place")
        cls = run.get("forget_class")
        forget = f"class {cls} ({BAR_CLASSES[cls]})" if isinstance(cls, int) and 0 <= cls < len(BAR_CLASSES) else ""
    else:
        what = f"{run.get('source')} coloured digits, {run.get('aligned')} of training images in their class's colour"
        forget = f"class {run.get('forget_class')}"
    if run.get("forget") != "class":
        forget = f"{run.get('forget_fraction')} of training images at random"
    return {"data": what, "model": str(run.get("arch", "")), "forget": forget,
            **header_tail(data, to_dict(VisionBenchConfig()), skip=("run.data_dir",))}


def _reading(board: dict[str, Any], run: dict[str, Any] | None = None) -> str:
    run = run or {}
    rows = {r["method"]: r for r in board["rows"]}
    retrain, orig = rows.get("Retrain"), rows.get("original (before)")
    if retrain is None:
        return "Retrain (the exact answer) has not finished yet."
    parts = [f"Retrain (the exact answer) leaves forget accuracy at {retrain['forget_acc']:.3f} and test "
             f"accuracy at {retrain['test_acc']:.3f}."]
    if (run.get("source", "mnist") != "bar" and orig and math.isfinite(orig.get("test_acc", math.nan))
            and orig["test_acc"] < 0.5):
        parts.append(f"The original's unbiased test accuracy is {orig['test_acc']:.3f}: it learned the colour more "
                     "than the digit, so a method's effect on the bias cannot show on this data.")
    others = [r for m, r in rows.items() if m not in ("Retrain", "original (before)")
              and math.isfinite(r.get("forget_acc", math.nan))]
    target = run.get("stop_at", -1)
    if others and isinstance(target, int | float) and target >= 0:
        met = [r for r in others if r.get("reached") == 1.0]
        missed = [r["method"] for r in others if r.get("reached") != 1.0]
        parts.append(f"Stopping rule: forget accuracy at most {target:g}; met in every seed by "
                     f"{', '.join(r['method'] for r in met) or 'none'}"
                     + (f", not by {', '.join(missed)}" if missed else "") + ".")
        if met:
            best = min(met, key=lambda r: r.get("forget_acc_conflicting", math.inf))
            parts.append(f"At that point the lowest forget accuracy on the bias-conflicting images: {best['method']} "
                         f"({best.get('forget_acc_conflicting', math.nan):.3f}); highest retain accuracy: "
                         f"{max(met, key=lambda r: r.get('retain_acc', -1))['method']}.")
    elif others:
        near = min(others, key=lambda r: abs(r["forget_acc"] - retrain["forget_acc"])
                   + abs(r["test_acc"] - retrain["test_acc"]))
        parts.append(f"Closest to Retrain on forget and test accuracy together: {near['method']} "
                     f"({near['forget_acc']:.3f}, {near['test_acc']:.3f}).")
    return " ".join(parts)
