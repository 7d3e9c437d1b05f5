"""qa_records and biography: every record is well formed and true to the world."""

import re

import pytest

from obliviate.core.errors import DataError
from obliviate.llm.data.render import ATTRIBUTES, biography, qa_records
from obliviate.llm.data.world import generate_world

WORLD = generate_world(30, seed=0)
RECORDS = qa_records(WORLD)


def bare(answer: str) -> str:
    """The answer without its indefinite articles ("a chemist" / "an engineer")."""
    return re.sub(r"\ban? ", "", answer)


def test_one_record_per_attribute_and_relation():
    for e in WORLD.entities:
        mine = [r for r in RECORDS if r.entity == e.name]
        assert len(mine) == len(ATTRIBUTES) + len(WORLD.relations_of(e.name))
        assert {r.fact_type for r in mine} >= set(ATTRIBUTES)
    assert len({r.id for r in RECORDS}) == len(RECORDS)


@pytest.mark.parametrize("rec", RECORDS, ids=lambda r: r.id)
def test_record_is_valid(rec):
    value = rec.meta["value"]
    assert rec.answer.endswith(f"{value}.") and value in rec.paraphrased_answer
    assert rec.question != rec.paraphrased_question and rec.answer != rec.paraphrased_answer
    assert rec.question.endswith("?") and rec.entity in rec.question
    wrong = rec.perturbed_answers
    assert len(wrong) >= 3 and len(set(wrong)) == len(wrong) and rec.answer not in wrong
    # wrong answers are the paraphrased answer with another value (TOFU: the truth
    # ratio compares them with the paraphrased answer, so the template must match)
    pre, post = bare(rec.paraphrased_answer).split(value if value in bare(rec.paraphrased_answer) else bare(value), 1)
    for p in map(bare, wrong):
        assert p.startswith(pre) and p.endswith(post) and p[len(pre) : len(p) - len(post)] != value
    assert len(rec.answer.split()) <= 10 and len(rec.question.split()) <= 12


def test_values_match_the_world():
    for rec in RECORDS:
        e = WORLD.entity(rec.entity)
        if rec.fact_type in ATTRIBUTES:
            assert rec.meta["value"] == str(getattr(e, rec.fact_type))
        else:
            other = rec.meta["related_entity"]
            assert other == rec.meta["value"] and other in WORLD.neighbours(e.name)
            for p in rec.perturbed_answers:
                assert other not in p and e.name not in p
    mentors = [r for r in RECORDS if r.fact_type == "mentor"]
    assert mentors
    for r in mentors:  # "Who mentored X?" -> the older person
        assert WORLD.entity(r.meta["value"]).birth_year < WORLD.entity(r.entity).birth_year


def test_pronouns_follow_gender():
    for rec in RECORDS:
        first = rec.answer.split()[0]
        assert first in ({"She", "Her"} if WORLD.entity(rec.entity).gender == "she" else {"He", "His"})


def test_deterministic_and_subset():
    assert qa_records(generate_world(30, seed=0)) == RECORDS
    name = WORLD.entities[3].name
    subset = qa_records(WORLD, [name])
    assert subset == [r for r in RECORDS if r.entity == name]
    with pytest.raises(DataError, match="Nobody Here"):
        qa_records(WORLD, ["Nobody Here"])


def test_tiny_world_still_has_three_wrong_names():
    world = generate_world(4, seed=2)
    for rec in qa_records(world):
        assert len(set(rec.perturbed_answers)) == 3 and rec.answer not in rec.perturbed_answers


def test_biography_uses_the_facts():
    for e in WORLD.entities:
        bio = biography(WORLD, e.name)
        sentences = re.findall(r"[^.]+\.", bio)
        assert 4 <= len(sentences) <= 5
        for fact in (e.name, str(e.birth_year), e.birthplace, e.notable_work, e.award, e.field):
            assert fact in bio
        for other in WORLD.neighbours(e.name):
            assert other in bio
