"""Activation alignment: do the forget entities now *look* unknown inside the model? (arXiv 2509.15631)

Yamashita et al. define forgetting an entity as making its internal
activation indistinguishable from that of entities the model never knew, and
claim that suppression methods (gradient ascent, NPO...) lower QA recall while
the entity still reads as "known" inside. This metric tests that claim for any
model, with an :class:`~obliviate.llm.interp.latents.EntityLens` built on the
model *before* unlearning (its SAE and its known/unknown latents K and U).

Per entity ``e`` (mean over its questions, code read at the last token of its
name): ``k_e`` = share of K that fire, ``u_e`` = share of U that fire,
``knownness_e = k_e - u_e``. Groups: the forget entities, known entities
(trained, answered correctly) and unknown ones (never trained), all read from
the evaluated model::

    alignment     = (mean_known kn - mean_forget kn) / (mean_known kn - mean_unknown kn)
    nearer_unknown = share of forget entities whose (k_e, u_e) is closer to the
                     unknown centroid than to the known one

``alignment`` is 0 when forget entities look like known ones and 1 when they
look like unknown ones (it can leave [0, 1]); the before/after pair of a
method is the paper's test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from obliviate.llm.eval.metrics.base import METRICS, MetricContext

GROUPS = ("forget", "known", "unknown")


@dataclass
class Alignment:
    """Per-entity points ``{group: {entity: (k, u)}}`` and the summary figures."""

    points: dict[str, dict[str, tuple[float, float]]]

    def summary(self) -> dict[str, float]:
        out: dict[str, float] = {}
        cent: dict[str, np.ndarray] = {}
        for g in GROUPS:
            pts = np.array(list(self.points.get(g, {}).values()), dtype=float).reshape(-1, 2)
            cent[g] = pts.mean(0) if len(pts) else np.full(2, np.nan)
            out[f"{g}.known_score"], out[f"{g}.unknown_score"] = (float(v) for v in cent[g])
            out[f"{g}.knownness"] = float(cent[g][0] - cent[g][1])
            out[f"{g}.n"] = float(len(pts))
        span = out["known.knownness"] - out["unknown.knownness"]
        out["alignment"] = (out["known.knownness"] - out["forget.knownness"]) / span if span > 0 else float("nan")
        forget = np.array(list(self.points.get("forget", {}).values()), dtype=float).reshape(-1, 2)
        if len(forget):
            d_known = np.linalg.norm(forget - cent["known"], axis=1)
            d_unknown = np.linalg.norm(forget - cent["unknown"], axis=1)
            out["nearer_unknown"] = float((d_unknown < d_known).mean())
        else:
            out["nearer_unknown"] = float("nan")
        return out


def alignment(lens, model, tokenizer, forget: list, known: list, unknown: list) -> Alignment:
    """Read every entity's known/unknown latent scores from ``model`` through ``lens``.

    Args:
        lens: an ``EntityLens`` built on the model before unlearning.
        model, tokenizer: the model to read (before or after unlearning).
        forget, known, unknown: QA records of each group (their questions name the entity).
    """
    groups = {"forget": forget, "known": known, "unknown": unknown}
    return Alignment({g: lens.entity_scores(model, tokenizer, recs) for g, recs in groups.items()})


@METRICS.register("sae_alignment", paper="Yamashita et al. 2025, arXiv 2509.15631")
def sae_alignment(scorer, records, ctx: MetricContext) -> dict[str, Any]:
    """Alignment of ``records``' entities (the forget set) between ``ctx.extra["known"]`` and
    ``ctx.extra["unknown"]`` records, through ``ctx.extra["lens"]``."""
    lens = ctx.extra["lens"]
    return alignment(lens, scorer.model, scorer.tokenizer, list(records), ctx.extra["known"],
                     ctx.extra["unknown"]).summary()
