"""``obliviate demo --real``: forget a topic the base model knows from pretraining, keep general knowledge.

No world and no fine-tuning: the base SmolLM2-135M-Instruct (or ``--model``)
is asked the capitals of 60 countries, a topic it knows from pretraining (it
states 44 in its chat format). Three of every four questions are the forget
request (two columns, ``question`` and ``answer``, as a user would write
them), the fourth are held out (does forgetting generalise to the rest of the
topic). The retain file is 34 general facts; general knowledge that is *not*
trained is the shipped world facts less the capitals (model utility that the
retain term cannot inflate).

Each method runs twice on the same request: a **fixed** budget (its epochs)
and **calibrated** stopping (``stop_at="unseen"``: stop once the forget set's
answer probability reaches that of never-seen facts of the same kind). Then
:func:`~obliviate.llm.request_eval.evaluate_request` judges the model's own
answers before and after, in the chat and the trained prompt format.

The run folder holds the request files, one unlearn run folder per method and
budget, ``results.json`` (written after each, so an interrupted demo resumes
with ``resume_real_demo``) and ``report.html``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from obliviate.core.config import field_help, to_dict
from obliviate.core.errors import ConfigError
from obliviate.core.progress import log
from obliviate.core.report.page import Examples, Notes, Page, Table, today, version_line, write_page
from obliviate.core.store import (
    atomic_write_json,
    atomic_write_text,
    check_resume,
    finish_run,
    new_run_dir,
    run_info,
)
from obliviate.llm.data.facts import load_world_facts
from obliviate.llm.data.records import read_jsonl_dicts, save_jsonl
from obliviate.llm.data.user_files import load_records, request_splits
from obliviate.llm.eval.during import EvalDuringConfig
from obliviate.llm.eval.known import scorers
from obliviate.llm.methods import METHODS, get_method
from obliviate.llm.pipeline import UnlearnConfig, unlearn_run
from obliviate.llm.request_eval import FORGET_SETS, evaluate_request
from obliviate.models import load
from obliviate.models.load import DEFAULT_MODEL

TOPIC_FILE, RETAIN_FILE = "real_capitals.jsonl", "real_retain.jsonl"
HOLDOUT_EVERY = 4  # every 4th question of the topic is held out: 15 of 60
BUDGETS = ("fixed", "unseen")
COMMAND, CONFIG = "demo-real", "demo-real.json"

# Per-method training settings on pretrained knowledge: the learning rate `obliviate sweep --real` picked for each
# method (of 2e-5 and 1e-4, every config stopped at the never-seen reference; request: who wrote 58 books, not the
# demo's capitals; docs/BENCHMARKS.md "sweep --real"). The epochs are the fixed budget (the demo's "fixed" runs and
# a forget request without --stop-at); the sweep capped its stopped runs at 1.5 epochs, and with a constant
# learning rate a stopped run takes the same steps under either cap. `unlearn` applies these to a forget request
# given without --lr and --epochs. RMU and SAEGuided need 5x the world's rate; KLUE, MEOW, SatImp and SimNPO reach
# the reference at neither rate within the cap (their rows say how far they got).
DEMO_METHODS = ("NPO", "GradDiff", "RMU", "IdkPO")  # two ascent methods, a representation method, a refusal
REAL_DEFAULTS: dict[str, dict[str, Any]] = {
    "AltPO": {"lr": 1e-4, "epochs": 5.0},
    "CE-U": {"lr": 2e-5, "epochs": 5.0},
    "FLAT": {"lr": 2e-5, "epochs": 5.0},
    "GradAscent": {"lr": 2e-5, "epochs": 5.0},
    "GradDiff": {"lr": 1e-4, "epochs": 5.0},
    "IdkPO": {"lr": 2e-5, "epochs": 5.0},
    "KL": {"lr": 2e-5, "epochs": 5.0},
    "KLUE": {"lr": 1e-4, "epochs": 5.0},
    "MEOW": {"lr": 1e-4, "epochs": 5.0},
    "NPO": {"lr": 1e-4, "epochs": 5.0},
    "PDU": {"lr": 2e-5, "epochs": 5.0},
    "RMU": {"lr": 1e-4, "epochs": 5.0},
    "SAEGuided": {"lr": 1e-4, "epochs": 5.0},
    "SatImp": {"lr": 2e-5, "epochs": 5.0},
    "SimNPO": {"lr": 1e-4, "epochs": 5.0},
    "UNDIAL": {"lr": 2e-5, "epochs": 5.0},
    "WGA": {"lr": 1e-4, "epochs": 5.0},
}


@dataclass
class RealDemoConfig:
    """What ``obliviate demo --real`` runs."""

    model: str = field_help(DEFAULT_MODEL, "the model to unlearn (it must know the topic)")
    methods: list[str] = field(default_factory=lambda: list(DEMO_METHODS),
                               metadata={"help": "methods, each at its REAL_DEFAULTS settings"})
    budgets: list[str] = field(default_factory=lambda: list(BUDGETS),
                               metadata={"help": "fixed (the method's epochs) and/or unseen (--stop-at unseen)"})
    eval_every: int = field_help(2, "optimizer steps between the --stop-at checks")
    styles: list[str] = field(default_factory=lambda: ["chat", "trained"],
                              metadata={"help": "prompt styles the answers are judged in"})
    forget: str = field_help("", "the user's forget request (two-column JSONL or a text folder); '' = the capitals")
    retain: str = field_help("", "the user's retain file; '' = the shipped general facts (needs forget)")
    topic_holdout: str = field_help("", "other questions of the user's topic, not trained (optional)")
    runs_dir: str = "runs"
    name: str = ""

    def __post_init__(self) -> None:
        bad = sorted(set(self.budgets) - set(BUDGETS))
        if bad or not self.budgets:
            raise ConfigError(f"RealDemoConfig.budgets must be among {', '.join(BUDGETS)}, got {self.budgets}")
        for m in self.methods:
            get_method(m)  # an unknown name fails here, listing the valid ones
        if self.eval_every < 1:
            raise ConfigError(f"RealDemoConfig.eval_every must be >= 1, got {self.eval_every}")
        if (self.retain or self.topic_holdout) and not self.forget:
            raise ConfigError("a retain or topic-holdout file goes with your own forget request (--forget FILE)")
        for name in ("forget", "retain", "topic_holdout"):
            path = getattr(self, name)
            if path and not Path(path).exists():
                raise ConfigError(f"--{name.replace('_', '-')} {path}: no such file or folder")


def shipped(name: str) -> list[dict[str, Any]]:
    """The rows of a shipped request file (``real_capitals.jsonl``, ``real_retain.jsonl``)."""
    ref = resources.files("obliviate.llm.data").joinpath(name)
    with resources.as_file(ref) as path:
        return [row for _, row in read_jsonl_dicts(path)]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """``rows`` as a JSONL file, one object per line (written atomically)."""
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def write_request(folder: Path, cfg: RealDemoConfig | None = None) -> dict[str, Path | None]:
    """The demo's request as a user would give it: ``forget``, ``topic_holdout``, ``retain`` (two-column JSONL)
    and ``general`` (the world facts less the capitals), in ``folder``. With the user's own files in ``cfg``, copies
    of those (``general`` then ``None``: the shipped facts less the request's questions)."""
    folder.mkdir(parents=True, exist_ok=True)
    if cfg is not None and cfg.forget:
        files: dict[str, Path | None] = {"general": None, "topic_holdout": None}
        for name in ("forget", "retain", "topic_holdout"):
            given = getattr(cfg, name)
            if not given:
                continue
            src, dest = Path(given), folder / (name + ("" if Path(given).is_dir() else Path(given).suffix))
            if not dest.exists():
                (shutil.copytree if src.is_dir() else shutil.copyfile)(src, dest)
            files[name] = dest
        files.setdefault("retain", write_jsonl(folder / "retain.jsonl", shipped(RETAIN_FILE)))
        return files
    topic = shipped(TOPIC_FILE)
    files = {"forget": write_jsonl(folder / "forget.jsonl", [r for i, r in enumerate(topic) if i % HOLDOUT_EVERY != 3]),
             "topic_holdout": write_jsonl(folder / "topic_holdout.jsonl",
                                     [r for i, r in enumerate(topic) if i % HOLDOUT_EVERY == 3]),
             "retain": write_jsonl(folder / "retain.jsonl", shipped(RETAIN_FILE))}
    general = [r for r in load_world_facts() if r.meta.get("attribute") != "capital"]
    files["general"] = save_jsonl(general, folder / "general.jsonl")
    return files


def run_real_demo(cfg: RealDemoConfig) -> Path:
    """Run the demo into a new run folder (``<stamp>-demo-real``); returns it."""
    folder = new_run_dir(cfg.runs_dir, cfg.name or "demo-real", command=COMMAND, settings=to_dict(cfg))
    atomic_write_json(folder / CONFIG, to_dict(cfg))
    return _run(cfg, folder)


def resume_real_demo(folder: str | Path) -> Path:
    """Finish an interrupted demo: finished method runs are kept, an interrupted one continues from its checkpoint."""
    folder = Path(folder)
    if not (folder / CONFIG).is_file():
        raise ConfigError(f"--resume {folder}: no {CONFIG}: not a `demo --real` run folder")
    cfg = RealDemoConfig(**json.loads((folder / CONFIG).read_text()))
    check_resume(folder, COMMAND, to_dict(cfg))
    return _run(cfg, folder)


def _earlier(folder: Path, name: str) -> tuple[Path | None, bool]:
    """An earlier unlearn run of this demo called ``name``, and whether it finished."""
    for run in sorted((folder / "runs").glob(f"*-{name}")) if (folder / "runs").is_dir() else []:
        info = run_info(run) or {}
        return run, bool(info.get("finished")) and (run / "model" / "config.json").is_file()
    return None, False


def _run(cfg: RealDemoConfig, folder: Path) -> Path:
    files = write_request(folder / "request", cfg)
    splits = request_splits(files["forget"], files["retain"], None, files["general"])
    holdout = load_records(files["topic_holdout"], "topic_holdout") if files["topic_holdout"] else None
    results_path = folder / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {"runs": {}}
    original, tok = load(cfg.model)
    before = scorers(original, tok, cfg.styles)  # the original's answers, computed once for every run
    for method in cfg.methods:
        for budget in cfg.budgets:
            key = f"{method}/{budget}"
            if key in results["runs"]:
                continue
            log(f"demo --real: {key}")
            ecfg = EvalDuringConfig(every=cfg.eval_every, stop_at="unseen", max_forget=20, max_per_split=5) \
                if budget == "unseen" else EvalDuringConfig()
            train = UnlearnConfig(**REAL_DEFAULTS.get(METHODS.entry(method).name, {}))
            name = f"{method.lower()}-{budget}"
            earlier, finished = _earlier(folder, name)
            if not finished:
                unlearn_run(cfg.model, splits, method, train, runs_dir=folder / "runs", eval_during=ecfg, name=name,
                            variant="own-request" if cfg.forget else "capitals", resume=earlier)
                earlier, _ = _earlier(folder, name)
            net, _ = load(str(earlier / "model"))
            evaluation = evaluate_request(net, tok, original, splits, styles=cfg.styles, topic_holdout=holdout,
                                          before=before, every_style=("forget",))  # the rest: the first style
            steps, seconds = run_steps(earlier)
            stopped = json.loads((earlier / "metrics.json").read_text())["eval_during"]["stopped_at"] \
                if (earlier / "metrics.json").is_file() else None
            results["runs"][key] = {"method": method, "budget": budget, "folder": earlier.name, "seconds": seconds,
                                    "steps": steps, "train": to_dict(train), "stopped_at": stopped,
                                    "evaluation": evaluation}
            atomic_write_json(results_path, results)
    write_page(folder / "report.html", real_page(results, cfg))
    finish_run(folder)
    return folder


def run_steps(run_folder: Path) -> tuple[int | None, float | None]:
    """Optimizer steps the run took and the seconds its training took (its step log's last row)."""
    path = run_folder / "events.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    rows = [r for r in rows if isinstance(r.get("step"), int)]
    return (rows[-1]["step"], rows[-1].get("time_s")) if rows else (None, None)


def _pct(x: Any) -> str:
    return "n/a" if not isinstance(x, (int, float)) or x != x else f"{x * 100:.0f}%"


def real_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row per method and budget: forgotten shares (chat, trained, paraphrased, held-out topic), kept shares
    (retain, general not trained), declines, steps and seconds."""
    rows = []
    for r in results["runs"].values():
        sets, first = r["evaluation"]["sets"], r["evaluation"].get("styles", ["chat"])[0]
        shares = [_share(sets, name, style) for name, style in (
            ("forget", "chat"), ("forget", "trained"), ("forget_paraphrase", first), ("topic_holdout", first),
            ("retain", first), ("general", first))]
        rows.append([r["method"], r["budget"], *shares, str(sets.get("forget", {}).get(first, {}).get("idk", "")),
                     str(r["steps"]), "" if r["seconds"] is None else f"{r['seconds']:.0f}"])
    return rows


def _share(sets: dict[str, Any], name: str, style: str) -> str:
    c = sets.get(name, {}).get(style)
    if c is None:
        return "n/a"
    return _pct(c["forgotten_share"] if name in FORGET_SETS else c["kept_share"])


REAL_HEADS = ["method", "budget", "forgotten (chat)", "forgotten (trained)", "paraphrased", "held-out topic",
              "retain kept", "general kept", "says I don't know", "steps", "seconds"]


def real_page(results: dict[str, Any], cfg: RealDemoConfig) -> Page:
    """The demo's report: the table per method and budget, then answers before and after."""
    first = next(iter(results["runs"].values()), None)
    style = first["evaluation"]["styles"][0] if first else ""
    known = first["evaluation"]["sets"]["forget"][style] if first else None
    reading = (f"The model states {known['known_before']} of the {known['n']} forget facts in the {style} "
               "format; each row is the share of those it no longer states (forgotten) and the share of general "
               "facts it still states (kept); the columns after the first two read the "
               f"{style} format." if known else "No run finished.")
    examples = []
    for r in results["runs"].values():
        for e in r["evaluation"]["examples"].get("forget", [])[:3]:
            examples.append({"split": f"{r['method']} ({r['budget']})", "question": e["question"],
                             "answer": e["key"], "answers": {"before": e["before"], "after": e["after"]}})
    notes = Notes([
        ("forgotten", "of the forget facts the base model stated, the share no longer stated in the greedy answer"),
        ("budget", "fixed: the method's epochs; unseen: stopped once the forget answer probability reached that of "
                   "never-seen facts of the same kind (checked every "
                   f"{cfg.eval_every} steps)"),
        ("general kept", "general facts NOT in the retain set that the base model stated, still stated"),
    ], title="How to read it")
    header = {"model": cfg.model, "methods": ", ".join(cfg.methods), "date": today(), "version": version_line()}
    return Page("obliviate demo --real", header, reading,
                [Table(REAL_HEADS, real_rows(results), left=2), notes,
                 Examples(["before", "after"], examples, title="Forget answers before and after")],
                written_by="obliviate demo")
