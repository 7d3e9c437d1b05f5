"""``llm/pipeline.py`` for a Python user: ``unlearn_run`` writes the same run folder as ``obliviate unlearn``;
fine-tunes are cached; the world profiles ``standard`` (the leaderboard's world, with statistical power)
and ``tofu`` (TOFU's shape)."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from obliviate import api
from obliviate.cli import app
from obliviate.core.errors import ConfigError, ObliviateError
from obliviate.core.store import run_info
from obliviate.llm import pipeline
from obliviate.llm.data import load_jsonl
from obliviate.llm.data.splits import load_world, names_any, split_entities
from obliviate.llm.eval.attacks import knowledge
from obliviate.llm.eval.during import EvalDuringConfig
from obliviate.llm.eval.scoring import Scorer


def mean_knowledge(model, tok, records) -> float:
    return float(knowledge(Scorer(model, tok), records).mean())


@pytest.mark.trains
def test_unlearn_run_writes_a_finished_run_folder(tmp_path, tiny_target, tiny_gold, splits):
    target, gold = (str(pipeline.model_folder(m)) for m, _ in (tiny_target, tiny_gold))
    cfg = api.UnlearnConfig(epochs=4.0, lr=5e-4, batch_size=4, checkpoint_every=0)
    run = api.unlearn_run(target, splits, "npo", cfg, runs_dir=tmp_path / "runs", gold=gold,
                          eval_during=EvalDuringConfig(every=5, max_forget=10, max_per_split=5), variant="forget10")
    folder = run.folder
    assert folder.parent == tmp_path / "runs" and folder.name.endswith("-unlearn-npo-forget10")  # what ran
    assert run_info(folder)["finished"]
    settings = yaml.safe_load((folder / "config.yaml").read_text())
    assert settings["method"] == "npo" and settings["model"] == target and settings["gold"] == gold
    assert settings["train"]["lr"] == 5e-4 and settings["method_config"]["beta"] == 0.1  # defaults written out
    steps = [json.loads(line)["step"] for line in (folder / "events.jsonl").read_text().splitlines()]
    assert steps and steps[-1] == max(steps)
    assert len((folder / "trajectory.jsonl").read_text().splitlines()) >= 2  # before the first step and after
    assert run.kept is not None and run.kept["step"] == steps[-1]  # keep="last"
    assert json.loads((folder / "metrics.json").read_text())["splits"]["variant"] == "forget10"
    # the saved model is the unlearned one: the forget answers lost more of their probability than retain's
    model, tok = api.load_audited(folder), tiny_target[1]
    forget_drop = mean_knowledge(model, tok, splits.forget) / mean_knowledge(tiny_target[0], tok, splits.forget)
    retain_drop = mean_knowledge(model, tok, splits.retain) / mean_knowledge(tiny_target[0], tok, splits.retain)
    # measured: forget keeps 0.14 (seed 0) / 0.11 (seed 3, plain kernels) of its knowledge, retain 0.64 / 0.63;
    # a run that saved the target instead would keep 1.0 of both
    assert forget_drop < 0.5 and forget_drop < retain_drop, (forget_drop, retain_drop)
    with pytest.raises(ObliviateError, match="finished"):  # a finished run is never resumed or overwritten
        api.unlearn_run(target, splits, "npo", cfg, resume=folder, gold=gold,
                        eval_during=EvalDuringConfig(every=5, max_forget=10, max_per_split=5))


@pytest.mark.trains
def test_unlearn_run_refuses_before_writing_anything(tmp_path, tiny_target, splits):
    target = str(pipeline.model_folder(tiny_target[0]))
    runs = tmp_path / "runs"
    with pytest.raises(ObliviateError, match="nope"):
        api.unlearn_run(target, splits, "nope", runs_dir=runs)
    with pytest.raises(ConfigError, match="gold"):
        api.unlearn_run(target, splits, "npo", runs_dir=runs, eval_during=EvalDuringConfig(every=2, keep="best"))
    with pytest.raises(ObliviateError):
        api.unlearn_run(str(tmp_path / "no-such-model"), splits, "npo", runs_dir=runs)
    assert not runs.exists()


@pytest.mark.trains
def test_evaluate_model_is_obliviate_eval_for_python_users(tmp_path, tiny_target, tiny_gold, splits):
    """From specs to the metrics ``obliviate eval`` prints: the same numbers as evaluating the loaded models."""
    target, gold = (str(pipeline.model_folder(m)) for m, _ in (tiny_target, tiny_gold))
    out = tmp_path / "m.json"
    metrics = api.evaluate_model(target, splits, gold=gold, max_per_split=10, out=out)
    _, gold_ps = api.evaluate(tiny_gold[0], tiny_gold[1], splits, max_per_split=10)
    direct, _ = api.evaluate(tiny_target[0], tiny_target[1], splits, max_per_split=10,
                             gold_forget_truth_ratios=gold_ps["forget"]["truth_ratio"])
    assert metrics["forget_quality_ks_pvalue"] == direct["forget_quality_ks_pvalue"]
    assert metrics["model_utility_hmean"] == direct["model_utility_hmean"]
    written = json.loads(out.read_text())
    assert written["written_by"] == "obliviate eval"
    assert written["model_utility_hmean"] == metrics["model_utility_hmean"]


@pytest.mark.trains
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


# ---------------------------------------------------------------- world profiles


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
