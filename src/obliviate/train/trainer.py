"""THE training loop: fine-tuning, unlearning and relearning attacks all run here.

``Trainer(model, objective, sampler, collate, config).fit()``:

* ``objective(model, batch) -> {"name": loss}`` (a method's ``losses``);
* the sampler yields record batches, ``collate`` turns them into tensors;
* a combiner turns the named losses into gradients (``sum`` or GU projection);
* gradient accumulation, clipping, a linear schedule, optional LoRA (peft):
  the model is wrapped unless it already is (``unlearn`` wraps it first so a
  method's reference is the same model with its adapters off); the result is
  merged into plain weights unless ``merge_adapter=False``;
* optional gradient masks ``{parameter: bool tensor}``: a tensor hook zeroes
  the gradient outside each mask on every backward pass (combiners see masked
  gradients too) and masked parameters get no weight decay, so entries
  outside a mask never move (AdamW's update for a zero gradient with zero
  moments is exactly 0);
* a checkpoint every ``checkpoint_every`` steps and on Ctrl-C, resumed
  automatically by the next ``fit`` with the same ``checkpoint_dir``;
* a guard that stops on NaN/inf or exploding losses with a clear message, and
  checks the weights after the last update too (non-finite or past
  :func:`_weight_bound`: :class:`TrainingDiverged`, nothing returned to save);
* a resumed run first drops the step-log lines written after its checkpoint
  (they are replayed), so ``events.jsonl`` never holds a step twice;
* an optional ``method`` with ``after_step(logs) -> dict[str, float]``,
  called after every optimizer step with that step's logs (loss means over
  all micro-batches of all processes, so identical everywhere); the figures
  it returns join the step's logs (e.g. PDU's dual variable), and its
  ``state_dict()`` (JSON-ready) is kept in checkpoints and restored on resume;
* callbacks ``cb(step, logs)`` after each step; one returning True stops
  training early (e.g. "every forget answer is gone"); training also ends
  when a sampler epoch yields no batch (a filtered sampler ran out of records).
  A callback object may also have ``on_fit_start(trainer, step)`` (called
  before the first step, after a checkpoint is loaded) and
  ``on_fit_end(trainer, step)`` (after the last step, before a LoRA adapter
  is merged): evaluation during training uses them (``llm/eval/during.py``).

Multi-process (``torchrun --nproc_per_node N`` or ``accelerate launch``):
every process draws the same batches (same seed); an optimizer step's
``grad_accum * N`` micro-batches are dealt round-robin to the processes, each
scaled by ``1 / (grad_accum * N)``, and the gradients are summed across the
processes (with the combiner's own buffers, so GU projects the global forget
gradient) before clipping. The result therefore equals one process with
``grad_accum * N`` micro-batches, up to float summation order. Losses are
gathered, so every process logs and stops identically; only process 0 writes
checkpoints and the step log. ``accelerate`` gives the device and the backward
pass (mixed precision); the model is not wrapped in DDP (gradients are summed
by the loop itself, so combiners that need a gradient per loss keep working).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from obliviate.core import dist
from obliviate.core.config import check_number
from obliviate.core.errors import ConfigError, TrainingDiverged
from obliviate.core.progress import log, progress
from obliviate.core.store import append_jsonl, rewrite_jsonl
from obliviate.train import checkpoint
from obliviate.train.combiners import COMBINERS, Combiner, make_combiner
from obliviate.train.samplers import SAMPLERS, Sampler, parse_neighbours


@dataclass
class TrainConfig:
    """Optimisation settings shared by every run.

    Attributes:
        epochs: passes over the sampler.
        lr: peak learning rate (AdamW).
        batch_size: records per micro-batch (per key).
        grad_accum: micro-batches per optimizer step.
        weight_decay: AdamW weight decay.
        warmup_ratio: share of steps with linear warm-up.
        scheduler: ``linear`` (decay to 0) or ``constant``.
        max_grad_norm: clip gradients to this 2-norm (0 = off).
        seed: seeds torch and python RNGs and the sampler.
        combiner: ``sum`` or another registered combiner (``gu``).
        combiner_config: the combiner's settings (e.g. ``{"k": 8, "geometry": "adam"}`` for gu).
        sampling: how unlearning batches are drawn: ``random`` (1:1 random, TOFU),
            ``sequential`` (1:1 in order), ``cyclic`` or ``melu`` (see ``train/samplers.py``).
        neighbours: retain records the sampler pairs with forget items: ``retain``
            (the whole retain split), ``direct``, ``indirect``, ``general`` or a
            ``+``-joined mix (``mixed`` = all three); empty = the sampler's default.
        checkpoint_every: save a resumable checkpoint every N optimizer steps (0 = only on Ctrl-C).
        max_loss_abs: stop when any loss's magnitude exceeds this (exploding).
        lora_r: LoRA rank (0 = full fine-tuning).
        lora_alpha: LoRA scaling.
        lora_targets: comma-separated module names to adapt (``q_proj,v_proj``); empty = every linear layer.
    """

    epochs: float = 5.0
    lr: float = 1e-5
    batch_size: int = 4
    grad_accum: int = 1
    weight_decay: float = 0.01
    warmup_ratio: float = 0.0
    scheduler: str = "linear"
    max_grad_norm: float = 1.0
    seed: int = 0
    combiner: str = "sum"
    combiner_config: dict[str, Any] = field(default_factory=dict)
    sampling: str = "random"
    neighbours: str = ""
    checkpoint_every: int = 50
    max_loss_abs: float = 1e4
    lora_r: int = 0
    lora_alpha: int = 16
    lora_targets: str = ""

    def __post_init__(self) -> None:
        # more than a million passes is a typo (and overflows the step count long before it ends)
        check_number("TrainConfig.epochs (--epochs)", self.epochs, low=0, high=1e6, low_open=True)
        check_number("TrainConfig.lr (--lr)", self.lr, low=0, low_open=True)
        check_number("TrainConfig.batch_size (--batch-size)", self.batch_size, low=1)
        check_number("TrainConfig.grad_accum (--grad-accum)", self.grad_accum, low=1)
        check_number("TrainConfig.weight_decay", self.weight_decay, low=0)
        check_number("TrainConfig.warmup_ratio", self.warmup_ratio, low=0, high=1, high_open=True)
        check_number("TrainConfig.max_grad_norm (0 = off)", self.max_grad_norm, low=0)
        check_number("TrainConfig.seed", self.seed, low=0)
        check_number("TrainConfig.checkpoint_every (0 = only on Ctrl-C)", self.checkpoint_every, low=0)
        check_number("TrainConfig.max_loss_abs", self.max_loss_abs, low=0, low_open=True)
        if self.scheduler not in ("linear", "constant"):
            raise ConfigError(f"TrainConfig.scheduler must be linear or constant, got {self.scheduler!r}")
        if self.combiner not in COMBINERS:
            raise ConfigError(f"unknown combiner {self.combiner!r}; valid: {', '.join(COMBINERS.names())}")
        make_combiner(self.combiner, self.combiner_config)  # validates the settings
        if self.sampling not in SAMPLERS:
            raise ConfigError(f"unknown sampling {self.sampling!r}; valid: {', '.join(SAMPLERS.names())}")
        parse_neighbours(self.neighbours)
        if self.lora_r < 0 or (self.lora_r and self.lora_alpha <= 0):
            raise ConfigError(f"LoRA needs r >= 0 and alpha > 0, got r={self.lora_r}, alpha={self.lora_alpha}")


def parse_lora(spec: str) -> dict[str, Any]:
    """``"r=8,alpha=16,targets=q_proj,v_proj"`` -> ``{"lora_r": 8, "lora_alpha": 16, "lora_targets": "q_proj,v_proj"}``.

    A part without ``=`` continues the previous value (so targets may be listed
    with commas). ``alpha`` defaults to ``2 r``.
    """
    parts: dict[str, list[str]] = {}
    key = None
    for token in (t.strip() for t in spec.split(",")):
        if not token:
            continue
        if "=" in token:
            key, _, value = token.partition("=")
            key = key.strip().lower()
            if key not in ("r", "alpha", "targets"):
                raise ConfigError(f"--lora: unknown key {key!r}; valid: r, alpha, targets "
                                  "(e.g. r=8,alpha=16,targets=q_proj,v_proj)")
            parts[key] = [value.strip()]
        elif key == "targets":
            parts[key].append(token)
        else:
            raise ConfigError(f"--lora: {token!r} is not key=value (e.g. r=8,alpha=16,targets=q_proj,v_proj)")
    if "r" not in parts:
        raise ConfigError("--lora needs r=RANK (e.g. r=8,alpha=16)")
    try:
        r = int(parts["r"][0])
        alpha = int(parts["alpha"][0]) if "alpha" in parts else 2 * r
    except ValueError:
        raise ConfigError(f"--lora: r and alpha must be integers, got {spec!r}") from None
    if r < 1:
        raise ConfigError(f"--lora: r must be >= 1, got {r}")
    return {"lora_r": r, "lora_alpha": alpha, "lora_targets": ",".join(parts.get("targets", []))}


def is_peft(model) -> bool:
    """Whether ``model`` carries peft adapters."""
    return hasattr(model, "disable_adapter") and hasattr(model, "get_base_model")


def apply_lora(model, cfg: TrainConfig):
    """Wrap ``model`` with LoRA adapters (peft) on ``cfg.lora_targets`` (default: every linear layer)."""
    # deferred: loads peft
    from peft import LoraConfig, get_peft_model

    targets = [t.strip() for t in cfg.lora_targets.split(",") if t.strip()] or "all-linear"
    try:
        return get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, target_modules=targets,
                                                lora_dropout=0.0))
    except ValueError as e:
        raise ConfigError(f"LoRA targets {cfg.lora_targets!r}: {str(e).splitlines()[0]}") from None


def lora_parameters(model, requested: list[torch.nn.Parameter]) -> list[torch.nn.Parameter]:
    """The adapter parameters of the LoRA layers whose base weight is in ``requested``.

    So a method that trains only some modules (RMU: a few MLPs) trains only
    their adapters under LoRA.
    """
    wanted = {id(p) for p in requested}
    out = []
    for module in model.modules():
        base = getattr(module, "base_layer", None)
        if base is not None and hasattr(module, "lora_A") and id(getattr(base, "weight", None)) in wanted:
            out += [p for name, p in module.named_parameters() if "lora_" in name and p.requires_grad]
    return out


class Trainer:
    """Runs ``objective`` over ``sampler`` batches; see the module docstring."""

    def __init__(
        self,
        model,
        objective: Callable[[Any, dict], dict[str, torch.Tensor]],
        sampler: Sampler,
        collate: Callable[[dict], dict],
        config: TrainConfig,
        *,
        parameters: list[torch.nn.Parameter] | None = None,
        combiner: Combiner | None = None,
        checkpoint_dir: str | Path | None = None,
        events_path: str | Path | None = None,
        callbacks: list[Callable[[int, dict[str, float]], bool | None]] | None = None,
        masks: dict[torch.nn.Parameter, torch.Tensor] | None = None,
        merge_adapter: bool = True,
        description: str = "training",
        method: Any = None,
    ) -> None:
        # deferred: loads accelerate
        from accelerate import Accelerator

        if masks and config.lora_r > 0:
            raise ConfigError("gradient masks select entries of the model's own weights, which LoRA "
                              "(lora_r > 0) freezes; use lora_r=0")
        self.config = config
        dist.init()
        self.accelerator = Accelerator(cpu=not torch.cuda.is_available())
        if config.lora_r > 0 and not is_peft(model):
            model = apply_lora(model, config)
        self.model = model
        self.merge_adapter = merge_adapter
        self.objective, self.sampler, self.collate = objective, sampler, collate
        self.combiner = combiner or make_combiner(config.combiner, config.combiner_config)
        if parameters is not None and is_peft(model):
            parameters = lora_parameters(model, parameters)
        self.params = [p for p in (parameters if parameters is not None else model.parameters()) if p.requires_grad]
        if not self.params:
            raise ConfigError(f"{description}: no trainable parameter")
        self.masks = _check_masks(masks or {}, self.params)
        self.ran_out = False  # set when an epoch yielded no batch
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.events_path = Path(events_path) if events_path else None
        self.callbacks = callbacks or []
        self.description = description
        self.method = method  # after_step / state_dict / load_state_dict (a Method)
        self.world = dist.world_size()
        self.micro_per_step = config.grad_accum * self.world  # micro-batches per optimizer step, all processes
        self.steps_per_epoch = math.ceil(len(sampler) / self.micro_per_step)
        self.total_steps = max(1, math.ceil(self.steps_per_epoch * config.epochs))

    def _optimizer(self):
        # deferred: loads transformers
        from transformers import get_scheduler

        c = self.config
        masked = {id(p) for p in self.masks}
        groups = [{"params": [p for p in self.params if id(p) not in masked]},
                  # decoupled weight decay would shrink the entries outside the mask
                  {"params": [p for p in self.params if id(p) in masked], "weight_decay": 0.0}]
        # fused: one kernel per parameter group instead of a dozen passes over memory
        # (7x faster than foreach on a CPU for SmolLM2's 135M parameters; benchmarks/perf.py)
        fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in self.params)
        opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=c.lr, weight_decay=c.weight_decay,
                                fused=fused or None, **self.combiner.optimizer_overrides())
        name = "linear" if c.scheduler == "linear" else "constant_with_warmup"
        sched = get_scheduler(name, opt, num_warmup_steps=int(c.warmup_ratio * self.total_steps),
                              num_training_steps=self.total_steps)
        return opt, sched

    def _microbatches(self, start_step: int):
        """(step, micro-batches of that step on all processes) from ``start_step`` on, deterministic per epoch."""
        accum, step, epoch = self.micro_per_step, 0, 0
        while True:
            group: list[dict] = []
            empty = True
            for batch in self.sampler.epoch(epoch):
                empty = False
                group.append(batch)
                if len(group) == accum:
                    if step >= start_step:
                        yield step, group
                    step, group = step + 1, []
                    if step >= self.total_steps:
                        return
            if group:
                if step >= start_step:
                    yield step, group
                step += 1
                if step >= self.total_steps:
                    return
            if empty:
                self.ran_out = True
                log(f"{self.description}: epoch {epoch} has no batch (no record left to train on); "
                    f"training ends at step {step}/{self.total_steps}")
                return
            epoch += 1

    def _check(self, step: int, losses: dict[str, list[float]]) -> None:
        """Stop on a non-finite or exploding loss (``losses``: every micro-batch's value, all processes)."""
        for name, values in losses.items():
            for v in values:
                if not math.isfinite(v):
                    raise TrainingDiverged(
                        f"step {step}: loss {name!r} is {v}; the run stopped and nothing was saved "
                        f"from this step (lower lr={self.config.lr} or check the data)"
                    )
                if abs(v) > self.config.max_loss_abs:
                    raise TrainingDiverged(
                        f"step {step}: loss {name!r} = {v:.3g} exceeds max_loss_abs="
                        f"{self.config.max_loss_abs:g} (exploding); lower lr={self.config.lr} or fewer epochs"
                    )

    def fit(self):
        """Train to the end (resuming from a checkpoint if one exists) and return the model."""
        c = self.config
        torch.manual_seed(c.seed)
        random.seed(c.seed)
        model = self.model.to(self.accelerator.device)
        opt, sched = self._optimizer()
        self.combiner.setup(model, self.params, opt)
        start = 0
        if self.checkpoint_dir and checkpoint.exists(self.checkpoint_dir):
            state = checkpoint.load(self.checkpoint_dir, model, opt, sched, self.combiner)
            if state.get("config", _settings(c)) != _settings(c):
                raise ConfigError(
                    f"the checkpoint in {self.checkpoint_dir} was made with other training settings; "
                    "resume with the same settings or delete the checkpoint"
                )
            if state.get("processes", 1) != self.world:
                raise ConfigError(
                    f"the checkpoint in {self.checkpoint_dir} was made by {state.get('processes', 1)} "
                    f"process(es); resume with the same number (now {self.world})"
                )
            start = state["step"]
            if self.method is not None and "method" in state:
                self.method.load_state_dict(state["method"])
            log(f"resuming {self.description} from step {start}/{self.total_steps} ({self.checkpoint_dir})")
        if self.events_path and dist.is_main():  # lines of steps after the checkpoint are replayed: drop them
            rewrite_jsonl(self.events_path, lambda e: e.get("step", 0) <= start)
        weight_bound = _weight_bound(self.params)
        model.train()
        step = start
        for cb in self.callbacks:  # e.g. llm.eval.during.EvalDuring: its evaluation before the first step
            if hasattr(cb, "on_fit_start"):
                cb.on_fit_start(self, start)
        t0 = time.time()
        hooks = [p.register_hook(functools.partial(_masked, mask.to(p.device)))
                 for p, mask in self.masks.items()]  # on the training device
        try:
            with progress(self.total_steps - start, self.description) as advance:
                for step, group in self._microbatches(start):
                    logs = self._step(model, opt, sched, step, group)
                    step += 1
                    if self.events_path and dist.is_main():
                        append_jsonl(self.events_path, {"step": step, **logs, "time_s": round(time.time() - t0, 2)})
                    stop = [cb(step, logs) for cb in self.callbacks]
                    advance(1, **{k: f"{v:.3g}" for k, v in logs.items() if k != "lr"})
                    if any(stop):
                        log(f"{self.description}: stopped early at step {step} by a callback")
                        break
                    if (self.checkpoint_dir and c.checkpoint_every and step % c.checkpoint_every == 0
                            and step < self.total_steps):
                        self._save(model, opt, sched, step)
        except KeyboardInterrupt:
            if self.checkpoint_dir and step > start:
                self._save(model, opt, sched, step)
                log(f"interrupted: checkpoint at step {step} in {self.checkpoint_dir}; run again to resume")
            raise
        finally:
            for h in hooks:  # the returned model trains normally again (e.g. a relearning attack)
                h.remove()
        for cb in self.callbacks:  # the last evaluation; restoring a kept state, before LoRA is merged
            if hasattr(cb, "on_fit_end"):
                cb.on_fit_end(self, step)
        self._check_weights(step, weight_bound)  # after the last update too, before anything is saved
        model.eval()
        if is_peft(model) and self.merge_adapter:
            model = model.merge_and_unload()
        if self.checkpoint_dir:
            dist.barrier()  # every process is past its last checkpoint read
            if dist.is_main():
                shutil.rmtree(self.checkpoint_dir, ignore_errors=True)
        self.model = model
        return model

    def _check_weights(self, step: int, bound: float) -> None:
        """Stop when a trained weight is non-finite or exploded (``|w| > bound``, see :func:`_weight_bound`)."""
        top = _max_abs(self.params)  # nan or inf when a weight is
        if not math.isfinite(top) or top > bound:
            what = "non-finite" if not math.isfinite(top) else f"exploded (max |w| = {top:.3g} > {bound:.3g})"
            raise TrainingDiverged(
                f"{self.description}: after the last update (step {step}) the weights are {what}; the run "
                f"stopped and nothing was saved as the model (lower lr={self.config.lr} or fewer epochs)"
            )

    def _save(self, model, opt, sched, step: int) -> None:
        if dist.is_main():
            checkpoint.save(self.checkpoint_dir, model, opt, sched,
                            {"step": step, "config": _settings(self.config), "processes": self.world,
                             **({"method": self.method.state_dict()} if self.method is not None else {})},
                            self.combiner.state_dict())

    def _step(self, model, opt, sched, step: int, group: list[dict]) -> dict[str, float]:
        """One optimizer step over ``group`` (every process's micro-batches; this one takes its share)."""
        scale = 1.0 / len(group)
        mine = group[dist.rank() :: self.world]
        values: dict[str, list[float]] = {}
        for batch in mine:
            tensors = {k: self.collate(v) if k != "meta" else v for k, v in batch.items()}
            tensors = {k: _to(v, self.accelerator.device) for k, v in tensors.items()}
            losses = self.objective(model, tensors)
            if self.world == 1:
                self._check(step, {k: [float(v.detach())] for k, v in losses.items()})  # before backward
            self.combiner.backward(losses, self.accelerator, scale)
            for k, v in losses.items():
                values.setdefault(k, []).append(float(v.detach()))
        if self.world > 1:
            merged: dict[str, list[float]] = {}
            for part in dist.gather(values):  # identical on every process, so all stop together
                for k, v in part.items():
                    merged.setdefault(k, []).extend(v)
            values = merged
            self._check(step, values)
            self.combiner.all_reduce(self.params)
        totals = {k: sum(v) / len(v) for k, v in values.items()}
        totals.update(self.combiner.after_accumulation(self.params))
        if self.config.max_grad_norm > 0:
            norm = self.accelerator.clip_grad_norm_(self.params, self.config.max_grad_norm)
            norm = float(norm)
            if not math.isfinite(norm):
                raise TrainingDiverged(f"step {step}: gradient norm is {norm}; lower lr={self.config.lr}")
            totals["grad_norm"] = norm
        totals["lr"] = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if self.method is not None:
            totals.update(self.method.after_step(dict(totals)))
        return totals


LATER_FIELDS = ("combiner_config", "sampling", "neighbours", "lora_targets")  # added after the first cached models


def cache_settings(cfg: TrainConfig) -> dict:
    """The settings as a cache key: fields added later are left out while at their defaults.

    So models cached before a field existed (made, in effect, with its default)
    keep their keys.
    """
    d = dataclasses.asdict(cfg)
    defaults = TrainConfig()
    for name in LATER_FIELDS:
        if d[name] == getattr(defaults, name):
            d.pop(name)
    return d


def _settings(cfg: TrainConfig) -> dict:
    """The settings that shape the result (how often to checkpoint does not)."""
    d = dataclasses.asdict(cfg)
    d.pop("checkpoint_every")
    return d


MAX_WEIGHT_ABS = 1e4  # trained weights beyond this have exploded (see _weight_bound)
MAX_WEIGHT_GROWTH = 100.0


def _weight_bound(params: list[torch.nn.Parameter]) -> float:
    """The largest |weight| a run may end with: ``max(MAX_WEIGHT_ABS, MAX_WEIGHT_GROWTH * max|w| at the start)``.

    Why these numbers: trained transformer weights sit far below 10^4 (the tiny
    test model's largest is below 10 after its high-lr fine-tuning), and half
    precision tops out at 65504, so a weight past 10^4 is unusable however it
    got there. AdamW moves a weight by about ``lr`` per step, so a sane run
    (lr <= 1e-2, thousands of steps) changes max |w| by at most tens, far from
    either bound; a diverged one (``--lr 1e30``) lands many orders of magnitude
    beyond. The relative term
    keeps a model that starts with large weights from being refused for them.
    """
    start = _max_abs(params)
    return max(MAX_WEIGHT_ABS, MAX_WEIGHT_GROWTH * start) if math.isfinite(start) else math.inf


def _max_abs(params: list[torch.nn.Parameter]) -> float:
    """The largest |weight| over ``params``: nan if any weight is nan (torch's max propagates it), inf if inf."""
    with torch.no_grad():
        tops = [p.detach().abs().max() for p in params if p.numel()]
        return float(torch.stack(tops).max()) if tops else 0.0


def _masked(mask: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """The gradient with every entry outside ``mask`` set to 0 (NaN and inf included)."""
    return grad.masked_fill(~mask, 0)


def _check_masks(masks: dict, params: list[torch.nn.Parameter]) -> dict[torch.nn.Parameter, torch.Tensor]:
    """The masks of trainable parameters, as bool tensors; a wrong shape raises."""
    trainable = {id(p) for p in params}
    out = {}
    for p, m in masks.items():
        if id(p) not in trainable:
            continue  # frozen or not trained: it cannot move anyway
        m = torch.as_tensor(m)
        if tuple(m.shape) != tuple(p.shape):
            raise ConfigError(f"gradient mask of shape {tuple(m.shape)} for a parameter of shape {tuple(p.shape)}")
        out[p] = m.to(dtype=torch.bool)
    return out


def _to(value, device):
    if isinstance(value, dict):
        return {k: _to(v, device) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        return value.to(device)
    return value
