"""``obliviate sweep``: tune every method on validation forget people, with the same budget for each.

A leaderboard where one method runs at its paper defaults and another at
settings tuned on the very forget set it is scored on says little. The sweep
gives every method the same small grid and picks its config on people the
reported numbers never see; ``obliviate bench --configs sweep.json`` then
reports the picks over 5 seeds with intervals and significance marks
(:mod:`obliviate.llm.bench`).

**Validation people** (:func:`obliviate.llm.data.splits.validation_splits`):
as many trained people as the largest reported forget split has (``forget10``
by default), none of them in ``forget10`` (so in no reported forget split,
``forget01 ⊂ forget05 ⊂ forget10``) nor related to one of its people. The
sweep unlearns them from the same target the bench unlearns on that split;
its retain set is the other retain people, and every record that names a
``forget10`` person anywhere (a relation, a wrong answer) is left out of the
sweep's forget, retain and holdout sets. Nothing the sweep trains on or
scores reads a reported forget person.

**Its gold model.** Forget quality on the validation set is the KS test of
the unlearned model's validation truth ratios against those of a model that
never saw the validation people. In a world that sets validation people apart
(``WorldConfig.validation``, the ``standard`` and ``tofu`` profiles) no
reported split contains or names them, so the bench's gold model (trained on
the reported retain people only) is that model: the sweep reuses it, and
target plus gold are the only fine-tunes. In a world without them (the demo)
the validation people are reported retain people the bench's gold has seen,
so the sweep trains (once, cached like every model) a validation gold: the
target's training records minus those about the validation people, the rule
the bench's gold follows for the forget people.

**What selection shares with the report.** The retain people (less the
validation ones) and the world facts: model utility is measured on the same
kind of data in both, as in any tuned benchmark. The validation people
themselves are retain people in the reported runs. The reported forget
people are never read.

**The grid** (:func:`method_grid`): the learning rate times ``lr_factors``,
the epochs times ``epoch_factors`` and, for a method in :data:`SWEEP_WEIGHTS`,
its own main weight(s); the product in that order (learning rate outermost),
the learning-rate axis as long as it takes to fill ``budget`` points and cut
at ``budget``. Every method gets exactly ``budget`` configs (12 by default: 3
learning rates x 2 epoch counts x 2 weights, or 6 learning rates x 2 epoch
counts for a method without a swept weight) and the same seed. Grid points
keep their index when the budget grows, so a larger sweep in the same folder
reuses the finished ones.

**The selection rule** (:func:`select`): among a method's configs that are
*like the gold model within* ``delta`` on the validation people (the upper end
of the people-bootstrap 90% interval of the KS distance ``D`` between the
config's and the validation gold's forget truth ratios is at most ``delta``,
0.2; :func:`obliviate.llm.eval.stats.equivalence_to_gold`), the one with the
highest model utility; if none is, the one with the highest forget quality
(KS p; on one validation set this is the smallest ``D``); ties go to the
earlier grid point. It replaced "p >= ``threshold`` (0.05) passes", still
``--keep best``'s rule (:func:`obliviate.llm.eval.during.pick_best`): on 20
validation answers the KS test misses distances below ~0.4, so the mildest
config that escaped detection won on utility. Now too few answers to show a
config within ``delta`` of gold means none is picked on utility; the
p-value stays reported, with ``threshold`` only counting the configs at or
above it. Configs finished before the interval existed count as not shown
within ``delta``.

**Files**: ``<out>/sweep.yaml`` (the config), ``validation.json`` (the
validation people and the record ids of each set), one folder per config
``configs/<method>-c<index>/`` with ``config.yaml``, ``events.jsonl`` and
``metrics.json`` (written last: the "done" marker; a re-run skips finished
configs and refuses one finished with other settings), then ``sweep.json``
(every config's figures and each method's selected config) and ``sweep.md``,
both written atomically.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obliviate.core.config import check_number, field_help, from_dict, load_yaml, save_yaml, to_dict
from obliviate.core.errors import ConfigError, DataError
from obliviate.core.progress import log
from obliviate.core.registry import _key
from obliviate.core.report.board import cell_parts, markdown_table
from obliviate.core.report.page import Notes, Page, Table, today, version_line, write_page
from obliviate.core.store import atomic_write_json, atomic_write_text, open_shared_out_dir
from obliviate.llm import pipeline
from obliviate.llm.bench import (
    BenchConfig,
    _log10_fq,
    _with_new_defaults,
    bench_config_from,
    method_config,
    unlearn_config,
)
from obliviate.llm.data import FORGET_VARIANTS, load_world_facts
from obliviate.llm.data.splits import load_world, names_any, split_entities, validation_entities, validation_splits
from obliviate.llm.eval.stats import EQUIVALENCE_DELTA
from obliviate.llm.methods import METHODS

# Each method's main weight(s) and the values swept: the paper default and one value on the other side of the
# forgetting/utility trade-off. A method not listed (GradAscent, CE-U, FLAT: their only weight scales the loss,
# which the learning rate already does) sweeps the learning rate and epochs only.
SWEEP_WEIGHTS: dict[str, dict[str, list[Any]]] = {
    "GradDiff": {"alpha": [1.0, 5.0]},  # retain NLL weight
    "KL": {"alpha": [1.0, 5.0]},  # retain KL weight
    "NPO": {"beta": [0.1, 0.5]},
    "SimNPO": {"beta": [2.5, 4.5]},
    "IdkPO": {"beta": [0.1, 0.5]},
    "AltPO": {"beta": [0.1, 0.5]},
    "RMU": {"steering_coeff": [6.5, 20.0]},
    "KLUE": {"top_percent": [0.5, 2.0]},
    "MEOW": {"top_k": [1, 3]},
    "SAEGuided": {"beta": [1.0, 5.0]},  # preservation weight
    "UNDIAL": {"beta": [3.0, 10.0]},
    "WGA": {"beta": [1.0, 2.0]},
    "SatImp": {"beta1": [1.0, 5.0]},
    "PDU": {"eps": [0.3, 1.0]},  # retain-NLL bound
}
LR_FACTORS = [1.0, 0.5, 2.0, 0.25, 4.0, 0.125, 8.0, 0.0625, 16.0]  # outward from the bench's learning rate
RULE = ("among the configs like the gold model within delta on the validation people (the people-bootstrap 90% "
        "interval of the KS distance D to gold ends at most delta), the highest model utility; if none is, the "
        "highest forget quality (KS p, i.e. the smallest D); ties go to the earlier grid point")


@dataclass
class SweepConfig:
    """What a sweep runs; saved as ``sweep.yaml`` in its folder.

    ``bench`` is the bench to tune: its model, world, target and gold training,
    base unlearning settings (the grid's centre), methods, reported forget
    splits and evaluation cap; the tuned bench inherits the rest (audit,
    controls...).
    """

    bench: BenchConfig = field(default_factory=BenchConfig)
    budget: int = field_help(12, "configs per method (the same for every method)")
    seed: int = field_help(0, "unlearning seed of every config")
    threshold: float = field_help(0.05, "forget quality p-value: sweep.md counts the configs at or above it "
                                        "(reported only; the selection reads delta)")
    delta: float = field_help(EQUIVALENCE_DELTA, "largest KS distance to the validation gold model read as "
                                                 "'like gold': the selection rule's equivalence margin")
    validation_count: int = field_help(0, "validation people; 0 = as many as the largest reported forget split")
    lr_factors: list[float] = field(default_factory=lambda: list(LR_FACTORS),
                                    metadata={"help": "learning rates tried, as factors of the bench's, in order"})
    epoch_factors: list[float] = field(default_factory=lambda: [0.5, 1.0],
                                       metadata={"help": "epoch counts tried, as factors of the bench's"})
    weights: dict[str, dict[str, list[Any]]] = field(
        default_factory=dict, metadata={"help": "per-method weights to sweep instead of SWEEP_WEIGHTS' entry "
                                                "({} for a method: learning rate and epochs only)"})

    def __post_init__(self) -> None:
        if isinstance(self.bench, dict):
            self.bench = bench_config_from(self.bench)
        if self.budget < 1:
            raise ConfigError(f"SweepConfig.budget must be >= 1, got {self.budget}")
        for name in ("epoch_factors", "lr_factors"):
            factors = getattr(self, name)
            if not factors:
                raise ConfigError(f"SweepConfig.{name} must list at least one factor")
            for f in factors:
                check_number(f"SweepConfig.{name}", f, low=0, low_open=True)
        if not 0 <= self.threshold <= 1:
            raise ConfigError(f"SweepConfig.threshold must be in [0, 1], got {self.threshold}")
        if not 0 < self.delta <= 1:
            raise ConfigError(f"SweepConfig.delta must be in (0, 1], got {self.delta}")
        if self.validation_count < 0:
            raise ConfigError(f"SweepConfig.validation_count must be >= 0, got {self.validation_count}")
        if self.seed < 0:
            raise ConfigError(f"SweepConfig.seed (--seed) must be >= 0, got {self.seed}")
        for spec in self.bench.methods:
            method_grid(self, spec)  # raises on a weight the method does not have or a grid too short


def sweep_config_from(data: dict[str, Any]) -> SweepConfig:
    """A SweepConfig from plain data (a sweep's ``sweep.yaml``), validated."""
    data = dict(data)
    return from_dict(SweepConfig, {**data, "bench": bench_config_from(data.get("bench") or {})})


def _weights(cfg: SweepConfig, spec: str) -> dict[str, list[Any]]:
    """The weights swept for a run spec: ``cfg.weights``' entry, else :data:`SWEEP_WEIGHTS`' (by method name)."""
    method = pipeline.parse_run_spec(spec)[0]
    for table in (cfg.weights, SWEEP_WEIGHTS):
        by_key = {_key(k): v for k, v in table.items()}
        for name in (spec, method):
            if _key(name) in by_key:
                return dict(by_key[_key(name)] or {})
    return {}


def method_grid(cfg: SweepConfig, spec: str) -> list[dict[str, Any]]:
    """The ``cfg.budget`` grid points of a run spec: ``{"lr", "epochs", "weights", "method_config"}`` each.

    ``method_config`` is the bench's own overrides for the method with the
    point's weights on top, checked against the method's config.
    """
    base = unlearn_config(cfg.bench, spec)
    weights = _weights(cfg, spec)
    combos = [dict(zip(weights, vals)) for vals in itertools.product(*weights.values())] or [{}]
    per_lr = len(cfg.epoch_factors) * len(combos)
    n_lr = math.ceil(cfg.budget / per_lr)
    if n_lr > len(cfg.lr_factors):
        raise ConfigError(f"a budget of {cfg.budget} configs for {spec} needs {n_lr} learning rates; "
                          f"lr_factors has {len(cfg.lr_factors)}: add factors or lower the budget")
    method = METHODS.get(pipeline.parse_run_spec(spec)[0])
    points = []
    for lr_f, ep_f, w in itertools.product(cfg.lr_factors[:n_lr], cfg.epoch_factors, combos):
        mc = {**method_config(cfg.bench, spec), **w}
        try:
            method.from_dict(mc)
        except ConfigError as e:
            raise ConfigError(f"sweep weights of {spec}: {e}") from None
        points.append({"lr": base.lr * lr_f, "epochs": base.epochs * ep_f, "weights": w, "method_config": mc})
    return points[: cfg.budget]


# ---------------------------------------------------------------- the validation split


@dataclass
class Validation:
    """The sweep's splits, their people, and (once :func:`prepare_validation` ran) the models that score them."""

    people: list[str]
    excluded: list[str]
    splits: Any
    target: Any = None
    tokenizer: Any = None
    gold_truth_ratios: list[float] | None = None


def validation(cfg: SweepConfig) -> Validation:
    """The validation people and splits of the bench's world (no model needed)."""
    w = cfg.bench.world
    world = load_world(pipeline.build_world(w) / "world.json")
    if w.validation and cfg.validation_count and cfg.validation_count != w.validation:
        raise ConfigError(f"the world sets {w.validation} validation people apart (WorldConfig.validation); "
                          f"validation_count {cfg.validation_count} would tune on reported retain people")
    count = w.validation or cfg.validation_count or max(
        len(split_entities(world, v, w.holdout_fraction, w.seed).forget) for v in cfg.bench.variants)
    people = validation_entities(world, w.holdout_fraction, w.seed, count)
    splits = validation_splits(world, w.holdout_fraction, w.seed, count, world_facts=load_world_facts())
    excluded = split_entities(world, "forget10", w.holdout_fraction, w.seed).forget
    return Validation(people, excluded, splits)


def _target_variant(cfg: SweepConfig) -> str:
    """The largest reported split: the sweep unlearns from the target the bench uses on it."""
    return max(cfg.bench.variants, key=lambda v: FORGET_VARIANTS[v])


def prepare_validation(cfg: SweepConfig, v: Validation) -> Validation:
    """The target (the bench's, cached), the validation gold model (cached) and its validation truth ratios."""
    b = cfg.bench
    world_dir = pipeline.build_world(b.world)
    reported = pipeline.load_world_splits(world_dir, _target_variant(cfg))
    tiny = b.model == pipeline.TINY
    # the same records as pipeline.prepare: the cached target (with the people a world sets apart for tuning)
    records, bench_gold_records = pipeline.training_records(world_dir, reported, b.model)
    target, tok = pipeline.finetuned(b.model, records, b.finetune, role="target", world_dir=world_dir)
    if b.world.validation:
        # a world that sets validation people apart keeps them out of every reported split, so the bench's gold
        # (the reported retain people only) never saw them either: one fine-tune less, the same cached model
        gold_records, role = bench_gold_records, "gold"
    else:
        # the validation gold never sees the validation people: neither their records nor others naming them
        gold_records, role = [r for r in records if not names_any(r, list(v.people))], "gold-validation"
    if any(names_any(r, list(v.people)) for r in gold_records):
        raise DataError("the validation gold model's training records name a validation person")
    gold, _ = pipeline.finetuned(b.model, gold_records, b.finetune, role=role, world_dir=world_dir)
    del reported, records  # trained into the target, never scored here
    splits = pipeline.keep_known(v.splits, target, tok, real_entities=not tiny)
    _, gold_ps = pipeline.cached_evaluate(pipeline.model_folder(gold), gold, tok, splits,
                                          max_per_split=b.eval_max_per_split)
    return dataclasses.replace(v, splits=splits, target=target, tokenizer=tok,
                               gold_truth_ratios=gold_ps["forget"]["truth_ratio"])


# ---------------------------------------------------------------- running the grid


def config_folder(out: str | Path, spec: str, index: int) -> Path:
    return Path(out) / "configs" / f"{spec.lower().replace(':', '-')}-c{index:02d}"


def config_settings(cfg: SweepConfig, spec: str, index: int, point: dict[str, Any], people: list[str]) -> dict:
    """Everything that shapes one config's result (a finished config with other settings is not reused)."""
    b = cfg.bench
    train = dataclasses.replace(unlearn_config(b, spec), lr=point["lr"], epochs=point["epochs"], seed=cfg.seed)
    return {"model": b.model, "method": spec, "index": index, "method_config": point["method_config"],
            "world": to_dict(b.world), "finetune": to_dict(b.finetune), "unlearn": to_dict(train),
            "eval_max_per_split": b.eval_max_per_split, "validation_people": list(people)}


def _finished(out: Path, settings: dict[str, Any]) -> bool:
    folder = config_folder(out, settings["method"], settings["index"])
    if not (folder / "metrics.json").is_file():
        return False
    done = load_yaml(folder / "config.yaml") if (folder / "config.yaml").is_file() else {}
    if _with_new_defaults(done) != settings:
        raise ConfigError(f"{folder} finished with other settings than this sweep's; use another output folder "
                          "or delete it")
    return True


def run_sweep(cfg: SweepConfig, out: str | Path) -> Path:
    """Run every method's grid points not finished yet, then write ``sweep.json``. Returns ``out``."""
    out = Path(out)
    open_shared_out_dir(out, "sweep", "sweep.yaml")  # new, empty, or an earlier sweep here: nothing else
    save_yaml(out / "sweep.yaml", to_dict(cfg))
    v = validation(cfg)
    s = v.splits
    atomic_write_json(out / "validation.json", {
        "people": v.people, "excluded_forget10": v.excluded,
        "ids": {k: [r.id for r in getattr(s, k)] for k in ("forget", "retain", "holdout", "neighbours")}})
    jobs = [(spec, i, p) for spec in cfg.bench.methods for i, p in enumerate(method_grid(cfg, spec))]
    todo = [j for j in jobs if not _finished(out, config_settings(cfg, *j, v.people))]
    log(f"sweep: {len(jobs)} configs ({cfg.budget} per method), {len(jobs) - len(todo)} finished kept, "
        f"{len(todo)} to run in {out}; validation people: {', '.join(v.people)}")
    for k, (spec, i, point) in enumerate(todo, 1):
        if _finished(out, config_settings(cfg, spec, i, point, v.people)):  # another process did it
            continue
        shown = _shown(point["weights"])
        log(f"sweep [{k}/{len(todo)}]: {spec} config {i}: lr {point['lr']:.3g}, epochs {point['epochs']:g}"
            + (f", {shown}" if shown else ""))
        if v.target is None:
            v = prepare_validation(cfg, v)
        _run_config(cfg, v, out, spec, i, point)
    write_sweep(cfg, out, v.people)
    return out


def _run_config(cfg: SweepConfig, v: Validation, out: Path, spec: str, index: int, point: dict[str, Any]) -> None:
    settings = config_settings(cfg, spec, index, point, v.people)
    folder = config_folder(out, spec, index)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "config.yaml").is_file() and load_yaml(folder / "config.yaml") != settings:
        shutil.rmtree(folder)  # an unfinished config with other settings: start over
        folder.mkdir(parents=True)
    save_yaml(folder / "config.yaml", settings)
    train = dataclasses.replace(unlearn_config(cfg.bench, spec), lr=point["lr"], epochs=point["epochs"],
                                seed=cfg.seed)
    t = time.time()
    model = pipeline.unlearn(copy.deepcopy(v.target), v.tokenizer, v.splits, pipeline.parse_run_spec(spec)[0], train,
                        method_config=point["method_config"], run_dir=folder)
    unlearn_s = time.time() - t
    metrics, _ = pipeline.evaluate(model, v.tokenizer, v.splits, gold_forget_truth_ratios=v.gold_truth_ratios,
                              max_per_split=cfg.bench.eval_max_per_split)
    atomic_write_json(folder / "metrics.json", {
        "method": spec, "index": index, "lr": point["lr"], "epochs": point["epochs"], "weights": point["weights"],
        "method_config": point["method_config"], **_figures(metrics), "metrics": metrics,
        "unlearn_seconds": round(unlearn_s, 1), **pipeline.run_provenance()})


def _figures(metrics: dict[str, Any]) -> dict[str, float]:
    return {"forget_quality_ks_pvalue": metrics.get("forget_quality_ks_pvalue", math.nan),
            "forget_quality_log10": _log10_fq(metrics),
            **{k: metrics.get(k) for k in NEW_FIGURES},
            "model_utility_hmean": metrics.get("model_utility_hmean", math.nan)}


NEW_FIGURES = ("forget_quality_ks_distance", "forget_quality_ks_distance_ci", "forget_quality_detectable_distance")


def equivalent(row: dict[str, Any], delta: float = EQUIVALENCE_DELTA) -> bool:
    """Whether a config's people-bootstrap interval of the KS distance to gold ends at most ``delta``."""
    ci = row.get("forget_quality_ks_distance_ci")
    hi = _num(ci[1]) if isinstance(ci, (list, tuple)) and len(ci) == 2 else math.nan
    return math.isfinite(hi) and hi <= delta


# ---------------------------------------------------------------- selection


def select(rows: list[dict[str, Any]], delta: float = EQUIVALENCE_DELTA) -> dict[str, Any] | None:
    """The config the selection rule picks among a method's finished ``rows`` (None for none); see the module doc.

    Each row needs ``index``, ``forget_quality_ks_pvalue``, ``model_utility_hmean`` and (to be picked on
    utility) ``forget_quality_ks_distance_ci``. A missing or NaN value counts as the lowest.
    """
    def key(r: dict[str, Any]) -> tuple:
        eq = equivalent(r, delta)
        score = _num(r.get("model_utility_hmean") if eq else r.get("forget_quality_ks_pvalue"))
        return eq, score if math.isfinite(score) else -math.inf, -int(r["index"])

    return max(rows, key=key) if rows else None


def write_sweep(cfg: SweepConfig, out: str | Path, people: list[str] | None = None) -> dict[str, Any]:
    """``sweep.json`` and ``sweep.md`` from the finished config folders only; returns the sweep.json data."""
    out = Path(out)
    people = people if people is not None else validation(cfg).people
    methods: dict[str, Any] = {}
    for spec in cfg.bench.methods:
        grid = method_grid(cfg, spec)
        rows = []
        for i, point in enumerate(grid):
            if _finished(out, config_settings(cfg, spec, i, point, people)):
                m = json.loads((config_folder(out, spec, i) / "metrics.json").read_text())
                rows.append({k: m[k] for k in ("index", "lr", "epochs", "weights", "method_config",
                                               "forget_quality_ks_pvalue", "forget_quality_log10",
                                               "model_utility_hmean", "unlearn_seconds")}
                            | {k: m.get(k, m.get("metrics", {}).get(k)) for k in NEW_FIGURES})
        pick = select(rows, cfg.delta)
        selected = None
        if pick is not None:
            selected = {**pick, "unlearn": {"lr": pick["lr"], "epochs": pick["epochs"]},
                        "passes": equivalent(pick, cfg.delta)}
        methods[spec] = {"budget": len(grid), "finished": len(rows), "configs": rows, "selected": selected}
    data = {"rule": RULE, "delta": cfg.delta, "threshold": cfg.threshold, "budget": cfg.budget, "seed": cfg.seed,
            "validation": {"people": people, "note": "trained people outside forget10 and its neighbours, "
                                                     "scored against a gold model that never saw them"},
            "bench": to_dict(cfg.bench), "methods": methods}
    atomic_write_json(out / "sweep.json", data)
    atomic_write_text(out / "sweep.md", format_sweep(data))
    write_sweep_report(out, data)
    return data


def _sweep_table(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Each method's selected config and how many of its configs are like gold (and reach the p threshold)."""
    delta = data.get("delta", EQUIVALENCE_DELTA)
    heads = ["method", "configs", f"like gold (D ≤ {delta:g})", f"p >= {data['threshold']:g}", "selected lr", "epochs",
             "weights", "val. forget quality (KS p)", "val. log10 FQ", "val. KS D [people 90% CI]",
             "val. model utility"]
    rows = []
    for spec, m in data["methods"].items():
        n_eq = sum(1 for r in m["configs"] if equivalent(r, delta))
        n_pass = sum(1 for r in m["configs"] if _num(r["forget_quality_ks_pvalue"]) >= data["threshold"])
        s = m["selected"]
        if s is None:
            rows.append([spec, f"{m['finished']}/{m['budget']}"] + ["–"] * 9)
            continue
        ci = s.get("forget_quality_ks_distance_ci") or [math.nan, math.nan]
        rows.append([spec, f"{m['finished']}/{m['budget']}", str(n_eq), str(n_pass), f"{s['lr']:.3g}",
                     f"{s['epochs']:g}", _shown(s["weights"]) or "–", f"{_num(s['forget_quality_ks_pvalue']):.3g}",
                     f"{_num(s['forget_quality_log10']):.2f}",
                     f"{_num(s.get('forget_quality_ks_distance')):.2f} [{_num(ci[0]):.2f}, {_num(ci[1]):.2f}]",
                     f"{_num(s['model_utility_hmean']):.3f}"])
    return heads, rows


def _sweep_notes(data: dict[str, Any]) -> list[str]:
    return [f"Selection rule: {data['rule']}.",
            f"Validation people: {', '.join(data['validation']['people'])} ({data['validation']['note']})."]


def format_sweep(data: dict[str, Any]) -> str:
    """Markdown: each method's selected config and how many of its configs are like gold (and reach the p threshold)."""
    return markdown_table(*_sweep_table(data)) + "\n\n" + "\n".join(_sweep_notes(data)) + "\n"


def write_sweep_report(out: str | Path, data: dict[str, Any]) -> Path:
    """``report.html`` of a sweep: what was tuned, the selected configs, the rule."""
    bench = data.get("bench", {})
    header = {"model": str(bench.get("model", "")), "methods": f"{len(data['methods'])} run specs",
              "budget": f"{data['budget']} configs per method, unlearning seed {data['seed']}",
              "tuned on": f"{len(data['validation']['people'])} validation people (never the reported ones)",
              "date": today(), "version": version_line()}
    chosen = [(spec, m["selected"]) for spec, m in data["methods"].items() if m["selected"]]
    like = [spec for spec, sel in chosen if sel.get("passes")]
    reading = (f"{len(chosen)} of {len(data['methods'])} methods have a selected config; {len(like)} of them are "
               f"like gold on the validation people (KS distance interval within {data.get('delta', 0):g}). "
               "Run the tuned bench with `obliviate bench --configs sweep.json`.")
    heads, rows = _sweep_table(data)
    rows = [[cell_parts(c) if i == 9 else c for i, c in enumerate(r)] for r in rows]  # the interval below
    blocks = [Table(heads, rows), Notes([("", n) for n in _sweep_notes(data)])]
    return write_page(Path(out) / "report.html", Page("obliviate sweep", header, reading, blocks))


def _shown(weights: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in weights.items())


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


# ---------------------------------------------------------------- the tuned bench


def bench_config_from_sweep(path: str | Path, **overrides: Any) -> BenchConfig:
    """The bench a sweep tuned, each method at its selected config, 5 seeds (0-4) unless ``overrides`` say.

    ``overrides`` replace BenchConfig fields (``seeds``, ``controls``, ``methods``: a subset of the swept
    methods that have a selected config).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        chosen = {spec: m["selected"] for spec, m in data["methods"].items() if m.get("selected")}
        base = bench_config_from(data["bench"])
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (a sweep's sweep.json)") from None
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ConfigError(f"{path}: not a sweep.json written by obliviate sweep "
                          f"({e.__class__.__name__}: {e})") from None
    by_key = {_key(k): k for k in chosen}
    methods = overrides.pop("methods", None) or list(chosen)
    missing = [m for m in methods if _key(m) not in by_key]
    if missing or not methods:
        raise ConfigError(f"{path}: no selected config for {missing or 'any method'}; "
                          f"tuned: {', '.join(chosen) or 'none'}")
    methods = [by_key[_key(m)] for m in methods]
    kw = dict(methods=methods, seeds=[0, 1, 2, 3, 4], tuned_from=str(path),
              method_configs={**base.method_configs, **{m: chosen[m]["method_config"] for m in methods}},
              unlearn_overrides={**base.unlearn_overrides,
                                 **{m: {**base.unlearn_overrides.get(m, {}), **chosen[m]["unlearn"]} for m in methods}})
    return dataclasses.replace(base, **{**kw, **overrides})
