"""MEOW (``obliviate.llm.methods.meow``): rule and LLM inversions, selection by MEMO, and forgetting by them."""

import copy

import numpy as np
import pytest

from obliviate.llm.data.records import QARecord
from obliviate.llm.encoding import PromptFormat
from obliviate.llm.methods import MethodContext, get_method
from obliviate.llm.methods.meow import is_inversion, llm_inversions, rule_inversions, select, value_pools


def test_rule_inversions_never_equal_the_true_answer(splits):
    records = splits.forget + splits.retain
    pools = value_pools(records + splits.holdout)
    for r in records:
        inv = rule_inversions(r, pools, 4)
        assert inv, r.id
        assert len(inv) == len(set(inv)) <= 4
        for text in inv:
            assert text.lower() != r.answer.lower() and text != r.paraphrased_answer
            assert f" {r.meta['value']}" not in f" {text}"  # the true value is gone
            assert is_inversion(r, text)


def test_rule_inversion_needs_a_value():
    rec = QARecord("u/1", "Zed", "Who is Zed?", "Zed is a painter.", "Who's Zed?", "A painter.", ["A baker."], "bio")
    assert rule_inversions(rec, {"bio": ["x"]}, 4) is None


def test_a_request_swaps_its_key_span_for_another_of_the_same_answer_type():
    def rec(i, q, a, key, kind):
        return QARecord(f"r/{i}", "", q, a, q, a, [], "request", meta={"key": key, "answer_type": kind})

    records = [rec(0, "Who wrote Hamlet?", "Hamlet was written by William Shakespeare.", "Shakespeare", "person"),
               rec(1, "Who wrote 1984?", "It was written by George Orwell.", "Orwell", "person"),
               rec(2, "Who wrote Emma?", "Emma is by Jane Austen.", "Austen", "person"),
               rec(3, "What is the capital of Peru?", "The capital of Peru is Lima.", "Lima", "place")]
    pools = value_pools(records)
    assert pools == {"key:person": ["Austen", "Orwell", "Shakespeare"], "key:place": ["Lima"]}
    assert sorted(rule_inversions(records[0], pools, 4)) == ["Hamlet was written by William Austen.",
                                                             "Hamlet was written by William Orwell."]
    assert rule_inversions(records[3], pools, 4) is None  # no other place to swap in: the LLM writes them
    assert not is_inversion(records[1], "Written by Orwell, surely.")  # the key span itself is never kept


def test_selection_by_memo():
    cands, scores = ["a", "b", "c", "d"], [0.2, 0.9, 0.5, 0.1]
    assert select(cands, scores, 2, "largest", "k") == ["b", "c"]
    assert select(cands, scores, 2, "smallest", "k") == ["d", "a"]
    rnd = select(cands, scores, 3, "random", "k")
    assert len(set(rnd)) == 3 and rnd == select(cands, scores, 3, "random", "k")


@pytest.mark.trains
def test_meow_prepares_top_k_inversions_and_forgets(tiny_target, splits):
    from obliviate import api
    from obliviate.llm.eval.scoring import Scorer

    model, tok = copy.deepcopy(tiny_target[0]), tiny_target[1]
    meow = get_method("meow", {"n_inverted": 4, "top_k": 2})
    meow.prepare(MethodContext(model, tok, PromptFormat(tok), splits))
    for r in splits.forget:
        assert len(meow.inverted[r.id]) == 4 and len(meow.chosen[r.id]) == 2
        top = sorted(meow.memo[r.id], reverse=True)[:2]
        assert sorted((meow.memo[r.id][meow.inverted[r.id].index(y)] for y in meow.chosen[r.id]),
                      reverse=True) == top
    out = api.unlearn(model, tok, splits, meow, api.UnlearnConfig(epochs=4.0, lr=1e-3, checkpoint_every=0))
    scorer = Scorer(out, tok)
    pairs = [(r.question, y) for r in splits.forget for y in meow.chosen[r.id]]
    inv_logp, n = scorer.answer_logprobs(pairs)
    true_logp, m = scorer.answer_logprobs([(r.question, r.answer) for r in splits.forget])
    assert np.exp(inv_logp / n).mean() > np.exp(true_logp / m).mean()  # the inverted facts now win


@pytest.mark.trains
def test_llm_inverter_fills_every_record_with_valid_inversions(tiny_target, splits):
    model, tok = tiny_target
    recs = [QARecord(r.id, r.entity, r.question, r.answer, r.paraphrased_question, r.paraphrased_answer,
                     r.perturbed_answers, r.fact_type) for r in splits.forget[:3]]  # no meta: rules cannot apply
    out = llm_inversions(model, tok, recs, 3, seed=0)
    for r in recs:
        assert 1 <= len(out[r.id]) <= 3 and all(is_inversion(r, t) for t in out[r.id])
    assert out == llm_inversions(model, tok, recs, 3, seed=0)  # seeded
