"""``demo --real``: its request files, its settings check and its table; one run end to end on the tiny model."""

from __future__ import annotations

import json

import pytest

from obliviate.core.errors import ConfigError, ObliviateError
from obliviate.llm.data.records import read_jsonl_dicts
from obliviate.llm.real_demo import (
    DEMO_METHODS,
    HOLDOUT_EVERY,
    REAL_DEFAULTS,
    RealDemoConfig,
    real_rows,
    resume_real_demo,
    run_real_demo,
    shipped,
    write_request,
)


def test_the_request_is_three_quarters_of_the_topic_and_general_knowledge_leaves_it_out(tmp_path):
    files = write_request(tmp_path)
    topic = shipped("real_capitals.jsonl")
    forget = [r for _, r in read_jsonl_dicts(files["forget"])]
    held = [r for _, r in read_jsonl_dicts(files["topic_holdout"])]
    assert len(forget) + len(held) == len(topic) == 60 and len(held) == 60 // HOLDOUT_EVERY
    assert all(set(r) == {"question", "answer"} for r in forget)  # two columns, as a user writes them
    assert not {r["question"] for r in forget} & {r["question"] for r in held}
    general = [r for _, r in read_jsonl_dicts(files["general"])]
    assert general and not any("capital" in r["question"].lower() for r in general)
    retain = {r["question"] for _, r in read_jsonl_dicts(files["retain"])}
    assert not retain & {r["question"] for r in general}


def test_own_files_are_copied_into_the_run_folder_as_given(tmp_path):
    own = tmp_path / "mine.jsonl"
    own.write_text(json.dumps({"question": "Who wrote Hamlet?", "answer": "Shakespeare"}) + "\n")
    cfg = RealDemoConfig(forget=str(own))
    files = write_request(tmp_path / "request", cfg)
    assert files["forget"].read_text() == own.read_text() and files["general"] is None
    assert files["topic_holdout"] is None and files["retain"].is_file()  # the shipped general facts to keep
    with pytest.raises(ConfigError, match="forget request"):
        RealDemoConfig(retain=str(own))
    with pytest.raises(ConfigError, match="nope.jsonl"):
        RealDemoConfig(forget=str(tmp_path / "nope.jsonl"))


def test_config_is_checked():
    assert RealDemoConfig().methods == ["NPO", "GradDiff", "RMU", "IdkPO"] and set(DEMO_METHODS) <= set(REAL_DEFAULTS)
    with pytest.raises(ConfigError, match="budgets"):
        RealDemoConfig(budgets=["forever"])
    with pytest.raises(ObliviateError, match="unknown method 'nope'"):
        RealDemoConfig(methods=["nope"])


def test_rows_show_forgotten_and_kept_shares():
    c = {"n": 4, "known_before": 4, "still_known": 1, "forgotten_share": 0.75, "kept_share": 0.25, "idk": 2}
    k = {**c, "still_known": 3, "forgotten_share": 0.25, "kept_share": 0.75}
    results = {"runs": {"NPO/fixed": {"method": "NPO", "budget": "fixed", "steps": 60, "seconds": 201.4,
                                      "evaluation": {"sets": {"forget": {"chat": c, "trained": c},
                                                              "general": {"chat": k}}}}}}
    (row,) = real_rows(results)
    assert row[:4] == ["NPO", "fixed", "75%", "75%"] and row[7] == "75%" and row[8] == "2"
    assert row[4] == "n/a" and row[-2:] == ["60", "201"]


@pytest.mark.trains
def test_tiny_run_end_to_end_and_resume_is_refused_when_finished(tmp_path, tiny_target):
    model, tok = tiny_target
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    cfg = RealDemoConfig(model=str(tmp_path / "m"), methods=["GradAscent"], eval_every=2, styles=["trained"],
                         runs_dir=str(tmp_path / "runs"))
    folder = run_real_demo(cfg)
    results = json.loads((folder / "results.json").read_text())
    assert set(results["runs"]) == {"GradAscent/fixed", "GradAscent/unseen"}
    for run in results["runs"].values():
        assert run["steps"] and (folder / "runs" / run["folder"] / "model" / "config.json").is_file()
        assert run["evaluation"]["sets"]["forget"]["trained"]["n"] == 45
    assert "obliviate demo --real" in (folder / "report.html").read_text()
    with pytest.raises(ObliviateError, match="finished"):
        resume_real_demo(folder)
