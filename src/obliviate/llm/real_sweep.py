"""``obliviate sweep --real``: per-method defaults for unlearning what a pretrained model knows.

The world's defaults (:func:`~obliviate.llm.pipeline.UnlearnConfig`: lr 2e-5,
5 epochs) were set on facts fine-tuned into the model. Pretrained knowledge is
held differently (RMU at them removed nothing in issue 26's trial), so each
method gets the same small grid on a request about pretrained knowledge, and
the pick is what :data:`~obliviate.llm.real_demo.REAL_DEFAULTS` records.

**The validation request** is not the one the demo reports: the base model
forgets *who wrote* 58 books (``real_authors.jsonl``, two columns as a user
writes them; SmolLM2 states about 20 of the authors in its chat format) and
keeps the 34 shipped general facts; the demo forgets capitals. Defaults picked
on authors and reported on capitals are a test of whether they carry over to
another topic, as they must for a user's request.

**The grid** (:data:`LRS`): the world's learning rate and 5x it, the same for
every method, each run with ``--stop-at unseen`` (checked every ``eval_every``
steps) under a cap of ``epochs`` (1.5: 22 steps on the 58 questions). The stop
rule decides the budget; the learning rate decides whether it gets there
within the cap, and how cleanly. Small, because every config costs 1-3 min on
2 CPU cores (34 configs in about an hour).

**Judged** on the model's own greedy answers in its chat format
(:func:`~obliviate.llm.eval.known.compare`), only on the facts the base model
states: ``forgotten`` (forget facts no longer stated), ``paraphrased``
(the same under a paraphrased question) and ``general kept`` (general facts
*not* in the retain set still stated: the retain term cannot inflate it).

**The selection rule** (:func:`select_real`): among a method's configs that
forget at least ``min_forgotten`` (0.8) of the known facts, the highest
general kept; if none does, the most forgotten; ties go to fewer steps, then
the earlier grid point. A config whose training diverged is never picked.

**Files**: ``<out>/real-sweep.yaml`` (the config), ``request/`` (the files),
one folder per config ``configs/<method>-c<i>/`` with ``config.yaml``,
``events.jsonl`` and ``metrics.json`` (written last: the "done" marker; a
re-run skips finished configs), then ``real-sweep.json`` and ``real-sweep.md``.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obliviate.core.config import field_help, load_yaml, save_yaml, to_dict
from obliviate.core.errors import ConfigError, TrainingDiverged
from obliviate.core.progress import log
from obliviate.core.store import atomic_write_json, atomic_write_text, open_shared_out_dir
from obliviate.llm.data.user_files import request_splits
from obliviate.llm.eval.during import EvalDuring, EvalDuringConfig
from obliviate.llm.eval.known import compare, frame_splits, known, scorers
from obliviate.llm.methods import METHODS, get_method
from obliviate.llm.pipeline import UnlearnConfig, unlearn
from obliviate.llm.real_demo import RETAIN_FILE, run_steps, shipped, write_jsonl
from obliviate.models import load
from obliviate.models.load import DEFAULT_MODEL

VALIDATION_FILE = "real_authors.jsonl"
LRS = [2e-5, 1e-4]  # the world's default and 5x it (what RMU needed in issue 26's trial)
MARKER = "real-sweep.yaml"
RULE = ("among the configs that forget at least min_forgotten of the facts the base model states, "
        "the highest share of general facts (not in the retain set) still stated; if none does, the most "
        "forgotten; ties go to fewer steps, then the earlier grid point; a diverged config is never picked")


@dataclass
class RealSweepConfig:
    """What ``obliviate sweep --real`` runs; saved as ``real-sweep.yaml`` in its folder."""

    model: str = field_help(DEFAULT_MODEL, "the pretrained model the defaults are for")
    methods: list[str] = field(default_factory=lambda: list(METHODS.names()),
                               metadata={"help": "methods to tune (default: every registered one)"})
    lrs: list[float] = field(default_factory=lambda: list(LRS), metadata={"help": "learning rates tried"})
    epochs: float = field_help(1.5, "the cap on each config's budget (the stop rule usually ends it sooner)")
    eval_every: int = field_help(2, "optimizer steps between the --stop-at unseen checks")
    min_forgotten: float = field_help(0.8, "forgotten share a config needs to be picked on general knowledge")
    style: str = field_help("chat", "the prompt style answers are judged in")
    seed: int = field_help(0, "unlearning seed of every config")
    forget: str = field_help("", "the forget request to tune on ('' = the shipped authors)")
    retain: str = field_help("", "the retain file ('' = the shipped general facts)")
    unseen: str = field_help("", "never-seen facts of the same kind ('' = built from the request)")

    def __post_init__(self) -> None:
        if not self.methods:
            raise ConfigError("RealSweepConfig.methods must name at least one method")
        self.methods = [_name(m) for m in self.methods]
        if not self.lrs or any(not (isinstance(x, (int, float)) and x > 0) for x in self.lrs):
            raise ConfigError(f"RealSweepConfig.lrs must be positive learning rates, got {self.lrs}")
        if not self.epochs > 0:
            raise ConfigError(f"RealSweepConfig.epochs must be > 0, got {self.epochs}")
        if self.eval_every < 1:
            raise ConfigError(f"RealSweepConfig.eval_every must be >= 1, got {self.eval_every}")
        if not 0 < self.min_forgotten <= 1:
            raise ConfigError(f"RealSweepConfig.min_forgotten must be in (0, 1], got {self.min_forgotten}")
        if (self.retain or self.unseen) and not self.forget:
            raise ConfigError("a retain or unseen file goes with your own forget request (forget=FILE)")
        for name in ("forget", "retain", "unseen"):
            if getattr(self, name) and not Path(getattr(self, name)).exists():
                raise ConfigError(f"--{name} {getattr(self, name)}: no such file or folder")


def _name(method: str) -> str:
    """The registry's spelling of ``method`` (an unknown name fails, listing the valid ones)."""
    get_method(method)
    return METHODS.entry(method).name


def config_folder(out: Path, method: str, index: int) -> Path:
    return out / "configs" / f"{method.lower()}-c{index:02d}"


def config_settings(cfg: RealSweepConfig, method: str, index: int) -> dict[str, Any]:
    """Everything that shapes one config's result (a finished config with other settings is refused)."""
    return {"model": cfg.model, "method": method, "index": index, "lr": cfg.lrs[index], "epochs": cfg.epochs,
            "eval_every": cfg.eval_every, "style": cfg.style, "seed": cfg.seed}


def _finished(out: Path, settings: dict[str, Any]) -> bool:
    folder = config_folder(out, settings["method"], settings["index"])
    if not (folder / "metrics.json").is_file():
        return False
    if load_yaml(folder / "config.yaml") != settings:
        raise ConfigError(f"{folder} finished with other settings than this sweep's; use another --out")
    return True


def request_files(cfg: RealSweepConfig, folder: Path) -> dict[str, Path | None]:
    """The request tuned on: the user's files, else the shipped authors to forget and general facts to keep,
    written to ``folder`` as a user writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    if cfg.forget:
        return {"forget": Path(cfg.forget), "retain": Path(cfg.retain) if cfg.retain else
                write_jsonl(folder / "retain.jsonl", shipped(RETAIN_FILE)), "unseen": Path(cfg.unseen) if
                cfg.unseen else None}
    return {"forget": write_jsonl(folder / "forget.jsonl", shipped(VALIDATION_FILE)),
            "retain": write_jsonl(folder / "retain.jsonl", shipped(RETAIN_FILE)), "unseen": None}


@dataclass
class _Setup:
    """The original model, its framed request splits, its answers, and the sets each config is judged on."""

    original: Any
    tokenizer: Any
    splits: Any
    before: dict[str, Any]
    sets: dict[str, list]


def _setup(cfg: RealSweepConfig, out: Path) -> _Setup:
    files = request_files(cfg, out / "request")
    original, tok = load(cfg.model)
    splits = frame_splits(original, tok, request_splits(files["forget"], files["retain"], files.get("unseen")))
    before = scorers(original, tok, [cfg.style])
    # only the facts the original states are judged (compare counts the others apart): asking the rest after
    # unlearning would change no figure
    sets = {name: [r for r, k in zip(recs, known(before[cfg.style], recs)) if k]
            for name, recs in (("forget", splits.forget), ("general", splits.world_facts))}
    return _Setup(original, tok, splits, before, sets)


def run_real_sweep(cfg: RealSweepConfig, out: str | Path) -> Path:
    """Run every config not finished yet, then write ``real-sweep.json`` and ``.md``. Returns ``out``."""
    out = Path(out)
    open_shared_out_dir(out, "sweep --real", MARKER)
    save_yaml(out / MARKER, to_dict(cfg))
    jobs = [(m, i) for m in cfg.methods for i in range(len(cfg.lrs))]
    todo = [j for j in jobs if not _finished(out, config_settings(cfg, *j))]
    log(f"sweep --real: {len(jobs)} configs ({len(cfg.lrs)} per method), {len(jobs) - len(todo)} finished kept, "
        f"{len(todo)} to run in {out}")
    setup = None
    for k, (method, i) in enumerate(todo, 1):
        log(f"sweep --real [{k}/{len(todo)}]: {method} lr {cfg.lrs[i]:.3g}")
        setup = setup or _setup(cfg, out)
        _run_config(cfg, setup, out, method, i)
    write_real_sweep(cfg, out)
    return out


def _run_config(cfg: RealSweepConfig, s: _Setup, out: Path, method: str, index: int) -> None:
    settings = config_settings(cfg, method, index)
    folder = config_folder(out, method, index)
    if (folder / "config.yaml").is_file() and load_yaml(folder / "config.yaml") != settings:
        shutil.rmtree(folder)  # this sweep's unfinished config with other settings: start it over
    folder.mkdir(parents=True, exist_ok=True)
    save_yaml(folder / "config.yaml", settings)
    train = UnlearnConfig(lr=cfg.lrs[index], epochs=cfg.epochs, seed=cfg.seed)
    ecfg = EvalDuringConfig(every=cfg.eval_every, stop_at="unseen", max_forget=20, suite=False)
    during = EvalDuring(s.tokenizer, s.splits, ecfg, run_dir=folder)
    t = time.time()
    row: dict[str, Any] = {"method": method, "index": index, "lr": cfg.lrs[index], "epochs": cfg.epochs}
    try:
        model = unlearn(copy.deepcopy(s.original), s.tokenizer, s.splits, method, train, run_dir=folder,
                        callbacks=[during])
    except TrainingDiverged as e:  # recorded, never picked: a broken model is not a result
        row.update(diverged=str(e), seconds=round(time.time() - t, 1))
        atomic_write_json(folder / "metrics.json", row)
        return
    row["seconds"] = round(time.time() - t, 1)
    row["steps"] = run_steps(folder)[0]
    row["stopped_at"] = during.results().get("stopped_at")
    result = compare(scorers(model, s.tokenizer, [cfg.style]), s.before, s.sets,
                     paraphrase_of={"forget_paraphrase": "forget"})
    counts = {name: c[cfg.style] for name, c in result["sets"].items()}
    row.update(forgotten=_share(counts, "forget", "forgotten_share"),
               paraphrased=_share(counts, "forget_paraphrase", "forgotten_share"),
               general_kept=_share(counts, "general", "kept_share"),
               idk=counts.get("forget", {}).get("idk"), counts=counts,
               words=result["style"], examples=result["examples"].get("forget", [])[:3])
    atomic_write_json(folder / "metrics.json", row)


def _share(counts: dict[str, Any], name: str, key: str) -> float:
    value = counts.get(name, {}).get(key)
    return float(value) if isinstance(value, (int, float)) else math.nan


def _num(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else -math.inf


def select_real(rows: list[dict[str, Any]], min_forgotten: float = 0.8) -> dict[str, Any] | None:
    """The config :data:`RULE` picks among a method's finished ``rows`` (None when none finished without diverging).

    Each row needs ``index``, ``forgotten``, ``general_kept`` and ``steps``; a row with ``diverged`` is skipped.
    """
    ok = [r for r in rows if not r.get("diverged")]

    def key(r: dict[str, Any]) -> tuple:
        passes = _num(r.get("forgotten")) >= min_forgotten
        score = _num(r.get("general_kept")) if passes else _num(r.get("forgotten"))
        second = -math.inf if passes else _num(r.get("general_kept"))
        return passes, score, second, -(r.get("steps") or 0), -int(r["index"])

    return max(ok, key=key) if ok else None


def write_real_sweep(cfg: RealSweepConfig, out: str | Path) -> dict[str, Any]:
    """``real-sweep.json`` and ``real-sweep.md`` from the finished configs; returns the json data."""
    out = Path(out)
    methods: dict[str, Any] = {}
    for method in cfg.methods:
        rows = [json.loads((config_folder(out, method, i) / "metrics.json").read_text())
                for i in range(len(cfg.lrs)) if _finished(out, config_settings(cfg, method, i))]
        pick = select_real(rows, cfg.min_forgotten)
        selected = None if pick is None else {
            "index": pick["index"], "lr": pick["lr"], "epochs": cfg.epochs, "stop_at": "unseen",
            "passes": _num(pick.get("forgotten")) >= cfg.min_forgotten}
        methods[method] = {"finished": len(rows), "configs": rows, "selected": selected}
    data = {"rule": RULE, "config": to_dict(cfg), "request": cfg.forget or VALIDATION_FILE, "methods": methods}
    atomic_write_json(out / "real-sweep.json", data)
    atomic_write_text(out / "real-sweep.md", real_sweep_markdown(data))
    return data


def _pct(x: Any) -> str:
    return "n/a" if not isinstance(x, (int, float)) or not math.isfinite(x) else f"{x * 100:.0f}%"


def real_sweep_markdown(data: dict[str, Any]) -> str:
    """One row per config (the picked one marked), in the registry's order."""
    cfg = data["config"]
    counts = next((r["counts"] for m in data["methods"].values() for r in m["configs"] if r.get("counts")), {})
    n = {k: counts.get(k, {}).get("known_before", 0) for k in ("forget", "forget_paraphrase", "general")}
    lines = [f"# sweep --real: {cfg['model']}, forget {data['request']} (answers in the {cfg['style']} format)", "",
             f"Rule: {data['rule']} (min_forgotten {cfg['min_forgotten']}).", "",
             f"Judged on the {n['forget']} forget facts the base model states ({n['forget_paraphrase']} of their "
             f"paraphrases) and {n['general']} general facts it states that are not trained; one seed per config "
             f"(a share of {n['general']} facts has a standard error of up to "
             f"{math.sqrt(0.25 / max(n['general'], 1)):.3f}).", "",
             "| method | lr | steps | forgotten | paraphrased | general kept | says I don't know | seconds | "
             "picked |", "|---|---|---|---|---|---|---|---|---|"]
    for method, m in data["methods"].items():
        picked = (m["selected"] or {}).get("index")
        for r in m["configs"]:
            if r.get("diverged"):
                lines.append(f"| {method} | {r['lr']:.0e} | diverged | | | | | {r['seconds']:.0f} | |")
                continue
            lines.append(f"| {method} | {r['lr']:.0e} | {r.get('steps')} | {_pct(r['forgotten'])} | "
                         f"{_pct(r['paraphrased'])} | {_pct(r['general_kept'])} | {r.get('idk')} | "
                         f"{r['seconds']:.0f} | {'yes' if r['index'] == picked else ''} |")
    return "\n".join(lines) + "\n"


def picks(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each method's picked settings as :data:`~obliviate.llm.real_demo.REAL_DEFAULTS` entries."""
    return {method: {"lr": m["selected"]["lr"], "epochs": m["selected"]["epochs"]}
            for method, m in data["methods"].items() if m["selected"]}

