"""Evaluation suites: run metrics over splits and aggregate them into named figures.

``evaluate(model, tokenizer, splits)`` returns e.g.::

    {"forget": {"answer_prob": .., "rouge_l_recall": .., "truth_ratio": .., ...},
     "retain": {...}, "neighbours": {...}, "real_entities": {...}, "world_facts": {...},
     "model_utility_hmean": .., "model_utility_splits": ["retain", "real_entities", "world_facts"],
     "forget_quality_ks_pvalue": .., "forget_quality_log10_pvalue": .., "forget_quality_ks_distance": .., ...}

and, separately, per-sample values (the forget truth ratios a later run needs
to compute forget quality against this model).

Model utility is OpenUnlearning's: the harmonic mean of the 9 numbers
{probability, ROUGE-L recall, truth ratio} x {retain, real entities, world
facts} (fewer where a set is absent). The neighbours split is scored and
reported but is not part of it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from obliviate.core.errors import ConfigError
from obliviate.llm.eval.metrics import METRICS, MetricContext
from obliviate.llm.eval.metrics.base import check_compat
from obliviate.llm.eval.metrics.tofu import forget_quality, forget_quality_log10, model_utility
from obliviate.llm.eval.options import subsample
from obliviate.llm.eval.scoring import Scorer
from obliviate.llm.eval.stats import equivalence_to_gold, ks_detectable_distance, ks_distance, person_groups

UTILITY_SPLITS = ("retain", "real_entities", "world_facts")  # OpenUnlearning's model utility (their retain, ra, wf)
UTILITY_FIGURES = ("answer_prob", "rouge_l_recall", "truth_ratio")
EVAL_SPLITS = ("forget", "retain", "neighbours", "real_entities", "world_facts")  # what ``evaluate`` scores


MAX_PER_SPLIT = 40  # utility-split records scored by default (evaluate, `obliviate eval`, the demo)


def evaluate(
    model,
    tokenizer,
    splits,
    *,
    gold_forget_truth_ratios: list[float] | None = None,
    max_per_split: int | None = MAX_PER_SPLIT,
    batch_size: int = 16,
    metric: str = "tofu_qa",
    scorer: Scorer | None = None,
    compat: str = "obliviate",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Evaluate one model on the forget split and the utility splits.

    Args:
        model, tokenizer: the model to evaluate.
        splits: a ``Splits`` (forget, retain, neighbours, real_entities, world_facts; absent or
            empty sets are skipped).
        gold_forget_truth_ratios: per-sample forget truth ratios of the gold
            (retain-only) model; when given, forget quality is computed.
        max_per_split: cap on utility-split records (forget is never capped).
        batch_size: scorer batch size.
        scorer: a Scorer on ``model`` to use (and whose memo later metrics can reuse).
        compat: ``obliviate`` (default) or ``openunlearning`` (their exact conventions; see
            :data:`~obliviate.llm.eval.metrics.base.COMPAT_MODES` and docs/metrics.md).

    Returns:
        ``(metrics, per_sample)``. ``metrics["compat"]`` says which conventions; ``metrics["collapsed"]``
        (with ``tofu_qa`` on a forget split) whether the true forget answers sit far below a uniform guess.
    """
    if max_per_split is not None and max_per_split < 1:  # None = no cap; 0 would score nothing
        raise ConfigError(f"max_per_split must be >= 1 (or None for no cap), got {max_per_split}")
    check_compat(compat)
    scorer = scorer or Scorer(model, tokenizer, batch_size=batch_size)
    compute = METRICS.get(metric)
    extra: dict[str, Any] = {"compat": compat}
    out: dict[str, Any] = {"compat": compat}
    for name in EVAL_SPLITS:
        records = getattr(splits, name, None) or []
        if name != "forget":
            records = subsample(records, max_per_split)
        if records:
            out[name] = compute(scorer, records, MetricContext(name, extra))
    used = [s for s in UTILITY_SPLITS if s in out and all(m in out[s] for m in UTILITY_FIGURES)]  # TOFU figures only
    out["model_utility_hmean"] = model_utility([out[s][m] for s in used for m in UTILITY_FIGURES]) if used else math.nan
    out["model_utility_splits"] = used
    if "collapsed" in out.get("forget", {}):
        out["collapsed"] = out["forget"]["collapsed"]
    per_sample = extra.get("per_sample", {})
    return add_forget_quality(out, per_sample, gold_forget_truth_ratios), per_sample


def add_forget_quality(metrics: dict[str, Any], per_sample: dict[str, Any],
                       gold_forget_truth_ratios: list[float] | None) -> dict[str, Any]:
    """Add the KS-test forget quality and its log10 (finite where the p-value underflows) against the gold model.

    Beside them (:mod:`obliviate.llm.eval.stats`): ``forget_quality_ks_distance`` (the KS statistic
    ``D``) and ``forget_quality_detectable_distance`` (the KS distance the test detects with 80% power
    at these sample sizes) always; where the forget records' people are known (per-sample
    ``entities``, else the id prefix before ``/``) and the gold list has one value per record (the
    gold model scored on the same records in the same order, as ``evaluate`` does), the
    people-bootstrap interval ``forget_quality_ks_distance_ci`` (``[lo, hi]``, level
    ``forget_quality_ci_level``), ``forget_quality_people``, ``forget_quality_equivalence_delta`` and
    ``forget_quality_equivalent`` (``hi <= delta``: like gold within delta).
    """
    metrics = dict(metrics)
    if gold_forget_truth_ratios is not None and "forget" in per_sample:
        ours, gold = np.array(per_sample["forget"]["truth_ratio"]), np.array(gold_forget_truth_ratios)
        metrics["forget_quality_ks_pvalue"] = forget_quality(ours, gold)
        metrics["forget_quality_log10_pvalue"] = forget_quality_log10(ours, gold)
        metrics["forget_quality_ks_distance"] = ks_distance(ours, gold)
        metrics["forget_quality_detectable_distance"] = ks_detectable_distance(len(ours), len(gold))
        groups = person_groups(per_sample["forget"])
        if groups is not None and len(groups) == len(gold):
            eq = equivalence_to_gold(ours, gold, groups, groups)
            metrics.update(forget_quality_ks_distance_ci=eq["ks_distance_ci"], forget_quality_ci_level=eq["level"],
                           forget_quality_people=eq["people"], forget_quality_equivalence_delta=eq["delta"],
                           forget_quality_equivalent=eq["equivalent"])
    return metrics


# OpenUnlearning's split prefixes and figure names (its configs/eval/tofu_metrics/*.yaml)
OU_PREFIX = {"forget": "forget", "retain": "retain", "real_entities": "ra", "world_facts": "wf"}
OU_FIGURES = {"answer_prob": "Q_A_Prob", "para_prob": "Q_A_PARA_Prob", "pert_prob": "Q_A_PERT_Prob",
              "rouge_l_recall": "Q_A_ROUGE", "para_rouge_l_recall": "Q_A_PARA_ROUGE",
              "pert_rouge_l_recall": "Q_A_PERT_ROUGE", "truth_ratio": "Truth_Ratio"}


def openunlearning_summary(metrics: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, float]:
    """The figures of :func:`evaluate` under OpenUnlearning's ``TOFU_SUMMARY.json`` key names.

    ``forget_quality``, ``model_utility``, ``forget_truth_ratio`` (their lower-case key), and per split
    ``<s>_Q_A_Prob``, ``<s>_Q_A_PARA_Prob``, ``<s>_Q_A_PERT_Prob``, ``<s>_Q_A_ROUGE``, ``<s>_Q_A_PARA_ROUGE``,
    ``<s>_Q_A_PERT_ROUGE``, ``<s>_Truth_Ratio`` with ``<s>`` in forget, retain, ra (real entities), wf (world
    facts); on ra and wf ``<s>_Q_A_Prob`` is the raw probability and ``<s>_Q_A_Prob_normalised`` the option
    share (as theirs). ``extra`` adds already-named figures (``extraction_strength``, ``exact_memorization``,
    ``privleak``, ``mia_min_k``, ...). Only figures that were computed appear; values are plain floats.
    Meant for ``compat="openunlearning"`` metrics: with the default conventions the keys are the same but
    the numbers are ours.
    """
    out: dict[str, float] = {}
    if metrics.get("forget_quality_ks_pvalue") is not None:
        out["forget_quality"] = float(metrics["forget_quality_ks_pvalue"])
    if metrics.get("model_utility_hmean") is not None and math.isfinite(metrics["model_utility_hmean"]):
        out["model_utility"] = float(metrics["model_utility_hmean"])
    for split, prefix in OU_PREFIX.items():
        figures = metrics.get(split)
        if not isinstance(figures, dict):
            continue
        for ours, theirs in OU_FIGURES.items():
            if ours in figures:
                out[f"{prefix}_{theirs}"] = float(figures[ours])
        if "answer_prob_raw" in figures:
            out[f"{prefix}_Q_A_Prob"] = float(figures["answer_prob_raw"])
            out[f"{prefix}_Q_A_Prob_normalised"] = float(figures["answer_prob"])
    if "forget_Truth_Ratio" in out:
        out["forget_truth_ratio"] = out.pop("forget_Truth_Ratio")
    for key, value in (extra or {}).items():
        out[key] = float(value)
    return out


def answer_examples(splits, per_sample: dict[str, dict | None], n: int = 3,
                    shown: tuple[str, ...] = ("forget", "retain")) -> list[dict[str, Any]]:
    """The first ``n`` scored questions of each ``shown`` split with the true answer and each model's greedy answer
    (``per_sample``: model name -> the per-record figures :func:`evaluate` returns), for reports."""
    per_sample = {m: {k: v for k, v in (ps or {}).items() if isinstance(v, dict) and "ids" in v and "generations" in v}
                  for m, ps in per_sample.items()}  # metrics without greedy answers (memo, ...) show none
    out = []
    for split in shown:
        records = {r.id: r for r in getattr(splits, split, None) or []}
        ids = next((ps[split]["ids"] for ps in per_sample.values() if ps and split in ps), [])
        for rid in ids[:n]:
            if rid not in records:
                continue
            answers = {}
            for model, ps in per_sample.items():
                if ps and split in ps and rid in ps[split]["ids"]:
                    answers[model] = ps[split]["generations"][ps[split]["ids"].index(rid)]
            out.append({"split": split, "question": records[rid].question, "answer": records[rid].answer,
                        "answers": answers})
    return out
