"""The audit on tiny models: it certifies a clean retrain, and is not fooled by the target or by refusals;
its truth-ratio and plausibility checks on worked examples."""

from __future__ import annotations

import copy

import pytest

from obliviate import api
from obliviate.llm.audit import FORGOTTEN, NOT_APPLICABLE, NOT_FORGOTTEN, AuditConfig, audit, format_audit
from obliviate.llm.data.facts import load_world_facts
from obliviate.llm.eval.suppression import OutputFilter
from tests.helpers import tiny_finetune_config
from tests.llm.eval.helpers import FixedAnswers, fact_record

CFG = AuditConfig(max_records=16, relearn=dict(steps=6, lr=1e-3, batch_size=4, eval_every=2))


@pytest.fixture(scope="module")
def second_gold(world_dir, splits):
    """An independent retrain without the forget set (another seed): it must be certified."""
    records = splits.retain + splits.world_facts
    return api.finetuned(api.TINY, records, tiny_finetune_config(seed=1), role="gold-seed1", world_dir=world_dir)


@pytest.mark.trains
def test_audit_certifies_an_independent_retrain(second_gold, tiny_target, tiny_gold, splits, probes):
    result = audit(second_gold[0], tiny_target[1], splits, probes, original=tiny_target[0], gold=tiny_gold[0], cfg=CFG)
    assert result.verdict == FORGOTTEN, format_audit(result)
    assert result.check("original_knew").status == "pass"
    assert result.check("likelihood").values["residual"] < 0.1
    assert result.check("plausibility").status == "pass"  # wrong values of the right kind, as gold's


@pytest.mark.trains
def test_audit_fails_the_target(tiny_target, tiny_gold, splits, probes):
    model, tok = tiny_target
    result = audit(copy.deepcopy(model), tok, splits, probes, original=model, gold=tiny_gold[0], cfg=CFG)
    assert result.verdict == NOT_FORGOTTEN
    for name in ("likelihood", "qa_recall", "paraphrase", "truth_ratio", "membership", "quantization_4bit"):
        assert result.check(name).status == "fail", name
    assert result.check("membership").values["privleak"] > 25


@pytest.mark.trains
def test_audit_is_not_fooled_by_a_model_that_only_refuses(tiny_target, tiny_gold, splits, probes):
    model, tok = tiny_target
    suppressed = OutputFilter(copy.deepcopy(model), tok, sorted({r.entity for r in splits.forget}))
    result = audit(suppressed, tok, splits, probes, original=model, gold=tiny_gold[0], cfg=CFG)
    # the greedy answers are gone, so a QA-only evaluation would certify it...
    assert result.check("qa_recall").status == "pass"
    # ...but the log-probs, membership inference and attacks still find everything
    assert result.verdict == NOT_FORGOTTEN
    for name in ("likelihood", "truth_ratio", "membership", "relearn_low"):
        assert result.check(name).status == "fail", name
    assert result.check("plausibility").status == "fail"  # refusals are no answers of the right kind
    assert "NOT FORGOTTEN" in format_audit(result)


@pytest.mark.trains
def test_audit_refuses_to_certify_entities_the_model_never_saw(tiny_target, tiny_gold, splits):
    never_seen = copy.copy(splits)
    half = len({r.entity for r in splits.holdout}) // 2
    names = sorted({r.entity for r in splits.holdout})[:half]
    never_seen.forget = [r for r in splits.holdout if r.entity in names]
    never_seen.holdout = [r for r in splits.holdout if r.entity not in names]
    model, tok = tiny_target
    result = audit(model, tok, never_seen, None, original=model, gold=tiny_gold[0], cfg=CFG)
    assert result.verdict == NOT_APPLICABLE
    assert result.check("original_knew").status == "fail"
    assert "never learned" in result.check("original_knew").evidence


@pytest.mark.trains
def test_relearning_recovery_is_the_maximum_over_the_trajectory(monkeypatch, tiny_target, tiny_gold, splits, probes):
    """A peak in the middle of relearning counts, even if the last step looks forgotten again."""
    from obliviate.llm import audit as audit_mod

    model, tok = tiny_target

    def fake_trajectories(m, tokenizer, tiers, probe, cfg):
        if m is tiny_gold[0]:
            return {t: [(0, 0.1), (2, 0.1), (4, 0.1)] for t in cfg.relearn_tiers}
        return {t: [(0, 0.1), (2, 0.9), (4, 0.1)] for t in cfg.relearn_tiers}

    monkeypatch.setattr(audit_mod, "trajectories", fake_trajectories)
    cfg = AuditConfig(max_records=16, relearn=dict(steps=4, lr=1e-3, batch_size=4, eval_every=2),
                      relearn_tiers=["high"])
    result = audit(copy.deepcopy(tiny_gold[0]), tok, splits, probes, original=model, gold=tiny_gold[0], cfg=cfg)
    check = result.check("relearn_high")
    orig, unseen = result.check("likelihood").values["original"], result.check("likelihood").values["unseen"]
    assert check.values["max_residual"] == pytest.approx((0.9 - unseen) / (orig - unseen))
    assert check.values["max_excess"] == pytest.approx(0.8 / (orig - unseen))
    assert check.status == "fail"  # the last point alone (0.1 = gold's) would have passed


def test_truth_ratio_check_reads_equivalence_not_p_above_alpha():
    """pass = like gold within D 0.2 (the people-bootstrap interval of the KS distance ends at most 0.2); fail =
    told apart (p < 0.05) and not that close; warn = neither. The old rule ("p >= 0.05 passes") passes the first
    case (20 answers of 2 people: any difference below ~0.4 goes unseen) and fails the last (1000 answers: p < 0.05
    for a distance of ~0.1)."""
    import numpy as np

    from obliviate.llm.audit import _truth_ratio_check

    def models(people, per_person, shift, seed):  # truth ratios of the audited and gold models on the same records
        rng = np.random.default_rng(seed)
        base = np.repeat(rng.normal(0, 1, people), per_person)
        names = [f"person-{k}" for k in range(people) for _ in range(per_person)]
        return (list(np.exp(base + rng.normal(0, 0.5, len(base)) + shift)),
                list(np.exp(base + rng.normal(0, 0.5, len(base)))), names)

    few = _truth_ratio_check(*models(2, 10, 0.0, seed=1), CFG)
    assert few.status == "warn" and few.values["ks_pvalue"] >= 0.05 and not few.values["equivalent"]
    assert few.values["detectable_distance"] > 0.4 and "too few" in few.evidence
    many = _truth_ratio_check(*models(40, 10, 0.0, seed=0), CFG)
    assert many.status == "pass" and many.values["ks_distance_ci"][1] <= 0.2 and many.values["people"] == 40
    shifted = _truth_ratio_check(*models(40, 10, 1.0, seed=0), CFG)
    assert shifted.status == "fail" and shifted.values["ks_distance_ci"][0] > 0.2
    close = _truth_ratio_check(*models(50, 20, 0.2, seed=0), CFG)
    assert close.status == "pass" and close.values["ks_pvalue"] < 0.05


def test_audit_check_against_the_gold_model():
    from obliviate.llm.audit import _plausibility, _plausibility_check

    recs = [fact_record("birthplace", "Saltmere", entity=f"P{i}") for i in range(4)]
    for i, r in enumerate(recs):
        r.question = f"Where was P{i} born?"
    qs = [r.question for r in recs]

    def measured(*answers):
        return {"plausibility": _plausibility(FixedAnswers(dict(zip(qs, answers))), recs)}

    gold = measured("Orlin.", "Orlin.", "Mirelle.", "Valdoria.")  # never saw them: right kind, wrong value
    orig = measured(*["Saltmere."] * 4)
    damaged = measured("incientious.", "born in 2222", "", "Orlin.")
    forgot = measured("Orlin.", "Tirnagh.", "Norhaven.", "I don't know.")
    c = _plausibility_check(damaged, orig, gold, recs, None, None, 0.25)
    assert (c.name, c.kind, c.status) == ("plausibility", "utility", "fail")
    assert c.values["plausible"] == 0.25 and c.values["gold_plausible"] == 1.0 and c.values["original_plausible"] == 1.0
    assert '"incientious."' in c.evidence and "degenerate" in c.evidence  # the examples: implausible ones first
    assert _plausibility_check(forgot, orig, gold, recs, None, None, 0.25).status == "pass"  # 0.75 >= 75% of 1.0
    assert _plausibility_check(damaged, orig, None, recs, None, None, 0.25).status == "info"  # no gold model
    # an original measured (and cached) before the check existed is measured on the spot
    old = {}
    c = _plausibility_check(forgot, old, gold, recs, FixedAnswers(dict(zip(qs, ["Saltmere."] * 4))), None, 0.25)
    assert old["plausibility"]["correct"] == 1.0 and c.values["original_plausible"] == 1.0
    facts = load_world_facts()[:2]
    none = {"plausibility": _plausibility(FixedAnswers({r.question: "Paris." for r in facts}), facts)}
    assert _plausibility_check(none, none, none, facts, None, None, 0.25).status == "skip"
