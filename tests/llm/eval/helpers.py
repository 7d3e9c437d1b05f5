"""Stand-ins for the evaluation tests: token statistics, a scorer that reads a table, fixed answers, and
synthetic answers grouped by person."""

from __future__ import annotations

import numpy as np

from obliviate.llm.data import QARecord
from obliviate.llm.eval.scoring import TokenStats


def stats(logp, mu=None, sigma=None, match=None) -> TokenStats:
    n = len(logp)
    return TokenStats(logp, mu if mu is not None else [0.0] * n, sigma if sigma is not None else [1.0] * n,
                      match if match is not None else [True] * n)


class TableScorer:
    """A stand-in Scorer: summed log-prob and token count per answer text; greedy answers per question."""

    def __init__(self, table: dict[str, tuple[float, int]], answers: dict[str, str] | None = None) -> None:
        self.table, self.answers = table, answers or {}

    def answer_logprobs(self, pairs, desc=""):
        logp = np.array([self.table[a][0] for _, a in pairs], dtype=float)
        return logp, np.array([self.table[a][1] for _, a in pairs])

    vocab_size = 100

    def generate(self, questions, desc="", max_new_tokens=None):
        return [self.answers.get(q, "A.") for q in questions]


def record(i: int, prefix: str = "") -> QARecord:
    return QARecord(id=f"{prefix}r{i}", entity="e", question=f"{prefix}Question {i}?", answer=f"{prefix}A.",
                    paraphrased_question=f"{prefix}Question {i} again?", paraphrased_answer=f"{prefix}P.",
                    perturbed_answers=[f"{prefix}W1.", f"{prefix}W2."], fact_type="t")


# normalised log-probs: answer -0.2, paraphrase -1.0, wrong answers -1.5 and -2.5
TABLE = {"A.": (-0.4, 2), "P.": (-1.0, 1), "W1.": (-3.0, 2), "W2.": (-2.5, 1)}


def answers_by_person(n_people, per_person, rng, person_sd=1.0, answer_sd=0.3):
    """Values with a strong person effect: answers of one person are correlated (ICC 0.92 by default)."""
    groups = np.repeat([f"person-{k}" for k in range(n_people)], per_person)
    values = np.repeat(rng.normal(0, person_sd, n_people), per_person) + rng.normal(0, answer_sd, len(groups))
    return values, list(groups)


def truth_ratios_by_person(n_people, per_person, shift, seed):
    """Unlearned and gold truth ratios on the same records: shared person effects, own noise, a location shift."""
    rng = np.random.default_rng(seed)
    base, groups = answers_by_person(n_people, per_person, rng, answer_sd=0.0)
    model = base + rng.normal(0, 0.5, len(base)) + shift
    gold = base + rng.normal(0, 0.5, len(base))
    return model, gold, groups


def fact_record(fact_type: str, value: str, entity: str = "Zara Okafor") -> QARecord:
    return QARecord(id=f"x/{fact_type}", entity=entity, question=f"A question about {entity}?", answer="-",
                    paraphrased_question="-", paraphrased_answer="-", perturbed_answers=["-"], fact_type=fact_type,
                    meta={"value": value})


class FixedAnswers:
    """A scorer stand-in: fixed greedy answers."""

    def __init__(self, answers):
        self.answers = answers

    def generate(self, questions, desc="", max_new_tokens=None):
        return [self.answers[q] for q in questions]
