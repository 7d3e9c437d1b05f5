"""Attacks that try to bring "forgotten" knowledge back, each followed by a re-measurement.

* :func:`knowledge` — the quantity every attack re-measures: the per-record
  length-normalised answer probability ``P(a|q)^(1/|a|)`` (teacher forced, so an
  output filter or a refusal prompt cannot hide it);
* :func:`relearn_attack` — fine-tune a copy on a relearning set for a fixed
  step budget (the same for every tier) and record knowledge of the forget set
  along the way; the attack's result is the *maximum* over the trajectory
  (BLUR reviewers' point: one fixed epoch can miss the peak);
* :func:`quantization_attack` — round the weights to 8 and 4 bits and measure
  again (Zhang et al. 2024, arXiv 2410.16454: quantisation can undo
  unlearning that only nudged weights a little);
* paraphrase, multi-hop and combined-query probes are record sets scored with
  :func:`knowledge` by the audit (``obliviate.llm.audit``).

Every function works on a copy: the model passed in is never changed.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

from obliviate.core.errors import ConfigError
from obliviate.llm import pipeline  # pipeline.finetune looked up per call (tests replace it)
from obliviate.llm.eval.scoring import Scorer, knowledge
from obliviate.models.quantize import quantized_copy
from obliviate.train.trainer import TrainConfig


@dataclass
class RelearnConfig:
    """The relearning attack's budget, identical for every tier.

    Attributes:
        steps: optimizer steps per tier (equal step budget).
        lr: learning rate (AdamW, constant).
        batch_size: records per step.
        eval_every: measure the forget set every N steps (and at step 0 and the end).
        seed: seed of the fine-tuning run.
        lora_r, lora_alpha, lora_targets: relearn through LoRA adapters (``lora_r`` > 0), as
            an attacker with little memory would (see ``TrainConfig``).
    """

    steps: int = 8
    lr: float = 5e-5
    batch_size: int = 4
    eval_every: int = 2
    seed: int = 0
    lora_r: int = 0
    lora_alpha: int = 16
    lora_targets: str = ""

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 1:
            raise ConfigError("RelearnConfig.steps, batch_size and eval_every must be >= 1")
        if not self.lr > 0:
            raise ConfigError(f"RelearnConfig.lr must be > 0, got {self.lr}")


def relearn_attack(model, tokenizer, relearn_set: Sequence, probe: Sequence,
                   cfg: RelearnConfig | None = None) -> list[tuple[int, float]]:
    """Fine-tune a copy of ``model`` on ``relearn_set``; mean knowledge of ``probe`` along the way.

    Returns:
        ``[(step, mean knowledge), ...]`` from step 0 to ``cfg.steps``.
    """

    cfg = cfg or RelearnConfig()
    if not relearn_set:
        raise ConfigError("relearning set is empty")
    attacked = copy.deepcopy(model)
    attacked.requires_grad_(True)
    scorer = Scorer(attacked, tokenizer)
    trajectory = [(0, float(knowledge(scorer, probe, desc="relearn probe").mean()))]
    steps_per_epoch = math.ceil(len(relearn_set) / cfg.batch_size)
    train_cfg = TrainConfig(epochs=cfg.steps / steps_per_epoch, lr=cfg.lr, batch_size=cfg.batch_size,
                            scheduler="constant", seed=cfg.seed, checkpoint_every=0, lora_r=cfg.lora_r,
                            lora_alpha=cfg.lora_alpha, lora_targets=cfg.lora_targets)

    def measure(step: int, logs: dict) -> bool:
        if step % cfg.eval_every == 0 or step >= cfg.steps:
            scorer.clear()
            trajectory.append((step, float(knowledge(scorer, probe, desc="relearn probe").mean())))
        return step >= cfg.steps

    pipeline.finetune(attacked, tokenizer, list(relearn_set), train_cfg, callbacks=[measure],
                      description="relearning attack")
    if trajectory[-1][0] < cfg.steps:  # the schedule ended on a step not yet measured
        scorer.clear()
        trajectory.append((cfg.steps, float(knowledge(scorer, probe, desc="relearn probe").mean())))
    del attacked
    return trajectory


def quantization_attack(model, tokenizer, probe: Sequence, bits: Sequence[int] = (8, 4)) -> dict[int, float]:
    """Mean knowledge of ``probe`` after rounding a copy's weights to each precision."""
    out = {}
    for b in bits:
        q = quantized_copy(model, b)
        out[int(b)] = float(knowledge(Scorer(q, tokenizer), probe, desc=f"{b}-bit probe").mean())
        del q
    return out
