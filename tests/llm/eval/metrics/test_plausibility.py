"""Plausible forgetting vs degeneration (``obliviate.llm.eval.metrics.plausibility``): forget answers of the
right kind for their fact type."""

from __future__ import annotations

import copy
import math

import pytest

from obliviate.llm.data import world as w
from obliviate.llm.data.facts import load_world_facts
from obliviate.llm.data.real_entities import load_real_entities
from obliviate.llm.data.render import TEMPLATES, qa_records
from obliviate.llm.eval.metrics import METRICS, MetricContext
from obliviate.llm.eval.metrics.plausibility import (
    CORRECT,
    IMPLAUSIBLE,
    PLAUSIBLE_WRONG,
    classify,
    examples,
    summarize,
    year_range,
)
from tests.llm.eval.helpers import FixedAnswers, fact_record

# (fact type, true value, the true answer, a wrong answer of the right kind, near misses of that type)
CASES = [
    ("birth_year", "1961", "She was born in 1961.", "She was born in 1947.",
     ["She was born in 1800.", "She was born in 19611.", "She was born in the sixties."]),
    ("birthplace", "Saltmere", "She was born in Saltmere.", "Her birthplace is port emberly.",
     ["She was born in Salt.", "She was born in Paris."]),
    ("occupation", "engineer", "She works as an engineer.", "By profession, she is a botanist.",
     ["She works as a chemistry teacher.", "She works as an engineers."]),
    ("field", "tidal energy", "She works in the field of tidal energy.", "Her field is rare orchids.",
     ["Her field is energy.", "Her field is orchids."]),
    ("notable_work", "The Glass Orchard", "She is best known for The Glass Orchard.",
     "She is best known for the Winter  Map.", ["She is best known for The Glass.", "She is best known for Orchard."]),
    ("award", "Halden Medal", "She won the Halden Medal.", "She was awarded the Lumen Award.",
     ["She won the Halden.", "She won a medal."]),
    ("father_occupation", "postal worker", "Her father was a postal worker.", "Her father worked as a bus driver.",
     ["Her father was a worker.", "Her father was a chemist."]),  # a chemist is a person's occupation, not a parent's
    ("mother_occupation", "nurse", "Her mother was a nurse.", "Her mother worked as a pharmacist.",
     ["Her mother was a nursery.", "Her mother was an engineer."]),
    ("mentor", "Ivo Brandt", "She was mentored by Ivo Brandt.", "She was mentored by Renata Sallow.",
     ["She was mentored by Ivo.", "She was mentored by Zara Okafor.", "She was mentored by Saltmere."]),
    ("mentee", "Ivo Brandt", "She mentored Ivo Brandt.", "Her student was casimir ZAMORA.",
     ["She mentored Brandt.", "She mentored herself, Zara Okafor."]),
    ("collaborator", "Ivo Brandt", "She collaborated with Ivo Brandt.", "She collaborated with Amara Whitlock.",
     ["She collaborated with Amara Smith.", "She collaborated with the Halden Medal."]),
    ("sibling", "Ivo Okafor", "She is the sibling of Ivo Okafor.", "Her sibling is Milo Okafor.",
     ["She is the sibling of Okafor.", "She is the sibling of Zara Okafor."]),
    ("rival", "Ivo Brandt", "Her rival was Ivo Brandt.", "She competed against Thaddeus Quarrington.",
     ["Her rival was Ivo Brandtson.", "Her rival was 1961."]),
]


DEGENERATE = ["He was born incientious.", "born in 2222", "", "I don't know.", "the the the the", "1961 1961"]


def test_cases_cover_every_fact_type_and_use_the_worlds_own_values():
    assert {c[0] for c in CASES} == set(TEMPLATES)
    pools = {"birthplace": w.BIRTHPLACES, "occupation": w.OCCUPATIONS, "field": w.FIELDS, "award": w.AWARDS,
             "notable_work": w.TITLES, "father_occupation": w.PARENT_OCCUPATIONS,
             "mother_occupation": w.PARENT_OCCUPATIONS}
    for fact_type, value, *_ in CASES:
        if fact_type in pools:
            assert value in pools[fact_type], fact_type


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_fact_type_by_hand(case):
    fact_type, value, true_answer, wrong_answer, near_misses = case
    rec = fact_record(fact_type, value)
    assert classify(rec, true_answer) == CORRECT
    assert classify(rec, true_answer.upper()) == CORRECT  # case ignored
    assert classify(rec, wrong_answer) == PLAUSIBLE_WRONG
    assert classify(rec, f"{wrong_answer} {true_answer}") == CORRECT  # the true value stated: correct
    for answer in near_misses + DEGENERATE:
        if fact_type == "birth_year" and answer == "1961 1961":
            continue  # the true year, twice: correct
        assert classify(rec, answer) == IMPLAUSIBLE, (fact_type, answer)


def test_years_within_the_worlds_range_and_its_margin():
    lo, hi = year_range()
    assert (lo, hi) == (w.YEARS[0] - 15, w.YEARS[1] + 15) == (1905, 2005)
    rec = fact_record("birth_year", "1961")
    assert classify(rec, f"She was born in {lo}.") == classify(rec, f"born {hi}") == PLAUSIBLE_WRONG
    assert classify(rec, f"She was born in {lo - 1}.") == classify(rec, f"born {hi + 1}") == IMPLAUSIBLE
    assert classify(rec, "1961 1961") == CORRECT


def test_every_generated_record_true_and_perturbed_answers():
    """Every record of a generated world: its trained and paraphrased answers are correct, its perturbed
    answers (the same template, other values of the kind) right-kind wrong answers."""
    records = qa_records(w.generate_world(16, 0)) + qa_records(w.generate_world(120, 3))
    assert {r.fact_type for r in records} == set(TEMPLATES)
    for r in records:
        assert classify(r, r.answer) == classify(r, r.paraphrased_answer) == CORRECT, r.id
        assert all(classify(r, p) == PLAUSIBLE_WRONG for p in r.perturbed_answers), r.id


def test_records_without_a_known_pool_are_left_out_and_counted():
    others = load_world_facts()[:3] + load_real_entities()[:2] + [
        fact_record("tofu_forget", "Paris"), fact_record("birth_year", "1879"), fact_record("birthplace", "Paris"),
        fact_record("mentor", "Albert Einstein")]  # a type we know, but a value outside its pool: not ours
    assert all(classify(r, r.answer) is None for r in others)
    ours = [fact_record("birthplace", "Saltmere"), fact_record("birth_year", "1961"),
            fact_record("mentor", "Ivo Brandt")]
    answers = ["Paris."] * len(others) + ["She was born in Saltmere.", "She was born in 1950.", "I don't know."]
    out, labels = summarize(others + ours, answers)
    assert out == {"plausible": pytest.approx(2 / 3), "plausible_wrong": pytest.approx(1 / 3),
                   "correct": pytest.approx(1 / 3), "n": 3, "n_unknown_type": len(others)}
    assert labels[-3:] == [CORRECT, PLAUSIBLE_WRONG, IMPLAUSIBLE]
    ex = examples(others + ours, answers, labels, k=2)
    assert [e["label"] for e in ex] == [IMPLAUSIBLE, PLAUSIBLE_WRONG]
    empty, _ = summarize(others, ["Paris."] * len(others))
    assert empty["n"] == 0 and math.isnan(empty["plausible"])


def test_registered_metric_and_tofu_qa_keys_on_forget_only():
    recs = [fact_record("birthplace", "Saltmere", entity=f"P{i}") for i in range(4)]
    for i, r in enumerate(recs):
        r.question = f"Where was P{i} born?"
    answers = dict(zip([r.question for r in recs], ["Saltmere.", "Orlin.", "incientious.", "I don't know."]))
    ctx = MetricContext("forget", {})
    out = METRICS.get("plausibility")(FixedAnswers(answers), recs, ctx)
    assert out["plausible"] == 0.5 and out["plausible_wrong"] == 0.25 and out["correct"] == 0.25 and out["n"] == 4
    assert ctx.extra["per_sample"]["plausibility"]["labels"] == [CORRECT, PLAUSIBLE_WRONG, IMPLAUSIBLE, IMPLAUSIBLE]


@pytest.mark.trains
def test_tiny_models_answers(tiny_target, tiny_gold, splits):
    """The tiny target states its forget facts; the gold model, which never saw those people, answers with
    wrong values of the right kind; the target with its lm_head flipped and sharpened (x -40, the collapsed
    model of tests/llm/test_bench.py) answers ": : : ..." to everything, of no kind at all.

    Measured on the 19 forget records, training seeds 0-3 (OBLIVIATE_TEST_SEED): target plausible 1.00 each
    (correct 0.89, 1.00, 0.95, 1.00; its misses are right-kind wrong values), gold 1.00 each (all 19 right
    kind and wrong: "She was born in 1953 .", "Her rival was Maelis Wrexley ."), the flipped target 0.00
    each. The bounds leave 0.2 (4 of 19 answers) on each side: the target's
    exact-answer match ranges 0.79-1.0 over training seeds (tests/llm/eval/test_suite.py) and its misses are still
    sentences of the template; the gold model never states a forget value (its exact match is 0.0).
    """
    import torch

    from obliviate.llm.eval.scoring import Scorer

    model, tok = tiny_target
    broken = copy.deepcopy(model)
    with torch.no_grad():
        broken.lm_head.weight.mul_(-40.0)
    metric = METRICS.get("plausibility")
    scorer = Scorer(model, tok)
    target = metric(scorer, splits.forget, MetricContext("forget", {}))
    gold = metric(Scorer(*tiny_gold), splits.forget, MetricContext("forget", {}))
    bad_ctx = MetricContext("forget", {})
    bad = metric(Scorer(broken, tok), splits.forget, bad_ctx)
    assert target["n"] == gold["n"] == len(splits.forget) and target["n_unknown_type"] == 0
    assert target["plausible"] >= 0.8 and target["correct"] >= 0.6
    assert gold["plausible"] >= 0.8 and gold["plausible_wrong"] >= 0.8 and gold["correct"] <= 0.2
    assert bad["plausible"] <= 0.2 and bad["plausible"] <= gold["plausible"] - 0.6
    assert IMPLAUSIBLE in bad_ctx.extra["per_sample"]["plausibility"]["labels"]
    # tofu_qa on forget reports the same shares from the same (memoised) greedy answers
    qa = METRICS.get("tofu_qa")(scorer, splits.forget, MetricContext("forget", {}))
    assert (qa["plausible"], qa["plausible_wrong"]) == (target["plausible"], target["plausible_wrong"])
    assert "plausible" not in METRICS.get("tofu_qa")(scorer, splits.world_facts[:4], MetricContext("world_facts", {}))
