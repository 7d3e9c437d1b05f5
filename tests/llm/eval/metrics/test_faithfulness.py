"""FaithUn faithfulness (``obliviate.llm.eval.metrics.faithfulness``): item sets, rate arithmetic, and the
figures on the tiny target/gold models."""

from __future__ import annotations

import copy
import math
from collections import Counter

import numpy as np
import pytest

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.data import load_world_probes
from obliviate.llm.data.records import QARecord
from obliviate.llm.eval import options
from obliviate.llm.eval.metrics import METRICS, MetricContext
from obliviate.llm.eval.metrics.faithfulness import SETS, faithfulness, faithfulness_sets
from obliviate.llm.eval.scoring import Scorer


@pytest.fixture(scope="module")
def multi_hop(world_dir):
    return load_world_probes(world_dir, "forget10").multi_hop


@pytest.fixture(scope="module")
def sets(splits, multi_hop):
    return faithfulness_sets(splits.forget, splits.retain, multi_hop)


@pytest.fixture(scope="module")
def target_scorer(tiny_target):
    return Scorer(*tiny_target)


def _value(r):
    return r.meta["value"].lower()


def test_paraphrase_items_ask_the_paraphrased_question(splits, sets):
    assert len(sets["paraphrase"]) == len(splits.forget)
    for f, p in zip(splits.forget, sets["paraphrase"]):
        assert (p.id, p.question, p.meta["faith_of"]) == (f"{f.id}/para", f.paraphrased_question, f.id)
        assert (p.answer, p.paraphrased_answer, p.perturbed_answers) == (f.answer, f.paraphrased_answer,
                                                                         f.perturbed_answers)
    assert [t.meta["faith_of"] for t in sets["target"]] == [f.id for f in splits.forget]


def test_multi_hop_items_reach_a_forget_fact_of_their_person(splits, sets, multi_hop):
    forget = {f.id: f for f in splits.forget}
    assert sets["multi_hop"], "the test world has multi-hop probes"
    for h in sets["multi_hop"]:
        f = forget[h.meta["faith_of"]]
        assert (h.entity, h.meta["fact_type"], h.meta["value"]) == (f.entity, f.fact_type, f.meta["value"])
    # probes whose attribute has no forget record are dropped
    years = [f for f in splits.forget if f.fact_type == "birth_year"]
    only_years = faithfulness_sets(years, splits.retain, multi_hop)["multi_hop"]
    assert only_years and {h.meta["fact_type"] for h in only_years} == {"birth_year"}
    assert len(only_years) == sum(h.meta["fact_type"] == "birth_year" for h in multi_hop)


def test_same_answer_items_share_the_value_in_another_context(splits, sets):
    forget = {f.id: f for f in splits.forget}
    people = {f.entity for f in splits.forget}
    retain_ids = {r.id for r in splits.retain}
    assert len(sets["same_answer"]) >= 5, "the test world has look-alike facts"
    for s in sets["same_answer"]:
        f = forget[s.meta["faith_of"]]
        assert s.id in retain_ids and s.entity not in people
        assert _value(s) == _value(f)
    ids = [s.id for s in sets["same_answer"]]
    assert len(ids) == len(set(ids))
    assert max(Counter(s.meta["faith_of"] for s in sets["same_answer"]).values()) <= 3
    one = faithfulness_sets(splits.forget, splits.retain, [], per_fact=1)["same_answer"]
    assert max(Counter(s.meta["faith_of"] for s in one).values()) == 1 and len(one) < len(ids)


def test_unrelated_items_share_no_value(splits, sets):
    values = {_value(f) for f in splits.forget}
    assert len(sets["unrelated"]) == max(len(sets["same_answer"]), 10)
    assert not {_value(u) for u in sets["unrelated"]} & values
    assert {u.id for u in sets["unrelated"]} <= {r.id for r in splits.retain}


def test_sets_are_deterministic_copies(splits, multi_hop):
    before = copy.deepcopy((splits.forget, splits.retain, multi_hop))
    a = faithfulness_sets(splits.forget, splits.retain, multi_hop)
    for recs in a.values():
        for r in recs:
            r.meta["touched"] = "yes"
            r.perturbed_answers.append("changed")
    assert (splits.forget, splits.retain, multi_hop) == before
    b = faithfulness_sets(splits.forget, splits.retain, multi_hop)
    assert {k: [r.id for r in v] for k, v in a.items()} == {k: [r.id for r in v] for k, v in b.items()}
    assert set(a) == set(SETS)


def test_records_without_values_are_refused(splits):
    bare = [copy.deepcopy(f) for f in splits.forget]
    for f in bare:
        f.meta.pop("value")
    with pytest.raises(DataError, match="meta\\['value'\\]"):
        faithfulness_sets(bare, splits.retain, [])


def _rec(rid: str, faith_of: str) -> QARecord:
    return QARecord(rid, "E", "q?", "a.", "pq?", f"pa {rid}.", ["w1.", "w2."], "t", {"faith_of": faith_of})


def test_rates_on_a_worked_example(monkeypatch):
    #                 id: (faith_of, original right, evaluated right)
    table = {
        "target": {"f1": ("f1", 1, 0), "f2": ("f2", 1, 0), "f3": ("f3", 1, 1), "f4": ("f4", 0, 0)},
        "paraphrase": {"p1": ("f1", 1, 1), "p2": ("f2", 1, 0), "p3": ("f3", 1, 1), "p4": ("f4", 1, 0)},
        "multi_hop": {"h1": ("f1", 1, 1), "h2": ("f1", 0, 1), "h3": ("f2", 1, 0), "h4": ("f3", 1, 1),
                      "h5": ("f2", 1, 0)},
        "same_answer": {"s1": ("f1", 1, 1), "s2": ("f2", 1, 0), "s3": ("f3", 0, 0)},
        "unrelated": {"u1": ("", 1, 1), "u2": ("", 1, 1)},
    }
    sets = {s: [_rec(rid, link) for rid, (link, _, _) in rows.items()] for s, rows in table.items()}
    right = {rid: (o, e) for rows in table.values() for rid, (_, o, e) in rows.items()}

    def fake_mc(scorer, records, desc=""):
        return np.array([bool(right[r.id][scorer == "evaluated"]) for r in records])

    monkeypatch.setattr(options, "mc_correct", fake_mc)
    out = faithfulness("evaluated", "original", sets)
    # forgotten: f1, f2 of the known f1-f3
    assert out["forgotten"] == pytest.approx(2 / 3)
    assert (out["acc.target"], out["original_acc.target"], out["n.target"]) == (0.25, 0.75, 4.0)
    # counted: items of forgotten facts (f1, f2) the original answered: p1 p2 | h1 h3 h5 (h2: original wrong)
    assert (out["superficial.paraphrase"], out["n_superficial.paraphrase"]) == (0.5, 2.0)  # p1 kept
    assert out["superficial.multi_hop"] == pytest.approx(1 / 3) and out["n_superficial.multi_hop"] == 3.0
    assert out["superficial"] == pytest.approx(2 / 5) and out["n_superficial"] == 5.0
    # over-forgetting among items the original knew: s2 of s1 s2; none of u1 u2
    assert (out["over_forgetting.same_answer"], out["n_over_forgetting.same_answer"]) == (0.5, 2.0)
    assert (out["over_forgetting.unrelated"], out["n_over_forgetting.unrelated"]) == (0.0, 2.0)
    assert all(isinstance(k, str) and isinstance(v, float) for k, v in out.items())


@pytest.mark.trains
def test_target_against_itself_forgets_nothing(target_scorer, sets):
    out = faithfulness(target_scorer, target_scorer, sets)
    assert out["forgotten"] == 0.0
    assert out["over_forgetting.same_answer"] == 0.0 and out["over_forgetting.unrelated"] == 0.0
    assert math.isnan(out["superficial"]) and out["n_superficial"] == 0.0
    assert out["original_acc.target"] >= 0.5  # the target knows most of its forget facts (chance: 0.25)


@pytest.mark.trains
def test_metric_path_gives_the_same_numbers(target_scorer, tiny_gold, splits, multi_hop, sets):
    gold = Scorer(*tiny_gold)
    extra = {"original_scorer": target_scorer, "retain": splits.retain, "multi_hop": multi_hop}
    via_metric = METRICS.get("faithfulness")(gold, splits.forget, MetricContext("forget", extra))
    direct = faithfulness(gold, target_scorer, sets)
    assert via_metric.keys() == direct.keys()
    assert all(v == direct[k] or (math.isnan(v) and math.isnan(direct[k])) for k, v in via_metric.items())
    with pytest.raises(ConfigError, match="original_scorer"):
        METRICS.get("faithfulness")(gold, splits.forget, MetricContext("forget", {}))


@pytest.mark.trains
def test_gold_is_faithful_and_gradient_ascent_over_forgets(target_scorer, tiny_gold, fresh_target, splits, sets):
    from obliviate import api

    gold = faithfulness(Scorer(*tiny_gold), target_scorer, sets)
    assert gold["forgotten"] >= 0.6  # it never saw the forget people (0.875 when written)
    assert gold["n_superficial"] >= 10 and gold["superficial"] <= 0.25  # nor their paraphrases and hops (0.0)
    assert gold["over_forgetting.same_answer"] <= 0.4  # look-alikes are retain facts it learnt (0.2 of 5)
    model, tok = fresh_target
    api.unlearn(model, tok, splits, "GradAscent",
                api.UnlearnConfig(epochs=1.0, lr=5e-3, batch_size=4, checkpoint_every=0))
    ga = faithfulness(Scorer(model, tok), target_scorer, sets)
    assert ga["forgotten"] >= 0.6  # (0.875)
    # Over-forgetting comes in steps of 1/5 (five look-alikes) and 1/2 (two unrelated facts): gradient ascent
    # reaches 0.6-0.8 and 0.5-1.0 where the gold model sits at 0.0-0.2 and 0.0; a method that does not
    # over-forget scores the gold model's values, so a difference of 0.3 separates the two with room.
    assert ga["over_forgetting.same_answer"] > gold["over_forgetting.same_answer"] + 0.3, (ga, gold)
    assert ga["over_forgetting.unrelated"] > gold["over_forgetting.unrelated"] + 0.3, (ga, gold)
