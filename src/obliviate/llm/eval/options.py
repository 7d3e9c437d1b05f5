"""Reading a record's options: the multiple-choice view of TOFU and FaithUn, and deterministic subsamples.

Below the metrics and the suite (both use it): the true option in the template of the wrong ones, whether a
model ranks it first, and the records a model already knows.
"""

from __future__ import annotations

import random
import re

import numpy as np

from obliviate.llm.eval.scoring import Scorer


def subsample(records: list, limit: int | None, seed: int = 0) -> list:
    """At most ``limit`` records, chosen deterministically (order kept)."""
    if not limit or len(records) <= limit:
        return list(records)
    keep = sorted(random.Random(seed).sample(range(len(records)), limit))
    return [records[i] for i in keep]


def true_option(record) -> str:
    """The true answer in the template of the record's perturbed answers.

    Generated people's wrong answers follow the *paraphrased* answer's template
    ("His birth year is 1972."), world facts' follow the answer's ("London.").
    Comparing options in different templates would test the template, not the
    fact. The template is the text around ``meta["value"]``; records without a
    value use ``answer``.
    """
    value = str(record.meta.get("value", "")).lower()
    wrong = record.perturbed_answers[0]
    for text in (record.answer, record.paraphrased_answer):
        at = text.lower().find(value) if value else -1
        head = re.sub(r"\b(an?|the) $", "", text[:at])  # "an electrician" / "a miner": same template
        if at >= 0 and wrong.startswith(head) and wrong.endswith(text[at + len(value):]):
            return text
    return record.answer


def mc_correct(scorer: Scorer, records: list, desc: str = "multiple choice") -> np.ndarray:
    """Per record, whether the model ranks the true answer above every perturbed answer.

    The options are the true answer (:func:`true_option`) and the perturbed
    answers (as many as the record with the fewest has), compared by mean token
    log-likelihood: the multiple-choice reading of TOFU and FaithUn.
    """
    if not records:
        return np.zeros(0, dtype=bool)
    k = min(len(r.perturbed_answers) for r in records)
    pairs = [(r.question, a) for r in records for a in [true_option(r), *r.perturbed_answers[:k]]]
    norm = scorer.mean_token_nll(pairs, desc=desc).reshape(len(records), k + 1)
    return norm[:, 0] < norm[:, 1:].min(axis=1)


def known_facts(scorer: Scorer, records: list, desc: str = "checking known facts") -> list:
    """Records whose true answer the model ranks above every perturbed answer.

    World facts and real entities are kept only when the loaded model already
    knows them, so that a drop means damage done by unlearning, not ignorance
    to begin with.
    """
    return [r for r, ok in zip(records, mc_correct(scorer, records, desc=desc)) if ok]
