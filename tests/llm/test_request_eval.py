"""A plain forget request (question and answer only) on the tiny path: unlearn, eval and audit with no gold model;
--stop-at unseen against the fixed budget."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from obliviate import api
from obliviate.cli import app
from obliviate.llm.audit import FORGOTTEN, NOT_FORGOTTEN
from obliviate.llm.eval.during import EvalDuring, EvalDuringConfig, read_trajectory

PLAIN = ("question", "answer")
UNLEARN = ["--epochs", "3", "--lr", "1e-3", "--batch-size", "4"]


def _plain(records, path):
    """Only what a user would write: the question and the answer."""
    path.write_text("".join(json.dumps({k: getattr(r, k) for k in PLAIN}) + "\n" for r in records))
    return path


@pytest.fixture()
def request_files(tmp_path, splits, tiny_target):
    model, tok = tiny_target
    model.save_pretrained(tmp_path / "original")
    tok.save_pretrained(tmp_path / "original")
    return {"forget": _plain(splits.forget, tmp_path / "forget.jsonl"),
            "retain": _plain(splits.retain, tmp_path / "retain.jsonl"),
            "unseen": _plain(splits.holdout, tmp_path / "unseen.jsonl"),  # people the target never saw
            "original": tmp_path / "original"}


@pytest.mark.trains
def test_two_column_request_runs_through_unlearn_eval_and_audit(request_files, tmp_path):
    f = request_files
    runner = CliRunner()
    files = ["--forget", str(f["forget"]), "--retain", str(f["retain"])]
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["unlearn", "--model", str(f["original"]), "--method", "GradDiff", *files,
                                 "--holdout", str(f["unseen"]), *UNLEARN, "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()

    # eval: a request needs the model before unlearning; with it, facts are judged on the model's own answers
    result = runner.invoke(app, ["eval", "--model", str(run), *files])
    assert result.exit_code == 2 and "--original" in result.output
    out = tmp_path / "eval.json"
    result = runner.invoke(app, ["eval", "--model", str(run), *files, "--unseen", str(f["unseen"]), "--original",
                                 str(f["original"]), "--prompt", "trained", "--out", str(out)])
    assert result.exit_code == 0, result.output
    ev = json.loads(out.read_text())
    forget = ev["sets"]["forget"]["trained"]
    n = len(f["forget"].read_text().splitlines())
    assert forget["n"] == n and forget["known_before"] >= n // 2  # the tiny target memorised its facts
    assert forget["forgotten_share"] >= 0.5  # GradDiff at lr 1e-3 for 3 epochs erases most of them
    assert ev["derived"]["paraphrased_question"] == n and ev["derived"]["perturbed_answers"] == n
    assert "topic_holdout" in ev["skipped"] and "general" in ev["sets"]
    assert out.with_suffix(".html").is_file() and "forgotten" in result.output

    # audit without a gold model: the never-seen reference anchors it, collateral damage is measured
    audit_json = tmp_path / "audit.json"
    result = runner.invoke(app, ["audit", str(run), *files, "--unseen", str(f["unseen"]), "--original",
                                 str(f["original"]), "--out", str(audit_json)])
    assert result.exit_code in (0, 1), result.output
    audited = json.loads(audit_json.read_text())
    assert audited["verdict"] in (FORGOTTEN, NOT_FORGOTTEN)
    checks = {c["name"]: c for c in audited["checks"]}
    assert checks["original_knew"]["status"] == "pass"
    for name in ("retain_answers", "general_answers", "likelihood", "relearn_high"):
        assert checks[name]["status"] in ("pass", "fail"), checks[name]
    assert "never-seen facts of the same kind" in checks["relearn_high"]["evidence"]
    assert "gold" not in audited["measurements"]

    # the original itself is not certified: its knowledge is all there
    result = runner.invoke(app, ["audit", str(f["original"]), *files, "--unseen", str(f["unseen"]), "--original",
                                 str(f["original"])])
    assert result.exit_code == 1 and NOT_FORGOTTEN in result.output
    assert checks["likelihood"]["values"]["residual"] < 0.5 * 1.0  # the unlearned model's residual, far below 1


@pytest.mark.trains
@pytest.mark.parametrize("suite", [True, False])
def test_stop_at_unseen_stops_before_a_fixed_budget_would(request_files, fresh_target, tmp_path, suite):
    f = request_files
    model, tok = fresh_target
    splits = api.request_splits(f["forget"], f["retain"], f["unseen"])
    cfg = api.UnlearnConfig(epochs=6.0, lr=1e-3, batch_size=4, checkpoint_every=0)
    during = EvalDuring(tok, splits, EvalDuringConfig(every=2, stop_at="unseen", max_per_split=4, suite=suite),
                        run_dir=tmp_path / "stop")
    (tmp_path / "stop").mkdir()
    api.unlearn(model, tok, splits, "GradAscent", cfg, callbacks=[during])
    rows = read_trajectory(tmp_path / "stop")
    first, stop = rows[0], during.stopped
    assert first["forget_knowledge"] > first["unseen_knowledge"] + 0.1  # the original knew the request
    reference = first["unseen_knowledge"]  # the model before unlearning, on facts it never saw
    assert stop is not None and stop["forget_knowledge"] <= reference
    steps_fixed = 6 * -(-len(splits.forget) // 4)
    assert stop["step"] < steps_fixed and rows[-1]["step"] == stop["step"]
    assert during.results()["stopped_at"] == stop["step"]
    assert all(r["forget_knowledge"] > reference for r in rows[:-1])  # it stops at the first crossing
    # without the suite only the stop rule's figures are scored (utility is the suite's)
    assert all((r["model_utility_hmean"] is not None) == suite for r in rows)


@pytest.mark.trains
def test_a_request_the_original_does_not_state_is_not_applicable(tmp_path, tiny_target):
    from obliviate.llm.audit import NOT_APPLICABLE, audit

    # answers made of words outside the tiny model's vocabulary: it cannot state them, whatever it learned
    made_up = [{"question": f"What is the capital of Zorvania {i}?", "answer": f"Qelthuria{i}"} for i in range(5)]
    forget = tmp_path / "forget.jsonl"
    forget.write_text("".join(json.dumps(r) + "\n" for r in made_up))
    splits = api.request_splits(forget)
    model, tok = tiny_target
    result = audit(model, tok, splits, original=model)
    assert result.verdict == NOT_APPLICABLE
    check = result.check("original_knew")
    assert check.values["stated"] == 0 and check.values["n"] == 5 and "none of the 5" in check.evidence
