"""World profiles: ``standard`` (the leaderboard's world, with statistical power) and ``tofu`` (TOFU's shape)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from obliviate import api
from obliviate.cli import app
from obliviate.core.errors import ConfigError
from obliviate.llm import pipeline
from obliviate.llm.data import load_jsonl
from obliviate.llm.data.splits import load_world, names_any, split_entities

REPORTED = ("forget01", "forget05", "forget10", "retain99", "retain95", "retain90", "holdout")


@pytest.fixture(scope="module")
def standard(tmp_path_factory):
    folder = tmp_path_factory.mktemp("standard") / "world"
    result = CliRunner().invoke(app, ["world", "--profile", "standard", "--out", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def people(records) -> set[str]:
    return {r.entity for r in records}


def test_standard_profile_sizes_and_nesting(standard):
    f01, f05, f10 = (load_jsonl(standard / f"{v}.jsonl") for v in ("forget01", "forget05", "forget10"))
    # distinct and nested: forget01 < forget05 < forget10, by people and by records
    assert people(f01) < people(f05) < people(f10)
    assert {r.id for r in f01} < {r.id for r in f05} < {r.id for r in f10}
    assert len(f10) >= 100 and len(people(f10)) >= 10
    assert len(f05) >= 50 and len(people(f05)) >= 5
    val = load_jsonl(standard / "validation.jsonl")
    assert len(val) >= 100 and len(people(val)) >= 10


def test_validation_people_are_in_no_reported_record(standard):
    val_people = sorted(people(load_jsonl(standard / "validation.jsonl")))
    for name in REPORTED:
        records = load_jsonl(standard / f"{name}.jsonl")
        assert records, name
        assert not people(records) & set(val_people), name
        assert not any(names_any(r, val_people) for r in records), name  # not even as a relation or a wrong answer
    f10_people = sorted(people(load_jsonl(standard / "forget10.jsonl")))
    assert not any(names_any(r, f10_people) for r in load_jsonl(standard / "validation.jsonl"))


def test_holdout_people_are_never_trained_and_validation_people_are(standard):
    trained = load_jsonl(standard / "qa_all.jsonl")
    holdout = people(load_jsonl(standard / "holdout.jsonl"))
    assert len(holdout) >= 10 and not people(trained) & holdout
    # what is trained (question -> answer) never names a holdout person (wrong answers may: they are scored,
    # never trained)
    trained_text = " ".join(f"{r.question} {r.answer} {r.meta.get('related_entity', '')}" for r in trained)
    assert not any(name in trained_text for name in holdout)
    val = load_jsonl(standard / "validation.jsonl")
    assert {r.id for r in val} <= {r.id for r in trained}  # the target learns them, so a sweep can forget them
    splits = api.load_world_splits(standard, "forget10")
    apart = pipeline._set_apart(standard, splits)
    assert {r.id for r in val} <= {r.id for r in apart}
    assert {r.id for r in apart} | {r.id for r in splits.forget + splits.retain} == {r.id for r in trained}


def test_tofu_profile_has_tofus_people_counts():
    cfg = api.world_profile("tofu")
    from obliviate.llm.data import generate_world

    world = generate_world(cfg.n_entities, cfg.seed)
    sizes = [len(split_entities(world, v, cfg.holdout_fraction, cfg.seed).forget)
             for v in ("forget01", "forget05", "forget10")]
    assert sizes == [2, 10, 20]  # TOFU: 1%, 5%, 10% of 200 authors
    assert cfg.n_entities - round(cfg.holdout_fraction * cfg.n_entities) == 200


def test_demo_profile_is_the_default_and_unknown_profiles_are_refused(standard):
    assert api.world_profile("demo") == api.WorldConfig()
    with pytest.raises(ConfigError, match="standard"):
        api.world_profile("huge")
    result = CliRunner().invoke(app, ["world", "--profile", "huge", "--out", str(standard.parent / "x")])
    assert result.exit_code == 2 and "profile" in result.output
    # the same command on its own finished folder reuses it (this used to dead-lock on the folder's lock)
    again = CliRunner().invoke(app, ["world", "--profile", "standard", "--out", str(standard)])
    assert again.exit_code == 0, again.output
    assert load_world(standard / "world.json").seed == 0


def test_real_models_rehearse_real_entities_that_are_never_scored(standard):
    """Target and gold of a real model replay every third real-entity row (so a small model keeps answering real
    questions with real answers); the scored rows are the other two in three and are never trained. The tiny
    model (no real vocabulary) learns the world facts instead."""
    from obliviate.llm.data import load_real_entities, load_real_rehearsal
    from obliviate.llm.data.real_entities import TABLE

    scored, rehearsed = load_real_entities(), load_real_rehearsal()
    assert len(scored) + len(rehearsed) == len(TABLE) and len(rehearsed) >= 30
    assert not {r.id for r in scored} & {r.id for r in rehearsed}
    assert not {r.meta["value"] + r.entity for r in scored} & {r.meta["value"] + r.entity for r in rehearsed}
    splits = api.load_world_splits(standard, "forget10")
    target, gold = api.training_records(standard, splits, "smollm2-135m")
    for records in (target, gold):
        ids = [r.id for r in records]
        assert len(ids) == len(set(ids))
        assert {r.id for r in rehearsed} <= set(ids) and not {r.id for r in scored} & set(ids)
        assert not {r.id for r in splits.world_facts} & set(ids)
    assert {r.id for r in splits.forget} <= {r.id for r in target} and not {r.id for r in splits.forget} & {
        r.id for r in gold}
    tiny_target, tiny_gold = api.training_records(standard, splits, api.TINY)
    assert not {r.id for r in rehearsed} & {r.id for r in tiny_target + tiny_gold}
    assert {r.id for r in splits.world_facts} <= {r.id for r in tiny_gold}


@pytest.mark.parametrize("validation", [2, 0])
def test_the_sweep_reuses_the_bench_gold_when_the_world_sets_people_apart(validation, monkeypatch):
    """With validation people apart, the bench's gold (reported retain only) never saw them: no third fine-tune.
    Without (the demo), they are reported retain people the bench's gold learned: the sweep trains its own."""
    from obliviate.llm import bench as b
    from obliviate.llm import sweep as sw

    world = api.WorldConfig(n_entities=24, seed=0, validation=validation)
    cfg = sw.SweepConfig(bench=b.tiny_bench_config(world=world, methods=["NPO"]), budget=2)
    v = sw.validation(cfg)
    asked = []

    class Stop(Exception):
        pass

    def finetuned(spec, records, train_cfg, role, world_dir):
        asked.append((role, list(records)))
        if role != "target":
            raise Stop  # the gold the sweep asks for is all this test needs
        return None, None

    monkeypatch.setattr(pipeline, "finetuned", finetuned)
    with pytest.raises(Stop):
        sw.prepare_validation(cfg, v)
    (role_t, target), (role_g, gold) = asked
    assert role_t == "target"
    assert not any(names_any(r, list(v.people)) for r in gold)
    assert {r.id for r in v.splits.forget} <= {r.id for r in target}
    reported = api.load_world_splits(api.build_world(world), "forget10")
    if validation:
        # the very records api.prepare trains the bench's gold on: one cached model serves both
        assert role_g == "gold" and [r.id for r in gold] == [r.id for r in reported.retain + reported.world_facts]
    else:
        assert role_g == "gold-validation" and len(gold) > len(reported.retain)


def test_sweep_profile_tunes_on_the_profiles_world(monkeypatch, tmp_path):
    from obliviate.llm import sweep as sw

    seen = {}

    def fake(cfg, out):
        seen["cfg"] = cfg
        raise SystemExit(0)  # the configuration is all this test reads

    monkeypatch.setattr(sw, "run_sweep", fake)
    result = CliRunner().invoke(app, ["sweep", "--profile", "standard", "--methods", "npo", "--out",
                                      str(tmp_path / "sweep")])
    assert result.exit_code == 0, result.output
    assert seen["cfg"].bench.world == api.world_profile("standard")
