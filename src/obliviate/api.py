"""The public Python API: a facade over the packages, and the top-level flows (demo, audit, lens).

The LLM pipeline itself (worlds, target and gold models, unlearning, evaluation) lives in
:mod:`obliviate.llm.pipeline`; every name below imports from here. The CLI is a thin layer over these functions.
A five-line session::

    from obliviate import api
    world_dir = api.build_world(api.WorldConfig())
    splits = api.load_world_splits(world_dir, "forget10")
    target, tok = api.finetuned("smollm2-135m", splits.forget + splits.retain, api.FinetuneConfig())
    unlearned = api.unlearn(target, tok, splits, "npo")
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path
from typing import Any

from obliviate.core.config import load_yaml, save_yaml, set_dotted, to_dict
from obliviate.core.errors import ConfigError, DataError
from obliviate.core.progress import log
from obliviate.core.report import write_report
from obliviate.core.report.page import changed_settings, write_page
from obliviate.core.store import WRITTEN_BY, atomic_dir, atomic_write_json, check_resume, finish_run, new_run_dir
from obliviate.llm import bench as b
from obliviate.llm import sweep as sw
from obliviate.llm.audit import AuditConfig, audit, audit_page
from obliviate.llm.data import FORGET_VARIANTS, load_jsonl
from obliviate.llm.data.request import is_plain_request
from obliviate.llm.data.user_files import load_records, request_splits
from obliviate.llm.encoding import check_prompt_style
from obliviate.llm.eval.metrics.sae_alignment import alignment
from obliviate.llm.eval.suite import answer_examples
from obliviate.llm.interp.latents import LensConfig, build_lens
from obliviate.llm.methods import get_method
from obliviate.llm.pipeline import (
    DATA_VERSION,
    EVAL_VERSION,
    TINY,
    WORLD_PROFILES,
    DemoConfig,
    FinetuneConfig,
    Prepared,
    UnlearnConfig,
    UnlearnRun,
    WorldConfig,
    base_model,
    build_world,
    cached_evaluate,
    demo_config_from,
    demo_config_with,
    evaluate,
    evaluate_model,
    finetune,
    finetune_into,
    finetuned,
    keep_known,
    load_world_splits,
    model_folder,
    openunlearning_summary,
    parse_run_spec,
    prepare,
    run_provenance,
    spec_config,
    split_sizes,
    tiny_demo_config,
    train_configs_from,
    training_records,
    unlearn,
    unlearn_run,
    world_profile,
)
from obliviate.llm.request_eval import evaluate_request, request_page
from obliviate.llm.sweep import bench_config_from_sweep
from obliviate.models import load, resolve_spec
from obliviate.train.trainer import parse_lora

__all__ = [
    "TINY",
    "DATA_VERSION",
    "EVAL_VERSION",
    "WorldConfig",
    "WORLD_PROFILES",
    "world_profile",
    "FinetuneConfig",
    "UnlearnConfig",
    "build_world",
    "load_world_splits",
    "base_model",
    "finetune",
    "finetuned",
    "finetune_into",
    "parse_run_spec",
    "spec_config",
    "unlearn",
    "unlearn_run",
    "UnlearnRun",
    "evaluate",
    "evaluate_model",
    "openunlearning_summary",
    "cached_evaluate",
    "DemoConfig",
    "tiny_demo_config",
    "Prepared",
    "keep_known",
    "training_records",
    "model_folder",
    "prepare",
    "run_provenance",
    "split_sizes",
    "train_configs_from",
    "demo_config_from",
    "audit_model",
    "audit_run",
    "bench_config_for",
    "sweep_config_for",
    "demo_config_for",
    "demo_config_with",
    "tiny_models",
    "entity_lens",
    "load_audited",
    "resume_demo",
    "run_demo",
]


def run_demo(cfg: DemoConfig | None = None, run_dir: Path | None = None) -> Path:
    """World -> target and gold -> unlearn -> evaluate all three -> run folder with a report.

    Args:
        cfg: the demo's settings (default :class:`DemoConfig`).
        run_dir: an existing run folder to resume (its unlearning checkpoint is
            picked up); by default a new ``runs/<stamp>-demo-<method>-<variant>`` folder (``cfg.name``: another).

    Returns:
        The run folder.
    """
    cfg = cfg or DemoConfig()
    get_method(cfg.method, cfg.method_config)  # fail fast on an unknown method or a bad override
    t0 = time.time()
    p = prepare(cfg)
    if run_dir is None:
        how = (f"+{cfg.unlearn.combiner}" if cfg.unlearn.combiner != "sum" else "") + \
            (f"@{cfg.unlearn.sampling}" if cfg.unlearn.sampling != "random" else "")  # a run spec, as bench writes it
        name = cfg.name or f"demo-{cfg.method.lower()}{how}-{cfg.variant}" + ("-tiny" if cfg.model == TINY else "")
        run_dir = new_run_dir(cfg.runs_dir, name, command="demo", settings=to_dict(cfg))
        save_yaml(run_dir / "config.yaml", to_dict(cfg))
    else:
        check_resume(run_dir, "demo", to_dict(cfg))
        log(f"resuming demo run {run_dir}")
    t_unlearn = time.time()
    unlearned = unlearn(copy.deepcopy(p.target), p.tokenizer, p.splits, cfg.method, cfg.unlearn,
                        method_config=cfg.method_config, run_dir=run_dir)
    t_unlearn = time.time() - t_unlearn
    unl_m, unl_ps = evaluate(unlearned, p.tokenizer, p.splits, gold_forget_truth_ratios=p.gold_truth_ratios,
                             max_per_split=cfg.eval_max_per_split)
    with atomic_dir(run_dir / "model") as tmp:
        unlearned.save_pretrained(tmp)
        p.tokenizer.save_pretrained(tmp)
    results = {
        "models": {"target": p.target_metrics, "unlearned": unl_m, "gold": p.gold_metrics},
        "splits": split_sizes(p),
        "method": cfg.method,
        "unlearn_seconds": round(t_unlearn, 1),
        "wall_seconds": round(time.time() - t0, 1),
        **run_provenance(),
        "seed": cfg.unlearn.seed,
        "per_sample_unlearned": unl_ps,
        "examples": answer_examples(p.splits, {"target": p.per_sample.get("target"), "unlearned": unl_ps,
                                               "gold": p.per_sample.get("gold")}),
        "header": {"settings changed from the defaults": changed_settings(
            to_dict(cfg), to_dict(tiny_demo_config() if cfg.model == TINY else DemoConfig()), skip=("runs_dir",))},
    }
    atomic_write_json(run_dir / "metrics.json", results)
    write_report(run_dir)
    finish_run(run_dir)
    return run_dir


def resume_demo(run_dir: str | Path) -> Path:
    """Finish an interrupted demo run from its folder (config.yaml + checkpoint)."""
    run_dir = Path(run_dir)
    check_resume(run_dir, "demo")  # an unfinished demo run, before its config.yaml is even read
    if not (run_dir / "config.yaml").is_file():
        raise DataError(f"{run_dir} has no config.yaml: not a demo run folder")
    return run_demo(demo_config_from(load_yaml(run_dir / "config.yaml")), run_dir=run_dir)


def load_audited(spec: str | Path):
    """The model to audit: a model folder, a run folder (its ``model/``), or any model spec."""
    return load_with_tokenizer(spec)[0]


def tiny_models() -> dict[str, Path]:
    """The world and the fine-tuned target and gold of ``obliviate demo --tiny`` (made once, then cached):
    ``{"world", "target", "gold"}`` folders, what every LLM command's ``--tiny`` uses."""
    p = prepare(tiny_demo_config())
    return {"world": Path(p.world_dir), "target": model_folder(p.target), "gold": model_folder(p.gold)}


def demo_config_for(*, config: str | Path | None = None, run: str | Path | None = None, tiny: bool = False,
                    model: str | None = None) -> DemoConfig:
    """The world and models a command works on: ``config`` (a YAML DemoConfig, e.g. a run's config.yaml), else
    the config.yaml of the run folder ``run`` when that run was made from a world (a demo run), else the tiny
    (``tiny``) or standard demo's; ``model`` (when given) replaces the base model."""
    run_cfg = Path(run) / "config.yaml" if run is not None else None
    if config is not None:
        cfg = demo_config_from(load_yaml(config))
    elif run_cfg is not None and run_cfg.is_file() and "world" in load_yaml(run_cfg):
        cfg = demo_config_from(load_yaml(run_cfg))
    else:
        cfg = tiny_demo_config() if tiny else DemoConfig()
    if model:
        cfg.model = model
    return cfg


def load_with_tokenizer(spec: str | Path):
    """``(model, tokenizer)`` of a model folder, a run folder (its ``model/``) or any model spec."""
    path = Path(spec)
    if path.is_dir() and (path / "model" / "config.json").is_file():
        path = path / "model"
    resolve_spec(str(path))
    return load(str(path))


def evaluate_request_files(model: str | Path, forget: str | Path, *, original: str | Path,
                           retain: str | Path | None = None, unseen: str | Path | None = None,
                           general: str | Path | None = None, topic_holdout: str | Path | None = None,
                           styles: list[str] | None = None, out: str | Path | None = None) -> dict[str, Any]:
    """What ``obliviate eval`` does with a forget request: the facts ``original`` states that ``model`` still
    states, per set and prompt style (:func:`~obliviate.llm.request_eval.evaluate_request`); ``out``: write the
    result as JSON and its report beside it (``.html``). Bad files are refused before any model loads."""
    splits = request_splits(forget, retain, unseen, general)
    holdout = load_records(topic_holdout, "topic_holdout") if topic_holdout is not None else None
    for style in styles or []:
        check_prompt_style(style)
    net, tok = load_with_tokenizer(model)
    orig, _ = load_with_tokenizer(original)
    result = evaluate_request(net, tok, orig, splits, topic_holdout=holdout, **({"styles": styles} if styles else {}))
    if out is not None:
        atomic_write_json(out, {**result, WRITTEN_BY: "obliviate eval"})
        header = {"model": str(model), "original": str(original), "forget request": str(forget),
                  "retain": str(retain or "none"), "written by": "obliviate eval"}
        write_page(Path(out).with_suffix(".html"), request_page(result, header))
    return result


def audit_request(model: str | Path, forget: str | Path, *, original: str | Path, retain: str | Path | None = None,
                  unseen: str | Path | None = None, general: str | Path | None = None, gold: str | Path | None = None,
                  audit_cfg=None, out: str | Path | None = None):
    """Audit ``model`` for forgetting a request, with no gold model needed: the never-seen reference (``unseen``,
    else built) anchors every residual, membership and relearning check; collateral damage is read on ``retain``
    and the general set. The files and ``original`` are used as given; nothing is fine-tuned."""
    splits = request_splits(forget, retain, unseen, general)
    if not splits.holdout and gold is None:
        raise ConfigError(f"{forget}: no never-seen reference could be built from it (text passages, or questions "
                          "that do not name their entity): give one with --unseen FILE (text or facts of the same "
                          "kind the model never saw)")
    net, tok = load_with_tokenizer(model)
    orig, _ = load_with_tokenizer(original)
    gold_net = load_with_tokenizer(gold)[0] if gold is not None else None
    result = audit(net, tok, splits, None, original=orig, gold=gold_net, cfg=audit_cfg)
    if out is not None:
        atomic_write_json(out, {**result.to_dict(), WRITTEN_BY: "obliviate audit"})
        header = {"audited model": str(model), "forget request": str(forget), "retain": str(retain or "none"),
                  "original": str(original), "never-seen reference": str(unseen or "built from the request"),
                  "gold": str(gold or "none: the never-seen reference anchors the checks")}
        write_page(Path(out).with_suffix(".html"), audit_page(result, header))
    return result


def audit_run(model: str | Path, forget: str = "forget10", *, base: str | None = None, tiny: bool = False,
              config: str | Path | None = None, original: str | Path | None = None, gold: str | Path | None = None,
              lora: str | None = None, out: str | Path | None = None, retain: str | Path | None = None,
              unseen: str | Path | None = None):
    """What ``obliviate audit`` does: audit the model at ``model`` (a folder, a run folder or a spec).

    Args:
        forget: a split of the world (forget01/05/10), a JSONL file of records, or a forget request (plain
            questions and answers, or text).
        base, tiny, config: the world and models (:func:`demo_config_for`, with ``model`` as the run folder).
        original, gold: specs of models that replace the world's target and gold.
        lora: relearning attack through LoRA adapters (``r=8,alpha=16,targets=...``) instead of every weight.
        out: write the result as JSON here.
        retain, unseen: with a forget request (a plain file, or ``retain``/``unseen`` given): the retain file and
            the never-seen reference (:func:`audit_request`; ``original`` is then required).

    Returns:
        The :class:`~obliviate.llm.audit.AuditResult`. A bad forget file or split is refused before any model loads.
    """
    audit_cfg = None
    if lora:
        base_cfg = AuditConfig()
        audit_cfg = dataclasses.replace(base_cfg, relearn=dataclasses.replace(base_cfg.relearn, **parse_lora(lora)))
    is_file = str(forget).endswith(".jsonl") or Path(forget).exists()
    if is_file and (retain is not None or unseen is not None or is_plain_request(forget)):
        if original is None and tiny:
            original = tiny_models()["target"]
        if original is None:
            raise ConfigError("a forget request is audited against the model before unlearning: give --original "
                              "MODEL (no world's target is fine-tuned for it)")
        return audit_request(model, forget, original=original, retain=retain, unseen=unseen, gold=gold,
                             audit_cfg=audit_cfg, out=out)
    if retain is not None or unseen is not None:
        raise ConfigError("--retain and --unseen go with a forget file (a request), not a world's split")
    cfg = demo_config_for(config=config, run=model, tiny=tiny, model=base)
    forget_file = None
    if is_file:
        forget_file = Path(forget)
        load_jsonl(forget_file)  # a bad file is refused before any model is loaded
    elif forget in FORGET_VARIANTS:
        cfg.variant = forget
    else:
        raise ConfigError(f"the forget set must be one of {', '.join(FORGET_VARIANTS)} or a JSONL file, got {forget!r}")
    return audit_model(load_audited(model), cfg=cfg, forget_file=forget_file, audit_cfg=audit_cfg,
                       original=load_audited(original) if original else None,
                       gold=load_audited(gold) if gold else None, out=out)


def bench_config_for(*, tiny: bool = False, config: str | Path | None = None, configs: str | Path | None = None,
                     profile: str | None = None, overrides: dict[str, Any] | None = None, **given: Any):
    """The ``BenchConfig`` that ``obliviate bench`` runs.

    Args:
        tiny: start from the tiny bench (seconds per run) instead of the standard one.
        config: a YAML BenchConfig (a bench's ``bench.yaml``) to start from.
        configs: a sweep's ``sweep.json``: each method at the config the sweep selected, with the sweep's model,
            world and settings (so ``config``, ``profile`` and a ``model`` are refused beside it).
        profile: a world profile (``standard``, ``tofu``, ``demo``).
        given: BenchConfig fields the user gave (``methods``, ``variants``, ``seeds``, ``controls``, ``model``);
            the config supplies the rest.
        overrides: ``--set`` dotted paths into the whole BenchConfig (``unlearn.lr``, ``eval_max_per_split``).
    """
    return _with_overrides(_bench_config_for(tiny, config, configs, profile, **given), overrides,
                           b.bench_config_from)


def _with_overrides(cfg, overrides: dict[str, Any] | None, load):
    """``cfg`` with ``--set`` dotted overrides, rebuilt (typed and checked) by ``load`` from its plain data."""
    if not overrides:
        return cfg
    data = to_dict(cfg)
    for key, value in overrides.items():
        set_dotted(data, key, value)
    return load(data)


def _bench_config_for(tiny, config, configs, profile, **given: Any):
    if configs is not None:
        if config is not None or given.get("model") or profile is not None:
            raise ConfigError("--configs brings the sweep's own model, world and settings: drop --config, --model "
                              "and --profile")
        return bench_config_from_sweep(configs, **given)
    if profile is not None:
        given["world"] = to_dict(world_profile(profile)) if config is not None else world_profile(profile)
    if config is not None:
        return b.bench_config_from({**load_yaml(config), **given})
    return b.tiny_bench_config(**given) if tiny else b.BenchConfig(**given)


def sweep_config_for(*, tiny: bool = False, config: str | Path | None = None, profile: str | None = None,
                     budget: int | None = None, seed: int | None = None, overrides: dict[str, Any] | None = None,
                     **given: Any):
    """The ``SweepConfig`` that ``obliviate sweep`` runs: the bench to tune (tiny, a YAML BenchConfig, or a
    sweep's ``sweep.yaml`` in ``config``; the world ``profile``; the BenchConfig fields ``given``), with the
    sweep's own ``budget`` and ``seed`` when given, and ``--set`` dotted ``overrides`` (``bench.unlearn.lr``)."""
    return _with_overrides(_sweep_config_for(tiny, config, profile, budget, seed, **given), overrides,
                           sw.sweep_config_from)


def _sweep_config_for(tiny, config, profile, budget, seed, **given: Any):
    """The ``SweepConfig`` that ``obliviate sweep`` runs: the bench to tune (tiny, a YAML BenchConfig, or a
    sweep's ``sweep.yaml`` in ``config``; the world ``profile``; the BenchConfig fields ``given``), with the
    sweep's own ``budget`` and ``seed`` when given."""
    own = {k: v for k, v in (("budget", budget), ("seed", seed)) if v is not None}
    if profile is not None:
        given["world"] = to_dict(world_profile(profile))
    data = load_yaml(config) if config is not None else {}
    if "bench" in data:  # a sweep.yaml
        return sw.sweep_config_from({**data, **own, "bench": {**data["bench"], **given}})
    plain = {**given, **({"world": WorldConfig(**given["world"])} if "world" in given else {})}
    bench_cfg = (b.bench_config_from({**data, **given}) if config is not None
                 else b.tiny_bench_config(**plain) if tiny else b.BenchConfig(**plain))
    return sw.SweepConfig(bench=bench_cfg, **own)


def audit_model(model, *, cfg: DemoConfig, forget_file: str | Path | None = None, original=None, gold=None,
                audit_cfg=None, out: str | Path | None = None):
    """Audit ``model`` against the world of ``cfg`` (its target = original, its gold = gold).

    Args:
        model: the model to audit (same tokenizer as ``cfg.model``).
        cfg: the world, base model and split the target and gold were made from.
        forget_file: audit these records instead of the world's forget split
            (multi-hop, combined and relearning probes are then not used).
        original, gold: models that replace the world's target and gold.
        audit_cfg: thresholds and budgets (``AuditConfig``).
        out: write the result as JSON here (atomically).

    Returns:
        The :class:`~obliviate.llm.audit.AuditResult`.
    """
    p = prepare(cfg)
    splits, probes = p.splits, p.probes()
    if forget_file is not None:
        splits = copy.copy(splits)
        splits.forget = load_jsonl(forget_file)
        names = {r.entity for r in splits.forget}
        splits.holdout = [r for r in splits.holdout if r.entity not in names]
        probes = None
    result = audit(model, p.tokenizer, splits, probes, original=original if original is not None else p.target,
                   gold=gold if gold is not None else p.gold, cfg=audit_cfg)
    if out is not None:
        atomic_write_json(out, {**result.to_dict(), WRITTEN_BY: "obliviate audit"})
        header = {"audited model": str(getattr(model, "name_or_path", "") or "a model in memory"),
                  "base model": cfg.model,
                  "forget set": str(forget_file) if forget_file is not None else f"{cfg.variant} of the world",
                  "original": "given" if original is not None else "the world's target",
                  "gold": "given" if gold is not None else "the world's gold"}
        write_page(Path(out).with_suffix(".html"), audit_page(result, header))
    return result


def entity_lens(cfg: DemoConfig, lens_cfg=None, *, check=None, out: str | Path | None = None) -> dict[str, Any]:
    """Build (or load from the cache) the SAE entity lens of the world's target and read entities through it.

    Args:
        cfg: the world, base model and split (the target is the model the lens is built on).
        lens_cfg: a ``LensConfig`` (layer, SAE, latents); default settings when None.
        check: another model (e.g. an unlearned one) whose forget entities are read too.
        out: save the lens (SAE + latents) to this folder.

    Returns:
        ``{"point", "sae_quality", "known_latents", "unknown_latents", "target": alignment summary,
        "checked": alignment summary (with ``check``)}``.
    """
    p = prepare(cfg)
    lens = build_lens(p.target, p.tokenizer, p.splits, lens_cfg or LensConfig())
    known_ids = set(lens.info["known_records"])
    known = [r for r in p.splits.retain if r.id in known_ids]
    lat = lens.latents
    result: dict[str, Any] = {
        "point": lens.point, "sae_quality": lens.info.get("sae_quality"),
        "known_latents": [{"latent": j, "freq_known": float(lat.freq_known[j]),
                           "freq_unknown": float(lat.freq_unknown[j]), "density": float(lat.density[j])}
                          for j in lat.known],
        "unknown_latents": [{"latent": j, "freq_known": float(lat.freq_known[j]),
                             "freq_unknown": float(lat.freq_unknown[j]), "density": float(lat.density[j])}
                            for j in lat.unknown],
        "target": alignment(lens, p.target, p.tokenizer, p.splits.forget, known, p.splits.holdout).summary(),
    }
    if check is not None:
        result["checked"] = alignment(lens, check, p.tokenizer, p.splits.forget, known, p.splits.holdout).summary()
    if out is not None:
        lens.save(out)
    return result
