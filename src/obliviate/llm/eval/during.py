"""Evaluation during unlearning: a trajectory of forget quality and utility, and ``keep="best"``.

:class:`EvalDuring` is a trainer callback. Before the first optimizer step
(step 0, or the step a resumed run starts from), every ``every`` steps and
after the last step it scores the model on capped record counts:

* forget quality: the two-sample KS-test p-value between the model's forget
  truth ratios and the gold (retain-only) model's (Maini et al. 2024), and its
  log10; the gold model's truth ratios are computed once, on the same capped
  forget records, and cached in the run folder (``eval_gold.json``);
* model utility: the harmonic mean over retain, real entities and world facts (OpenUnlearning's nine numbers)
  (:func:`obliviate.llm.eval.suite.evaluate`);
* the forget answer probability.

With holdout records (the never-seen reference: a plain forget request's is
built by the tool) each row also has ``forget_knowledge`` and
``unseen_knowledge``, the per-token answer probability ``P(a|q)^(1/|a|)`` of
the forget set and of the reference. **Calibrated stopping**
(``stop_at="unseen"``, ``--stop-at unseen``) ends unlearning at the first
evaluation after step 0 where the forget figure is at or below the
reference's *before unlearning* (the first row): the model then gives the
forget answers the confidence it gave facts it never saw, instead of
overshooting into confabulation and damage. The reference is not re-read on
the current model, because unlearning lowers it too (NPO on SmolLM2's
capitals took the reference from 0.15 to 0.008 in 8 steps), and a moving
target lets the damage run on.
``results()["stopped_at"]`` names that step.

One row per evaluation goes to ``trajectory.jsonl`` in the run folder (the
whole file rewritten atomically each time) and one line to the progress log.

**The keep rule** (``keep="best"``, :func:`pick_best`): among the evaluations
whose forget quality p-value is at least ``keep_threshold`` (default 0.05),
the one with the highest model utility; if none passes, the one with the
highest forget quality; ties go to the earlier step. It is the argmax of the
per-row key ``(passes, utility if passes else p-value, -step)``, so a new
evaluation either becomes the pick or leaves it where it was: the kept state
only ever needs replacing by the current one.

**Where the kept state lives.** A copy of the trained parameters only (with
LoRA: the adapter's, a few MB), taken when an evaluation becomes the pick.
With a run folder it is written to ``run_dir/best/params.safetensors``
(atomically, process 0), so a resumed run still has it and a large model
does not hold a second copy in memory; without one it is a CPU copy in
memory. After the last step the kept parameters are copied back into the
model before a LoRA adapter is merged, and ``best/`` is removed.

**Several processes.** Every process holds the same weights (the trainer sums
gradients), so process 0 evaluates while the others wait; it broadcasts the
row and the keep decision, so every process logs the same trajectory, keeps
the same step and ends with the same weights.

**Training is not disturbed.** Scoring runs under ``torch.inference_mode``
with the model switched to eval mode and back, and the torch, numpy and
python RNG states are restored afterwards, so a run with evaluations ends at
the same weights as one without (``keep="last"``).

A resumed run keeps the rows up to its checkpoint's step and evaluates at the
same steps after it as an uninterrupted run, so it keeps the same step. If the
kept state on disk is newer than the checkpoint (the process was killed, not
interrupted, after a new pick), the states before the checkpoint are gone: the
pick is then made among the evaluations from the resumed step on (the state
at that step evaluated first), with a warning.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import random
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from obliviate.core import dist
from obliviate.core.config import field_help, to_dict
from obliviate.core.errors import ConfigError, DataError
from obliviate.core.progress import log, warn
from obliviate.core.report import write_report
from obliviate.core.store import atomic_dir, atomic_write_json, atomic_write_text, stable_hash
from obliviate.llm.eval.options import subsample
from obliviate.llm.eval.scoring import Scorer, knowledge
from obliviate.llm.eval.suite import evaluate

KEEP_CHOICES = ("last", "best")
STOP_CHOICES = ("", "unseen")
STOP_EVERY = 5  # --stop-at without --eval-every: check every 5 optimizer steps
TRAJECTORY = "trajectory.jsonl"
GOLD_CACHE = "eval_gold.json"
BEST_DIR = "best"
KEEP_RULE = ("among evaluations whose forget quality KS p-value >= keep_threshold, the highest model utility; "
             "if none passes, the highest forget quality; ties: the earlier step")


@dataclass
class EvalDuringConfig:
    """Evaluation during unlearning (``obliviate unlearn --eval-every N --keep best``)."""

    every: int = field_help(0, "evaluate every N optimizer steps, plus before the first and after the last (0 = off)")
    keep: str = field_help("last", "the model a run returns: last (its final step) or best (the keep rule)")
    keep_threshold: float = field_help(0.05, "forget quality KS p-value an evaluation needs to be chosen by utility")
    max_forget: int = field_help(40, "forget records scored per evaluation (0 = all)")
    max_per_split: int = field_help(20, "records per utility split (retain, real entities, world facts) per evaluation")
    batch_size: int = field_help(16, "scorer batch size")
    stop_at: str = field_help("", "unseen: stop once the forget set's per-token answer probability is at or below "
                                  "the never-seen reference's (the holdout records) before unlearning; '' = the "
                                  "whole budget")
    suite: bool = field_help(True, "score the whole suite (utility, ROUGE...); false: only the answer probabilities "
                                   "--stop-at reads (a few seconds a check instead of ~20 on a 135M model)")

    def __post_init__(self) -> None:
        if self.every < 0:
            raise ConfigError(f"EvalDuringConfig.every (--eval-every) must be >= 0, got {self.every}")
        if self.keep not in KEEP_CHOICES:
            raise ConfigError(f"EvalDuringConfig.keep (--keep) must be one of {', '.join(KEEP_CHOICES)}, "
                              f"got {self.keep!r}")
        if self.keep == "best" and self.every == 0:
            raise ConfigError("keep='best' (--keep best) needs evaluations: set every (--eval-every N) > 0")
        if not 0.0 <= self.keep_threshold <= 1.0:
            raise ConfigError(f"EvalDuringConfig.keep_threshold (--keep-threshold) must be in [0, 1], "
                              f"got {self.keep_threshold}")
        if self.stop_at not in STOP_CHOICES:
            raise ConfigError(f"EvalDuringConfig.stop_at (--stop-at) must be unseen or empty, got {self.stop_at!r}")
        if self.stop_at and self.every == 0:
            raise ConfigError("stop_at='unseen' (--stop-at unseen) is checked at evaluations: set every "
                              "(--eval-every N) > 0")
        if not self.suite and (self.keep == "best" or not self.stop_at):
            raise ConfigError("EvalDuringConfig.suite=false scores only what --stop-at unseen reads: use it with "
                              "stop_at='unseen' and keep='last'")
        if self.max_forget < 0 or self.max_per_split < 0 or self.batch_size < 1:
            raise ConfigError("EvalDuringConfig.max_forget and max_per_split must be >= 0, batch_size >= 1")


def _finite(value: Any) -> float | None:
    """``value`` as a float, or None when missing or not finite."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def keep_key(row: Mapping[str, Any], threshold: float) -> tuple:
    """The keep rule's sort key of one evaluation: the pick is the row with the largest key."""
    p = _finite(row.get("forget_quality_ks_pvalue"))
    u = _finite(row.get("model_utility_hmean"))
    passes = p is not None and p >= threshold
    score = (u if u is not None else -math.inf) if passes else (p if p is not None else -math.inf)
    return passes, score, -int(row["step"])


def pick_best(rows: Sequence[Mapping[str, Any]], threshold: float = 0.05) -> Mapping[str, Any] | None:
    """The evaluation the keep rule picks (None for no rows).

    Among ``rows`` whose ``forget_quality_ks_pvalue`` is at least ``threshold``,
    the one with the highest ``model_utility_hmean``; if none passes, the one
    with the highest ``forget_quality_ks_pvalue``; ties go to the earlier
    ``step``. A missing or NaN value counts as the lowest.
    """
    return max(rows, key=lambda r: keep_key(r, threshold)) if rows else None


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block and put the torch (CPU and CUDA), numpy and python RNG states back afterwards."""
    py, np_state = random.getstate(), np.random.get_state()
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        yield
    random.setstate(py)
    np.random.set_state(np_state)


def _summary(row: Mapping[str, Any]) -> str:
    """One log line's worth of an evaluation."""
    fq, u = row.get("forget_quality_ks_pvalue"), row.get("model_utility_hmean")
    quality = "n/a (no gold model)" if fq is None else f"{fq:.3g} (log10 {row['forget_quality_log10_pvalue']:.2f})"
    utility = "n/a" if u is None else f"{u:.3f}"
    unseen = row.get("unseen_knowledge")
    return (f"forget quality p={quality}, utility {utility}, forget answer prob {row['forget_answer_prob']:.3g}"
            + ("" if unseen is None else f"; per-token answer prob {row['forget_knowledge']:.3g} vs never-seen "
                                         f"reference {unseen:.3g}"))


def read_trajectory(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of ``run_dir/trajectory.jsonl`` (empty when there is none)."""
    path = Path(run_dir) / TRAJECTORY
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class EvalDuring:
    """Trainer callback: evaluate every ``config.every`` steps; with ``keep="best"`` return the kept state.

    Pass it to :func:`obliviate.api.unlearn` (or any ``Trainer``) in
    ``callbacks=``. It uses the trainer's ``on_fit_start`` / ``on_fit_end``
    hooks for the evaluations before the first and after the last step.

    Args:
        tokenizer: the model's tokenizer (the gold model is scored with it too).
        splits: forget and utility splits (``Splits``); at most ``max_forget``
            forget records and ``max_per_split`` per utility split are scored.
        config: when to evaluate and what to keep.
        gold: the gold (retain-only) model, for forget quality, or a function
            that loads it (called only when its truth ratios are not cached, by
            process 0 only). Scored once, on the training device (then moved back
            where it was), and released. Without it the rows have no forget
            quality and ``keep="best"`` is refused.
        run_dir: where ``trajectory.jsonl``, ``eval_gold.json`` and the kept
            state go; None keeps everything in memory.

    After training, :attr:`rows` holds the trajectory and :attr:`kept` the
    evaluation whose model the run returns.
    """

    def __init__(self, tokenizer, splits, config: EvalDuringConfig, *, gold=None,
                 run_dir: str | Path | None = None) -> None:
        if config.every < 1:
            raise ConfigError("EvalDuring needs config.every (--eval-every) >= 1")
        if config.keep == "best" and gold is None:
            raise ConfigError("keep='best' (--keep best) ranks evaluations by forget quality: give a gold model "
                              "(--gold)")
        if config.stop_at and not splits.holdout:
            raise ConfigError("stop_at='unseen' (--stop-at unseen) needs never-seen reference records (the "
                              "holdout; with a plain forget request the tool builds them)")
        self.config = config
        self.tokenizer = tokenizer
        self.splits = copy.copy(splits)
        self.splits.forget = subsample(splits.forget, config.max_forget or None)
        self.gold = gold
        self.gold_truth_ratios: list[float] | None = None
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.rows: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None  # the pick so far (keep="best")
        self.floor = 0  # the earliest step whose state can still be kept
        self.stopped: dict[str, Any] | None = None  # the evaluation that met --stop-at
        self._memory: list | None = None  # the kept parameters without a run folder
        self._trainer = None

    # ------------------------------------------------------------ trainer hooks

    def on_fit_start(self, trainer, step: int) -> None:
        """Before the first step (after a resumed run's checkpoint is loaded): gold ratios, the first evaluation."""
        self._trainer = trainer
        if dist.is_main() and self.gold_truth_ratios is None:
            self.gold_truth_ratios = self._gold_ratios(trainer)
        self.gold = None  # computed once; the model is not needed any more
        resuming = step > 0 and self.run_dir is not None
        state = self._resume(step) if resuming and dist.is_main() else ([], None, 0)
        self.rows, best_step, self.floor = dist.broadcast(state)  # process 0 read the files
        self.best = next((r for r in self.rows if r["step"] == best_step), None)
        if resuming and dist.is_main():
            self._write_rows()
        here = next((r for r in self.rows if r["step"] == step), None)
        if not self.rows:  # a fresh run (or one resumed without a trajectory): the state before training
            self._evaluate(step)
        elif self.config.keep == "best" and self.best is None:  # resumed, and the kept state was lost
            if here is None:
                self._evaluate(step)  # from the resumed step on (floor), it is the pick
            else:
                self._keep(here)  # the state at the resumed step is the current one

    def __call__(self, step: int, logs: dict[str, float]) -> bool:
        if step % self.config.every == 0:
            self._evaluate(step)
            return self._reached(self.rows[-1])
        return False

    def _reached(self, row: Mapping[str, Any]) -> bool:
        """Whether ``row`` meets ``--stop-at unseen``: the forget answer probability at or below the reference's."""
        if self.config.stop_at != "unseen" or row["step"] == 0 or self.stopped is not None:
            return False
        unseen = self.rows[0].get("unseen_knowledge")  # the model before unlearning, on facts it never saw
        if unseen is None or row["forget_knowledge"] > unseen:
            return False
        self.stopped = dict(row)
        log(f"stop at step {row['step']}: the forget set's per-token answer probability {row['forget_knowledge']:.3g} "
            f"reached the never-seen reference's before unlearning, {unseen:.3g} (--stop-at unseen)")
        return True

    def on_fit_end(self, trainer, step: int) -> None:
        """After the last step: evaluate it (unless done), then restore the kept state (``keep="best"``)."""
        if not self.rows or self.rows[-1]["step"] != step:
            self._evaluate(step)
        if self.config.keep != "best":
            return
        tensors = self._load_kept()
        params = trainer.params
        with torch.no_grad():
            for p, t in zip(params, tensors):
                p.copy_(t)
        log(f"keeping the model of step {self.best['step']} of {step} (rule: {KEEP_RULE}; "
            f"threshold {self.config.keep_threshold:g})")
        if self.run_dir is not None:
            dist.barrier()  # every process has read the kept state
            if dist.is_main():
                shutil.rmtree(self.run_dir / BEST_DIR, ignore_errors=True)
        self._memory = None

    @property
    def kept(self) -> dict[str, Any] | None:
        """The evaluation whose model the run returns: the pick (best) or the last row (last)."""
        return self.best if self.config.keep == "best" else (self.rows[-1] if self.rows else None)

    @property
    def nothing_unlearned(self) -> bool:
        """Whether the kept model is the one before the first unlearning step (``keep="best"`` picked step 0)."""
        kept = self.kept
        return kept is not None and kept["step"] == 0

    def results(self) -> dict[str, Any]:
        """What a run's ``metrics.json`` says about these evaluations (which step was kept, by which rule)."""
        kept = self.kept
        cap = self.config.max_per_split or None
        scored = {s: len((getattr(self.splits, s, None) or [])[:cap]) for s in ("retain", "neighbours", "world_facts")}
        return {**to_dict(self.config), "rule": KEEP_RULE if self.config.keep == "best" else "the last step",
                "kept_step": kept["step"] if kept else None, "evaluations": len(self.rows),
                "stopped_at": self.stopped["step"] if self.stopped else None,
                "records": {"forget": len(self.splits.forget), **scored}}

    # ------------------------------------------------------------ internals

    def _gold_ratios(self, trainer) -> list[float] | None:
        """The gold model's truth ratios on the capped forget records: computed once, cached in the run folder."""
        if self.gold is None:
            return None
        ids = [r.id for r in self.splits.forget]
        key = stable_hash({"ids": ids, "texts": [[r.question, r.answer, r.paraphrased_answer, *r.perturbed_answers]
                                                 for r in self.splits.forget]})
        cache = self.run_dir / GOLD_CACHE if self.run_dir is not None else None
        if cache is not None and cache.is_file():
            blob = json.loads(cache.read_text())
            if blob.get("key") == key:
                return blob["truth_ratio"]

        device = trainer.accelerator.device
        forget_only = copy.copy(self.splits)
        for name in ("retain", "neighbours", "real_entities", "world_facts"):
            setattr(forget_only, name, [])
        gold = self.gold if isinstance(self.gold, torch.nn.Module) else self.gold()
        home = next(gold.parameters()).device
        with preserved_rng():
            gold.to(device)
            _, per_sample = evaluate(gold, self.tokenizer, forget_only, batch_size=self.config.batch_size)
            gold.to(home)
        ratios = per_sample["forget"]["truth_ratio"]
        if cache is not None:
            atomic_write_json(cache, {"key": key, "ids": ids, "truth_ratio": ratios})
        return ratios

    def _resume(self, step: int) -> tuple[list[dict], int | None, int]:
        """(rows up to ``step``, step of the kept state still on disk, floor) of a resumed run (process 0)."""
        rows = [r for r in read_trajectory(self.run_dir) if r["step"] <= step]  # later ones are evaluated again
        floor, best_step = 0, None
        if self.config.keep == "best" and rows:
            pick = pick_best(rows, self.config.keep_threshold)
            if self._stored_step() == pick["step"]:
                best_step = pick["step"]
            elif pick["step"] != step:  # its state was overwritten by a newer pick, lost with the crash
                floor = step
                log(f"warning: the kept state of step {pick['step']} is gone (the run stopped after a newer pick, "
                    f"past its checkpoint at step {step}); the kept model will come from step {step} on")
        return rows, best_step, floor

    def _evaluate(self, step: int) -> None:
        """Score the model (process 0), share the row, and keep the state when the rule now picks it."""
        row = dist.broadcast(self._score(step) if dist.is_main() else None)
        self.rows.append(row)
        if dist.is_main():
            self._write_rows()
            log(f"eval at step {step}: {_summary(row)}")
        if self.config.keep == "best":
            candidates = [r for r in self.rows if r["step"] >= self.floor]
            if pick_best(candidates, self.config.keep_threshold) is row:  # same rows everywhere: same decision
                self._keep(row)

    def _write_rows(self) -> None:
        if self.run_dir is not None:
            atomic_write_text(self.run_dir / TRAJECTORY, "".join(json.dumps(r) + "\n" for r in self.rows))

    def _score(self, step: int) -> dict[str, Any]:
        t0 = time.time()
        scorer = Scorer(self._trainer.model, self.tokenizer, self.config.batch_size)  # one memo for both below
        metrics: dict[str, Any] = {}
        if self.config.suite:
            with preserved_rng():
                metrics, _ = evaluate(self._trainer.model, self.tokenizer, self.splits,
                                      gold_forget_truth_ratios=self.gold_truth_ratios,
                                      max_per_split=self.config.max_per_split or None,
                                      batch_size=self.config.batch_size, scorer=scorer)
        reference = {}
        if self.splits.holdout:  # per-token answer probability, forget vs the never-seen reference (--stop-at)
            with preserved_rng():  # the forget answers' log-probs are the evaluation's, memoised
                for key, recs in (("forget_knowledge", self.splits.forget), ("unseen_knowledge", self.splits.holdout)):
                    reference[key] = float(knowledge(scorer, subsample(recs, self.config.max_forget or None),
                                                     desc="scoring the never-seen reference").mean())
        return {"step": step, "forget_quality_ks_pvalue": _finite(metrics.get("forget_quality_ks_pvalue")),
                **reference,
                # the suite's log10: finite where the p-value underflows
                "forget_quality_log10_pvalue": _finite(metrics.get("forget_quality_log10_pvalue")),
                "model_utility_hmean": _finite(metrics.get("model_utility_hmean")),
                "forget_answer_prob": metrics["forget"]["answer_prob"] if metrics else reference["forget_knowledge"],
                "seconds": round(time.time() - t0, 2),
                "metrics": json.loads(json.dumps(metrics, default=float))}

    def _keep(self, row: dict[str, Any]) -> None:
        """Remember the current trained parameters as the kept state (evaluation ``row``)."""
        self.best = row
        if self.run_dir is None:
            self._memory = [p.detach().to("cpu", copy=True) for p in self._trainer.params]
        elif dist.is_main():
            # deferred: loads safetensors
            from safetensors.torch import save_file

            with atomic_dir(self.run_dir / BEST_DIR) as tmp:
                save_file({str(i): p.detach().to("cpu").contiguous() for i, p in enumerate(self._trainer.params)},
                          str(tmp / "params.safetensors"), metadata={"step": str(row["step"])})

    def _stored_step(self) -> int | None:
        path = self.run_dir / BEST_DIR / "params.safetensors"
        if not path.is_file():
            return None
        # deferred: loads safetensors
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            return int((f.metadata() or {}).get("step", -1))

    def _load_kept(self) -> list:
        params = self._trainer.params
        if self.run_dir is None:
            tensors = self._memory
        else:
            # deferred: loads safetensors
            from safetensors.torch import load_file

            dist.barrier()  # process 0 has written it
            path = self.run_dir / BEST_DIR / "params.safetensors"
            if self._stored_step() != self.best["step"]:
                raise DataError(f"{path} does not hold the state of step {self.best['step']}; delete "
                                f"{self.run_dir / BEST_DIR} and run again")
            blob = load_file(str(path))
            tensors = [blob[str(i)] for i in range(len(blob))]
        if tensors is None or len(tensors) != len(params) or any(
                tuple(t.shape) != tuple(p.shape) for t, p in zip(tensors, params)):
            raise DataError("the kept state does not match the trained parameters (another model or method?)")
        return tensors


def write_results(run_dir: str | Path, during: EvalDuring, *, method: str, variant: str, **extra: Any) -> Path:
    """An unlearn run's ``metrics.json`` and ``report.html`` from its evaluations; returns the report's path.

    When the kept model is that of step 0 (``keep="best"`` found no later
    evaluation better), a warning goes to stderr and ``metrics.json`` says
    ``"nothing_unlearned": true`` (the report shows it at the top).

    ``metrics.json`` holds the first evaluation (the model before unlearning)
    and the kept one side by side under ``models``, ``eval_during`` (the
    settings, the rule and ``kept_step``) and ``extra``. The figures are on the
    capped record counts of ``eval_during.records``.
    """
    run_dir = Path(run_dir)
    first, kept, info = during.rows[0], during.kept, during.results()
    models = {f"start (step {first['step']})": first["metrics"], f"kept (step {kept['step']})": kept["metrics"]}
    nothing = during.nothing_unlearned
    if nothing:
        warn(f"--keep {during.config.keep} kept the model of step 0, before any unlearning step: NOTHING WAS "
             f"UNLEARNED (no evaluation after step 0 beat it by the rule: {KEEP_RULE}); metrics.json says "
             "nothing_unlearned: true")
    atomic_write_json(run_dir / "metrics.json", {"models": models, "method": method,
                                                 "splits": {"variant": variant, "n": info["records"]},
                                                 "eval_during": info, "nothing_unlearned": nothing, **extra})
    return write_report(run_dir)
