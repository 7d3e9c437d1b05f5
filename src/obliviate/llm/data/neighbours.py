"""Each forget entity's neighbourhood in the retain set, read from the records alone.

MELU (Bushipaka et al. 2025) pairs each forget entity with retain data from its
own neighbourhood: **direct** neighbours are entities connected to it (a
relation fact of one names the other), **indirect** neighbours share its domain
without being connected (same ``field`` fact, else same ``occupation``, else
any other retain entity). Only records are used, so the same rule works for a
generated world and for a user's own JSONL files (where a connection is an
entity's name appearing in the other's answers). The world's evaluation probes
(:mod:`obliviate.llm.data.probes`) apply the same rule with a cap per set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from obliviate.llm.data.records import QARecord
from obliviate.train.samplers import RetainSets

DOMAIN_FACTS = ("field", "occupation")


def _mentions(records: Sequence[QARecord], name: str) -> bool:
    """A record's value is ``name``, or ``name`` appears as whole words in its answer ("Ann" is not in "Anna")."""
    pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
    return any(r.meta.get("value") == name or pattern.search(r.answer) for r in records)


def _value(records: Sequence[QARecord], fact_type: str) -> str | None:
    return next((str(r.meta["value"]) for r in records if r.fact_type == fact_type and "value" in r.meta), None)


def entity_neighbourhoods(forget: Sequence[QARecord],
                          retain: Sequence[QARecord]) -> dict[str, dict[str, list[QARecord]]]:
    """``{forget entity: {"direct": [...], "indirect": [...]}}``, lists of retain records.

    Args:
        forget: forget records (grouped by their ``entity``).
        retain: retain records to draw neighbours from.
    """
    retain_by: dict[str, list[QARecord]] = {}
    for r in retain:
        retain_by.setdefault(r.entity, []).append(r)
    forget_by: dict[str, list[QARecord]] = {}
    for r in forget:
        forget_by.setdefault(r.entity, []).append(r)
    out: dict[str, dict[str, list[QARecord]]] = {}
    for e, mine in forget_by.items():
        direct = [n for n, recs in retain_by.items() if n != e and (_mentions(mine, n) or _mentions(recs, e))]
        others = [n for n in retain_by if n != e and n not in direct]
        indirect = others
        for fact in DOMAIN_FACTS:
            v = _value(mine, fact)
            same = [n for n in others if v is not None and _value(retain_by[n], fact) == v]
            if same:
                indirect = same
                break
        out[e] = {"direct": [r for n in direct for r in retain_by[n]],
                  "indirect": [r for n in indirect for r in retain_by[n]]}
    return out


def retain_sets(splits) -> RetainSets:
    """The :class:`~obliviate.train.samplers.RetainSets` of a :class:`Splits`: retain, general, neighbours."""
    return RetainSets(retain=list(splits.retain), general=list(splits.world_facts),
                      local=entity_neighbourhoods(splits.forget, splits.retain))
