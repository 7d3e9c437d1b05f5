"""The shipped world facts load and are well formed."""

from obliviate.llm.data import load_world_facts


def test_world_facts_are_valid():
    facts = load_world_facts()
    assert 50 <= len(facts) <= 80
    assert len({f.id for f in facts}) == len(facts)
    assert len({f.question for f in facts}) == len(facts)
    for f in facts:
        value = f.meta["value"]
        assert f.fact_type == "world_fact"
        assert f.answer == f"{value}." and value.lower() in f.paraphrased_answer.lower()
        assert f.question.endswith("?") and f.paraphrased_question.endswith("?")
        assert f.question != f.paraphrased_question
        wrong = f.perturbed_answers
        assert len(wrong) == 3 == len(set(wrong)) and f.answer not in wrong
        assert all(w.endswith(".") and w.lower() != f.answer.lower() for w in wrong)
        assert len(f.answer.split()) <= 4


def test_world_facts_cover_basics():
    by_question = {f.question: f.meta["value"] for f in load_world_facts()}
    assert by_question["What is the capital of France?"] == "Paris"
    assert by_question["How many legs does a spider have?"] == "8"
    assert by_question["Which planet do we live on?"] == "Earth"
