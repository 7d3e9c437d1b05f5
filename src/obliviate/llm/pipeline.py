"""The LLM pipeline: worlds, fine-tuned target and gold models (cached), unlearning, evaluation.

Everything a demo, a bench, a sweep or an audit shares sits here; :mod:`obliviate.api` re-exports the public
names (a session is in its docstring) and holds the top-level flows.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from obliviate.core import dist
from obliviate.core.config import check_number, from_dict, save_yaml, set_dotted, to_dict
from obliviate.core.errors import ConfigError, DataError, ObliviateError
from obliviate.core.progress import log, third_party_bars
from obliviate.core.report.html import table_rows
from obliviate.core.report.page import Examples, Page, Table, today, version_line, write_page
from obliviate.core.store import (
    WRITTEN_BY,
    atomic_dir,
    atomic_write_json,
    cache_home,
    check_resume,
    clean_stale_temps,
    finish_run,
    git_sha,
    locked,
    new_run_dir,
    open_out_dir,
    stable_hash,
)
from obliviate.llm.data import (
    FORGET_VARIANTS,
    generate_world,
    load_jsonl,
    load_real_entities,
    load_real_rehearsal,
    load_splits,
    load_world_facts,
    load_world_probes,
    save_world,
)
from obliviate.llm.data.neighbours import retain_sets
from obliviate.llm.data.world import MAX_ENTITIES
from obliviate.llm.encoding import PromptFormat, collate_records, mean_nll
from obliviate.llm.eval import options
from obliviate.llm.eval.during import EvalDuring, EvalDuringConfig, write_results
from obliviate.llm.eval.harness import run_lm_eval
from obliviate.llm.eval.known import frame_splits
from obliviate.llm.eval.metrics import METRICS, MetricContext
from obliviate.llm.eval.scoring import Scorer
from obliviate.llm.eval.suite import MAX_PER_SPLIT, add_forget_quality, answer_examples
from obliviate.llm.eval.suite import evaluate as _evaluate
from obliviate.llm.eval.suite import openunlearning_summary as _summary
from obliviate.llm.methods import METHODS, Method, MethodContext, get_method
from obliviate.models import load, loaded_from, resolve_spec
from obliviate.models.tiny import tiny_model_for
from obliviate.train import checkpoint
from obliviate.train.combiners import COMBINERS, is_retain, make_combiner
from obliviate.train.samplers import SAMPLERS, FilteredSampler, SingleSampler, parse_neighbours, unlearning_sampler
from obliviate.train.trainer import TrainConfig, Trainer, apply_lora, cache_settings, is_peft

TINY = "tiny"
# Bump when generated data or metric code changes, so caches keyed on them are rebuilt.
DATA_VERSION = 3
EVAL_VERSION = 6  # 3: OpenUnlearning model utility (retain, real entities, world facts), robust log10 FQ;
#                   4: compat, OpenUnlearning's other TOFU figures, collapse mark; 5: plausibility
#                   6: real entities split into scored rows and rehearsal rows trained into target and gold


@dataclass
class WorldConfig:
    """The generated fictitious world.

    Attributes:
        n_entities: people in the world (trained + holdout).
        seed: generator seed.
        holdout_fraction: share of people never trained (MIA reference, "unknown" entities).
        validation: people set apart for tuning (trained, in no reported split; 0: none, the sweep
            then takes them from the retain people). The ``standard`` and ``tofu`` profiles set it.

    The defaults are the ``demo`` profile (25 people: forget10 is 2 people, 20 answers); see
    :data:`WORLD_PROFILES` and :func:`world_profile` for worlds with statistical power.
    """

    n_entities: int = 25
    seed: int = 0
    holdout_fraction: float = 0.2
    validation: int = 0

    def __post_init__(self) -> None:
        if self.n_entities < 8 or self.n_entities > MAX_ENTITIES:
            raise ConfigError(f"WorldConfig.n_entities (world --entities) must be from 8 to {MAX_ENTITIES}, "
                              f"got {self.n_entities}")
        check_number("WorldConfig.seed (world --seed)", self.seed, low=0)
        if not 0 < self.holdout_fraction < 0.5:
            raise ConfigError(f"WorldConfig.holdout_fraction must be in (0, 0.5), got {self.holdout_fraction}")
        check_number("WorldConfig.validation", self.validation, low=0)


WORLD_PROFILES: dict[str, dict[str, Any]] = {
    # 25 people, 20 trained: forget01 = forget05 = forget10 = 2 people (20 answers). Quick, no power.
    "demo": dict(n_entities=25, holdout_fraction=0.2, validation=0),
    # 140 people: 28 holdout, 12 validation, 100 reported trained. forget01 2 people (~20 answers),
    # forget05 6 (~60), forget10 12 (~120), validation 12 (~120): the default for leaderboards.
    "standard": dict(n_entities=140, holdout_fraction=0.2, validation=12),
    # TOFU's shape in people: 250, 50 holdout, 200 trained, forget01/05/10 = 2/10/20 people, 20 validation.
    # About 10 answers a person (TOFU: 20). For a GPU: the target fine-tunes on ~2,000 answers.
    "tofu": dict(n_entities=250, holdout_fraction=0.2, validation=20),
}


def world_profile(name: str, **overrides: Any) -> WorldConfig:
    """The :class:`WorldConfig` of a named profile (:data:`WORLD_PROFILES`), with ``overrides`` (e.g. ``seed``)."""
    if name not in WORLD_PROFILES:
        raise ConfigError(f"unknown world profile {name!r}; choose one of {', '.join(WORLD_PROFILES)}")
    return WorldConfig(**{**WORLD_PROFILES[name], **overrides})


def FinetuneConfig(**overrides: Any) -> TrainConfig:
    """Training settings for making target/gold models (full fine-tuning, high lr)."""
    base = dict(epochs=6.0, lr=2e-4, batch_size=8, warmup_ratio=0.05, scheduler="linear", checkpoint_every=20)
    return TrainConfig(**{**base, **overrides})


def UnlearnConfig(**overrides: Any) -> TrainConfig:
    """Training settings for unlearning (TOFU-like: AdamW, small lr, a few epochs)."""
    base = dict(epochs=5.0, lr=2e-5, batch_size=4, scheduler="constant", checkpoint_every=10)
    return TrainConfig(**{**base, **overrides})


# ---------------------------------------------------------------- data


def build_world(cfg: WorldConfig | None = None, out_dir: str | Path | None = None) -> Path:
    """Generate the world and write its split files (cached by config hash)."""
    cfg = cfg or WorldConfig()
    with dist.main_first():
        return _build_world(cfg, out_dir)


def _build_world(cfg: WorldConfig, out_dir: str | Path | None) -> Path:
    settings = {**to_dict(cfg), "v": DATA_VERSION}
    if not cfg.validation:  # worlds made before the field existed keep their cache folder
        settings.pop("validation")
    if out_dir:  # a folder of the user's: new, or a world made there with the same settings
        folder = Path(out_dir)
        open_out_dir(folder, "world", settings, reuse_finished=True)
    else:
        folder = cache_home() / "worlds" / f"world-{stable_hash(settings)}"
    with locked(folder, f"the world {folder}"):  # a second process waits, then reuses it
        if (folder / "world.json").is_file() and (folder / "probes-forget10" / "probes.json").is_file():
            return folder
        world = generate_world(cfg.n_entities, cfg.seed)
        save_world(world, folder, cfg.holdout_fraction, cfg.seed, validation=cfg.validation)
        if out_dir:
            finish_run(folder)
    log(f"world: {cfg.n_entities} people (seed {cfg.seed}) in {folder}")
    return folder


def load_world_splits(world_dir: str | Path, variant: str = "forget10"):
    """Splits (forget, retain, neighbours, holdout, world facts) of a saved world."""
    if variant not in FORGET_VARIANTS:
        raise ConfigError(f"unknown forget split {variant!r}; valid: {', '.join(FORGET_VARIANTS)}")
    return load_splits(world_dir, variant)


def _records_hash(records) -> str:
    return stable_hash([r.to_dict() for r in records])


# ---------------------------------------------------------------- models


def base_model(spec: str, world_dir: str | Path | None = None):
    """``(model, tokenizer)`` for a spec; ``tiny`` builds a tiny Llama over the world's words."""
    if spec != TINY:
        return load(spec)

    if world_dir is None:
        raise ConfigError("the tiny model needs a world (its vocabulary is the world's words)")
    texts = []
    for path in sorted(Path(world_dir).glob("*.jsonl")) + sorted(Path(world_dir).glob("probes-*/*.jsonl")):
        for r in load_jsonl(path, allow_empty=True):
            texts += [r.question, r.answer, r.paraphrased_question, r.paraphrased_answer, *r.perturbed_answers]
    for r in load_world_facts():
        texts += [r.question, r.answer, r.paraphrased_question, r.paraphrased_answer, *r.perturbed_answers]
    texts += ["Question:", "Answer:"]
    return tiny_model_for(texts, seed=0, hidden_size=96, layers=2, intermediate_size=192)


def finetune(model, tokenizer, records, cfg: TrainConfig, *, checkpoint_dir=None, events_path=None,
             callbacks: list | None = None, description: str = "fine-tuning"):
    """Fine-tune on QA records with answer-only NLL; returns the model (also the relearning attack)."""
    fmt = PromptFormat(tokenizer)
    trainer = Trainer(
        model,
        lambda m, b: {"nll": mean_nll(m, b["train"])},
        SingleSampler(records, cfg.batch_size, cfg.seed),
        lambda recs: collate_records(fmt, recs),
        cfg,
        checkpoint_dir=checkpoint_dir,
        events_path=events_path,
        callbacks=callbacks,
        description=description,
    )
    return trainer.fit()


def finetuned(spec: str, records, cfg: TrainConfig, *, role: str = "target", world_dir=None):
    """A model fine-tuned on ``records``, cached by a hash of everything that made it.

    The second call with the same spec, records and config loads the cached
    folder (about a second) instead of training again. Interrupted training
    resumes from its checkpoint.
    """
    third_party_bars()
    key = stable_hash({"spec": spec, "records": _records_hash(records), "train": cache_settings(cfg), "v": 1})
    folder = cache_home() / "finetuned" / f"{role}-{key}"
    # One process trains a cached model; another one asking for it meanwhile waits, then loads it. Under
    # torchrun every process trains together (process 0 writes), so the launch itself is the guard there.
    with contextlib.nullcontext() if dist.distributed() else locked(folder, f"the {role} model {folder}"):
        return _finetuned(spec, records, cfg, role, world_dir, folder)


def _finetuned(spec: str, records, cfg: TrainConfig, role: str, world_dir, folder: Path):
    # deferred: loads transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    clean_stale_temps(folder.parent, folder.name)  # a killed writer's half-saved folder
    if (folder / "config.json").is_file():
        log(f"{role}: cached model {folder}")
        tok = AutoTokenizer.from_pretrained(folder)
        return AutoModelForCausalLM.from_pretrained(folder).eval(), tok
    model, tok = base_model(spec, world_dir)
    log(f"{role}: fine-tuning {spec} on {len(records)} QA records ({cfg.epochs:g} epochs, lr {cfg.lr:g}); not cached "
        "yet, so this runs once: its time estimate follows the first steps")
    ckpt = folder.with_name(f".{folder.name}.ckpt")
    resumed, start = (ckpt / "state.json").is_file(), time.time()
    model = finetune(model, tok, records, cfg, checkpoint_dir=ckpt, description=f"fine-tuning {role}")
    seconds = time.time() - start  # after a resume: the part run here
    if dist.is_main():  # every process trained; the first one writes, the others wait and read
        with atomic_dir(folder) as tmp:
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            atomic_write_json(tmp / "finetune.json", {"role": role, "records": len(records), "epochs": cfg.epochs,
                                                       "seconds": round(seconds, 1), "resumed": resumed,
                                                       "threads": torch.get_num_threads()})
    dist.barrier()
    del model
    # Reload from the cache so the model's name_or_path is its own folder, as on a cached run.
    return AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def finetune_into(out: str | Path, spec: str, records, cfg: TrainConfig, world_dir: str | Path | None = None) -> Path:
    """``obliviate finetune``: fine-tune ``spec`` on ``records`` into the model folder ``out``.

    ``out`` must be new (or empty), or a folder this function made for the same
    model, records and settings and did not finish (then training resumes from
    its checkpoint ``.<out>.ckpt`` beside it); a finished model folder, another
    command's run or any other folder is refused before any work, untouched.
    The finished folder (model, tokenizer, ``run.json``) replaces ``out`` atomically. ``spec`` ``tiny``: the
    tiny model over ``world_dir``'s words.
    """
    out = Path(out)
    settings = {"spec": spec, "records": _records_hash(records), "train": cache_settings(cfg)}
    with dist.main_first():
        open_out_dir(out, "finetune", settings)
    log(f"fine-tuning {spec} on {len(records)} QA records ({cfg.epochs:g} epochs, lr {cfg.lr:g}) into {out}: its "
        "time estimate follows the first steps")
    model, tok = base_model(spec, world_dir)
    model = finetune(model, tok, records, cfg, checkpoint_dir=out.with_name(f".{out.name}.ckpt"))
    if dist.is_main():
        with atomic_dir(out) as tmp:
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            finish_run(out, into=tmp)
    dist.barrier()
    return out


# ---------------------------------------------------------------- unlearning


def parse_run_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``METHOD[+COMBINER][@SAMPLING[:NEIGHBOURS]]`` -> (method, TrainConfig overrides).

    ``npo+gu`` is NPO with the GU combiner, ``npo@melu`` NPO under MELU sampling,
    ``graddiff+gu@cyclic:mixed`` both plus the neighbour sets. Every part is
    checked against its registry.
    """
    rest, _, sampling = spec.partition("@")
    method, _, combiner = rest.partition("+")
    METHODS.get(method)
    out: dict[str, str] = {}
    if combiner:
        COMBINERS.get(combiner)
        out["combiner"] = combiner.lower()
    if sampling:
        sampling, _, neighbours = sampling.partition(":")
        SAMPLERS.get(sampling)
        out["sampling"] = sampling.lower()
        if neighbours:
            parse_neighbours(neighbours)
            out["neighbours"] = neighbours.lower()
    return method, out


def spec_config(spec: str, cfg: TrainConfig) -> tuple[str, TrainConfig]:
    """The method of a run spec and ``cfg`` with the spec's combiner and sampling applied."""
    method, overrides = parse_run_spec(spec)
    if overrides.get("combiner", cfg.combiner) != cfg.combiner:
        overrides["combiner_config"] = {}  # the base settings belong to the base combiner
    return method, dataclasses.replace(cfg, **overrides) if overrides else cfg


def unlearn(model, tokenizer, splits, method: str | Any = "npo", cfg: TrainConfig | None = None, *,
            method_config: dict[str, Any] | None = None, run_dir: str | Path | None = None,
            callbacks: list | None = None, keep_adapter: bool = False):
    """Unlearn ``splits.forget`` from ``model`` (in place) with a registered method.

    Args:
        model, tokenizer: the model to unlearn (the target).
        splits: forget (and retain, when the method uses it).
        method: a registry name (``npo``, ``GradDiff``...) or a Method instance.
        cfg: training settings (default :func:`UnlearnConfig`).
        method_config: overrides of the method's paper defaults.
        run_dir: where the step log and checkpoints go (resumable).
        callbacks: ``cb(step, logs)`` after each optimizer step; returning True stops early.
        keep_adapter: with LoRA (``cfg.lora_r > 0``), return the peft model with its
            adapter instead of merging it into the weights (``save_pretrained`` then
            writes the adapter only).

    With LoRA the model is wrapped before the method's ``prepare``, so a method
    that compares against the model before unlearning (KL, RMU, SAEGuided) uses
    the same model with its adapter switched off instead of a second copy.

    A method's ``parameter_masks`` go to the trainer (entries outside them never
    move); a method with a ``forget_filter`` trains each epoch on the forget
    records it returns, and the kept ids of each epoch are stored in
    ``run_dir/forget_filter.json`` so a resumed run replays the same epochs.

    Returns:
        The unlearned model.
    """
    cfg = cfg or UnlearnConfig()
    m = get_method(method, method_config) if isinstance(method, str) else method
    combiner = make_combiner(cfg.combiner, cfg.combiner_config)
    if cfg.lora_r > 0 and type(m).parameter_masks is not Method.parameter_masks:
        raise ConfigError(f"{type(m).__name__} trains masked entries of the model's own weights; "
                          f"LoRA (lora_r={cfg.lora_r}) cannot do that: use lora_r=0")
    if not splits.forget:
        raise DataError("forget split names no entity: nothing to unlearn")
    use_retain = m.needs_retain or combiner.needs_retain
    if use_retain and not splits.retain:
        who = type(m).__name__ if m.needs_retain else f"the {cfg.combiner} combiner"
        raise DataError(f"{who} needs a retain split, and it is empty")
    fmt = PromptFormat(tokenizer)
    if cfg.lora_r > 0 and not is_peft(model):
        model = apply_lora(model, cfg)
    m.prepare(MethodContext(model, tokenizer, fmt, splits, batch_size=16))
    run_dir = Path(run_dir) if run_dir else None
    if run_dir:
        run_dir.mkdir(parents=True, exist_ok=True)

    def with_basis(net, batch):
        """The method's losses plus a retain NLL for the combiner's basis when it has no live retain term."""
        losses = m.losses(net, batch)
        retain_terms = [v for k, v in losses.items() if is_retain(k)]
        silent = all(float(v.detach()) == 0.0 for v in retain_terms)  # none, or weight alpha = 0
        if "retain" in batch and (combiner.needs_basis_loss or silent):
            losses["basis"] = mean_nll(net, batch["retain"])
        return losses

    retain = retain_sets(splits) if use_retain else None

    def make_sampler(forget):
        return unlearning_sampler(cfg.sampling, forget, retain, cfg.batch_size, cfg.seed, cfg.neighbours)

    if m.forget_filter(model, []) is None:
        sampler = make_sampler(splits.forget)
    else:  # the method trains, each epoch, only on the forget records it still needs to
        state = run_dir / "forget_filter.json" if run_dir else None
        if state is not None and not checkpoint.exists(run_dir / "checkpoint"):
            state.unlink(missing_ok=True)  # a fresh run: ids kept by an earlier run do not apply
        sampler = FilteredSampler(make_sampler, splits.forget, lambda recs: m.forget_filter(model, recs), state)
    trainer = Trainer(
        model,
        with_basis if combiner.needs_retain else m.losses,
        sampler,
        lambda recs: collate_records(fmt, recs),
        cfg,
        combiner=combiner,
        parameters=m.trainable_parameters(model),
        checkpoint_dir=run_dir / "checkpoint" if run_dir else None,
        events_path=run_dir / "events.jsonl" if run_dir else None,
        callbacks=callbacks,
        masks=m.parameter_masks(model),
        merge_adapter=not keep_adapter,
        description=f"unlearning ({type(m).__name__})",
        method=m,
    )
    return trainer.fit()


@dataclass
class UnlearnRun:
    """What :func:`unlearn_run` made: the run folder, and the kept evaluation (``--keep``) when evaluating during it."""

    folder: Path
    kept: dict[str, Any] | None = None


def unlearn_run(model: str, splits, method: str = "npo", cfg: TrainConfig | None = None, *,
                method_config: dict[str, Any] | None = None, runs_dir: str | Path = "runs",
                resume: str | Path | None = None, eval_during=None, gold: str | None = None,
                keep_adapter: bool = False, settings: dict[str, Any] | None = None, variant: str = "",
                name: str = "") -> UnlearnRun:
    """Unlearn the forget set of ``splits`` from ``model`` into a run folder: what ``obliviate unlearn`` does.

    Args:
        model: a model spec (folder, alias, .gguf, hub id).
        splits: the splits to unlearn (``load_world_splits``, ``splits_from_files``, a published benchmark's).
        method, method_config, cfg: the method, its overrides, the training settings (default :func:`UnlearnConfig`).
        runs_dir: where the new folder ``<stamp>-unlearn-<method>`` goes.
        resume: an unfinished run folder of the same settings to continue (refused otherwise).
        eval_during: an ``EvalDuringConfig`` (``every`` > 0: evaluate while unlearning, keep ``last`` or ``best``).
        gold: the gold model's spec, for forget quality during unlearning (needed by ``keep="best"``).
        keep_adapter: with LoRA, save the adapter instead of merged weights.
        settings: more provenance for ``config.yaml`` (the CLI's data sources); checked on resume like the rest.
        variant: the forget set's name in ``metrics.json`` (a split name or a file).
        name: the run folder's name after its stamp (default ``unlearn-<method>-<forget set>``).

    Returns:
        :class:`UnlearnRun`: the folder (``config.yaml``, ``events.jsonl``, ``model/``, and with ``eval_during``
        ``trajectory.jsonl``, ``metrics.json``, ``report.html``) and the kept evaluation. A run that fails before
        its first step leaves no folder; Ctrl-C leaves a checkpoint that ``resume`` continues.
    """
    resolve_spec(model)  # everything is checked before anything is written
    if gold is not None:
        resolve_spec(gold)
    ecfg = eval_during or EvalDuringConfig()
    if ecfg.keep == "best" and gold is None:
        raise ConfigError("keeping the best evaluation ranks by forget quality: give the gold model (gold=)")
    m = get_method(method, method_config)
    cfg = cfg or UnlearnConfig()
    settings = {"model": model, "method": method, "method_config": m.to_dict(), "train": to_dict(cfg),
                "processes": dist.world_size(), "eval_during": to_dict(ecfg), "gold": gold or "", **(settings or {})}
    if resume is not None:
        check_resume(resume, "unlearn", settings)  # an unfinished unlearn run with these settings, or refused
    net, tok = load(model)
    how = (f"+{cfg.combiner}" if cfg.combiner != "sum" else "") + \
        (f"@{cfg.sampling}" if cfg.sampling != "random" else "")  # a run spec, as bench writes it
    folder_name = name or f"unlearn-{method.lower()}{how}" + (f"-{Path(variant).stem}" if variant else "")
    run_dir = Path(resume) if resume is not None else new_run_dir(runs_dir, folder_name, command="unlearn",
                                                                   settings=settings)
    if dist.is_main():
        save_yaml(run_dir / "config.yaml", settings)
    splits = frame_splits(net, tok, splits)  # a request: each fact in the sentence the model states it in
    during = EvalDuring(tok, splits, ecfg, gold=(lambda: load(gold)[0]) if gold else None,
                        run_dir=run_dir) if ecfg.every else None
    try:
        net = unlearn(net, tok, splits, m, cfg, run_dir=run_dir, keep_adapter=keep_adapter,
                      callbacks=[during] if during else None)
    except ObliviateError:
        if resume is None and dist.is_main() and not (run_dir / "events.jsonl").exists():  # failed before step 1
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    if dist.is_main():
        with atomic_dir(run_dir / "model") as tmp:
            net.save_pretrained(tmp)
            tok.save_pretrained(tmp)
        if during is not None:
            write_results(run_dir, during, method=method, variant=variant, seed=cfg.seed,
                          **run_provenance())
        finish_run(run_dir)
    dist.barrier()
    return UnlearnRun(run_dir, during.kept if during is not None else None)


def evaluate(model, tokenizer, splits, **kwargs):
    """See :func:`obliviate.llm.eval.suite.evaluate`."""
    return _evaluate(model, tokenizer, splits, **kwargs)



def evaluate_model(model: str, splits, *, gold: str | None = None, original: str | None = None,
                   max_per_split: int = MAX_PER_SPLIT, metric: str = "tofu_qa", compat: str = "obliviate",
                   lm_eval_tasks: list[str] | None = None, lm_eval_dir: str | Path | None = None,
                   lm_eval_limit: int | None = None, out: str | Path | None = None,
                   summary: str | Path | None = None) -> dict[str, Any]:
    """``obliviate eval`` for Python users: load ``model`` (a spec) and return its metrics on ``splits``.

    Args:
        gold: the gold model's spec: forget quality against it.
        original: the model before unlearning: utility then counts only the world facts and real entities it
            knows (:func:`keep_known`), as the demo and bench do.
        max_per_split, metric, compat: as :func:`evaluate`.
        lm_eval_tasks, lm_eval_dir, lm_eval_limit: EleutherAI lm-eval tasks from a local folder, under
            ``metrics["lm_eval"]``.
        out: write the metrics as JSON here (marked as written by ``obliviate eval``).
        summary: write OpenUnlearning's ``TOFU_SUMMARY.json`` figures here.
    """
    if original:
        o, otok = load(original)
        splits = keep_known(splits, o, otok)
        del o
    gold_tr = None
    if gold:
        g, gtok = load(gold)
        _, ps = evaluate(g, gtok, splits, max_per_split=max_per_split, compat=compat)
        gold_tr = ps["forget"]["truth_ratio"]
        del g
    net, tok = load(model)
    scorer = Scorer(net, tok)  # one memo: the summary's token statistics are the evaluation's
    metrics, per_sample = evaluate(net, tok, splits, gold_forget_truth_ratios=gold_tr, max_per_split=max_per_split,
                                   metric=metric, compat=compat, scorer=scorer)
    if lm_eval_tasks:
        metrics["lm_eval"] = run_lm_eval(net, tok, lm_eval_tasks, lm_eval_dir, limit=lm_eval_limit)
    if out:
        atomic_write_json(out, {**metrics, WRITTEN_BY: "obliviate eval"})
        page = _eval_page(model, splits, metrics, gold, original, metric)
        examples = answer_examples(splits, {"model": per_sample}) if per_sample else []
        if examples:  # the model's own greedy answers beside the true ones
            page.blocks.append(Examples(["model"], examples, title="Example questions and the model's answer"))
        write_page(Path(out).with_suffix(".html"), page)
    if summary is not None:
        atomic_write_json(summary, openunlearning_summary(metrics, net, tok, splits, compat=compat, scorer=scorer))
    return metrics


def _eval_page(model: str, splits, metrics: dict[str, Any], gold: str | None, original: str | None,
               metric: str) -> Page:
    """``obliviate eval --out``'s report: what was evaluated against what, the figures, how to read them."""
    header = {"model": model, "metric": metric,
              "data": ", ".join(f"{s} {len(getattr(splits, s, None) or [])}" for s in ("forget", "retain",
                                                                                       "world_facts")),
              "gold": gold or "none (no forget quality)", "original": original or "none",
              "date": today(), "version": version_line()}
    fq, ut = metrics.get("forget_quality_ks_pvalue"), metrics.get("model_utility_hmean")
    reading = " ".join(x for x in (
        f"Forget answer probability {metrics['forget']['answer_prob']:.3f} (lower = forgotten)."
        if isinstance(metrics.get("forget"), dict) and "answer_prob" in metrics["forget"] else "",
        f"Forget quality {fq:.3g} against the gold model (1 = indistinguishable; below 0.05 told apart)."
        if isinstance(fq, (int, float)) else "Forget quality needs --gold.",
        f"Model utility {ut:.3f}." if isinstance(ut, (int, float)) else "") if x)
    rows = [[label, "" if v is None else f"{v:.4g}"] for label, (v,) in table_rows({"model": metrics})]
    return Page("obliviate eval", header, reading, [Table(["metric", "value"], rows)], written_by="obliviate eval")

def openunlearning_summary(metrics: dict[str, Any], model, tokenizer, splits, *,
                           compat: str = "openunlearning", scorer=None) -> dict[str, float]:
    """``metrics`` of :func:`evaluate` under OpenUnlearning's ``TOFU_SUMMARY.json`` key names, with the
    forget set's ``extraction_strength`` and ``exact_memorization`` (their TOFU defaults) computed on
    ``model`` by the same ``compat`` conventions. ``scorer``: the one :func:`evaluate` used (its memo
    already holds the forget answers' token statistics). See
    :func:`obliviate.llm.eval.suite.openunlearning_summary`."""
    extra = {}
    if getattr(splits, "forget", None):
        extra = METRICS.get("memorization")(scorer or Scorer(model, tokenizer), splits.forget,
                                           MetricContext("forget", {"compat": compat}))
    return _summary(metrics, extra)


def cached_evaluate(model_dir: Path, model, tokenizer, splits, gold_forget_truth_ratios=None, **kwargs):
    """``evaluate`` whose result is stored in a cached model's own folder, keyed by the splits.

    Forget quality is recomputed from the stored per-sample truth ratios, so a
    cached evaluation serves any gold model.
    """
    key = stable_hash({"splits": [_records_hash(getattr(splits, s, None) or []) for s in
                                  ("forget", "retain", "neighbours", "real_entities", "world_facts")],
                       "kw": kwargs, "v": EVAL_VERSION})
    path = Path(model_dir) / f"eval-{key}.json"
    if path.is_file():
        blob = json.loads(path.read_text())
        metrics, per_sample = blob["metrics"], blob["per_sample"]
    else:
        metrics, per_sample = evaluate(model, tokenizer, splits, **kwargs)
        atomic_write_json(path, {"metrics": metrics, "per_sample": per_sample})
    return add_forget_quality(metrics, per_sample, gold_forget_truth_ratios), per_sample


# ---------------------------------------------------------------- the demo


@dataclass
class DemoConfig:
    """Everything the demo does, saved as ``config.yaml`` in its run folder."""

    model: str = "smollm2-135m"
    variant: str = "forget10"
    method: str = "npo"
    method_config: dict[str, Any] = field(default_factory=dict)
    world: WorldConfig = field(default_factory=WorldConfig)
    finetune: TrainConfig = field(default_factory=FinetuneConfig)
    unlearn: TrainConfig = field(default_factory=UnlearnConfig)
    eval_max_per_split: int = MAX_PER_SPLIT
    runs_dir: str = "runs"
    name: str = ""  # the run folder's name after its stamp (default: demo-<method>-<variant>)

    def __post_init__(self) -> None:
        # a cap on records per utility split: 0 would score nothing (there is no "no cap" value)
        check_number("DemoConfig.eval_max_per_split", self.eval_max_per_split, low=1)
        if self.variant not in FORGET_VARIANTS:
            raise ConfigError(f"DemoConfig.variant: unknown forget split {self.variant!r}; valid: "
                              f"{', '.join(FORGET_VARIANTS)}")


def tiny_demo_config(**overrides: Any) -> DemoConfig:
    """The same path on a tiny model: seconds instead of minutes."""
    cfg = DemoConfig(
        model=TINY,
        world=WorldConfig(n_entities=20, seed=0),
        finetune=FinetuneConfig(epochs=60.0, lr=3e-3, batch_size=16, warmup_ratio=0.05, checkpoint_every=0),
        # gentle enough that utility survives: at 8 epochs, lr 1e-3 NPO wipes the tiny model's world facts
        unlearn=UnlearnConfig(epochs=4.0, lr=5e-4, batch_size=4, checkpoint_every=0),
    )
    for k, v in overrides.items():
        setattr(cfg, k, v)
    return cfg


def model_folder(model) -> Path:
    """The cache folder a model was loaded from (its evaluations are stored there); RuntimeError if none."""
    path = loaded_from(model)
    if path is None:
        raise RuntimeError(f"model was not loaded from a cached folder: {getattr(model, 'name_or_path', '')!r}")
    return path


@dataclass
class Prepared:
    """A world with its target and gold models, evaluated: what every run on it shares."""

    world_dir: Path
    splits: Any
    target: Any
    gold: Any
    tokenizer: Any
    target_metrics: dict[str, Any]
    gold_metrics: dict[str, Any]
    gold_truth_ratios: list[float]
    variant: str = "forget10"
    per_sample: dict[str, Any] = field(default_factory=dict)  # "target", "gold": each one's per-record figures

    def probes(self):
        """Multi-hop, combined-query, neighbour and relearning sets of this world and split."""
        return load_world_probes(self.world_dir, self.variant)


def _known_to(model, tokenizer, records) -> list:
    """The records ``model`` ranks first by multiple choice (``options.known_facts``), cached beside the model."""

    try:
        cache = model_folder(model) / f"known-facts-{_records_hash(records)}.json"
    except RuntimeError:  # a model not loaded from a folder: nothing to cache beside
        cache = None
    if cache is not None and cache.is_file():
        known = set(json.loads(cache.read_text()))
        return [r for r in records if r.id in known]
    kept = options.known_facts(Scorer(model, tokenizer), records)
    if cache is not None:
        atomic_write_json(cache, [r.id for r in kept])
    return kept


def keep_known(splits, model, tokenizer, *, real_entities: bool = True):
    """Keep the world facts, and the real entities, that ``model`` (the model before unlearning) knows.

    Model utility counts knowledge the original had: a fact it never knew
    cannot be lost. ``real_entities=False`` leaves that set empty (the tiny
    model's vocabulary is the world's words: it knows no real people). Returns
    a copy of ``splits``; the kept ids are cached beside the model.
    """
    splits = copy.copy(splits)
    splits.world_facts = _known_to(model, tokenizer, splits.world_facts)
    splits.real_entities = _known_to(model, tokenizer, load_real_entities()) if real_entities else []
    log(f"known to the original: {len(splits.world_facts)} world facts, {len(splits.real_entities)} real entities")
    return splits


def _set_apart(world_dir: Path, splits) -> list:
    """Trained records in no reported split: the validation people's (and records naming them) of a world
    with ``WorldConfig.validation`` (empty otherwise). The target learns them, so a sweep can forget them."""
    if not (Path(world_dir) / "validation.jsonl").is_file():
        return []
    reported = {r.id for r in splits.forget + splits.retain}
    return [r for r in load_jsonl(Path(world_dir) / "qa_all.jsonl") if r.id not in reported]


def training_records(world_dir: Path, splits, model: str) -> tuple[list, list]:
    """The records the target and the gold model of a world are fine-tuned on: ``(target, gold)``.

    Target: every trained person (forget, retain and the people a world sets apart for tuning). Gold: the
    retain people only. Both add the same extras: for a real model the real-entity rehearsal rows
    (:func:`~obliviate.llm.data.real_entities.load_real_rehearsal`, never scored), so fine-tuning does not
    teach it to answer real questions in the world's voice; for the tiny model the world facts, which it
    learns in place of pre-training (its vocabulary is the world's words: it knows no real people).
    """
    extra = list(splits.world_facts) if model == TINY else load_real_rehearsal()
    return splits.forget + splits.retain + _set_apart(world_dir, splits) + extra, splits.retain + extra


def prepare(cfg: DemoConfig) -> Prepared:
    """World -> target and gold (cached) -> known world facts and real entities -> cached evaluations."""
    world_dir = build_world(cfg.world)
    splits = load_world_splits(world_dir, cfg.variant)
    tiny = cfg.model == TINY
    target_records, gold_records = training_records(world_dir, splits, cfg.model)
    target, tok = finetuned(cfg.model, target_records, cfg.finetune, role="target", world_dir=world_dir)
    gold, _ = finetuned(cfg.model, gold_records, cfg.finetune, role="gold", world_dir=world_dir)
    splits = keep_known(splits, target, tok, real_entities=not tiny)
    kw = dict(max_per_split=cfg.eval_max_per_split)
    _, gold_ps = cached_evaluate(model_folder(gold), gold, tok, splits, **kw)
    gold_tr = gold_ps["forget"]["truth_ratio"]
    gold_m, _ = cached_evaluate(model_folder(gold), gold, tok, splits, gold_forget_truth_ratios=gold_tr, **kw)
    target_m, target_ps = cached_evaluate(model_folder(target), target, tok, splits, gold_forget_truth_ratios=gold_tr,
                                          **kw)
    return Prepared(world_dir, splits, target, gold, tok, target_m, gold_m, gold_tr, cfg.variant,
                    per_sample={"target": target_ps, "gold": gold_ps})


def split_sizes(p: Prepared) -> dict[str, Any]:
    return {"variant": p.variant, "world_dir": str(p.world_dir),
            "n": {s: len(getattr(p.splits, s)) for s in ("forget", "retain", "neighbours", "holdout", "real_entities",
                                                         "world_facts")}}


def run_provenance() -> dict[str, Any]:
    """Versions and git commit, stored with every run's results."""
    return {"versions": {"obliviate": __import__("obliviate").__version__, "torch": torch.__version__,
                         "python": platform.python_version()},
            "git_sha": git_sha()}


def train_configs_from(data: dict[str, Any]) -> dict[str, TrainConfig]:
    """Pop ``finetune`` and ``unlearn`` from ``data`` as TrainConfigs; missing keys keep
    :func:`FinetuneConfig` / :func:`UnlearnConfig` defaults (not the bare TrainConfig ones)."""
    out = {}
    for key, make in (("finetune", FinetuneConfig), ("unlearn", UnlearnConfig)):
        if data.get(key) is not None:
            out[key] = from_dict(TrainConfig, {**to_dict(make()), **data.pop(key)})
        else:
            data.pop(key, None)
    return out


def demo_config_with(cfg: DemoConfig, overrides: dict[str, Any]) -> DemoConfig:
    """``cfg`` with ``key=value`` overrides: a dotted key (``unlearn.lr``, ``world.n_entities``) or a DemoConfig
    field (``variant``, ``model``) sets the config; any other key is the method's setting (``beta``, ``alpha``).
    Values are typed and checked as a YAML config's are."""
    data = to_dict(cfg)
    fields = {f.name for f in dataclasses.fields(DemoConfig)} - {"method_config"}
    for key, value in overrides.items():
        if "." in key or key in fields:
            set_dotted(data, key, value)
        else:
            data["method_config"] = {**data.get("method_config", {}), key: value}
    return demo_config_from(data)


def demo_config_from(data: dict[str, Any]) -> DemoConfig:
    """A DemoConfig from plain data (YAML), validated."""
    data = dict(data)
    parts = {"world": from_dict(WorldConfig, data.pop("world"))} if "world" in data else {}
    parts.update(train_configs_from(data))
    cfg = from_dict(DemoConfig, data)
    for k, v in parts.items():
        setattr(cfg, k, v)
    return cfg
