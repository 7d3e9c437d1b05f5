"""Real entities (``obliviate.llm.data.real_entities``): option records, kept like the world facts."""

import pytest

from obliviate.llm import pipeline
from obliviate.llm.eval.options import known_facts
from obliviate.llm.eval.scoring import Scorer

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


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
