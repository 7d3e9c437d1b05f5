"""``obliviate`` command line: parses arguments and calls :mod:`obliviate.api`.

Bad input (a missing model, a malformed JSONL, an unknown method, an empty
forget split) prints one line ``error: ...`` and exits with code 2 before
anything is written.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from obliviate.core.cliutil import OneLineErrors, check_writable, handled
from obliviate.core.cliutil import fail as _fail
from obliviate.core.cliutil import given as _given
from obliviate.core.config import check_number, from_dict, load_yaml, parse_overrides, set_dotted, to_dict
from obliviate.core.errors import DataError
from obliviate.core.progress import log
from obliviate.core.report import write_report
from obliviate.core.report.html import table_rows
from obliviate.core.store import check_own_file, check_own_folder
from obliviate.llm.data import load_jsonl, splits_from_files
from obliviate.llm.data.formats import FORMATS, load_benchmark
from obliviate.llm.data.records import read_text
from obliviate.llm.data.request import is_plain_request
from obliviate.llm.eval.harness import check_tasks
from obliviate.models import resolve_spec

app = typer.Typer(add_completion=False, no_args_is_help=True, cls=OneLineErrors,
                  help="obliviate: unlearn chosen knowledge from a model, then prove it is gone.")

SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="method config override key=value (repeatable)")]
CombinerOpt = Annotated[Optional[str], typer.Option(help="how losses become one update: sum (default) or gu "
                                                        "(forget gradient orthogonal to recent retain gradients)")]
CombinerSetOpt = Annotated[Optional[list[str]], typer.Option("--combiner-set", help="combiner setting key=value, "
                                                             "e.g. geometry=adam, k=8, scope=last:3 (repeatable)")]
SamplingOpt = Annotated[Optional[str], typer.Option(help="batch sampling: random (1:1, default), sequential, "
                                                        "cyclic, melu")]
LoraOpt = Annotated[Optional[str], typer.Option(help="train LoRA adapters instead of every weight: "
                                                  "r=8,alpha=16,targets=q_proj,v_proj (targets default: every "
                                                  "linear layer; alpha default 2r)")]
GradAccumOpt = Annotated[Optional[int], typer.Option(help="micro-batches per optimizer step (per process under "
                                                           "torchrun; default: the config's, 1)")]
# Training numbers default to None ("not given"): the config (api.FinetuneConfig / api.UnlearnConfig) supplies them,
# so a default is written in one place. The help names where it comes from.
EpochsOpt = Annotated[Optional[float], typer.Option(help="passes over the data (default: the config's)")]
LrOpt = Annotated[Optional[float], typer.Option(help="peak learning rate (default: the config's)")]
BatchOpt = Annotated[Optional[int], typer.Option(help="records per micro-batch (default: the config's)")]
ForgetSplitOpt = Annotated[str, typer.Option("--forget-split", "--split",
                                             help="forget split of the world: forget01, forget05, forget10")]
ForgetFileOpt = Annotated[Optional[Path], typer.Option("--forget-file", "--forget", help="your own forget JSONL")]
RetainFileOpt = Annotated[Optional[Path], typer.Option("--retain-file", "--retain", help="your own retain JSONL")]
TinyOpt = Annotated[bool, typer.Option(help="the tiny world and models of `obliviate demo --tiny` (seconds; "
                                       "also --model tiny)")]
NameOpt = Annotated[Optional[str], typer.Option(help="the run folder's name after its time stamp (default: what "
                                                     "ran, e.g. demo-npo-forget10)")]
NeighboursOpt = Annotated[Optional[str], typer.Option(help="retain records paired with forget items: retain, "
                                                          "direct, indirect, general, mixed, or a +-joined mix")]


def _training_choices(cfg, combiner, combiner_set, sampling, neighbours):
    """``cfg`` (a TrainConfig) with the CLI's combiner and sampling choices, validated."""
    kw: dict = {}
    if combiner:
        kw["combiner"] = combiner.lower()
    if combiner_set:
        # deferred: loads torch
        from obliviate.train.combiners import make_combiner

        settings = {**cfg.combiner_config, **parse_overrides(combiner_set)}
        kw["combiner_config"] = to_dict(make_combiner(combiner or cfg.combiner, settings).config)
    if sampling:
        kw["sampling"] = sampling.lower()
    if neighbours:
        kw["neighbours"] = neighbours.lower()
    return dataclasses.replace(cfg, **kw) if kw else cfg


def _with_lora(cfg, lora: Optional[str], grad_accum: Optional[int] = None):
    """``cfg`` (a TrainConfig) with ``--lora`` and ``--grad-accum`` (when given) applied."""
    # deferred: loads torch
    from obliviate.train.trainer import parse_lora

    return dataclasses.replace(cfg, **_given(grad_accum=grad_accum), **(parse_lora(lora) if lora else {}))


def _list(items: Optional[str]) -> Optional[list[str]]:
    """``"a, b"`` -> ``["a", "b"]``; None (not given) for None or an empty string."""
    out = [x.strip() for x in (items or "").split(",") if x.strip()]
    return out or None


def _seed_list(seeds: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]``, or one clear error."""
    try:
        out = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        _fail(f"--seeds must be comma-separated integers, got {seeds!r}")
    if not out or min(out) < 0:
        _fail(f"--seeds must be one or more integers >= 0, got {seeds!r}")
    return out


def _print_figures(run_dir: Path, figures: dict, shown: tuple[str, ...], columns=()) -> None:
    """The headline figures with what each means (the domain's leaderboard columns), then the run folder."""
    how = {c.key: f"{c.head}: {c.how}" if c.how else c.head for c in columns}
    width = max(len(k) for k in shown)
    for key in shown:
        note = how.get(key) or ("the same, before unlearning" if key.startswith("original_") else "")
        typer.echo(f"{key:>{width}}: {figures[key]:<8.4g}" + (f"  {note}" if note else ""))
    typer.echo(f"{run_dir}  (report, with how to read each figure: {run_dir / 'report.html'})")


DataOpt = Annotated[Optional[str], typer.Option(help="a published benchmark on disk, FORMAT:FOLDER (tofu, muse, "
                                                  "wmdp, faithun; see docs/formats.md); --split is TOFU's variant")]
DataSetOpt = Annotated[Optional[list[str]], typer.Option("--data-set", help="benchmark format option key=value, "
                                                         "e.g. subset=bio for WMDP (repeatable)")]


def _benchmark_splits(data: str, split: str, data_set: Optional[list[str]]):
    """The splits of a benchmark read by ``obliviate.llm.data.formats`` (``FORMAT:FOLDER``)."""
    name, sep, folder = data.partition(":")
    if not sep or not folder:
        _fail(f"--data must be FORMAT:FOLDER (formats: {', '.join(FORMATS.names())}), got {data!r}")
    options = parse_overrides(data_set)
    if name in FORMATS and "variant" in inspect.signature(FORMATS.get(name)).parameters:
        options.setdefault("variant", split)
    bench = load_benchmark(name, folder, **options)
    if bench.splits is None:
        _fail(f"{bench.name} in {folder} has no forget/retain records to train on (only evaluation sets: "
              f"{', '.join(bench.sets)}); see docs/formats.md")
    for note in bench.notes:
        typer.echo(f"note: {note}", err=True)
    return bench.splits


def _splits(world: Optional[Path], split: str, forget: Optional[Path], retain: Optional[Path],
            holdout: Optional[Path] = None, data: Optional[str] = None, data_set: Optional[list[str]] = None):
    # deferred: loads numpy, torch
    from obliviate import api

    if data is not None:
        if forget is not None or world is not None:
            _fail("--data replaces --world and --forget/--retain: give one of them")
        return _benchmark_splits(data, split, data_set)
    if forget is not None:
        if retain is None:
            _fail("--forget needs --retain too (a JSONL of records to keep)")
        return splits_from_files(forget, retain, holdout)
    world_dir = world or api.build_world(api.WorldConfig())
    return api.load_world_splits(world_dir, split)


@app.command()
@handled
def demo(
    tiny: Annotated[bool, typer.Option(help="run the same path on a tiny model (under a minute)")] = False,
    real: Annotated[bool, typer.Option(help="no world: forget a topic the base model knows from pretraining "
                                            "(capitals), keep general knowledge; each method at a fixed budget "
                                            "and stopped at the never-seen reference (~40 min on 2 CPU cores)")]
    = False,
    model: Annotated[Optional[str], typer.Option(help="model spec (default smollm2-135m)")] = None,
    method: Annotated[Optional[str], typer.Option(help="unlearning method (default npo; with --real: "
                                                       "comma-separated, default NPO,GradDiff,RMU,IdkPO)")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML DemoConfig (see a run's config.yaml)")] = None,
    runs_dir: Annotated[Path, typer.Option(help="where run folders go")] = Path("runs"),
    name: NameOpt = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="override key=value (repeatable): a dotted path "
                                                      "into the config (unlearn.lr=1e-5, world.n_entities=40), a "
                                                      "config field (variant=forget05), or the method's setting "
                                                      "(beta=0.2)")] = None,
    combiner: CombinerOpt = None,
    combiner_set: CombinerSetOpt = None,
    sampling: SamplingOpt = None,
    neighbours: NeighboursOpt = None,
    resume: Annotated[Optional[Path], typer.Option(help="finish an interrupted demo run folder")] = None,
    forget: Annotated[Optional[Path], typer.Option("--forget-file", "--forget", help="with --real: your own "
                                                   "forget request (question/answer JSONL or a text folder)")]
    = None,
    retain: Annotated[Optional[Path], typer.Option("--retain-file", "--retain", help="with --real: your retain "
                                                   "file (default: the shipped general facts)")] = None,
    topic_holdout: Annotated[Optional[Path], typer.Option(help="with --real: other questions of your topic, "
                                                               "not trained")] = None,
):
    """World -> target and gold models -> unlearn the 10% forget split -> side-by-side table.

    With --real: no world and no fine-tuning; the base model forgets a topic it knows from pretraining.
    """
    # deferred: loads numpy, torch
    from obliviate import api

    files = {"forget": forget, "retain": retain, "topic_holdout": topic_holdout}
    if real or (resume is not None and (resume / "demo-real.json").is_file()):
        return _demo_real(model, method, runs_dir, name, resume, tiny, config, set_, files)
    if any(files.values()):
        _fail("--forget, --retain and --topic-holdout go with --real (the world demo makes its own splits)")
    if resume is not None:
        _print_table(api.resume_demo(resume))
        return

    if config is not None:
        cfg = api.demo_config_from(load_yaml(config))
    else:
        cfg = api.tiny_demo_config() if tiny else api.DemoConfig()
    if method:
        cfg.method = method
    cfg = api.demo_config_with(cfg, parse_overrides(set_))
    if name:
        cfg.name = name
    cfg.unlearn = _training_choices(cfg.unlearn, combiner, combiner_set, sampling, neighbours)
    if model:
        if model != api.TINY:
            resolve_spec(model)
        cfg.model = model
    cfg.runs_dir = str(runs_dir)
    check_writable(runs_dir, "--runs-dir")
    run_dir = api.run_demo(cfg)
    _print_table(run_dir)


def _demo_real(model, method, runs_dir, name, resume, tiny, config, set_, files) -> None:
    """``obliviate demo --real`` (see its help)."""
    # deferred: loads numpy, torch
    from obliviate.llm.real_demo import REAL_HEADS, RealDemoConfig, real_rows, resume_real_demo, run_real_demo

    if config is not None or set_:
        _fail("--real runs a model on a request: --config and --set do not apply")
    if resume is not None:
        if model or method or tiny or any(files.values()):
            _fail("--resume finishes the demo with its own settings: drop --model, --method, --tiny and the files")
        folder = resume_real_demo(resume)
    else:
        if model:
            resolve_spec(model)
        check_writable(runs_dir, "--runs-dir")
        cfg = RealDemoConfig(**_given(model=model, methods=_list(method), name=name,
                                      **{k: str(v) for k, v in files.items() if v is not None}),
                             **({"styles": ["trained"]} if tiny else {}), runs_dir=str(runs_dir))
        if tiny and model is None:  # the plumbing in seconds: the tiny target knows no capital, nothing is forgotten
            # deferred: loads numpy, torch
            from obliviate import api

            cfg.model = str(api.tiny_models()["target"])
        folder = run_real_demo(cfg)
    results = json.loads((folder / "results.json").read_text())
    rows = [REAL_HEADS, *real_rows(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(REAL_HEADS))]
    for r in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    typer.echo(str(folder / "report.html"))


def _console(console_class):
    """A rich console for tables: the terminal's width, or 160 columns in a log (rich would use 80)."""
    return console_class() if sys.stdout.isatty() else console_class(width=160)


def _print_table(run_dir: Path) -> None:
    # deferred: loads rich
    from rich.console import Console
    from rich.table import Table

    metrics = json.loads((run_dir / "metrics.json").read_text())
    models = metrics["models"]
    table = Table(title=f"{metrics['method']} on {metrics['splits']['variant']} ({run_dir})")
    table.add_column("metric")
    for name in models:
        table.add_column(name, justify="right")
    for label, vals in table_rows(models):
        table.add_row(label, *("" if v is None else f"{v:.4g}" for v in vals))
    _console(Console).print(table)
    typer.echo(f"run folder: {run_dir}  (report: {run_dir / 'report.html'})")


@app.command()
@handled
def world(
    profile: Annotated[str, typer.Option(help="demo (25 people, quick), standard (140: forget10 = 12 people, "
                                              "validation people apart; for leaderboards) or tofu (250)")] = "demo",
    entities: Annotated[Optional[int], typer.Option(help="people in the world (default: the profile's)")] = None,
    seed: Annotated[int, typer.Option(help="generator seed")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="folder (default: the cache)")] = None,
):
    """Generate a fictitious world and write its split files (JSONL)."""
    # deferred: loads numpy, torch
    from obliviate import api

    wcfg = api.world_profile(profile, seed=seed, **_given(n_entities=entities))
    if out is not None:
        check_writable(out, "--out")
    folder = api.build_world(wcfg, out)
    for path in sorted(folder.glob("*.jsonl")):
        n = sum(1 for line in path.read_text().splitlines() if line.strip())
        typer.echo(f"{path.name:20s} {n:5d} records")
    typer.echo(str(folder))


@app.command()
@handled
def finetune(
    data: Annotated[Path, typer.Option(help="JSONL of QA records to learn")],
    out: Annotated[Path, typer.Option(help="output model folder")],
    model: Annotated[str, typer.Option(help="base model spec")] = "smollm2-135m",
    tiny: TinyOpt = False,
    epochs: EpochsOpt = None,
    lr: LrOpt = None,
    batch_size: BatchOpt = None,
    grad_accum: GradAccumOpt = None,
    lora: LoraOpt = None,
):
    """Fine-tune a model on QA records (answer-only NLL); resumable.

    Runs under `torchrun --nproc_per_node N` / `accelerate launch` too
    (each process takes its share of every step; process 0 writes).
    """
    # deferred: loads numpy, torch
    from obliviate import api
    from obliviate.core import dist

    check_writable(out, "--out")
    world_dir = None
    if tiny or model == api.TINY:  # the tiny model over the tiny demo world's words
        model, world_dir = api.TINY, api.build_world(api.tiny_demo_config().world)
    else:
        resolve_spec(model)  # a missing model is refused before --out is touched
    records = load_jsonl(data)
    cfg = _with_lora(api.FinetuneConfig(**_given(epochs=epochs, lr=lr, batch_size=batch_size)), lora,
                     grad_accum)
    api.finetune_into(out, model, records, cfg, world_dir)  # refuses an --out it did not make for these settings
    if dist.is_main():
        typer.echo(str(out))


@app.command()
@handled
def unlearn(
    model: Annotated[Optional[str], typer.Option(help="model to unlearn (folder, alias, .gguf, hub id; with "
                                                      "--tiny: the tiny target)")] = None,
    tiny: TinyOpt = False,
    name: NameOpt = None,
    method: Annotated[str, typer.Option(help="unlearning method (see `obliviate methods`)")] = "npo",
    world: Annotated[Optional[Path], typer.Option(help="world folder (from `obliviate world`)")] = None,
    split: ForgetSplitOpt = "forget10",
    forget: ForgetFileOpt = None,
    retain: RetainFileOpt = None,
    holdout: Annotated[Optional[Path], typer.Option(help="your own JSONL about people the model never saw "
                                                        "(SAEGuided's unknown entities)")] = None,
    data: DataOpt = None,
    data_set: DataSetOpt = None,
    epochs: EpochsOpt = None,
    lr: LrOpt = None,
    batch_size: BatchOpt = None,
    grad_accum: GradAccumOpt = None,
    lora: LoraOpt = None,
    lora_save: Annotated[str, typer.Option(help="with --lora: merge (save plain weights) or adapter (save the "
                                                "adapter only; load it with its base by path)")] = "merge",
    runs_dir: Annotated[Path, typer.Option(help="where run folders go")] = Path("runs"),
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="override key=value (repeatable): the "
                                                      "method's setting (beta=0.2) or a dotted path into the "
                                                      "training settings (train.warmup_ratio=0.1)")] = None,
    combiner: CombinerOpt = None,
    combiner_set: CombinerSetOpt = None,
    sampling: SamplingOpt = None,
    neighbours: NeighboursOpt = None,
    resume: Annotated[Optional[Path], typer.Option(help="an interrupted run folder to finish")] = None,
    eval_every: Annotated[int, typer.Option(help="score forget quality (with --gold) and utility every N optimizer "
                                                 "steps, before the first and after the last: trajectory.jsonl, "
                                                 "metrics.json, report.html (0 = off)")] = 0,
    keep: Annotated[str, typer.Option(help="model to save: last (the final step) or best: among evaluations whose "
                                           "forget quality p >= --keep-threshold the highest utility; if none "
                                           "passes the highest forget quality; ties: the earlier step")] = "last",
    keep_threshold: Annotated[float, typer.Option(help="forget quality KS p-value an evaluation needs to be "
                                                       "chosen by its utility (--keep best)")] = 0.05,
    gold: Annotated[Optional[str], typer.Option(help="gold (retain-only) model: forget quality of the --eval-every "
                                                     "evaluations (same tokenizer)")] = None,
    eval_set: Annotated[Optional[list[str]], typer.Option("--eval-set", help="evaluation setting key=value: "
                                                          "max_forget (40), max_per_split (20), batch_size (16), "
                                                          "suite (true; false with --stop-at: only the figures it "
                                                          "reads) (repeatable)")] = None,
    stop_at: Annotated[Optional[str], typer.Option(help="unseen: stop once the forget set's answer probability "
                                                        "reaches the never-seen reference's (built from a plain "
                                                        "forget request, or --holdout), checked every --eval-every N "
                                                        "steps (default 5)")] = None,
):
    """Unlearn a forget split; writes runs/<id>/ with config, step log and the model.

    Ctrl-C (or a crash) leaves a checkpoint in the run folder; the same command
    with `--resume RUN_DIR` continues from it. Runs under `torchrun
    --nproc_per_node N` / `accelerate launch` too: the global batch is
    `batch_size * grad_accum * N`; process 0 writes the run folder.

    `--eval-every N --gold GOLD` evaluates while unlearning (capped record
    counts, see `--eval-set`) and `--keep best` saves the model of the
    evaluation the --keep rule picks; metrics.json says which step (see
    docs/metrics.md).
    """
    # deferred: loads numpy, torch
    from obliviate import api
    from obliviate.core import dist
    from obliviate.llm.eval.during import STOP_EVERY, EvalDuringConfig
    from obliviate.llm.methods import get_method

    if tiny or model == api.TINY:
        t = api.tiny_models()
        model = str(t["target"]) if model in (None, api.TINY) else model
        world = world or t["world"]
        gold = gold or (str(t["gold"]) if eval_every else None)  # forget quality during unlearning
    if model is None:
        _fail("give the model to unlearn: --model MODEL (or --tiny)")
    resolve_spec(model)  # everything is checked before anything is written
    if stop_at is not None and not eval_every:
        eval_every = STOP_EVERY
    ecfg = from_dict(EvalDuringConfig, {"every": eval_every, "keep": keep, "keep_threshold": keep_threshold,
                                        **_given(stop_at=stop_at), **parse_overrides(eval_set)})
    if gold is not None and not ecfg.every:
        _fail("--gold is used by the evaluations during unlearning: add --eval-every N")
    if ecfg.keep == "best" and gold is None:
        _fail("--keep best ranks evaluations by forget quality: give the gold model with --gold MODEL")
    if gold is not None:
        resolve_spec(gold)
    overrides = parse_overrides(set_)
    train_set = {k: v for k, v in overrides.items() if k.startswith("train.")}
    m = get_method(method, {k: v for k, v in overrides.items() if k not in train_set})
    if lora_save not in ("merge", "adapter"):
        _fail(f"--lora-save must be merge or adapter, got {lora_save!r}")
    if lora_save == "adapter" and not lora:
        _fail("--lora-save adapter needs --lora")
    cfg = _training_choices(_with_lora(api.UnlearnConfig(**_given(epochs=epochs, lr=lr, batch_size=batch_size)),
                                       lora, grad_accum), combiner, combiner_set, sampling, neighbours)
    if train_set:
        plain = {"train": to_dict(cfg)}
        for key, value in train_set.items():
            set_dotted(plain, key, value)
        cfg = from_dict(type(cfg), plain["train"])
    if resume is None:
        check_writable(runs_dir, "--runs-dir")
    splits = _splits(world, split, forget, retain, holdout, data, data_set)
    if getattr(splits, "request", False) and lr is None and epochs is None and not train_set:
        cfg = _real_defaults(cfg, method, ecfg)
    sources = {"split": split, "lora_save": lora_save, "data": data or "", "data_set": list(data_set or []),
               "forget": str(forget or ""), "retain": str(retain or ""), "holdout": str(holdout or "")}
    run = api.unlearn_run(model, splits, method, cfg, method_config=m.to_dict(), runs_dir=runs_dir, resume=resume,
                          eval_during=ecfg, gold=gold, keep_adapter=lora_save == "adapter", settings=sources,
                          variant=data or str(forget or split), name=name or "")
    if dist.is_main():
        if run.kept is not None:
            typer.echo(f"kept the model of step {run.kept['step']} ({ecfg.keep}); trajectory: "
                       f"{run.folder / 'trajectory.jsonl'}, report: {run.folder / 'report.html'}")
        typer.echo(str(run.folder))


def _real_defaults(cfg, method: str, ecfg):
    """``cfg`` with the method's defaults for pretrained knowledge (a forget request given without --lr and
    --epochs): what ``obliviate sweep --real`` picked, recorded in REAL_DEFAULTS."""
    # deferred: loads numpy, torch
    from obliviate.llm.methods import METHODS
    from obliviate.llm.pipeline import parse_run_spec
    from obliviate.llm.real_demo import REAL_DEFAULTS

    name = METHODS.entry(parse_run_spec(method)[0]).name
    if name not in REAL_DEFAULTS:
        return cfg
    picked = REAL_DEFAULTS[name]
    note = "" if ecfg.stop_at else "; they were picked with --stop-at unseen, which stops at the never-seen reference"
    log(f"{name} on a forget request: lr {picked['lr']:g}, at most {picked['epochs']:g} epochs (its defaults for "
        f"pretrained knowledge, docs/BENCHMARKS.md 'sweep --real'; --lr and --epochs set your own){note}")
    return dataclasses.replace(cfg, **picked)


def _lm_eval_tasks(names: Optional[str], task_dir: Optional[Path], limit: Optional[int]) -> list[str]:
    """``eval --lm-eval``'s task names, checked against --lm-eval-dir before any model is loaded."""
    if names is None:
        if task_dir is not None or limit is not None:
            _fail(f"{'--lm-eval-dir' if task_dir is not None else '--lm-eval-limit'} needs --lm-eval "
                  "(the task names to run)")
        return []
    tasks = [t.strip() for t in names.split(",")]
    if not all(tasks):
        _fail(f"--lm-eval must be comma-separated task names, got {names!r}")
    if task_dir is None:
        _fail("--lm-eval needs --lm-eval-dir (the folder of the tasks' YAML files)")
    if limit is not None and limit < 1:
        _fail(f"--lm-eval-limit must be >= 1 (examples per task), got {limit}")
    if not task_dir.expanduser().is_dir():
        what = "is a file, expected a folder" if task_dir.exists() else "no such folder"
        _fail(f"--lm-eval-dir {task_dir}: {what}")

    check_tasks(tasks, task_dir)  # each name defined there, its local data files present
    return tasks


@app.command("eval")
@handled
def eval_(
    model: Annotated[Optional[str], typer.Option(help="model to evaluate (with --tiny: the tiny target; a run "
                                                      "folder's model/ works too)")] = None,
    tiny: TinyOpt = False,
    world: Annotated[Optional[Path], typer.Option(help="world folder")] = None,
    split: ForgetSplitOpt = "forget10",
    forget: ForgetFileOpt = None,
    retain: RetainFileOpt = None,
    data: DataOpt = None,
    data_set: DataSetOpt = None,
    gold: Annotated[Optional[str], typer.Option(help="gold (retain-only) model, for forget quality")] = None,
    original: Annotated[Optional[str], typer.Option(
        help="the model before unlearning. With a world: model utility then counts the world facts and real "
             "entities it knows (as the demo and bench do). With --forget FILE: the facts it states are judged "
             "before and after (required for a plain request of questions and answers)")] = None,
    topic_holdout: Annotated[Optional[Path], typer.Option(help="with a forget request: other questions of the "
                                                               "topic, not trained (does forgetting generalise)")]
    = None,
    unseen: Annotated[Optional[Path], typer.Option(help="with a forget request: facts of the same kind the model "
                                                        "never saw (default: built from the request)")] = None,
    prompt: Annotated[Optional[str], typer.Option(help="with a forget request: prompt styles, comma-separated: chat "
                                                       "(the model's own chat template), trained (the methods' "
                                                       "format) or a template with {question} (default: chat,"
                                                       "trained)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="write metrics JSON here")] = None,
    max_per_split: Annotated[Optional[int], typer.Option(help="records scored per utility split (>= 1; "
                                                              "default 40)")] = None,
    metric: Annotated[str, typer.Option(help="registered metric: tofu_qa (default), memo, memorization, "
                                             "knowledge, ...")] = "tofu_qa",
    compat: Annotated[str, typer.Option(help="conventions: obliviate (default) or openunlearning (their 1e-10 "
                                             "guards, eos dropped from token-wise figures, stemmed ROUGE on 200 "
                                             "new tokens; docs/metrics.md)")] = "obliviate",
    summary: Annotated[Optional[Path], typer.Option(
        help="also write the figures under OpenUnlearning's TOFU_SUMMARY.json key names here (a new file)")] = None,
    lm_eval: Annotated[Optional[str], typer.Option("--lm-eval", help="also run these EleutherAI lm-eval tasks "
                                                   "(comma-separated names) from --lm-eval-dir, offline")] = None,
    lm_eval_dir: Annotated[Optional[Path], typer.Option("--lm-eval-dir", help="folder of lm-eval task YAML files "
                                                        "(their data files local)")] = None,
    lm_eval_limit: Annotated[Optional[int], typer.Option("--lm-eval-limit", help="examples scored per lm-eval "
                                                         "task (>= 1; default: all)")] = None,
):
    """TOFU metrics of a model (forget quality too when --gold is given), or another registered metric.

    With --lm-eval, the accuracies of those lm-eval tasks go under "lm_eval" beside them.

    With a forget request (--forget FILE of plain questions and answers, or text; or any --forget FILE with
    --original): the facts the original states in its greedy answers, still stated by MODEL, per set (forget,
    paraphrased, --topic-holdout, retain, general knowledge not trained) and prompt style.
    """
    # deferred: loads numpy, torch
    from obliviate import api
    from obliviate.llm.eval.metrics import METRICS
    from obliviate.llm.eval.metrics.base import check_compat

    if max_per_split is not None and max_per_split < 1:  # a cap of nothing scores nothing
        _fail(f"--max-per-split must be >= 1 (records scored per utility split), got {max_per_split}")
    if out is not None:
        check_writable(out, "--out", folder=False)  # before every metric is computed
        check_own_file(out, "--out", "eval")
        check_own_file(out.with_suffix(".html"), "--out (its .html report)", "eval")
    check_compat(compat)
    if summary is not None:
        if metric != "tofu_qa":
            _fail("--summary (OpenUnlearning's TOFU summary) needs --metric tofu_qa")
        check_writable(summary, "--summary", folder=False)
        if summary.exists():
            _fail(f"--summary {summary} exists; it is not overwritten: choose a new file or delete it")
    METRICS.get(metric)  # an unknown name fails here, listing the valid ones
    lm_eval_tasks = _lm_eval_tasks(lm_eval, lm_eval_dir, lm_eval_limit)
    request = forget is not None and (original is not None or is_plain_request(forget))
    if request or topic_holdout is not None or unseen is not None or prompt is not None:
        if summary is not None or lm_eval_tasks or data is not None:
            _fail("a forget request is judged on the model's own answers: --summary, --lm-eval and --data do "
                  "not apply")
        return _eval_request(model, tiny, forget, retain, original, topic_holdout, unseen, prompt, out, metric, gold)
    if tiny or model == api.TINY:  # the tiny world, its target as the original, its gold as the gold
        t = api.tiny_models()
        model = str(t["target"]) if model in (None, api.TINY) else model
        world, gold = world or t["world"], gold or str(t["gold"])
        original = original or (str(t["target"]) if data is None and forget is None else None)
    if model is None:
        _fail("give the model to evaluate: --model MODEL (or --tiny)")
    if (Path(model) / "model" / "config.json").is_file():  # a run folder: its model
        model = str(Path(model) / "model")
    resolve_spec(model)
    if gold:
        if metric != "tofu_qa":
            _fail("--gold (forget quality) needs --metric tofu_qa")
        resolve_spec(gold)
    if original:
        if data is not None:
            _fail("--original applies to a world's splits or --forget files, not to --data")
        resolve_spec(original)
    splits = _splits(world, split, forget, retain, data=data, data_set=data_set)
    metrics = api.evaluate_model(model, splits, gold=gold, original=original, **_given(max_per_split=max_per_split),
                                 metric=metric, compat=compat, lm_eval_tasks=lm_eval_tasks, lm_eval_dir=lm_eval_dir,
                                 lm_eval_limit=lm_eval_limit, out=out, summary=summary)
    typer.echo(json.dumps(metrics, indent=2))


def _eval_request(model, tiny, forget, retain, original, topic_holdout, unseen, prompt, out, metric, gold) -> None:
    """``obliviate eval`` of a forget request (see its help)."""
    # deferred: loads numpy, torch
    from obliviate import api
    from obliviate.llm.request_eval import format_request

    if forget is None:
        _fail("--topic-holdout, --unseen and --prompt go with a forget request: give --forget FILE")
    if metric != "tofu_qa" or gold is not None:
        _fail("a forget request is judged on the model's own answers: --metric and --gold do not apply")
    if tiny or model == api.TINY:
        t = api.tiny_models()
        model = str(t["target"]) if model in (None, api.TINY) else model
        original = original or str(t["target"])
    if model is None:
        _fail("give the model to evaluate: --model MODEL (or --tiny)")
    if original is None:
        _fail("a forget request is judged before and after: give the model before unlearning with --original MODEL "
              "(e.g. the base model)")
    styles = _list(prompt)
    result = api.evaluate_request_files(model, forget, original=original, retain=retain, unseen=unseen,
                                        topic_holdout=topic_holdout, styles=styles, out=out)
    typer.echo(format_request(result))


@app.command()
@handled
def audit(
    model: Annotated[str, typer.Argument(help="model to audit: a folder, a run folder, or a model spec")],
    forget: Annotated[str, typer.Option("--forget-split", "--forget-file", "--forget",
                                        help="forget split of the world (forget01/05/10) or a JSONL of "
                                             "records")] = "forget10",
    base: Annotated[Optional[str], typer.Option(help="base model the target and gold were fine-tuned from "
                                                    "(default: the run folder's, else smollm2-135m)")] = None,
    tiny: Annotated[bool, typer.Option(help="the world and models of `obliviate demo --tiny`")] = False,
    original: Annotated[Optional[str], typer.Option(help="the model before unlearning (default: the world's "
                                                         "target)")] = None,
    gold: Annotated[Optional[str], typer.Option(help="a model never trained on the forget set (default: the "
                                                     "world's gold)")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML DemoConfig of the world/models (a run's "
                                                        "config.yaml)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="write the audit as JSON here, and its report beside it "
                                                     "(the same name, .html)")] = None,
    lora: Annotated[Optional[str], typer.Option(help="relearning attack through LoRA adapters: r=8,alpha=16,"
                                                     "targets=... (default: every weight)")] = None,
    retain: Annotated[Optional[Path], typer.Option(help="with a forget file: the retain records (collateral "
                                                        "damage is measured on them and on general knowledge)")]
    = None,
    unseen: Annotated[Optional[Path], typer.Option(help="with a forget file: facts of the same kind the model never "
                                                        "saw, the reference of every check (default: built from "
                                                        "the request)")] = None,
):
    """Every probe and attack on MODEL, a verdict per check with its evidence, and an overall verdict.

    Exit code 0: FORGOTTEN, 1: NOT FORGOTTEN, 3: NOT APPLICABLE (the original
    never knew the forget set), 2: bad input.

    A forget request (--forget FILE of plain questions and answers or text, or any FILE with --retain/--unseen)
    is audited with no gold model and nothing fine-tuned: give --original (the model before unlearning); the
    never-seen reference anchors every check and collateral damage is read on --retain and general knowledge.
    """
    # deferred: loads numpy, torch
    from obliviate import api
    from obliviate.llm.audit import FORGOTTEN, NOT_APPLICABLE, format_audit

    if out is not None:
        check_writable(out, "--out", folder=False)
        check_own_file(out, "--out", "audit")
        check_own_file(out.with_suffix(".html"), "--out (its .html report)", "audit")
    result = api.audit_run(model, forget, base=base, tiny=tiny, config=config, original=original, gold=gold,
                           lora=lora, out=out, retain=retain, unseen=unseen)
    typer.echo(format_audit(result))
    raise typer.Exit(0 if result.verdict == FORGOTTEN else 3 if result.verdict == NOT_APPLICABLE else 1)


@app.command()
@handled
def lens(
    tiny: Annotated[bool, typer.Option(help="the world and models of `obliviate demo --tiny`")] = False,
    model: Annotated[Optional[str], typer.Option(help="base model spec (default smollm2-135m)")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML DemoConfig of the world/models (a run's "
                                                        "config.yaml)")] = None,
    layer: Annotated[Optional[int], typer.Option(help="decoder block whose output the SAE reads (default -1: a "
                                                      "third of the way up)")] = None,
    expansion: Annotated[Optional[int], typer.Option(help="SAE latents per residual dimension (default 8)")] = None,
    k: Annotated[Optional[int], typer.Option(help="SAE active latents per token (default 0: min(32, "
                                                  "latents/64))")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="SAE training passes (default 20)")] = None,
    corpus: Annotated[Optional[Path], typer.Option(help="extra SAE training text, one passage per line")] = None,
    check: Annotated[Optional[str], typer.Option(help="also read this model (a run folder, e.g. an unlearned "
                                                      "one; a demo run folder brings its own world)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="save the lens (SAE + latents) to this folder")] = None,
):
    """Train the SAE entity lens on the world's target: its quality, the known/unknown latents, and where
    the forget entities sit (on the target and, with --check, on another model)."""
    # deferred: loads numpy, torch
    from obliviate import api
    from obliviate.llm.interp.latents import LensConfig
    from obliviate.llm.interp.sae import SAEConfig

    if out is not None:
        check_writable(out, "--out")
        check_own_folder(out, "--out", "latents.json", "an entity lens folder")  # the lens replaces it whole
    cfg = api.demo_config_for(config=config, run=check, tiny=tiny, model=model)  # a demo run's own world
    if corpus is not None:
        read_text(corpus)  # missing, a folder or not UTF-8: refused before the target is trained
    lens_cfg = LensConfig(sae=SAEConfig(**_given(expansion=expansion, k=k, epochs=epochs)),
                          **_given(layer=layer, corpus_file=str(corpus) if corpus else None))
    checked = api.load_audited(check) if check else None
    res = api.entity_lens(cfg, lens_cfg, check=checked, out=out)
    q = (res["sae_quality"] or {}).get("heldout", {})
    typer.echo(f"SAE at {res['point']}: held-out FVE {q.get('fve', float('nan')):.3f}, L0 {q.get('l0', 0):.1f}, "
               f"dead latents {q.get('dead_fraction', float('nan')):.1%}")
    typer.echo(f"known latents {[d['latent'] for d in res['known_latents']]}, "
               f"unknown latents {[d['latent'] for d in res['unknown_latents']]}")
    for name in ("target", "checked"):
        if name in res:
            s = res[name]
            typer.echo(f"{name}: knownness forget {s['forget.knownness']:.3f}, known {s['known.knownness']:.3f}, "
                       f"unknown {s['unknown.knownness']:.3f}; alignment {s['alignment']:.2f} "
                       f"(0 = like known, 1 = like never seen)")


@app.command()
@handled
def bench(
    out: Annotated[Path, typer.Option(help="bench folder (re-running it skips finished runs)")] = Path("runs/bench"),
    tiny: Annotated[bool, typer.Option(help="the tiny model (seconds per run; for tests)")] = False,
    model: Annotated[Optional[str], typer.Option(help="base model spec (default smollm2-135m)")] = None,
    methods: Annotated[Optional[str], typer.Option(help="comma-separated run specs METHOD[+COMBINER][@SAMPLING"
                                                        "[:NEIGHBOURS]], e.g. npo,npo+gu,npo@melu (default: "
                                                        "all)")] = None,
    splits: Annotated[Optional[str], typer.Option("--forget-splits", "--splits",
                                                  help="comma-separated forget splits (default forget10)")] = None,
    seeds: Annotated[Optional[str], typer.Option(help="comma-separated unlearning seeds (default 0,1,2)")] = None,
    controls: Annotated[Optional[bool], typer.Option(help="also audit target, gold and a suppression-only model "
                                                          "(default yes)")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML BenchConfig (see a bench's bench.yaml)")] = None,
    profile: Annotated[Optional[str], typer.Option(help="world profile: standard (the leaderboard's: forget10 = "
                                                        "12 people, ~115 answers), tofu, or demo (the default, "
                                                        "2 people)")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="override key=value (repeatable): a dotted "
                                                      "path into the BenchConfig, e.g. unlearn.lr=1e-5, "
                                                      "eval_max_per_split=10, audit.relearn.steps=4")] = None,
    configs: Annotated[Optional[Path], typer.Option(help="a sweep's sweep.json: each method runs the config "
                                                         "`obliviate sweep` selected, seeds 0-4 by default; the "
                                                         "sweep's model and settings are used")] = None,
):
    """Methods x forget splits x seeds, each run audited, then a leaderboard (95% intervals, significance marks)
    and report.html."""
    # deferred: loads numpy, torch
    from obliviate import api
    from obliviate.llm import bench as b

    cfg = api.bench_config_for(tiny=tiny, config=config, configs=configs, profile=profile,
                               overrides=parse_overrides(set_),
                               **_given(variants=_list(splits), seeds=_seed_list(seeds) if seeds else None,
                                        controls=controls, methods=_list(methods), model=model or None))
    check_writable(out, "--out")
    folder = b.run_bench(cfg, out)
    _print_board(folder, ("forget_quality", "ks_distance", "model_utility", "forgotten", "collapsed",
                          "unlearn_seconds"), name="name")


def _print_board(folder: Path, keys: tuple[str, ...], name: str = "method") -> None:
    """A compact leaderboard in the terminal (the headline columns; intervals dropped), then where the rest is."""
    # deferred: loads rich
    from rich.console import Console
    from rich.table import Table

    board = json.loads((folder / "leaderboard.json").read_text())
    heads = dict(board.get("heads") or {})
    table = Table(title=f"{board['n_runs']} finished runs in {folder}")
    table.add_column("method")
    for k in keys:
        table.add_column(heads.get(k, k.replace("_", " ")), justify="right")
    for r in board["rows"]:
        label = r.get(name, "") + (" (control)" if r.get("control") else "")
        cells = []
        for k in keys:
            v = r.get(k)
            cells.append(v if isinstance(v, str) else "–" if not isinstance(v, (int, float)) or v != v
                         else f"{v:.3g}" + {"best": " ★", "worse": " †"}.get(r.get("marks", {}).get(k, ""), ""))
        table.add_row(label, *cells)
    _console(Console).print(table)
    typer.echo(f"every column with its interval: {folder / 'leaderboard.md'}; charts and notes: "
               f"{folder / 'report.html'}")


@app.command()
@handled
def sweep(
    out: Annotated[Path, typer.Option(help="sweep folder (re-running it skips finished configs)")] = Path("runs/sweep"),
    tiny: Annotated[bool, typer.Option(help="the tiny model (seconds per config; for tests)")] = False,
    model: Annotated[Optional[str], typer.Option(help="base model spec (default smollm2-135m)")] = None,
    methods: Annotated[Optional[str], typer.Option(help="comma-separated run specs (default: all)")] = None,
    splits: Annotated[Optional[str], typer.Option("--forget-splits", "--splits",
                                                  help="the forget splits the tuned bench will report (default "
                                                       "forget10); validation people avoid all of them")] = None,
    budget: Annotated[Optional[int], typer.Option(help="configs per method, the same for every method "
                                                       "(default 12)")] = None,
    seed: Annotated[Optional[int], typer.Option(help="unlearning seed of every config (default 0)")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML BenchConfig to tune, or a sweep's sweep.yaml")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="override key=value (repeatable): a dotted "
                                                      "path into the SweepConfig, e.g. bench.unlearn.epochs=3, "
                                                      "threshold=0.1")] = None,
    profile: Annotated[Optional[str], typer.Option(help="world profile: standard (the leaderboard's: 12 validation "
                                                        "people set apart, the bench's gold reused), tofu, or demo "
                                                        "(the default)")] = None,
    real: Annotated[bool, typer.Option(help="no world: tune each method's learning rate on a request about "
                                            "pretrained knowledge (forget who wrote 58 books, keep general facts), "
                                            "every config stopped at the never-seen reference (~2 min a config "
                                            "on 2 CPU cores)")] = False,
    forget: Annotated[Optional[Path], typer.Option("--forget-file", "--forget", help="with --real: your own "
                                                   "forget request to tune on")] = None,
    retain: Annotated[Optional[Path], typer.Option("--retain-file", "--retain", help="with --real: your retain "
                                                   "file (default: the shipped general facts)")] = None,
    unseen: Annotated[Optional[Path], typer.Option(help="with --real: never-seen facts of the same kind "
                                                        "(default: built from the request)")] = None,
):
    """Tune each method (learning rate, epochs, its own weights) on validation forget people, never the reported
    ones; writes sweep.json for `obliviate bench --configs`.

    With --real: per-method defaults for unlearning what a pretrained model knows (real-sweep.json).
    """
    # deferred: loads numpy, torch
    from obliviate import api
    from obliviate.llm import sweep as sw

    files = {"forget": forget, "retain": retain, "unseen": unseen}
    if real:
        return _sweep_real(out, tiny, model, methods, files, config, set_, splits, budget, seed, profile)
    if any(files.values()):
        _fail("--forget, --retain and --unseen go with --real (the world sweep tunes on validation people)")
    cfg = api.sweep_config_for(tiny=tiny, config=config, profile=profile, budget=budget, seed=seed,
                               overrides=parse_overrides(set_),
                               **_given(variants=_list(splits), methods=_list(methods), model=model or None))
    check_writable(out, "--out")
    folder = sw.run_sweep(cfg, out)
    typer.echo((folder / "sweep.md").read_text())
    typer.echo(f"tuned bench: obliviate bench --configs {folder / 'sweep.json'} --out {folder}-bench")


def _sweep_real(out, tiny, model, methods, files, config, set_, splits, budget, seed, profile) -> None:
    """``obliviate sweep --real`` (see its help)."""
    # deferred: loads numpy, torch
    from obliviate.llm.real_sweep import RealSweepConfig, run_real_sweep

    if config is not None or set_ or splits or budget is not None or profile:
        _fail("--real tunes the learning rate on a request: --config, --set, --forget-splits, --budget and "
              "--profile do not apply")
    if model:
        resolve_spec(model)
    cfg = RealSweepConfig(**_given(model=model, methods=_list(methods), seed=seed,
                                   **{k: str(v) for k, v in files.items() if v is not None}))
    if tiny and model is None:  # the plumbing in seconds: the tiny target knows no author, nothing is forgotten
        # deferred: loads numpy, torch
        from obliviate import api

        cfg.model, cfg.style = str(api.tiny_models()["target"]), "trained"
    out = Path("runs/real-sweep") if out == Path("runs/sweep") else out
    check_writable(out, "--out")
    folder = run_real_sweep(cfg, out)
    typer.echo((folder / "real-sweep.md").read_text())


@app.command()
def methods():
    """List unlearning methods with their papers and default configs."""
    # deferred: loads numpy, rich, torch
    from rich.console import Console
    from rich.table import Table

    from obliviate.llm.methods import METHODS

    table = Table(title="unlearning methods")
    for col in ("name", "objective", "paper", "defaults"):
        table.add_column(col)
    for e in METHODS.entries():
        defaults = ", ".join(f"{f.name}={f.default}" for f in dataclasses.fields(e.obj.Config))
        table.add_row(e.name, e.summary, e.paper, defaults)
    _console(Console).print(table)
    # deferred: loads torch
    from obliviate.train.combiners import COMBINERS
    from obliviate.train.samplers import SAMPLERS

    for title, registry in (("combiners (--combiner)", COMBINERS), ("samplers (--sampling)", SAMPLERS)):
        t = Table(title=title)
        for col in ("name", "what it does", "paper", "defaults"):
            t.add_column(col)
        for e in registry.entries():
            fields = dataclasses.fields(e.obj.Config) if hasattr(e.obj, "Config") else []
            t.add_row(e.name, e.summary, e.paper, ", ".join(f"{f.name}={f.default}" for f in fields))
        _console(Console).print(t)


@app.command()
@handled
def report(run_dir: Path):
    """Re-render a run folder's report.html from its files."""
    if not (run_dir / "metrics.json").is_file():
        raise DataError(f"{run_dir} has no metrics.json (not a demo run folder)")
    try:
        json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{run_dir / 'metrics.json'}: not a run's metrics (bad JSON: {e})") from None
    typer.echo(str(write_report(run_dir)))


# ---------------------------------------------------------------- graph unlearning

graph_app = typer.Typer(no_args_is_help=True, help="graph unlearning: delete edges or nodes from a trained GNN")
app.add_typer(graph_app, name="graph")
DataDirOpt = Annotated[Optional[Path], typer.Option(help="folder holding planetoid/<Name>/raw/ "
                                                         "(default: $OBLIVIATE_DATA)")]


@graph_app.command("unlearn")
@handled
def graph_unlearn(
    dataset: Annotated[Optional[str], typer.Option(help="cora or citeseer (default cora)")] = None,
    task: Annotated[Optional[str], typer.Option(help="edge (delete edges, link prediction) or node (delete nodes) "
                                                     "(default edge)")] = None,
    method: Annotated[str, typer.Option(help="Retrain, GradAscent, GNNDelete or D2DGN")] = "D2DGN",
    seed: Annotated[int, typer.Option(help="seed of the data split, the original's training and unlearning")] = 0,
    fraction: Annotated[Optional[float], typer.Option(help="share of training edges (edge; default 0.005) or "
                                                          "nodes (node; default 0.01) to delete")] = None,
    where: Annotated[Optional[str], typer.Option(help="edges drawn at random, in or out of the test edges' 2-hop "
                                                      "subgraph (default random)")] = None,
    backbone: Annotated[Optional[str], typer.Option(help="gcn, gat or gin (default gcn)")] = None,
    data_dir: DataDirOpt = None,
    runs_dir: Annotated[Path, typer.Option(help="where run folders go")] = Path("runs"),
    set_: SetOpt = None,
):
    """Train a GNN on a real graph, delete part of it with METHOD, and measure the result."""
    # deferred: loads numpy, torch
    from obliviate.graph.bench import COLUMNS, SHOWN, GraphRunConfig, unlearn_to_folder

    check_number("--seed", seed, low=0)
    check_writable(runs_dir, "--runs-dir")
    cfg = GraphRunConfig(**_given(dataset=dataset, task=task, backbone=backbone, where=where, fraction=fraction,
                                  data_dir=str(data_dir) if data_dir else None))
    _print_figures(*unlearn_to_folder(cfg, method, seed, parse_overrides(set_), runs_dir), SHOWN, COLUMNS)


@graph_app.command("bench")
@handled
def graph_bench(
    out: Annotated[Path, typer.Option(help="bench folder (re-running it skips finished runs)")] = Path(
        "runs/graph-bench"),
    methods: Annotated[Optional[str], typer.Option(help="comma-separated methods (default: all)")] = None,
    datasets: Annotated[Optional[str], typer.Option(help="comma-separated datasets (default cora,citeseer)")] = None,
    tasks: Annotated[Optional[str], typer.Option(help="comma-separated tasks (default edge,node)")] = None,
    seeds: Annotated[Optional[str], typer.Option(help="comma-separated seeds (default 0,1,2,3,4)")] = None,
    backbone: Annotated[Optional[str], typer.Option(help="comma-separated backbones among gcn, gat, gin (default "
                                                        "gcn)")] = None,
    where: Annotated[Optional[str], typer.Option(help="comma-separated edge sampling: random, in or out of the test "
                                                      "edges' 2-hop subgraph (default random)")] = None,
    fraction: Annotated[Optional[str], typer.Option(help="comma-separated shares of training edges deleted, e.g. "
                                                         "0.005,0.01,0.02,0.05 (default 0.005)")] = None,
    node_fraction: Annotated[Optional[float], typer.Option(help="share of nodes deleted (node task; default "
                                                                "0.01)")] = None,
    data_dir: DataDirOpt = None,
):
    """Every graph method x dataset x task x setting x seed against Retrain of the same seed and setting (distance
    to Retrain is the headline); leaderboard.md, report.html, chart.png."""
    # deferred: loads numpy, torch
    from obliviate.graph.bench import GraphBenchConfig, GraphRunConfig, run_graph_bench

    run = GraphRunConfig(**_given(data_dir=str(data_dir) if data_dir else None))
    fractions = None
    if fraction:
        try:
            fractions = [float(f) for f in _list(fraction)]
        except ValueError:
            _fail(f"--fraction takes comma-separated numbers (0.005,0.05), got {fraction!r}")
    cfg = GraphBenchConfig(run=run, **_given(methods=_list(methods), datasets=_list(datasets), tasks=_list(tasks),
                                             seeds=_seed_list(seeds) if seeds else None, backbones=_list(backbone),
                                             wheres=_list(where), fractions=fractions, node_fraction=node_fraction))
    check_writable(out, "--out")
    out = run_graph_bench(cfg, out)
    typer.echo((out / "leaderboard.md").read_text())
    typer.echo(f"report: {out / 'report.html'}")


# ---------------------------------------------------------------- vision unlearning under bias

vision_app = typer.Typer(no_args_is_help=True, help="vision unlearning under bias: forget a class of coloured digits "
                                                   "or of BAR action photographs")
VisionSourceOpt = Annotated[Optional[str], typer.Option(help="mnist (the real test split), digits (sklearn 8x8) or bar "
                                                             "(BAR action photographs) (default mnist)")]
VisionDataOpt = Annotated[Optional[Path], typer.Option(help="folder holding MNIST/raw/ or BAR/ (default: "
                                                            "$OBLIVIATE_DATA)")]
StopAtOpt = Annotated[Optional[float], typer.Option(help="matched operating point: every method but Retrain stops "
                                                         "once its forget accuracy is at most this (default: off)")]
CheckEveryOpt = Annotated[Optional[int], typer.Option(help="steps between the stopping rule's checks (default 5)")]
BudgetOpt = Annotated[Optional[float], typer.Option(help="multiplies every method's own epochs or steps (a ceiling "
                                                         "for --stop-at; default 1)")]
ForgetClassOpt = Annotated[Optional[int], typer.Option(help="the class to forget (default 0: digit 0, or BAR's "
                                                            "climbing)")]
app.add_typer(vision_app, name="vision")


@vision_app.command("unlearn")
@handled
def vision_unlearn(
    method: Annotated[str, typer.Option(help="Retrain, Finetune, NegGrad, NegGradPlus, SCRUB, SalUn, BadTeaching or "
                                             "CUPID")] = "CUPID",
    source: VisionSourceOpt = None,
    aligned: Annotated[Optional[float], typer.Option(help="share of training images in their class's colour (BAR: "
                                                          "at the action's typical place) (default 0.995)")] = None,
    model: Annotated[Optional[str], typer.Option(help="cnn or mlp for digits, lite0-top for bar (default auto: "
                                                      "lite0-top for bar, else cnn)")] = None,
    forget_class: ForgetClassOpt = None,
    seed: Annotated[int, typer.Option(help="seed of the data split, the original's training and unlearning")] = 0,
    stop_at: StopAtOpt = None,
    check_every: CheckEveryOpt = None,
    budget: BudgetOpt = None,
    data_dir: VisionDataOpt = None,
    runs_dir: Annotated[Path, typer.Option(help="where run folders go")] = Path("runs"),
    set_: SetOpt = None,
):
    """Train a classifier on biased images, forget one class with METHOD, and measure it."""
    # deferred: loads numpy, torch
    from obliviate.vision.bench import COLUMNS, SHOWN, VisionRunConfig, unlearn_to_folder

    check_number("--seed", seed, low=0)
    check_writable(runs_dir, "--runs-dir")
    cfg = VisionRunConfig(**_given(source=source, aligned=aligned, arch=model, forget_class=forget_class,
                                   stop_at=stop_at, check_every=check_every, budget=budget,
                                   data_dir=str(data_dir) if data_dir else None))
    _print_figures(*unlearn_to_folder(cfg, method, seed, parse_overrides(set_), runs_dir), SHOWN, COLUMNS)


@vision_app.command("bench")
@handled
def vision_bench(
    out: Annotated[Path, typer.Option(help="bench folder (re-running it skips finished runs)")] = Path(
        "runs/vision-bench"),
    methods: Annotated[Optional[str], typer.Option(help="comma-separated methods (default: all)")] = None,
    seeds: Annotated[Optional[str], typer.Option(help="comma-separated seeds (default 0,1,2,3,4)")] = None,
    source: VisionSourceOpt = None,
    aligned: Annotated[Optional[float], typer.Option(help="share of bias-aligned training images "
                                                          "(default 0.995)")] = None,
    forget_class: ForgetClassOpt = None,
    stop_at: StopAtOpt = None,
    check_every: CheckEveryOpt = None,
    budget: BudgetOpt = None,
    train_epochs: Annotated[Optional[float], typer.Option(help="epochs of the original's training (and Retrain's) "
                                                               "(default 5)")] = None,
    data_dir: VisionDataOpt = None,
):
    """Every vision method x seed against Retrain; leaderboard.md, report.html, chart.png."""
    # deferred: loads numpy, torch
    from obliviate.vision.bench import VisionBenchConfig, VisionRunConfig, run_vision_bench

    run = VisionRunConfig(**_given(source=source, aligned=aligned, forget_class=forget_class, stop_at=stop_at,
                                   check_every=check_every, budget=budget, train_epochs=train_epochs,
                                   data_dir=str(data_dir) if data_dir else None))
    cfg = VisionBenchConfig(run=run, **_given(methods=_list(methods), seeds=_seed_list(seeds) if seeds else None))
    check_writable(out, "--out")
    out = run_vision_bench(cfg, out)
    typer.echo((out / "leaderboard.md").read_text())
    typer.echo(f"report: {out / 'report.html'}")


from obliviate.smarl.cli import smarl_app  # noqa: E402  (loads no torch)

app.add_typer(smarl_app, name="smarl")


def main() -> None:
    # Third-party progress bars (model shards, downloads, datasets) off before those libraries load: ours say what
    # runs; theirs flood logs and pile up in a terminal. A user's own setting wins.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # tqdm used directly (transformers' GGUF conversion, lm-eval)
    app()


if __name__ == "__main__":
    sys.exit(main())
