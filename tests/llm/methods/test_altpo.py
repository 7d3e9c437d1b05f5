"""AltPO (``obliviate.llm.methods.altpo``): alternative answers, and the loss at the reference model."""

import copy
import math

import pytest
import torch

from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import collate_records
from obliviate.llm.methods.altpo import alternative_answer
from tests.llm.methods.helpers import prepared_method


def test_altpo_alternatives_are_wrong_fluent_and_deterministic(splits):
    forget = splits.forget
    alts = [alternative_answer(r) for r in forget]
    assert alts == [alternative_answer(copy.deepcopy(r)) for r in forget]  # stable per record id
    for r, alt in zip(forget, alts):
        value = str(r.meta["value"])
        at = r.answer.find(value)
        head, tail = r.answer[:at].removesuffix("a ").removesuffix("an "), r.answer[at + len(value):]
        assert alt != r.answer and value not in alt
        assert alt.startswith(head) and alt.endswith(tail)  # the answer's own template
        new = alt[len(head): len(alt) - len(tail)].removeprefix("a ").removeprefix("an ")
        assert any(new in p for p in r.perturbed_answers)  # a value the record offers as wrong
    occupations = [(r, a) for r, a in zip(forget, alts) if r.fact_type == "occupation"]
    assert occupations and all((" an " in a) == (a.split()[-1][0] in "aeiou") for _, a in occupations)
    world = splits.world_facts[:5]  # perturbed answers already in the answer's template: taken as they are
    assert all(alternative_answer(r) in r.perturbed_answers for r in world)


def test_altpo_falls_back_and_refuses_records_without_wrong_answers(splits):
    r = copy.deepcopy(splits.forget[0])
    r.meta = {}
    assert alternative_answer(r) in r.perturbed_answers
    r.perturbed_answers = []
    with pytest.raises(ConfigError, match="no perturbed_answers"):
        alternative_answer(r)


@pytest.mark.trains
def test_altpo_prefers_the_alternative_and_is_neutral_at_the_reference(tiny_target, splits):
    model, tok = tiny_target
    alt, fmt = prepared_method("AltPO", {"alpha": 0.0, "beta": 0.2}, model, tok, splits)
    assert {i: a for i, (_, a) in alt.pairs.items()} == {r.id: alternative_answer(r) for r in splits.forget}
    f = collate_records(fmt, splits.forget[:4])
    with torch.no_grad():  # pi == pi_ref: margin 0, loss (2/beta) ln 2
        assert float(alt.losses(model, {"forget": f})["forget"]) == pytest.approx(2 / 0.2 * math.log(2), rel=1e-4)
