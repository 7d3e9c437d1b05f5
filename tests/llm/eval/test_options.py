"""Multiple-choice options (``obliviate.llm.eval.options``): known facts, and the true option's template."""

from __future__ import annotations

import pytest

from obliviate.llm.data.records import QARecord
from obliviate.llm.eval.options import known_facts
from obliviate.llm.eval.scoring import Scorer


@pytest.mark.trains
def test_known_facts_keeps_only_what_the_model_ranks_first(tiny_target, tiny_gold, splits):
    kept = known_facts(Scorer(*tiny_target), splits.world_facts)
    assert len(kept) >= 0.8 * len(splits.world_facts)  # trained on them
    from obliviate.models.tiny import tiny_llama

    untrained = tiny_llama(len(tiny_target[1]), tokenizer=tiny_target[1], hidden_size=96, intermediate_size=192)
    assert len(known_facts(Scorer(untrained, tiny_target[1]), splits.world_facts)) < len(kept)


def test_multiple_choice_compares_options_in_one_template(splits):
    from obliviate.llm.eval.options import true_option

    person = splits.forget[0]  # wrong answers follow the paraphrased template: "His birth year is 1972."
    assert true_option(person) == person.paraphrased_answer
    fact = splits.world_facts[0]  # "Paris." against "London.": the answer's own template
    assert true_option(fact) == fact.answer
    articles = [r for r in splits.retain if r.fact_type == "occupation"]  # "an engineer" vs "a historian"
    assert articles and all(true_option(r) == r.paraphrased_answer for r in articles)
    bare = QARecord("x", "X", "q?", "Yes.", "q2?", "Indeed yes.", ["No."], "misc")  # no meta.value
    assert true_option(bare) == "Yes."
