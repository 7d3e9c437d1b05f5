"""Faithfulness of unlearning: superficial forgetting and over-forgetting (FaithUn).

FaithUn (Yang et al., EMNLP 2025, arXiv 2502.19207) calls unlearning
*superficial* when a method forgets the target fact but not the facts
interconnected with it, and *over-forgetting* when it also erases knowledge
that only looks like it. For each forget fact ``f`` we build, all scored as
multiple choice (:func:`~obliviate.llm.eval.options.mc_correct`: the true option
beats every wrong one by mean token log-likelihood):

* ``target``: ``f`` itself;
* ``paraphrase``: ``f`` asked with its paraphrased question (same options);
* ``multi_hop``: the multi-hop probes that reach ``f``'s attribute of ``f``'s
  person through a related person ("In what year was the mentor of X born?");
* ``same_answer``: retain facts about other people with ``f``'s value (the same
  answer in another context): they must be kept;
* ``unrelated``: retain facts sharing no value with any forget fact (a control).

With ``M`` the evaluated model, ``O`` the original (before unlearning) and
``ok_M(i)`` whether ``M`` answers item ``i`` right::

    forgotten       = #{f : ok_O(f) and not ok_M(f)} / #{f : ok_O(f)}
    superficial.k   = #{i in k : F(i) and ok_O(i) and ok_M(i)} / #{i in k : F(i) and ok_O(i)}
                      k in {paraphrase, multi_hop}; F(i): i's forget fact is forgotten
                      (ok_O and not ok_M); pooled over both kinds for ``superficial``
    over_forgetting.s = #{i in s : ok_O(i) and not ok_M(i)} / #{i in s : ok_O(i)}
                      s in {same_answer, unrelated}

The true option is the answer in the perturbed answers' template
(:func:`~obliviate.llm.eval.options.true_option`: for generated people the
paraphrased answer, TOFU's convention), so the choice is about the value
alone. With the trained answer as the true option the model would be
choosing a template: on the test world the gold model, which never saw the
forget people, then "knows" 18 of the 19 forget facts.

A faithful method has ``forgotten`` and ``1 - superficial`` near 1 and
over-forgetting near the unrelated control. Rates with an empty denominator
are NaN; ``n_superficial.<k>`` and ``n_over_forgetting.<s>`` give the
denominators.
"""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.data.records import QARecord
from obliviate.llm.eval import options
from obliviate.llm.eval.metrics.base import METRICS, MetricContext

SETS = ("target", "paraphrase", "multi_hop", "same_answer", "unrelated")
INTERCONNECTED = ("paraphrase", "multi_hop")  # should be forgotten with their fact
LOOK_ALIKE = ("same_answer", "unrelated")  # should be kept
MIN_UNRELATED = 10


def _value(rec: QARecord) -> str:
    return str(rec.meta.get("value", "")).strip().lower()


def _link(rec: QARecord, faith_of: str | None, **changes: str) -> QARecord:
    """A copy of ``rec`` linked to forget fact ``faith_of`` (``changes``: fields to replace)."""
    link = {"faith_of": faith_of} if faith_of else {}
    return dataclasses.replace(rec, perturbed_answers=list(rec.perturbed_answers), meta={**rec.meta, **link},
                               **changes)


def faithfulness_sets(
    forget: list[QARecord],
    retain: list[QARecord],
    multi_hop: list[QARecord],
    *,
    per_fact: int = 3,
    seed: int = 0,
) -> dict[str, list[QARecord]]:
    """The five FaithUn item sets of ``forget``, each item linked by ``meta["faith_of"]``.

    Args:
        forget: the forget records (they need ``meta["value"]``).
        retain: the retain records, the pool of same-answer and unrelated items.
        multi_hop: multi-hop probes (``Probes.multi_hop``): ``entity`` is the
            forget person, ``meta["fact_type"]`` the attribute reached; probes
            with no forget record of that person and attribute are dropped.
        per_fact: at most this many same-answer items per forget fact, those of
            the same fact type first, then a seeded order.
        seed: seed of every draw.

    Returns:
        ``{set name: records}`` for :data:`SETS`; copies, the inputs are not
        changed. A retain record linked to several forget facts is kept once,
        with the first link.

    Raises:
        DataError: no forget record carries ``meta["value"]``.
        ConfigError: ``per_fact`` is negative.
    """
    if not any(_value(f) for f in forget):
        raise DataError("faithfulness needs forget records with meta['value'] (the answer's value, "
                        "as generated worlds write it) to find same-answer facts")
    if per_fact < 0:
        raise ConfigError(f"per_fact must be >= 0, got {per_fact}")
    by_attr = {(f.entity, f.fact_type): f.id for f in forget}
    forget_people = {f.entity for f in forget}
    pool = [r for r in retain if r.entity not in forget_people]
    same: dict[str, QARecord] = {}  # retain id -> linked copy, first link wins
    for f in forget:
        value = _value(f)
        cands = [r for r in pool if value and _value(r) == value and r.id not in same]
        random.Random(f"{seed}/{f.id}").shuffle(cands)
        cands.sort(key=lambda r: r.fact_type != f.fact_type)  # stable: same fact type first
        same.update((r.id, _link(r, f.id)) for r in cands[:per_fact])
    values = {_value(f) for f in forget} - {""}
    clean = [r for r in pool if _value(r) not in values]
    return {
        "target": [_link(f, f.id) for f in forget],
        "paraphrase": [_link(f, f.id, id=f"{f.id}/para", question=f.paraphrased_question) for f in forget],
        "multi_hop": [_link(h, by_attr[key]) for h in multi_hop
                      if (key := (h.entity, h.meta.get("fact_type"))) in by_attr],
        "same_answer": list(same.values()),
        "unrelated": [_link(r, None) for r in options.subsample(clean, max(len(same), MIN_UNRELATED), seed)],
    }


def _rate(hits: np.ndarray, mask: np.ndarray) -> float:
    return float(hits[mask].mean()) if mask.any() else math.nan


def faithfulness(scorer, original_scorer, sets: dict[str, list[QARecord]]) -> dict[str, float]:
    """FaithUn's figures for the model behind ``scorer`` against the original model.

    Args:
        scorer: a :class:`~obliviate.llm.eval.scoring.Scorer` on the evaluated (unlearned) model.
        original_scorer: one on the model before unlearning (may be ``scorer`` itself).
        sets: from :func:`faithfulness_sets`.

    Returns:
        Flat ``{name: float}`` (NaN where a denominator is empty): ``acc.<set>``,
        ``original_acc.<set>``, ``n.<set>``, ``forgotten``,
        ``superficial[.paraphrase|.multi_hop]``, ``n_superficial[...]``,
        ``over_forgetting.<same_answer|unrelated>``, ``n_over_forgetting.<...>``;
        definitions in the module docstring.
    """
    missing = [s for s in SETS if s not in sets]
    if missing:
        raise ConfigError(f"faithfulness sets lack {', '.join(missing)}; build them with faithfulness_sets")
    ok = {s: options.mc_correct(scorer, sets[s], desc=f"faithfulness {s}") for s in SETS}
    ok_o = {s: options.mc_correct(original_scorer, sets[s], desc=f"faithfulness {s} (original)") for s in SETS}
    out: dict[str, float] = {}
    for s in SETS:
        out[f"acc.{s}"] = float(ok[s].mean()) if len(ok[s]) else math.nan
        out[f"original_acc.{s}"] = float(ok_o[s].mean()) if len(ok_o[s]) else math.nan
        out[f"n.{s}"] = float(len(sets[s]))
    out["forgotten"] = _rate(~ok["target"], ok_o["target"])
    gone = {r.id for r, m, o in zip(sets["target"], ok["target"], ok_o["target"]) if o and not m}
    counted = {}
    for s in INTERCONNECTED:
        counted[s] = ok_o[s] & np.array([r.meta["faith_of"] in gone for r in sets[s]], dtype=bool)
        out[f"superficial.{s}"] = _rate(ok[s], counted[s])
        out[f"n_superficial.{s}"] = float(counted[s].sum())
    pooled = np.concatenate([counted[s] for s in INTERCONNECTED])
    out["superficial"] = _rate(np.concatenate([ok[s] for s in INTERCONNECTED]), pooled)
    out["n_superficial"] = float(pooled.sum())
    for s in LOOK_ALIKE:
        out[f"over_forgetting.{s}"] = _rate(~ok[s], ok_o[s])
        out[f"n_over_forgetting.{s}"] = float(ok_o[s].sum())
    return out


@METRICS.register("faithfulness", paper="Yang et al. 2025 (FaithUn), arXiv 2502.19207")
def faithfulness_metric(scorer, records, ctx: MetricContext) -> dict[str, float]:
    """Superficial forgetting and over-forgetting of the forget ``records`` (FaithUn).

    ``ctx.extra`` must hold ``original_scorer`` (a Scorer on the model before
    unlearning), ``retain`` (retain records) and ``multi_hop`` (multi-hop
    probes, may be empty); the figures are those of :func:`faithfulness`.
    """
    missing = [k for k in ("original_scorer", "retain", "multi_hop") if k not in ctx.extra]
    if missing:
        raise ConfigError(f"the faithfulness metric needs ctx.extra[{', '.join(map(repr, missing))}]: "
                          "a Scorer on the original model, the retain records and the multi-hop probes")
    sets = faithfulness_sets(list(records), ctx.extra["retain"], ctx.extra["multi_hop"])
    return faithfulness(scorer, ctx.extra["original_scorer"], sets)
