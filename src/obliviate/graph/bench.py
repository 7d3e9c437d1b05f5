"""``obliviate graph unlearn`` and ``obliviate graph bench``: graph deletion runs and their leaderboard.

One run = (dataset, task, method, seed): the seed fixes the edge split, the
deletion request and every initialisation. The original model of each
(dataset, task, seed) is trained once and shared by the methods of that
group. Each run is a folder ``<out>/runs/<dataset>-<task>-<method>-s<seed>/``
with ``config.yaml`` and ``metrics.json`` (written last, atomically: the
"done" marker); re-running the same command skips finished runs.

Measured per run, all against the same original and the same deletion:
utility on retained data (test AUC for edges, test accuracy for nodes),
deleted-edge AUC, MI ratio (``metrics.py`` states the conventions), wall time
of the unlearning, peak resident memory added while it ran (sampled RSS), and
FLOPs of one forward pass of the resulting model (``torch.utils.flop_counter``:
dense matmuls only, PyG's sparse aggregation is not counted).
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

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
from obliviate.graph import metrics as M
from obliviate.graph.data import WHERE, dataset_name, planetoid_graph, sample_deletion
from obliviate.graph.methods import GRAPH_METHODS, GraphContext, get_graph_method
from obliviate.graph.models import BACKBONES, GNN
from obliviate.graph.train import TASKS, View, fit, graph_config, task_loss


def _all_methods() -> list[str]:
    return GRAPH_METHODS.names()


DEFAULT_FRACTION = {"edge": 0.005, "node": 0.01}  # share of training edges / nodes deleted


@dataclass
class GraphRunConfig:
    """One graph deletion setting.

    Attributes:
        dataset: ``cora`` or ``citeseer``.
        task: ``edge`` (link prediction, delete edges) or ``node`` (node classification, delete nodes).
        backbone: ``gcn``, ``gat`` or ``gin``.
        fraction: share of training edges (edge task) or of nodes (node task) deleted; default (None):
            ``DEFAULT_FRACTION`` of the task (edges: GNNDelete's 0.5%).
        where: edge sampling: ``random``, ``in`` or ``out`` of the test edges' 2-hop subgraph.
        train_steps, train_lr: the original model's (and Retrain's) full-batch training budget.
        data_dir: the folder holding ``planetoid/`` (default ``$OBLIVIATE_DATA``).
    """

    dataset: str = "cora"
    task: str = "edge"
    backbone: str = "gcn"
    fraction: float | None = None
    where: str = "random"
    train_steps: int = 200
    train_lr: float = 1e-2
    data_dir: str = ""

    def __post_init__(self) -> None:
        self.dataset = dataset_name(self.dataset).lower()
        if self.task not in TASKS:
            raise ConfigError(f"graph task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.backbone not in BACKBONES:
            raise ConfigError(f"backbone must be one of {', '.join(BACKBONES)}, got {self.backbone!r}")

        if self.fraction is None:
            self.fraction = DEFAULT_FRACTION[self.task]
        if self.where not in WHERE:
            raise ConfigError(f"where (--where) must be one of {', '.join(WHERE)}, got {self.where!r}")
        check_number("GraphRunConfig.fraction (--fraction)", self.fraction, low=0, high=0.5, low_open=True,
                     high_open=True)
        check_number("GraphRunConfig.train_steps", self.train_steps, low=1)
        check_number("GraphRunConfig.train_lr", self.train_lr, low=0, low_open=True)


@dataclass
class GraphBenchConfig:
    """Methods x datasets x tasks x seeds (saved as ``bench.yaml``)."""

    methods: list[str] = field(default_factory=_all_methods)
    datasets: list[str] = field(default_factory=lambda: ["cora", "citeseer"])
    tasks: list[str] = field(default_factory=lambda: ["edge", "node"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    run: GraphRunConfig = field(default_factory=GraphRunConfig)
    node_fraction: float = DEFAULT_FRACTION["node"]
    method_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    backbones: list[str] = field(default_factory=list)  # [] = run.backbone
    wheres: list[str] = field(default_factory=list)  # edge sampling; [] = run.where
    fractions: list[float] = field(default_factory=list)  # shares of training edges deleted; [] = run.fraction

    def __post_init__(self) -> None:
        if isinstance(self.run, dict):
            self.run = GraphRunConfig(**self.run)
        for b in self.backbones:
            if b not in BACKBONES:
                raise ConfigError(f"backbone (--backbone) must be among {', '.join(BACKBONES)}, got {b!r}")
        for w in self.wheres:
            if w not in WHERE:
                raise ConfigError(f"where (--where) must be among {', '.join(WHERE)}, got {w!r}")
        for f in self.fractions:
            check_number("GraphBenchConfig.fractions (--fraction)", f, low=0, high=0.5, low_open=True,
                         high_open=True)
        for m in self.methods:
            GRAPH_METHODS.get(m)
        for d in self.datasets:
            dataset_name(d)
        bad = [t for t in self.tasks if t not in TASKS]
        if bad or not self.methods or not self.seeds:
            raise ConfigError(f"a graph bench needs methods, seeds and tasks among {', '.join(TASKS)}")
        if min(self.seeds) < 0:
            raise ConfigError(f"GraphBenchConfig.seeds (--seeds) must be >= 0, got {self.seeds}")
        check_number("GraphBenchConfig.node_fraction", self.node_fraction, low=0, high=0.5, low_open=True,
                     high_open=True)


class PeakMemory:
    """Peak resident memory (bytes) added while the block runs, sampled every 5 ms from /proc."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()

    @staticmethod
    def rss() -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # not Linux: the peak of the whole process so far
            # deferred: resource exists on Unix only
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.rss() - self.start)

    def __enter__(self) -> PeakMemory:
        self.start = self.rss()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss() - self.start)


def forward_flops(model, view: View) -> int:
    """FLOPs of one forward pass (dense ops counted by ``torch.utils.flop_counter``)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(view.graph.x, view.messages)
    return int(counter.get_total_flops())


@dataclass
class Original:
    """A trained original model with its graph, deletion and views."""

    graph: Any
    deletion: Any
    model: Any
    seconds: float
    attack: Any = None


def train_original(cfg: GraphRunConfig, seed: int) -> Original:
    """The graph (split by ``seed``), a deletion request (drawn by ``seed``) and the trained original model."""
    g = planetoid_graph(cfg.dataset, seed=seed, data_dir=cfg.data_dir or None)
    d = sample_deletion(g, "edge" if cfg.task == "edge" else "node", cfg.fraction, cfg.where if cfg.task == "edge"
                        else "random", seed=seed)
    model = GNN(cfg.backbone, g.x.shape[1], g.num_classes, seed=seed)
    t = time.time()
    model = fit(model, task_loss(cfg.task, View.full(g), seed), graph_config(cfg.train_steps, cfg.train_lr, seed),
                description=f"training {cfg.backbone} on {g.name} ({cfg.task})")
    orig = Original(g, d, model, time.time() - t)
    orig.attack = M.ShadowAttack(g, cfg.task, cfg.backbone, seed, cfg.train_steps, cfg.train_lr)
    return orig


def unlearn_run(cfg: GraphRunConfig, method: str, seed: int, original: Original | None = None,
                method_config: dict | None = None) -> tuple[Any, dict[str, Any]]:
    """Run one method on one setting; returns the unlearned model and its figures."""
    o = original or train_original(cfg, seed)
    m = get_graph_method(method, method_config)
    ctx = GraphContext(o.model, o.graph, o.deletion, cfg.task, seed=seed, train_steps=cfg.train_steps,
                       train_lr=cfg.train_lr)
    torch.manual_seed(seed)
    with PeakMemory() as mem:
        t = time.time()
        model = m.unlearn(ctx)
        seconds = time.time() - t
    before, after = View.full(o.graph), View.after(o.graph, o.deletion)
    figures = {
        "utility": M.utility(model, after, cfg.task),
        "original_utility": M.utility(o.model, after, cfg.task),
        "deleted_auc": M.deleted_auc(model, after, o.deletion, seed=seed),
        "original_deleted_auc": M.deleted_auc(o.model, after, o.deletion, seed=seed),
        "membership": M.membership(o.attack, model, after, o.deletion),
        "original_membership": M.membership(o.attack, o.model, before, o.deletion),
        "membership_auc": M.membership_auc(o.attack, o.model, before),
        "seconds": seconds, "peak_mb": mem.peak / 2**20, "flops": forward_flops(model, after),
        "original_train_seconds": o.seconds, "deleted_edges": int(o.deletion.edges.shape[1]),
        "deleted_nodes": int(len(o.deletion.nodes)), **M.graph_summary(o.graph),
    }
    figures["mi_ratio"] = M.mi_ratio(figures["original_membership"], figures["membership"])
    return model, figures


SHOWN = ("utility", "original_utility", "deleted_auc", "original_deleted_auc", "membership", "original_membership",
         "mi_ratio", "seconds")


def unlearn_to_folder(cfg: GraphRunConfig, method: str, seed: int = 0, method_config: dict | None = None,
                      runs_dir: str | Path = "runs") -> tuple[Path, dict[str, Any]]:
    """What ``obliviate graph unlearn`` does: train the original, unlearn with ``method``, measure, and save a run
    folder ``<runs_dir>/<stamp>-graph-<method>`` (config.yaml, model.safetensors, metrics.json)."""
    m = get_graph_method(method, method_config)  # a bad name or override fails before any training
    check_number("seed", seed, low=0)
    model, figures = unlearn_run(cfg, method, seed, method_config=method_config)
    config = {"run": to_dict(cfg), "method": method, "seed": seed, "method_config": m.to_dict()}
    run_dir = save_method_run(runs_dir, f"graph-{method.lower()}", "graph unlearn", config, model, figures)
    reading = (f"{method} moved the deleted edges' AUC from {figures['original_deleted_auc']:.3f} to "
                 f"{figures['deleted_auc']:.3f} and utility from {figures['original_utility']:.3f} to "
                 f"{figures['utility']:.3f}. "
                 "Retrain's values are the exact answer (a higher AUC than Retrain's is over-forgetting): "
                 "`obliviate graph bench` runs it beside.")
    page = single_run_page(f"obliviate graph unlearn: {method}", config, figures, COLUMNS, reading)
    write_page(run_dir / "report.html", page)
    return run_dir, figures


def _folder(out: Path, cfg: GraphRunConfig, method: str, seed: int) -> Path:
    """``<dataset>-<task>-<method>-s<seed>``, with the backbone, edge sampling and deleted share when they are not
    the defaults (a bench of the defaults keeps its folder names)."""
    extra = "".join([f"-{cfg.backbone}" if cfg.backbone != "gcn" else "",
                     f"-{cfg.where}" if cfg.task == "edge" and cfg.where != "random" else "",
                     f"-f{cfg.fraction:g}" if cfg.fraction != DEFAULT_FRACTION[cfg.task] else ""])
    return out / "runs" / f"{cfg.dataset}-{cfg.task}-{method.lower()}-s{seed}{extra}"


def settings(cfg: GraphBenchConfig) -> list[GraphRunConfig]:
    """Every (dataset, task, backbone, where, fraction) the bench runs; edge sampling and fractions apply to edge
    deletion (node deletion draws ``node_fraction`` of the nodes at random)."""
    out = []
    for dataset in cfg.datasets:
        for task in cfg.tasks:
            for backbone in cfg.backbones or [cfg.run.backbone]:
                wheres = (cfg.wheres or [cfg.run.where]) if task == "edge" else ["random"]
                fractions = (cfg.fractions or [cfg.run.fraction]) if task == "edge" else [cfg.node_fraction]
                for where in wheres:
                    for fraction in fractions:
                        out.append(dataclasses.replace(cfg.run, dataset=dataset, task=task, backbone=backbone,
                                                       where=where, fraction=fraction))
    return out


def setting_label(run: dict[str, Any] | GraphRunConfig) -> str:
    """``gcn, random, 0.5%``: the backbone, the edge sampling and the share deleted of a run."""
    get = run.get if isinstance(run, dict) else lambda k, d=None: getattr(run, k, d)
    fraction = get("fraction")
    share = "" if fraction is None else f"{fraction * 100:g}%"
    return ", ".join(x for x in (get("backbone", "gcn"), get("where", "random"), share) if x)


def run_graph_bench(cfg: GraphBenchConfig, out: str | Path) -> Path:
    """Every (dataset, task, seed, method) not finished yet, then the leaderboard and report."""
    out = Path(out)
    open_shared_out_dir(out, "graph bench", "bench.yaml")  # new, empty, or an earlier graph bench here: nothing else
    save_yaml(out / "bench.yaml", to_dict(cfg))
    for run in settings(cfg):
        for seed in cfg.seeds:
            todo = [m for m in cfg.methods if not (_folder(out, run, m, seed) / "metrics.json").is_file()]
            if not todo:
                continue
            log(f"graph bench: {run.dataset} {run.task} ({setting_label(run)}) seed {seed}: {', '.join(todo)}")
            original = train_original(run, seed)
            for method in todo:
                folder = _folder(out, run, method, seed)
                folder.mkdir(parents=True, exist_ok=True)
                mcfg = cfg.method_configs.get(method, {})
                save_yaml(folder / "config.yaml", {"run": to_dict(run), "method": method, "seed": seed,
                                                   "method_config": mcfg})
                _, figures = unlearn_run(run, method, seed, original, mcfg)
                atomic_write_json(folder / "metrics.json", {
                    "dataset": run.dataset, "task": run.task, "backbone": run.backbone, "where": run.where,
                    "fraction": run.fraction, "method": method, "seed": seed, **figures})
    board = graph_leaderboard(out)
    write_graph_report(out, board)
    return out


COLUMNS = [
    Column("distance", "distance to Retrain",
           how="mean of the three gaps to Retrain of the same seed (deleted-edge AUC, utility, membership); "
               "0 = Retrain's result, the exact answer; the headline"),
    Column("gap_deleted_auc", "Δ deleted AUC", how="|deleted-edge AUC - Retrain's|"),
    Column("gap_utility", "Δ utility", how="|utility - Retrain's|"),
    Column("gap_membership", "Δ membership", how="|membership - Retrain's|"),
    Column("utility", "utility", how="test AUC (edge task) or test accuracy (node task) on the retained graph"),
    Column("deleted_auc", "deleted-edge AUC",
           how="deleted edges (0) vs retained training edges (1); higher = more forgotten, and past Retrain's "
               "over-forgotten (secondary)"),
    Column("membership", "membership",
           how="mean probability a shadow-model attack gives the deleted edges (nodes) of being training members"),
    Column("mi_ratio", "MI ratio", 2,
           how="GNNDelete's: membership of the original / of the unlearned model; higher = more forgotten "
               "(secondary)"),
    Column("seconds", "time s", 1),
    Column("time_vs_retrain", "time / Retrain", 2, how="per seed, then averaged"),
    Column("peak_mb", "peak MB", 1, how="resident memory added during unlearning"),
    Column("flops", "MFLOPs/forward", 1, how="dense ops of one forward pass"),
]
BY = ("dataset", "task", "setting", "method")
SETTING_KEYS = ("dataset", "task", "backbone", "where", "fraction", "seed")  # Retrain of the same is the reference


def graph_leaderboard(out: str | Path) -> dict[str, Any]:
    """Mean and 95% t-interval over seeds per (dataset, task, setting, method); gaps and time relative to Retrain
    of the same seed and setting."""
    runs = M.distance_to_retrain(read_runs(out), SETTING_KEYS)
    retrain = {tuple(r.get(k) for k in SETTING_KEYS): r["seconds"] for r in runs if r["method"] == "Retrain"}
    for r in runs:
        base = retrain.get(tuple(r.get(k) for k in SETTING_KEYS))
        r["time_vs_retrain"] = r["seconds"] / base if base else math.nan
        r["flops"] = r["flops"] / 1e6
        r["setting"] = setting_label(r)
    keys = [c.key for c in COLUMNS] + ["original_utility", "original_deleted_auc", "original_membership",
                                       "membership_auc"]
    rows = [{**dict(zip(BY, group)), "runs": len(rs), **mean_ci(rs, keys)}
            for group, rs in group_runs(runs, BY).items()]
    board = {"rows": rows, "n_runs": len(runs), "level": LEVEL}
    return write_board(out, board, format_graph_leaderboard(board))


def _table(board: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    heads = [*BY, "runs"] + [c.head for c in COLUMNS]
    return heads, [[*(r[k] for k in BY), str(r["runs"])] + [spread_cell(r, c.key, c.digits) for c in COLUMNS]
                   for r in board["rows"]]


def format_graph_leaderboard(board: dict[str, Any]) -> str:
    return format_board(*_table(board), column_notes(COLUMNS))


MAX_PANELS = 6


def write_graph_report(out: str | Path, board: dict[str, Any]) -> Path:
    """``report.html`` (table + utility vs deleted-edge AUC per dataset and task) and ``chart.png``."""
    plt = pyplot()

    rows = board["rows"]
    panels = sorted({(r["dataset"], r["task"], r["setting"]) for r in rows})[:MAX_PANELS]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(4 * max(1, len(panels)), 3.6), squeeze=False)
    for ax, (dataset, task, setting) in zip(axes[0], panels):
        for r in [r for r in rows if (r["dataset"], r["task"], r["setting"]) == (dataset, task, setting)]:
            ax.errorbar(r["deleted_auc"], r["utility"], xerr=r.get("deleted_auc_std") or 0,
                        yerr=r.get("utility_std") or 0, fmt="o", capsize=3, label=r["method"])
        ax.set_title(f"{dataset}, {task} deletion ({setting})", fontsize=9)
        ax.set_xlabel("deleted-edge AUC (Retrain's is the target; beyond it: over-forgetting)")
        ax.set_ylabel("utility")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    png = chart_png(fig, out)
    plt.close(fig)
    return write_bench_html(out, "obliviate graph bench: deleting edges and nodes from a GNN", *_table(board),
                            n_runs=board["n_runs"],
                            charts=[("Utility against deleted-edge AUC, mean ± std over seeds"
                                     + (f" (the first {MAX_PANELS} settings)" if len(panels) == MAX_PANELS else ""),
                                     png)],
                            notes=column_notes(COLUMNS), left_columns=len(BY), header=_header(out),
                            reading=_reading(board))


def _header(out: str | Path) -> dict[str, str]:
    data = bench_yaml(out)
    run = data.get("run", {})
    return {"data": ", ".join(data.get("datasets", [])) + " (Planetoid)", "tasks": ", ".join(data.get("tasks", [])),
            "backbones": ", ".join(data.get("backbones") or [str(run.get("backbone", ""))]),
            "deleted": f"{', '.join(str(f) for f in data.get('fractions') or [run.get('fraction')])} of training "
                       f"edges ({', '.join(data.get('wheres') or [str(run.get('where'))])}), "
                       f"{data.get('node_fraction')} of nodes",
            **header_tail(data, to_dict(GraphBenchConfig()),
                          skip=("datasets", "tasks", "run.data_dir", "backbones", "wheres", "fractions"))}


def _reading(board: dict[str, Any]) -> str:
    """Per setting: which method lands closest to Retrain (the exact answer), and who over-forgets."""
    parts = []
    for (dataset, task, setting), rows in group_runs(board["rows"], ("dataset", "task", "setting")).items():
        retrain = next((r for r in rows if r["method"] == "Retrain"), None)
        others = [r for r in rows if r["method"] != "Retrain" and math.isfinite(r.get("distance", math.nan))]
        if retrain is None or not others:
            continue
        near = min(others, key=lambda r: r["distance"])
        over = [r["method"] for r in others if r["deleted_auc"] > retrain["deleted_auc"] + 0.05]
        parts.append(f"{dataset} {task} deletion ({setting}): closest to Retrain is {near['method']} (distance "
                     f"{near['distance']:.3f}: deleted-edge AUC {near['deleted_auc']:.3f} against Retrain's "
                     f"{retrain['deleted_auc']:.3f}, utility {near['utility']:.3f} against "
                     f"{retrain['utility']:.3f})."
                     + (f" Over-forgetting (deleted-edge AUC more than 0.05 above Retrain's): {', '.join(over)}."
                        if over else ""))
    return " ".join(parts) or "No setting has both Retrain and another method finished yet."
