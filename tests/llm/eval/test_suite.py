"""The evaluation suite (``obliviate.llm.eval.suite``): on tiny target and gold models, model utility's splits,
forget quality's p-value, distance, power and equivalence, and the OpenUnlearning summary."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import ks_2samp

from obliviate.llm.data import Splits
from obliviate.llm.eval import stats as st
from obliviate.llm.eval.suite import add_forget_quality, evaluate, openunlearning_summary
from tests.llm.eval.helpers import TABLE, TableScorer, record, truth_ratios_by_person


@pytest.fixture(scope="module")
def gold_eval(tiny_gold, splits):
    return evaluate(*tiny_gold, splits, max_per_split=30)


@pytest.mark.trains
def test_target_knows_its_facts(tiny_target, splits, gold_eval):
    # Word-for-word greedy answers. Over the tiny targets of training seeds 0-3 and two CPU kernel paths
    # the target answers 15-19 of its 19 forget questions (0.79-1.0) and 0.90-0.97 of retain; the gold
    # model, which never saw the forget people, answers none of theirs (0.0) and 0.90-1.0 of retain.
    metrics, _ = evaluate(*tiny_target, splits, max_per_split=30)
    assert metrics["forget"]["exact_answer_match"] >= 0.6
    assert metrics["retain"]["exact_answer_match"] >= 0.75
    assert gold_eval[0]["forget"]["exact_answer_match"] <= 0.2
    assert 0 < metrics["model_utility_hmean"] <= 1


@pytest.mark.trains
def test_forget_quality_separates_gold_from_target(tiny_target, tiny_gold, splits, gold_eval):
    _, gold_ps = gold_eval
    gold_tr = gold_ps["forget"]["truth_ratio"]
    gold_m, _ = evaluate(*tiny_gold, splits, gold_forget_truth_ratios=gold_tr, max_per_split=10)
    target_m, _ = evaluate(*tiny_target, splits, gold_forget_truth_ratios=gold_tr, max_per_split=10)
    assert gold_m["forget_quality_ks_pvalue"] == pytest.approx(1.0)  # gold against itself
    assert target_m["forget_quality_ks_pvalue"] < 0.05
    # the gold model never saw the forget people
    assert gold_m["forget"]["answer_prob"] < 0.5 * target_m["forget"]["answer_prob"]


def test_model_utility_uses_retain_real_entities_and_world_facts_not_neighbours():
    from scipy.stats import hmean

    table = {**TABLE, **{f"{p}{a}": v for p in ("n-", "re-", "wf-") for a, v in TABLE.items()}}
    table["n-A."] = (-6.0, 2)  # neighbours' answer unlikely (exp(-3) = 0.0498): it would drag the utility down
    splits = Splits(forget=[record(0)], retain=[record(1)], holdout=[], world_facts=[record(2, "wf-")],
                    neighbours=[record(3, "n-")], real_entities=[record(4, "re-")])
    records = splits.forget + splits.retain + splits.world_facts + splits.neighbours + splits.real_entities
    scorer = TableScorer(table, {r.question: r.answer for r in records})  # every greedy answer right: ROUGE 1
    out, _ = evaluate(None, None, splits, scorer=scorer)
    assert out["model_utility_splits"] == ["retain", "real_entities", "world_facts"]
    nine = [out[s][m] for s in ("retain", "real_entities", "world_facts")
            for m in ("answer_prob", "rouge_l_recall", "truth_ratio")]
    # retain: exp(-0.2), 1, 1 - exp(-1); real entities and world facts: the option share, 1, 1 - exp(-1.8)
    assert nine == pytest.approx([0.818731, 1, 0.632121, 0.728443, 1, 0.834701, 0.728443, 1, 0.834701], abs=1e-6)
    assert out["model_utility_hmean"] == pytest.approx(hmean(nine))
    assert out["neighbours"]["answer_prob"] == pytest.approx(math.exp(-3))  # scored and reported, not counted
    with_neighbours = nine + [out["neighbours"][m] for m in ("answer_prob", "rouge_l_recall", "truth_ratio")]
    assert out["model_utility_hmean"] > hmean(with_neighbours) + 0.1
    # without real entities: the six numbers of retain and world facts
    splits.real_entities = []
    out, _ = evaluate(None, None, splits, scorer=scorer)
    assert out["model_utility_splits"] == ["retain", "world_facts"]
    six = [out[s][m] for s in ("retain", "world_facts") for m in ("answer_prob", "rouge_l_recall", "truth_ratio")]
    assert out["model_utility_hmean"] == pytest.approx(hmean(six))


def test_add_forget_quality_reports_the_pvalue_and_its_log10():
    x = list(np.arange(3000.0))
    out = add_forget_quality({}, {"forget": {"truth_ratio": x}}, [v + 10_000 for v in x])
    assert out["forget_quality_ks_pvalue"] == 0.0
    assert math.isfinite(out["forget_quality_log10_pvalue"]) and out["forget_quality_log10_pvalue"] < -1800
    out = add_forget_quality({}, {"forget": {"truth_ratio": [0.1, 0.2, 0.3]}}, [0.25, 0.35, 0.45, 0.55])
    assert out["forget_quality_log10_pvalue"] == pytest.approx(math.log10(out["forget_quality_ks_pvalue"]))


def test_add_forget_quality_reports_distance_power_and_equivalence():
    model, gold, groups = truth_ratios_by_person(40, 10, 0.0, seed=0)
    ids = [f"{g}/fact-{k % 10}" for k, g in enumerate(groups)]
    out = add_forget_quality({}, {"forget": {"truth_ratio": list(model), "ids": ids}}, list(gold))
    assert out["forget_quality_ks_pvalue"] == pytest.approx(ks_2samp(model, gold).pvalue)  # unchanged
    assert out["forget_quality_ks_distance"] == pytest.approx(ks_2samp(model, gold).statistic)
    assert out["forget_quality_detectable_distance"] == pytest.approx(st.ks_detectable_distance(400, 400))
    eq = st.equivalence_to_gold(model, gold, groups)
    assert out["forget_quality_ks_distance_ci"] == pytest.approx(eq["ks_distance_ci"])
    assert out["forget_quality_equivalent"] is True and out["forget_quality_people"] == 40
    assert out["forget_quality_equivalence_delta"] == 0.2 and out["forget_quality_ci_level"] == 0.9
    plain = add_forget_quality({}, {"forget": {"truth_ratio": list(model)}}, list(gold))  # no way to group
    assert "forget_quality_ks_distance" in plain and "forget_quality_equivalent" not in plain


def test_openunlearning_summary_keys():
    split = {"answer_prob": 0.5, "para_prob": 0.4, "pert_prob": 0.1, "rouge_l_recall": 0.6,
             "para_rouge_l_recall": 0.3, "pert_rouge_l_recall": 0.2, "truth_ratio": 0.7, "rouge1_recall": 0.65}
    metrics = {"forget": dict(split), "retain": dict(split), "real_entities": {**split, "answer_prob_raw": 0.2},
               "world_facts": {**split, "answer_prob_raw": 0.3}, "neighbours": dict(split),
               "model_utility_hmean": 0.45, "forget_quality_ks_pvalue": 0.01, "compat": "openunlearning"}
    out = openunlearning_summary(metrics, {"extraction_strength": 0.2, "exact_memorization": 0.6})
    per_split = ["Q_A_Prob", "Q_A_PARA_Prob", "Q_A_PERT_Prob", "Q_A_ROUGE", "Q_A_PARA_ROUGE", "Q_A_PERT_ROUGE"]
    want = {"forget_quality", "model_utility", "forget_truth_ratio", "extraction_strength", "exact_memorization"}
    want |= {f"{p}_{f}" for p in ("forget", "retain", "ra", "wf") for f in per_split}
    want |= {"retain_Truth_Ratio", "ra_Truth_Ratio", "wf_Truth_Ratio", "ra_Q_A_Prob_normalised",
             "wf_Q_A_Prob_normalised"}
    assert set(out) == want
    assert out["ra_Q_A_Prob"] == 0.2 and out["ra_Q_A_Prob_normalised"] == 0.5
    assert out["forget_truth_ratio"] == 0.7 and out["forget_quality"] == 0.01 and out["model_utility"] == 0.45
    json.dumps(out)  # plain numbers


def test_answer_examples_pair_questions_with_each_models_answer():
    from types import SimpleNamespace

    from obliviate.llm.eval.suite import answer_examples

    rec = [SimpleNamespace(id=f"p/{i}", question=f"Q{i}?", answer=f"A{i}.") for i in range(5)]
    splits = SimpleNamespace(forget=rec[:3], retain=rec[3:])
    target = {"forget": {"ids": ["p/0", "p/1", "p/2"], "generations": ["A0.", "A1.", "A2."]},
              "retain": {"ids": ["p/4", "p/3"], "generations": ["A4.", "A3."]}}
    unlearned = {"forget": {"ids": ["p/1", "p/0"], "generations": ["no", "nothing"]}, "memo": {"x": 1}}
    out = answer_examples(splits, {"target": target, "unlearned": unlearned, "gold": None}, n=2)
    assert [(e["split"], e["question"], e["answer"]) for e in out] == [
        ("forget", "Q0?", "A0."), ("forget", "Q1?", "A1."), ("retain", "Q4?", "A4."), ("retain", "Q3?", "A3.")]
    assert out[0]["answers"] == {"target": "A0.", "unlearned": "nothing"}  # matched by id, not by position
    assert out[2]["answers"] == {"target": "A4."}
    assert answer_examples(splits, {"model": {"forget": {"memo": [0.1]}}}) == []  # no greedy answers, no examples
