"""Evaluation on tiny target and gold models trained in the test."""

import pytest

from obliviate import api
from obliviate.llm import pipeline
from obliviate.llm.eval.options import known_facts
from obliviate.llm.eval.scoring import Scorer
from obliviate.llm.eval.suite import evaluate


@pytest.fixture(scope="module")
def gold_eval(tiny_gold, splits):
    return evaluate(*tiny_gold, splits, max_per_split=30)


def test_target_knows_its_facts(tiny_target, splits, gold_eval):
    # Word-for-word greedy answers. Over the tiny targets of training seeds 0-3 and two CPU kernel paths
    # the target answers 15-19 of its 19 forget questions (0.79-1.0) and 0.90-0.97 of retain; the gold
    # model, which never saw the forget people, answers none of theirs (0.0) and 0.90-1.0 of retain.
    metrics, _ = evaluate(*tiny_target, splits, max_per_split=30)
    assert metrics["forget"]["exact_answer_match"] >= 0.6
    assert metrics["retain"]["exact_answer_match"] >= 0.75
    assert gold_eval[0]["forget"]["exact_answer_match"] <= 0.2
    assert 0 < metrics["model_utility_hmean"] <= 1


def test_forget_quality_separates_gold_from_target(tiny_target, tiny_gold, splits, gold_eval):
    _, gold_ps = gold_eval
    gold_tr = gold_ps["forget"]["truth_ratio"]
    gold_m, _ = evaluate(*tiny_gold, splits, gold_forget_truth_ratios=gold_tr, max_per_split=10)
    target_m, _ = evaluate(*tiny_target, splits, gold_forget_truth_ratios=gold_tr, max_per_split=10)
    assert gold_m["forget_quality_ks_pvalue"] == pytest.approx(1.0)  # gold against itself
    assert target_m["forget_quality_ks_pvalue"] < 0.05
    # the gold model never saw the forget people
    assert gold_m["forget"]["answer_prob"] < 0.5 * target_m["forget"]["answer_prob"]


def test_scorer_order_and_batching_do_not_change_results(tiny_target, splits):
    model, tok = tiny_target
    pairs = [(r.question, r.answer) for r in splits.retain[:20]]
    a, _ = Scorer(model, tok, batch_size=3).answer_logprobs(pairs)
    b, _ = Scorer(model, tok, batch_size=20).answer_logprobs(pairs[::-1])
    assert a == pytest.approx(b[::-1], abs=1e-4)
    g1 = Scorer(model, tok, batch_size=1).generate([q for q, _ in pairs[:6]])
    g2 = Scorer(model, tok, batch_size=6).generate([q for q, _ in pairs[:6]])
    assert g1 == g2  # left padding does not change greedy answers


def test_known_facts_keeps_only_what_the_model_ranks_first(tiny_target, tiny_gold, splits):
    kept = known_facts(Scorer(*tiny_target), splits.world_facts)
    assert len(kept) >= 0.8 * len(splits.world_facts)  # trained on them
    from obliviate.models.tiny import tiny_llama

    untrained = tiny_llama(len(tiny_target[1]), tokenizer=tiny_target[1], hidden_size=96, intermediate_size=192)
    assert len(known_facts(Scorer(untrained, tiny_target[1]), splits.world_facts)) < len(kept)


def test_finetuned_models_are_cached(world_dir, splits, tiny_target):
    import time

    from tests.helpers import tiny_finetune_config

    t = time.time()
    again, _ = api.finetuned(api.TINY, splits.forget + splits.retain + splits.world_facts, tiny_finetune_config(),
                             role="target", world_dir=world_dir)
    assert time.time() - t < 10
    import torch

    for a, b in zip(again.parameters(), tiny_target[0].parameters()):
        assert torch.equal(a, b)


def test_real_entities_are_option_records_kept_like_world_facts(tiny_target):
    from obliviate.llm.data import QARecord, load_real_entities
    from obliviate.llm.eval.options import true_option

    recs = load_real_entities()
    assert 60 <= len(recs) <= 100 and len({r.id for r in recs}) == len(recs)
    assert [r.to_dict() for r in load_real_entities()] == [r.to_dict() for r in recs]  # deterministic
    for r in recs:
        assert r.fact_type == "real_entity" and len(set(r.perturbed_answers)) >= 3
        assert r.answer not in r.perturbed_answers
        assert true_option(r) == r.answer  # wrong options in the answer's template: "Jane Austen." / "Charles Dickens."
        assert r.meta["value"] in r.paraphrased_answer
        assert QARecord.from_dict(r.to_dict()) == r
    # the demo's filter (api._known_to): the subset the model ranks first, cached beside the model
    model, tok = tiny_target
    kept = pipeline._known_to(model, tok, recs)
    assert {r.id for r in kept} <= {r.id for r in recs}
    assert kept == known_facts(Scorer(model, tok), recs)
    calls = []
    hook = model.register_forward_hook(lambda *_: calls.append(1))
    try:
        assert [r.id for r in pipeline._known_to(model, tok, recs)] == [r.id for r in kept]
    finally:
        hook.remove()
    assert not calls  # read from the cache
