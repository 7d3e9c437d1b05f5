"""``obliviate bench``: methods x forget splits x seeds on the world benchmark, then a leaderboard.

Every run is a folder ``<out>/runs/<method>-<split>-s<seed>/`` holding its
``config.yaml``, ``events.jsonl``, ``metrics.json`` (written last: the run's
"done" marker) and ``audit.json``. Re-running the same command skips finished
runs; an interrupted run resumes from its unlearning checkpoint or, once
unlearning is over, from the unlearned model saved in its folder.

Beside the methods, three *controls* are evaluated and audited once per split:
the target (nothing forgotten), the gold model (retrained without the forget
set: the ideal) and a suppression-only model (the target behind an output
filter that refuses to talk about the forget people). They calibrate the
leaderboard: a method should look like the gold row, and the suppression row
shows what the audit catches that a QA-only evaluation misses.

The leaderboard (``leaderboard.json``, ``leaderboard.md``, ``report.html``)
has one row per method with the mean over seeds and its 95% t-interval
(``mean ± t_{0.975, n-1} s / sqrt(n)``). On each column with a direction
(:data:`BETTER`) the best method is compared with every other by Welch's
t-test over seeds, the p-values Holm-corrected over that column's
comparisons; a method whose difference from the best is significant at 0.05
is marked. A *tuned* bench (``obliviate bench --configs sweep.json``, see
:mod:`obliviate.llm.sweep`) runs each method with the learning rate, epochs
and weights a sweep selected on validation forget people (``unlearn_overrides``
and ``method_configs``), 5 seeds by default.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from obliviate.core.config import from_dict, load_yaml, save_yaml, to_dict
from obliviate.core.errors import ConfigError
from obliviate.core.progress import log, take_phase_seconds, timed
from obliviate.core.registry import _key
from obliviate.core.report.board import (
    bench_yaml,
    chart_png,
    format_board,
    group_runs,
    header_tail,
    markdown_table,
    read_runs,
    write_bench_html,
    write_board,
)
from obliviate.core.report.page import Examples, Table, pyplot
from obliviate.core.stats import LEVEL, finite, t_interval
from obliviate.core.store import atomic_dir, atomic_write_json, open_shared_out_dir
from obliviate.llm import pipeline
from obliviate.llm.audit import AuditConfig, audit
from obliviate.llm.data import FORGET_VARIANTS
from obliviate.llm.eval.metrics.faithfulness import faithfulness, faithfulness_sets
from obliviate.llm.eval.metrics.sae_alignment import alignment
from obliviate.llm.eval.scoring import Scorer
from obliviate.llm.eval.stats import EQUIVALENCE_DELTA
from obliviate.llm.eval.suite import answer_examples
from obliviate.llm.eval.suppression import OutputFilter
from obliviate.llm.interp.latents import LensConfig, build_lens
from obliviate.llm.interp.sae import SAEConfig
from obliviate.llm.methods import METHODS
from obliviate.train.trainer import LATER_FIELDS, TrainConfig

CONTROLS = ("target", "gold", "suppressed")
GEOMETRIC = ("fluency_ppl",)  # positive figures that span decades: averaged on a log scale


def _all_methods() -> list[str]:
    return METHODS.names()


@dataclass
class BenchConfig:
    """What a bench runs; saved as ``bench.yaml`` in its folder.

    Attributes:
        model: base model spec (``smollm2-135m``, a folder, a hub id, ``tiny``).
        methods: run specs ``METHOD[+COMBINER][@SAMPLING[:NEIGHBOURS]]`` (``npo``, ``npo+gu``,
            ``npo@melu``; default: every registered method with the defaults).
        variants: forget splits (``forget01``, ``forget05``, ``forget10``).
        seeds: unlearning seeds.
        method_configs: per-method overrides of the paper defaults.
        unlearn_overrides: per-method overrides of the unlearning settings (``lr``, ``epochs``...), e.g. the
            configs an ``obliviate sweep`` selected (:func:`obliviate.llm.sweep.bench_config_from_sweep`).
        tuned_from: the ``sweep.json`` those overrides came from (a note; empty for an untuned bench).
        controls: also evaluate and audit the target, the gold and a suppression-only model.
        eval_max_per_split: cap on utility-split records in the TOFU evaluation.
        save_models: keep each unlearned model in its run folder (about 0.5 GB each for SmolLM2).
        faithfulness: score FaithUn's superficial-forgetting and over-forgetting rates for every run.
        alignment: read every run's forget entities through an SAE entity lens built on the target.
        lens: that lens's settings (layer, SAE, latents).
    """

    model: str = "smollm2-135m"
    methods: list[str] = field(default_factory=_all_methods)
    variants: list[str] = field(default_factory=lambda: ["forget10"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    method_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    unlearn_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    tuned_from: str = ""
    controls: bool = True
    eval_max_per_split: int = 20
    save_models: bool = False
    world: Any = None
    finetune: TrainConfig | None = None
    unlearn: TrainConfig | None = None
    audit: AuditConfig = field(default_factory=AuditConfig)
    faithfulness: bool = True
    alignment: bool = True
    lens: LensConfig = field(default_factory=LensConfig)

    def __post_init__(self) -> None:
        if isinstance(self.lens, dict):
            self.lens = from_dict(LensConfig, self.lens)
        self.world = self.world or pipeline.WorldConfig()
        self.finetune = self.finetune or pipeline.FinetuneConfig()
        self.unlearn = self.unlearn or pipeline.UnlearnConfig()
        for m in self.methods:
            pipeline.parse_run_spec(m)  # raises with the list of valid names
        bad = [v for v in self.variants if v not in FORGET_VARIANTS]
        if bad:
            raise ConfigError(f"unknown forget split(s) {bad}; valid: {', '.join(FORGET_VARIANTS)}")
        if not self.methods or not self.variants or not self.seeds:
            raise ConfigError("a bench needs at least one method, one split and one seed")
        if min(self.seeds) < 0:
            raise ConfigError(f"BenchConfig.seeds (--seeds) must be >= 0, got {self.seeds}")
        if self.eval_max_per_split < 1:
            raise ConfigError(f"BenchConfig.eval_max_per_split must be >= 1, got {self.eval_max_per_split}")
        for m in self.methods:
            unlearn_config(self, m)  # raises on an unknown or bad training setting


def tiny_bench_config(**overrides: Any) -> BenchConfig:
    """The same bench on the tiny model: for tests and a quick look."""
    demo = pipeline.tiny_demo_config()
    audit = AuditConfig(relearn=dict(steps=6, lr=1e-3, batch_size=4, eval_every=2), max_records=16)
    lens = LensConfig(sae=SAEConfig(expansion=4, k=6, epochs=30), top_latents=8, max_density=0.05)
    unlearn = pipeline.UnlearnConfig(epochs=8.0, lr=1e-3, batch_size=4, checkpoint_every=0)  # complete forgetting
    cfg = dict(model=pipeline.TINY, world=demo.world, finetune=demo.finetune, unlearn=unlearn, audit=audit,
               seeds=[0], lens=lens)
    return BenchConfig(**{**cfg, **overrides})


def bench_config_from(data: dict[str, Any]) -> BenchConfig:
    """A BenchConfig from plain data (YAML), validated."""
    data = dict(data)
    parts: dict[str, Any] = {}
    for k, cls in (("world", pipeline.WorldConfig), ("audit", AuditConfig), ("lens", LensConfig)):
        if data.get(k) is not None:
            parts[k] = from_dict(cls, data.pop(k))
    parts.update(pipeline.train_configs_from(data))
    return from_dict(BenchConfig, {**data, **parts})  # an unknown key or a bad type: one ConfigError


def _demo_config(cfg: BenchConfig, variant: str):
    return pipeline.DemoConfig(model=cfg.model, variant=variant, world=cfg.world, finetune=cfg.finetune,
                          unlearn=cfg.unlearn, eval_max_per_split=cfg.eval_max_per_split)


def method_config(cfg: BenchConfig, spec: str) -> dict[str, Any]:
    """Overrides for a run spec: its own entry (``npo+gu``), else its method's (``npo``)."""
    by_key = {_key(k): v for k, v in cfg.method_configs.items()}
    return by_key.get(_key(spec), by_key.get(_key(pipeline.parse_run_spec(spec)[0]), {})) or {}


def unlearn_config(cfg: BenchConfig, spec: str) -> TrainConfig:
    """The unlearning settings of a run spec: the bench's, its combiner and sampling, then its own overrides
    (``unlearn_overrides``: its own entry, else its method's)."""
    train = pipeline.spec_config(spec, copy.deepcopy(cfg.unlearn))[1]
    by_key = {_key(k): v for k, v in cfg.unlearn_overrides.items()}
    own = by_key.get(_key(spec), by_key.get(_key(pipeline.parse_run_spec(spec)[0]), {})) or {}
    if not own:
        return train
    bad = sorted(set(own) - {f.name for f in dataclasses.fields(TrainConfig)})
    if bad:
        raise ConfigError(f"unlearn_overrides[{spec!r}]: unknown training setting(s) {bad}")
    return dataclasses.replace(train, **own)


def run_settings(cfg: BenchConfig, method: str, variant: str, seed: int) -> dict[str, Any]:
    """Everything that shapes one run's result (a finished run with other settings is not reused)."""
    unlearn = to_dict(cfg.unlearn if method in CONTROLS else unlearn_config(cfg, method)) | {"seed": seed}
    return {"model": cfg.model, "method": method, "variant": variant, "seed": seed,
            "method_config": {} if method in CONTROLS else method_config(cfg, method), "world": to_dict(cfg.world),
            "finetune": to_dict(cfg.finetune), "unlearn": unlearn, "audit": to_dict(cfg.audit),
            "eval_max_per_split": cfg.eval_max_per_split, **_extra_settings(cfg)}


def _extra_settings(cfg: BenchConfig) -> dict[str, Any]:
    """The faithfulness and alignment settings (absent when both are off, as in runs made before them)."""
    out: dict[str, Any] = {}
    if cfg.faithfulness:
        out["faithfulness"] = True
    if cfg.alignment:
        out["lens"] = to_dict(cfg.lens)
    return out


def run_bench(cfg: BenchConfig, out: str | Path) -> Path:
    """Run every (method, split, seed) not finished yet, then write the leaderboard. Returns ``out``."""
    out = Path(out)
    open_shared_out_dir(out, "bench", "bench.yaml")  # new, empty, or an earlier bench here: nothing else
    save_yaml(out / "bench.yaml", to_dict(cfg))
    jobs = [(m, v, s) for v in cfg.variants for m in cfg.methods for s in cfg.seeds]
    controls = [(c, v, 0) for v in cfg.variants for c in CONTROLS] if cfg.controls else []
    prepared: dict[str, Any] = {}
    todo = [j for j in controls + jobs if not _finished(out, cfg, *j)]
    log(f"bench: {len(controls) + len(jobs) - len(todo)} finished runs kept, {len(todo)} to run in {out}")
    for i, (name, variant, seed) in enumerate(todo, 1):
        if _finished(out, cfg, name, variant, seed):  # another bench process on the same folder did it
            continue
        log(f"bench [{i}/{len(todo)}]: {name} on {variant}, seed {seed}")
        if variant not in prepared:
            prepared = {variant: Shared(pipeline.prepare(_demo_config(cfg, variant)), cfg)}  # one split in memory
        _run_one(cfg, prepared[variant], out, name, variant, seed)
    board = leaderboard(out)
    write_bench_report(out, board)
    return out


class Shared:
    """One split's prepared models and what every run on it reads: the original's scorer (memoised),
    the FaithUn sets and the entity lens, each made once when first asked for."""

    def __init__(self, prepared, cfg: BenchConfig) -> None:
        self.p, self.cfg = prepared, cfg
        self._scorer = self._sets = self._lens = None

    def __getattr__(self, name: str):
        return getattr(self.p, name)

    def original_scorer(self):
        self._scorer = self._scorer or Scorer(self.p.target, self.p.tokenizer)
        return self._scorer

    def faith_sets(self) -> dict[str, list]:
        if self._sets is None:
            self._sets = faithfulness_sets(self.p.splits.forget, self.p.splits.retain, self.p.probes().multi_hop)
        return self._sets

    def lens(self):
        self._lens = self._lens or build_lens(self.p.target, self.p.tokenizer, self.p.splits, self.cfg.lens)
        return self._lens

    def extras(self, model, scorer) -> dict[str, Any]:
        """FaithUn rates and SAE alignment of ``model`` (an OutputFilter is read through its inner model)."""
        out: dict[str, Any] = {}
        if self.cfg.faithfulness:
            out["faithfulness"] = faithfulness(scorer, self.original_scorer(), self.faith_sets())
        if self.cfg.alignment:
            lens = self.lens()
            known_ids = set(lens.info["known_records"])
            known = [r for r in self.p.splits.retain if r.id in known_ids]
            res = alignment(lens, getattr(model, "inner", model), self.p.tokenizer, self.p.splits.forget, known,
                            self.p.splits.holdout)
            out["alignment"], out["alignment_points"] = res.summary(), res.points
        return out


def run_folder(out: Path, name: str, variant: str, seed: int) -> Path:
    return Path(out) / "runs" / f"{name.lower().replace(':', '-')}-{variant}-s{seed}"


def _finished(out: Path, cfg: BenchConfig, name: str, variant: str, seed: int) -> bool:
    folder = run_folder(out, name, variant, seed)
    if not (folder / "metrics.json").is_file():
        return False
    settings = load_yaml(folder / "config.yaml") if (folder / "config.yaml").is_file() else {}
    if _with_new_defaults(settings) != _settings_for(cfg, name, variant, seed):
        raise ConfigError(
            f"{folder} finished with other settings than this bench's; use another output folder or delete it")
    return True


def _with_new_defaults(settings: dict[str, Any]) -> dict[str, Any]:
    """A finished run's settings with training fields added since then at their defaults (they had no effect)."""
    if isinstance(settings.get("unlearn"), dict):
        defaults = TrainConfig()
        added = {k: dataclasses.asdict(defaults)[k] for k in LATER_FIELDS}
        settings = {**settings, "unlearn": {**added, **settings["unlearn"]}}
    return settings




def _settings_for(cfg: BenchConfig, name: str, variant: str, seed: int) -> dict[str, Any]:
    s = run_settings(cfg, name, variant, seed)
    if name in CONTROLS:
        s.pop("unlearn"), s.pop("method_config")
    return s


def _run_one(cfg: BenchConfig, p, out: Path, name: str, variant: str, seed: int) -> None:
    folder = run_folder(out, name, variant, seed)
    folder.mkdir(parents=True, exist_ok=True)
    settings = _settings_for(cfg, name, variant, seed)
    if (folder / "config.yaml").is_file() and load_yaml(folder / "config.yaml") != settings:
        shutil.rmtree(folder)  # an unfinished run with other settings: start over
        folder.mkdir(parents=True)
    save_yaml(folder / "config.yaml", settings)
    t0 = time.time()
    take_phase_seconds()  # this run's phases only
    unlearn_s = 0.0
    if name == "target":
        model = p.target
    elif name == "gold":
        model = p.gold
    elif name == "suppressed":
        model = OutputFilter(p.target, p.tokenizer, sorted({r.entity for r in p.splits.forget}))
    elif (folder / "model" / "config.json").is_file():  # unlearning finished before an interruption
        # deferred: loads transformers
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(folder / "model").eval()
        unlearn_s = json.loads((folder / "model" / "timing.json").read_text())["unlearn_seconds"]
    else:
        method = pipeline.parse_run_spec(name)[0]
        unlearn_cfg = dataclasses.replace(unlearn_config(cfg, name), seed=seed)
        t = time.time()
        model = pipeline.unlearn(copy.deepcopy(p.target), p.tokenizer, p.splits, method, unlearn_cfg,
                            method_config=method_config(cfg, name),
                            run_dir=folder)
        unlearn_s = time.time() - t
        with atomic_dir(folder / "model") as tmp:
            model.save_pretrained(tmp)
            atomic_write_json(tmp / "timing.json", {"unlearn_seconds": unlearn_s})
    scorer = Scorer(model, p.tokenizer)  # one memo for the evaluation and the audit: forget is scored once
    if name in ("target", "gold"):
        metrics = p.target_metrics if name == "target" else p.gold_metrics
        per_sample = (getattr(p, "per_sample", None) or {}).get(name)
    else:
        with timed("evaluation"):
            metrics, per_sample = pipeline.evaluate(model, p.tokenizer, p.splits,
                                                    gold_forget_truth_ratios=p.gold_truth_ratios,
                                                    max_per_split=cfg.eval_max_per_split, scorer=scorer)
    with timed("audit"):
        result = audit(model, p.tokenizer, p.splits, p.probes(), original=p.target, gold=p.gold, cfg=cfg.audit,
                       scorer=scorer)
    atomic_write_json(folder / "audit.json", result.to_dict())
    with timed("faithfulness and SAE alignment"):
        extras = p.extras(model, scorer) if isinstance(p, Shared) else {}
    atomic_write_json(folder / "metrics.json", {
        "name": name, "variant": variant, "seed": seed, "control": name in CONTROLS,
        "metrics": metrics, "verdict": result.verdict, "audit": result.summary(), **extras,
        "examples": answer_examples(p.splits, {name: per_sample}) if per_sample else [],
        "unlearn_seconds": round(unlearn_s, 1), "run_seconds": round(time.time() - t0, 1),
        "phase_seconds": {**take_phase_seconds(), "unlearning": round(unlearn_s, 1)},
        **pipeline.run_provenance(),
    })
    if not cfg.save_models and (folder / "model").exists():
        shutil.rmtree(folder / "model")


# ---------------------------------------------------------------- the leaderboard

COLUMNS = [  # (key, header, how to read it)
    ("forget_quality", "forget quality (KS p)", "higher = closer to the gold model; median over seeds"),
    ("detectable_distance", "power: KS D detectable at 80%", "the KS distance to gold that the forget-quality test "
                            "detects with 80% power at these answer counts (normal location shift): a p >= 0.05 "
                            "says nothing about smaller differences"),
    ("forget_quality_log10", "log10 FQ", "mean of log10 p"),
    ("ks_distance", "KS D to gold", "KS distance of the forget truth ratios to the gold model's (0 = same "
                    "distribution); mean over seeds [t-interval], then `people [lo, hi]`: the 90% interval that "
                    "resamples people (median over seeds of each run's ends)"),
    ("equivalent", f"like gold (D ≤ {EQUIVALENCE_DELTA:g})", "runs whose people-bootstrap interval of D ends at most "
                   f"{EQUIVALENCE_DELTA:g} (indistinguishable from gold within it) / runs with the interval"),
    ("model_utility", "model utility", "harmonic mean over retain, real entities, world facts; higher is better"),
    ("privleak", "PrivLeak %", "Min-K% AUC vs gold; 0 ideal, + leaks, - over-unlearned"),
    ("relearn_recovery", "relearn recovery", "peak share of the original's forget knowledge during relearning "
                                             "(max over tiers and the trajectory), (x - x_unseen) / (x_original - "
                                             "x_unseen); gold's own is the floor; below 0: below the level on "
                                             "people the model never saw (over-forgetting)"),
    ("quant_recovery", "4-bit recovery", "share of the original's forget knowledge after 4-bit rounding, as above "
                                         "(below 0: below the never-seen level)"),
    ("fluency_ppl", "fluency ppl", "perplexity of forget answers under the original model; the geometric mean "
                                   "over seeds with the t-interval of log perplexity (perplexities span decades "
                                   "and an interval of a plain mean fell below 0)"),
    ("plausible", "right-kind answers", "share of greedy forget answers that state a value of the fact's kind (a "
                                        "year, a city, a person...), true or not: at the gold row's level = "
                                        "plausible forgetting, far below it = degenerate answers or refusals"),
    ("superficial", "superficial", "FaithUn: share of forgotten facts whose paraphrase or multi-hop question "
                                   "is still answered; lower is better"),
    ("over_forgetting", "over-forgetting", "FaithUn: share of same-answer look-alike facts (other people) lost; "
                                           "lower is better"),
    ("alignment", "SAE alignment", "forget entities' known/unknown latent scores: 0 = where known entities sit, "
                                   "1 = where never-seen ones sit; outside 0-1: beyond either group (above 1: "
                                   "further from the known ones than never-seen entities are)"),
    ("forgotten", "audit: forgotten", "runs the audit certifies / runs"),
    ("collapsed", "collapsed", "runs whose true forget answers sit e^5 below a uniform guess and more (destroyed, "
                               "not forgotten: their forget quality is not counted, the row sorts last) / runs"),
    ("unlearn_seconds", "time s", "unlearning wall time"),
]


def _row_values(m: dict[str, Any]) -> dict[str, float]:
    met, aud = m["metrics"], m["audit"]
    relearn = [v for k, v in aud.items() if k.startswith("relearn_") and k.endswith(".max_residual")]
    collapsed = bool(met.get("collapsed", False))  # a destroyed model's truth ratios can look like the gold's
    return {
        "forget_quality": math.nan if collapsed else met.get("forget_quality_ks_pvalue", math.nan),
        "forget_quality_log10": math.nan if collapsed else _log10_fq(met),
        "detectable_distance": met.get("forget_quality_detectable_distance", math.nan),
        "ks_distance": math.nan if collapsed else met.get("forget_quality_ks_distance", math.nan),
        "equivalent": math.nan if collapsed or "forget_quality_equivalent" not in met
        else float(bool(met["forget_quality_equivalent"])),
        "model_utility": met.get("model_utility_hmean", math.nan),
        "privleak": aud.get("membership.privleak", math.nan),
        "relearn_recovery": max(relearn) if relearn else math.nan,
        "quant_recovery": aud.get("quantization_4bit.residual", math.nan),
        "fluency_ppl": aud.get("fluency.perplexity", math.nan),
        "plausible": (met.get("forget") or {}).get("plausible", math.nan),
        "superficial": m.get("faithfulness", {}).get("superficial", math.nan),
        "over_forgetting": m.get("faithfulness", {}).get("over_forgetting.same_answer", math.nan),
        "alignment": m.get("alignment", {}).get("alignment", math.nan),
        "forgotten": float(m["verdict"] == "FORGOTTEN"),
        "collapsed": float(collapsed),
        "unlearn_seconds": m.get("unlearn_seconds", math.nan),
    }


def _log10_fq(met: dict[str, Any]) -> float:
    """log10 forget quality: the evaluation's own figure, else log10 of the p-value floored at 1e-300."""
    for key in ("forget_quality_log10_pvalue", "forget_quality_log10"):
        if met.get(key) is not None:
            return float(met[key])
    p = met.get("forget_quality_ks_pvalue")
    return math.nan if p is None else math.log10(max(float(p), 1e-300))


# ---------------------------------------------------------------- statistics over seeds

ALPHA = 0.05  # significance level of the comparisons with a column's best method
BETTER = {  # which way is better, for the significance marks ("zero": closest to 0, compared as |x|)
    "forget_quality_log10": "high", "model_utility": "high", "privleak": "zero", "relearn_recovery": "low",
    "quant_recovery": "low", "fluency_ppl": "low", "superficial": "low", "over_forgetting": "low",
    "alignment": "high", "unlearn_seconds": "low",
    "plausible": "high",
}


def welch_pvalue(a: Any, b: Any) -> float:
    """Two-sided p-value of Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``) on the finite values.

    1.0 where the test is undefined: fewer than two values in a sample, or two
    constant samples with the same value (two constant samples that differ give 0).
    """
    # deferred: loads scipy
    from scipy import stats

    a, b = finite(a), finite(b)
    if len(a) < 2 or len(b) < 2:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns on (nearly) constant samples
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return p if math.isfinite(p) else 1.0


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    The i-th smallest of m p-values becomes ``max_{j <= i} min(1, (m - j + 1) * p_(j))``;
    rejecting where the adjusted value is below alpha controls the family-wise
    error rate at alpha over the m comparisons.
    """
    m = len(pvalues)
    out = [1.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def compare_to_best(samples: dict[str, Any], better: str = "high", alpha: float = ALPHA) -> dict[str, Any] | None:
    """The best method on one column against each other one: Welch's t-test, Holm-corrected over the comparisons.

    Args:
        samples: per method, its values over seeds; methods with fewer than two finite values are left out.
        better: ``high`` (largest mean is best), ``low`` (smallest) or ``zero`` (closest to 0: the tests run on |x|).
        alpha: significance level after the Holm correction.

    Returns:
        ``{"best": name, "better": better, "tests": {name: {"p", "p_holm", "significant"}}}``, or None
        with fewer than two methods to compare.
    """
    if better not in ("high", "low", "zero"):
        raise ConfigError(f"better must be high, low or zero, got {better!r}")
    xs = {k: (np.abs(a) if better == "zero" else a) for k, v in samples.items() if len(a := finite(v)) >= 2}
    if len(xs) < 2:
        return None
    sign = 1.0 if better == "high" else -1.0
    best = max(xs, key=lambda k: sign * xs[k].mean())
    others = [k for k in xs if k != best]
    ps = [welch_pvalue(xs[best], xs[k]) for k in others]
    tests = {k: {"p": p, "p_holm": q, "significant": q < alpha} for k, p, q in zip(others, ps, holm(ps))}
    return {"best": best, "better": better, "tests": tests}


def _mark_significance(rows: list[dict[str, Any]], samples: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """Per column of :data:`BETTER`, compare the methods (not the controls) with the best; marks go into
    each row's ``marks`` (``best`` or ``worse``: significantly worse than the best)."""
    out: dict[str, Any] = {}
    methods = [r for r in rows if not r["control"]]
    for key, better in BETTER.items():
        res = compare_to_best({r["name"]: samples[r["name"]][key] for r in methods}, better)
        if res is None:
            continue
        out[key] = res
        for r in methods:
            if r["name"] == res["best"]:
                r.setdefault("marks", {})[key] = "best"
            elif res["tests"].get(r["name"], {}).get("significant"):
                r.setdefault("marks", {})[key] = "worse"
    return out


def leaderboard(out: str | Path) -> dict[str, Any]:
    """Aggregate finished runs in ``out``: one row per method (and control) with the mean, std and 95%
    t-interval over seeds, and per column which methods differ significantly from the best."""
    runs = read_runs(out)
    rows = []
    samples: dict[str, dict[str, np.ndarray]] = {}
    for (name,), rs in group_runs(runs, ("name",)).items():
        vals = [_row_values(r) for r in rs]
        samples[name] = {key: np.array([v[key] for v in vals], dtype=float) for key in BETTER}
        row: dict[str, Any] = {"name": name, "control": rs[0]["control"], "runs": len(rs),
                               "seeds": sorted({r["seed"] for r in rs}), "variants": sorted({r["variant"] for r in rs})}
        for key, _, _ in COLUMNS:
            xs = np.array([v[key] for v in vals], dtype=float)
            xs = xs[np.isfinite(xs)]
            if key == "forget_quality":
                row[key] = float(np.median(xs)) if len(xs) else math.nan
            elif key in ("forgotten", "collapsed"):
                row[key] = f"{int(xs.sum())}/{len(vals)}"
            elif key == "equivalent":  # runs made before the interval have none
                row[key] = f"{int(xs.sum())}/{len(xs)}" if len(xs) else math.nan
            elif key in GEOMETRIC and len(xs) and (xs > 0).all():  # spans decades, never below 0: on a log scale
                row[key] = float(np.exp(np.log(xs).mean()))
            else:
                row[key] = float(xs.mean()) if len(xs) else math.nan
            if key not in ("forget_quality", "forgotten", "collapsed", "detectable_distance", "equivalent") \
                    and len(xs) > 1:
                row[key + "_std"] = float(xs.std(ddof=1))
                row[key + "_ci"] = ([float(np.exp(v)) for v in t_interval(np.log(xs))]
                                    if key in GEOMETRIC and (xs > 0).all() else list(t_interval(xs)))
        people_ci = _people_ci(rs)
        if people_ci is not None:
            row["ks_distance_people_ci"] = people_ci
        row["trajectories"] = _mean_trajectories(Path(out), rs)
        first = min(rs, key=lambda r: r["seed"])
        if "alignment_points" in first:
            row["alignment_points"] = first["alignment_points"]
        faith = [r["faithfulness"] for r in rs if "faithfulness" in r]
        if faith:
            row["faithfulness"] = {k: _nanmean([f.get(k, math.nan) for f in faith]) for k in FAITH_COLUMNS}
        rows.append(row)
    rows.sort(key=lambda r: (r["control"], -_pareto_score(r)))
    significance = _mark_significance(rows, samples)
    bench_yaml = Path(out) / "bench.yaml"
    tuned_from = (load_yaml(bench_yaml).get("tuned_from") or "") if bench_yaml.is_file() else ""
    board = {"rows": rows, "columns": [c[0] for c in COLUMNS], "heads": {k: h for k, h, _ in COLUMNS},
             "n_runs": len(runs), "level": LEVEL, "alpha": ALPHA, "significance": significance,
             "tuned_from": tuned_from}
    return write_board(out, board, format_leaderboard(board))


FAITH_COLUMNS = ("forgotten", "superficial.paraphrase", "superficial.multi_hop", "superficial",
                 "over_forgetting.same_answer", "over_forgetting.unrelated")


def _nanmean(xs: list[float]) -> float:
    a = np.array(xs, dtype=float)
    a = a[np.isfinite(a)]
    return float(a.mean()) if len(a) else math.nan


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _pareto_score(row: dict[str, Any]) -> float:
    """Sort key: forget quality (log10, capped) and utility together."""
    fq = _num(row["forget_quality_log10"])
    mu = _num(row["model_utility"])
    if not str(row.get("collapsed", "0/")).startswith("0/"):  # a destroyed model is never ranked above others
        return -math.inf
    if not math.isfinite(fq) or not math.isfinite(mu):
        return -math.inf
    return min(fq, math.log10(0.05)) + 4 * mu


def _mean_trajectories(out: Path, runs: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """Relearning curves (share of the original's knowledge) per tier, averaged over the runs."""
    curves: dict[str, list[list[tuple[int, float]]]] = {}
    for r in runs:
        path = run_folder(out, r["name"], r["variant"], r["seed"]) / "audit.json"
        if not path.is_file():
            continue
        audit = json.loads(path.read_text())
        for c in audit["checks"]:
            if c["name"].startswith("relearn_") and "trajectory" in c["values"]:
                v = c["values"]
                orig, unseen = _anchors(audit)
                if orig is None:
                    continue
                curve = [(s, (k - unseen) / (orig - unseen)) for s, k in v["trajectory"]]
                curves.setdefault(v["tier"], []).append(curve)
    out_curves = {}
    for tier, cs in curves.items():
        steps = [s for s, _ in cs[0]]
        out_curves[tier] = [(s, float(np.mean([dict(c).get(s, math.nan) for c in cs]))) for s in steps]
    return out_curves


def _anchors(audit: dict) -> tuple[float | None, float]:
    for c in audit["checks"]:
        if c["name"] == "likelihood" and "original" in c["values"]:
            return c["values"]["original"], c["values"]["unseen"]
    return None, math.nan


def _people_ci(runs: list[dict]) -> list[float] | None:
    """The people-bootstrap interval of D in a leaderboard row: the median over runs of each end (None without)."""
    cis = [r["metrics"].get("forget_quality_ks_distance_ci") for r in runs if not r["metrics"].get("collapsed")]
    cis = [c for c in cis if c and all(math.isfinite(_num(x)) for x in c)]
    if not cis:
        return None
    return [float(np.median([c[0] for c in cis])), float(np.median([c[1] for c in cis]))]


def _fmt(row: dict[str, Any], key: str) -> str:
    v = row.get(key)
    if isinstance(v, str):
        return v
    if v is None or not math.isfinite(_num(v)):
        return "–"
    if key == "forget_quality":
        return f"{v:.2g}"
    digits = 1 if key in ("privleak", "unlearn_seconds") else (2 if key == "fluency_ppl" else 3)
    s = f"{v:.{digits}f}"
    if key + "_ci" in row:
        lo, hi = row[key + "_ci"]
        s += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    elif key + "_std" in row:  # a board written before the intervals
        s += f" ± {row[key + '_std']:.{digits}f}"
    if key + "_people_ci" in row:
        lo, hi = row[key + "_people_ci"]
        s += f" people [{lo:.{digits}f}, {hi:.{digits}f}]"
    return s + MARKS.get(row.get("marks", {}).get(key, ""), "")


MARKS = {"best": " ★", "worse": " †"}


def _stat_notes(board: dict[str, Any]) -> list[str]:
    """How to read the cells: the interval, the marks and where the configs came from."""
    level, alpha = board.get("level", LEVEL), board.get("alpha", ALPHA)
    notes = [f"cells are means over seeds with the {level:.0%} t-interval of the mean [low, high] "
             f"(mean ± t(n-1) s/√n; none for a single run); forget quality is the median p-value",
             f"★ marks the best method on a column, † a method that differs from it significantly "
             f"(Welch's t-test over seeds, Holm-corrected over the column's comparisons, p < {alpha:g}; "
             "methods with at least 2 runs; PrivLeak compared as |PrivLeak|)"]
    if board.get("tuned_from"):
        notes.append(f"each method runs the config `obliviate sweep` selected on validation forget people "
                     f"({board['tuned_from']})")
    return notes


def _name(row: dict[str, Any], markdown: bool = False) -> str:
    if not row["control"]:
        return row["name"]
    return f"*{row['name']}* (control)" if markdown else f"{row['name']} (control)"


def _table(board: dict[str, Any], markdown: bool = False) -> tuple[list[str], list[list[str]]]:
    heads = ["method", "runs"] + [h for _, h, _ in COLUMNS]
    return heads, [[_name(r, markdown), str(r["runs"])] + [_fmt(r, k) for k, _, _ in COLUMNS] for r in board["rows"]]


def _notes(board: dict[str, Any]) -> list[tuple[str, str]]:
    return [(h, how) for _, h, how in COLUMNS] + [("", note) for note in _stat_notes(board)]


FAITH_TITLE = "Faithfulness (FaithUn; multiple choice, against the target; mean over seeds)"


def _faith_table(board: dict[str, Any], markdown: bool = False) -> list[list[str]]:
    return [[_name(r, markdown)]
            + ["–" if not math.isfinite(v) else f"{v:.2f}" for v in (r["faithfulness"][k] for k in FAITH_COLUMNS)]
            for r in board["rows"] if "faithfulness" in r]


def format_leaderboard(board: dict[str, Any]) -> str:
    """Markdown table of the leaderboard (methods first, then the controls)."""
    faith = _faith_table(board, markdown=True)
    extra = f"{FAITH_TITLE}:\n\n" + markdown_table(["method", *FAITH_COLUMNS], faith) if faith else ""
    return format_board(*_table(board, markdown=True), _notes(board), extra)


def write_bench_report(out: str | Path, board: dict[str, Any]) -> Path:
    """``report.html``: the leaderboard, the forget-quality-vs-utility Pareto chart,
    per-metric bars, the relearning curves and the SAE alignment panels (also ``alignment.png``)."""
    plt = pyplot()

    rows = board["rows"]
    faith = _faith_table(board)
    charts = []
    fig, ax = plt.subplots(figsize=(6, 4.5))
    pts = [(r["name"], _num(r["forget_quality_log10"]), _num(r["model_utility"]), r["control"]) for r in rows]
    pts = [p for p in pts if math.isfinite(p[1]) and math.isfinite(p[2])]
    by_name = {r["name"]: r for r in rows}
    for name, x, y, ctl in pts:
        ax.errorbar([x], [y], xerr=_ci_err(by_name[name], "forget_quality_log10"),
                    yerr=_ci_err(by_name[name], "model_utility"), fmt="s" if ctl else "o", ms=8, capsize=3, lw=1)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    front = sorted([p for p in pts if not any(q[1] >= p[1] and q[2] >= p[2] and q != p for q in pts)],
                   key=lambda p: p[1])
    if len(front) > 1:
        ax.plot([p[1] for p in front], [p[2] for p in front], "--", color="grey", lw=1, label="Pareto front")
        ax.legend(fontsize=8)
    ax.axvline(math.log10(0.05), color="red", lw=0.8, ls=":", label="p = 0.05 (left of it: told apart from gold)")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_xlabel("forget quality, log10 KS p-value (right = like the gold model)")
    ax.set_ylabel("model utility")
    ax.set_title(f"forget quality vs utility (squares: controls; bars: {board.get('level', LEVEL):.0%} CI)")
    ax.grid(alpha=0.3)
    charts.append(("Forget quality vs model utility", chart_png(fig)))
    plt.close(fig)
    bars = [("model_utility", "model utility"), ("privleak", "PrivLeak %"),
            ("relearn_recovery", "relearn recovery"), ("quant_recovery", "4-bit recovery"),
            ("fluency_ppl", "fluency perplexity"), ("unlearn_seconds", "unlearning time (s)")]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6))  # error bars: the t-intervals
    names = [r["name"] for r in rows]
    for ax, (key, title) in zip(axes.flat, bars):
        ys = [_num(r.get(key)) for r in rows]
        errs = np.hstack([_ci_err(r, key) for r in rows]) if rows else None
        ax.bar(range(len(rows)), [0 if not math.isfinite(y) else y for y in ys], yerr=errs,
               color=["#bbb" if r["control"] else "#4878cf" for r in rows])
        finite = [y for y in ys if math.isfinite(y)]
        if finite and min(finite) > 0 and max(finite) / min(finite) > 100:  # values span decades: a log axis shows each
            ax.set_yscale("log")
            title += " (log axis)"
        if any(math.isfinite(y) and y < 0 for y in ys):
            ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(range(len(rows)), names, rotation=60, fontsize=7, ha="right")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    charts.append(("Per-metric comparison (grey: controls)", chart_png(fig)))
    plt.close(fig)
    tiers = sorted({t for r in rows for t in r.get("trajectories", {})})
    if tiers:
        fig, axes = plt.subplots(1, len(tiers), figsize=(4 * len(tiers), 3.5), squeeze=False)
        colours = plt.get_cmap("tab20").colors  # 20 distinct colours, markers beside for more methods
        for ax, tier in zip(axes[0], tiers):
            for i, r in enumerate(rows):
                c = r.get("trajectories", {}).get(tier)
                if c:
                    ax.plot([s for s, _ in c], [v for _, v in c], marker="o.sv^"[i // 20 % 5], ms=3,
                            color=colours[i % 20], ls="--" if r["control"] else "-", label=r["name"])
            ax.set_title(f"relearning on {tier}-relevance data", fontsize=9)
            ax.set_xlabel("fine-tuning step")
            ax.set_ylabel("share of original's forget knowledge")
            ax.grid(alpha=0.3)
        axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))  # outside the panels
        fig.tight_layout()
        charts.append(("Relearning curves (mean over seeds)", chart_png(fig)))
        plt.close(fig)
    fig = alignment_chart(rows)
    if fig is not None:
        charts.append(("Forget entities' known/unknown SAE latent scores before (target) and after each method",
                       chart_png(fig, out, "alignment.png")))  # also a file, for docs
        plt.close(fig)
    tables = [Table(["method", *FAITH_COLUMNS], faith, title=FAITH_TITLE)] if faith else []
    return write_bench_html(out, "obliviate bench: LLM unlearning methods", *_table(board), n_runs=board["n_runs"],
                            charts=charts, notes=_notes(board), header=bench_header(out), reading=bench_reading(board),
                            tables=tables, examples=bench_examples(out, board))


def bench_examples(out: str | Path, board: dict[str, Any], methods: int = 3) -> Examples | None:
    """The first forget and retain questions with the answers of the target, gold and the leaderboard's first
    ``methods`` methods (each at its lowest seed), from the runs' ``metrics.json``."""
    names = ["target", "gold"] + [r["name"] for r in board["rows"] if not r["control"]][:methods]
    first = {}  # each name's run of the lowest seed, the runs read once
    for r in sorted(read_runs(out), key=lambda r: r["seed"]):
        first.setdefault(r["name"], r)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for name in names:
        for e in first.get(name, {}).get("examples") or []:
            row = rows.setdefault((e["split"], e["question"]), {**e, "answers": {}})
            row["answers"].update(e["answers"])
    shown = [n for n in names if any(n in r["answers"] for r in rows.values())]
    return Examples(shown, list(rows.values()), title="Example questions and each model's greedy answer "
                                                      "(lowest seed)") if rows else None


def bench_header(out: str | Path) -> dict[str, str]:
    """What the bench in ``out`` ran, from its ``bench.yaml``: model, world, splits, methods, seeds, changed
    settings, date."""
    data = bench_yaml(out)
    world = data.get("world") or {}
    return {
        "model": str(data.get("model", "")),
        "data": f"generated world of {world.get('n_entities', '?')} people (seed {world.get('seed', 0)})",
        "forget splits": ", ".join(data.get("variants", [])),
        **header_tail(data, to_dict(BenchConfig()), skip=("model", "variants", "controls", "tuned_from")),
        "methods": f"{len(data.get('methods', []))} run specs"
                   + (f"; configs tuned by a sweep ({data['tuned_from']})" if data.get("tuned_from") else ""),
        "controls": "target, gold, suppression-only" if data.get("controls") else "none",
    }


def bench_reading(board: dict[str, Any]) -> str:
    """The leaderboard in words: the method closest to gold, the best utility, what is significant."""
    rows = [r for r in board["rows"] if not r["control"]]
    if not rows:
        return "No method has finished yet."
    gold = next((r for r in board["rows"] if r["name"] == "gold"), None)
    fq = [r for r in rows if math.isfinite(_num(r.get("forget_quality")))]
    ut = [r for r in rows if math.isfinite(_num(r.get("model_utility")))]
    seeds = sorted({len(r.get("seeds", [])) for r in rows})
    parts = [f"{len(rows)} run specs, {'/'.join(str(n) for n in seeds)} seed(s) each."]
    if fq:
        best = max(fq, key=lambda r: _num(r["forget_quality"]))
        parts.append(f"Closest to the gold model: {best['name']} (forget quality {_num(best['forget_quality']):.2g}, "
                     "the median KS p-value against gold; 1 = indistinguishable, below 0.05 = told apart), "
                     f"with model utility {_num(best.get('model_utility')):.3f}.")
    if ut:
        top = max(ut, key=lambda r: _num(r["model_utility"]))
        parts.append(f"Highest utility: {top['name']} ({_num(top['model_utility']):.3f}"
                     + (f"; gold {_num(gold.get('model_utility')):.3f}" if gold else "") + ").")
    worse = [r["name"] for r in rows if r.get("marks", {}).get("forget_quality") == "worse"]
    if worse:
        parts.append(f"{len(worse)} of {len(rows)} are significantly worse than the best on forget quality "
                     f"(Welch, Holm-corrected, p < {board.get('alpha', ALPHA):g}).")
    elif len(fq) > 1:
        parts.append("No difference in forget quality is significant at these seed counts.")
    return " ".join(parts)


def _ci_err(row: dict[str, Any], key: str) -> np.ndarray:
    """``[[below], [above]]`` the mean to the ends of its interval, for matplotlib's error bars (0 without one)."""
    v, ci = _num(row.get(key)), row.get(key + "_ci")
    if not ci or not math.isfinite(v) or not all(math.isfinite(_num(c)) for c in ci):
        return np.zeros((2, 1))
    return np.array([[v - ci[0]], [ci[1] - v]])


def alignment_chart(rows: list[dict[str, Any]]):
    """Small multiples, one panel per method: known (grey) and never-seen (orange) entities, and the
    forget entities before (hollow, from the target row) and after (filled). ``None`` without points."""
    plt = pyplot()

    rows = [r for r in rows if r.get("alignment_points")]
    before = next((r["alignment_points"] for r in rows if r["name"] == "target"), None)
    panels = [r for r in rows if r["name"] != "target"]
    if not panels:
        return None
    cols = min(4, len(panels))
    n_rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(n_rows, cols, figsize=(3.2 * cols, 3.0 * n_rows), squeeze=False, sharex=True,
                             sharey=True)
    for ax, r in zip(axes.flat, panels):
        pts = r["alignment_points"]

        def xy(group, source=pts):
            v = list(source.get(group, {}).values())
            return [a for a, _ in v], [b for _, b in v]

        ax.scatter(*xy("known"), s=12, color="#999", label="known")
        ax.scatter(*xy("unknown"), s=12, color="#f28e2b", marker="x", label="never seen")
        if before:
            ax.scatter(*xy("forget", before), s=30, facecolors="none", edgecolors="#4878cf", label="forget, before")
        ax.scatter(*xy("forget"), s=30, color="#d62728", label="forget, after")
        al = r.get("alignment", math.nan)
        ax.set_title(f"{r['name']}  (alignment {_num(al):.2f})" if math.isfinite(_num(al)) else r["name"],
                     fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("share of known latents firing", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("share of unknown latents firing", fontsize=8)
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    return fig
