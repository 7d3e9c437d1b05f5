"""Evaluation during unlearning (``obliviate.llm.eval.during``): ``--eval-every N`` and ``--keep best``."""

from __future__ import annotations

import copy
import json
import math
import random

import pytest
import torch
import yaml
from typer.testing import CliRunner

from obliviate import api
from obliviate.cli import app
from obliviate.core.errors import ConfigError
from obliviate.llm.eval.during import EvalDuring, EvalDuringConfig, pick_best, read_trajectory

CFG = dict(epochs=3.0, lr=1e-3, batch_size=4, checkpoint_every=0)  # 19 forget records: 5 steps an epoch, 15 in all


def _row(step, p, u):
    return {"step": step, "forget_quality_ks_pvalue": p, "model_utility_hmean": u}


def _steps(rows):
    return [r["step"] for r in rows]


def _peak_at(monkeypatch, peak: int) -> None:
    """Real evaluations, with the utility steered so that the keep rule names step ``peak``.

    Which step the real scores name depends on the tiny target, and so on the CPU's rounding (under
    ATEN_CPU_CAPABILITY=default it was the last one, where keeping and restoring cannot be told apart).
    The rule itself is tested on synthetic rows; these tests check that the state of the step it names
    is the one kept, restored and broadcast, so every row passes the threshold and only ``peak`` has
    the top utility. Everything else in a row (forget answer probability, metrics) is the real score.
    """
    real = EvalDuring._score

    def steered(self, step):
        row = real(self, step)
        return {**row, "forget_quality_ks_pvalue": 1.0, "forget_quality_log10_pvalue": 0.0,
                "model_utility_hmean": 0.9 if step == peak else 0.1}

    monkeypatch.setattr(EvalDuring, "_score", steered)


@pytest.mark.parametrize("rows, threshold, expected", [
    # several pass: highest utility among them; p exactly at the threshold passes; utility tie -> earlier step
    ([_row(0, 0.01, 0.9), _row(5, 0.2, 0.5), _row(10, 0.6, 0.7), _row(15, 0.05, 0.7)], 0.05, 10),
    # the highest utility overall fails the threshold, so it is not the pick
    ([_row(0, 0.001, 0.95), _row(5, 0.3, 0.4), _row(10, 0.07, 0.6)], 0.05, 10),
    # none passes: highest forget quality, tie -> earlier step, utility ignored
    ([_row(0, 0.001, 0.9), _row(5, 0.01, 0.5), _row(10, 0.01, 0.8), _row(15, 0.002, 0.99)], 0.05, 5),
    # missing / NaN values count as the lowest
    ([_row(0, None, 0.9), _row(5, float("nan"), 0.9), _row(10, 1e-4, None)], 0.05, 10),
    ([_row(0, 0.5, None), _row(5, 0.5, 0.1)], 0.05, 5),
    # threshold 0: every evaluation with a p-value passes -> highest utility
    ([_row(0, 1e-9, 0.8), _row(5, 0.9, 0.3)], 0.0, 0),
    # threshold 1: only p == 1 passes
    ([_row(0, 0.99, 0.8), _row(5, 1.0, 0.3)], 1.0, 5),
])
def test_keep_rule_on_hand_made_trajectories(rows, threshold, expected):
    assert pick_best(rows, threshold)["step"] == expected
    shuffled = rows[::-1]
    assert pick_best(shuffled, threshold)["step"] == expected  # the order rows arrive in does not matter


def test_keep_rule_edge_cases_and_incremental_property():
    assert pick_best([], 0.05) is None
    rng = random.Random(0)
    for _ in range(200):  # a new evaluation becomes the pick or leaves it: the kept state needs only the current one
        rows = [_row(s, rng.choice([None, rng.random() * 0.1, rng.random()]), rng.choice([0.5, rng.random()]))
                for s in range(0, 40, 4)]
        for i in range(1, len(rows)):
            assert pick_best(rows[: i + 1], 0.05) in (pick_best(rows[:i], 0.05), rows[i])


@pytest.mark.trains
def test_config_is_validated(splits, tiny_target):
    with pytest.raises(ConfigError, match="--eval-every"):
        EvalDuringConfig(keep="best")
    with pytest.raises(ConfigError, match="last, best"):
        EvalDuringConfig(every=2, keep="first")
    with pytest.raises(ConfigError, match="keep_threshold"):
        EvalDuringConfig(every=2, keep_threshold=1.5)
    with pytest.raises(ConfigError, match="gold"):
        EvalDuring(tiny_target[1], splits, EvalDuringConfig(every=2, keep="best"))
    with pytest.raises(ConfigError, match="suite=false"):
        EvalDuringConfig(every=2, suite=False)  # nothing would be scored but the --stop-at figures


def _record_states(model):
    """A callback keeping a copy of every parameter after each step (and before the first, as step 0)."""
    states = {0: {k: v.detach().clone() for k, v in model.named_parameters()}}

    def cb(step, logs):
        states[step] = {k: v.detach().clone() for k, v in model.named_parameters()}

    return states, cb


@pytest.mark.trains
def test_rows_at_the_right_steps_and_training_undisturbed(fresh_target, tiny_gold, splits, tmp_path):
    """Rows at 0, every N, and the last step; keep=last ends at exactly the weights of a run without evaluations."""
    model, tok = fresh_target
    plain = api.unlearn(copy.deepcopy(model), tok, splits, "npo", api.UnlearnConfig(**CFG))
    during = EvalDuring(tok, splits, EvalDuringConfig(every=4, max_per_split=8), gold=tiny_gold[0], run_dir=tmp_path)
    evaluated = api.unlearn(model, tok, splits, "npo", api.UnlearnConfig(**CFG), run_dir=tmp_path,
                            callbacks=[during])
    for (name, a), b in zip(plain.named_parameters(), evaluated.parameters()):
        assert torch.equal(a, b), name
    assert _steps(during.rows) == [0, 4, 8, 12, 15]  # 15 steps: the last one is evaluated too
    assert read_trajectory(tmp_path) == json.loads(json.dumps(during.rows))  # the file holds the same rows
    first, last = during.rows[0], during.rows[-1]
    assert last["forget_answer_prob"] < first["forget_answer_prob"]  # the trajectory follows the unlearning
    for r in during.rows:
        assert 0 <= r["forget_quality_ks_pvalue"] <= 1 and 0 <= r["model_utility_hmean"] <= 1
        assert r["forget_quality_log10_pvalue"] == pytest.approx(math.log10(r["forget_quality_ks_pvalue"]))
    assert during.kept is last and during.results()["kept_step"] == 15
    gold = json.loads((tmp_path / "eval_gold.json").read_text())
    assert gold["ids"] == [r.id for r in splits.forget]  # 19 forget records, under the cap of 40


def _forget_answer_prob(model, tok, splits, max_per_split=8):
    return api.evaluate(model, tok, splits, max_per_split=max_per_split)[0]["forget"]["answer_prob"]


@pytest.mark.trains
@pytest.mark.parametrize("where", ["disk", "memory", "lora"])
def test_keep_best_returns_the_state_of_the_step_the_rule_names(where, fresh_target, tiny_gold, splits, tmp_path,
                                                               monkeypatch):
    model, tok = fresh_target
    threshold = 1e-3
    _peak_at(monkeypatch, 6)
    cfg = api.UnlearnConfig(**{**CFG, **({"lora_r": 4, "lr": 1e-2} if where == "lora" else {})})
    during = EvalDuring(tok, splits, EvalDuringConfig(every=3, keep="best", keep_threshold=threshold,
                                                      max_per_split=8),
                        gold=tiny_gold[0], run_dir=tmp_path if where != "memory" else None)
    states, record = _record_states(model)
    out = api.unlearn(model, tok, splits, "npo", cfg, run_dir=tmp_path if where != "memory" else None,
                      callbacks=[during] if where == "lora" else [during, record])
    kept = pick_best(during.rows, threshold)
    assert during.kept is kept and _steps(during.rows) == [0, 3, 6, 9, 12, 15]
    assert kept["step"] == 6, during.rows  # not the last state: the kept one was put back
    if where != "lora":
        for name, p in out.named_parameters():
            assert torch.equal(p, states[kept["step"]][name]), name
    # the returned (with LoRA: merged) model scores what the kept evaluation scored
    assert _forget_answer_prob(out, tok, splits) == pytest.approx(kept["forget_answer_prob"], rel=1e-4)
    assert not (tmp_path / "best").exists()  # the on-disk copy is removed once restored


@pytest.mark.trains
def test_keep_best_survives_an_interruption(fresh_target, tiny_gold, splits, tmp_path):
    """Ctrl-C, then resume: the same trajectory and kept model as an uninterrupted run; a lost kept state is said."""
    import shutil

    model, tok = fresh_target
    ecfg = EvalDuringConfig(every=3, keep="best", keep_threshold=1e-3, max_per_split=8)
    whole = EvalDuring(tok, splits, ecfg, gold=tiny_gold[0], run_dir=tmp_path / "whole")
    ref = api.unlearn(copy.deepcopy(model), tok, splits, "npo", api.UnlearnConfig(**CFG), run_dir=tmp_path / "whole",
                      callbacks=[whole])

    def ctrl_c(step, logs):
        if step == 11:
            raise KeyboardInterrupt

    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        api.unlearn(copy.deepcopy(model), tok, splits, "npo", api.UnlearnConfig(**CFG), run_dir=run,
                    callbacks=[EvalDuring(tok, splits, ecfg, gold=tiny_gold[0], run_dir=run), ctrl_c])
    assert _steps(read_trajectory(run)) == [0, 3, 6, 9] and (run / "best" / "params.safetensors").is_file()
    lost = tmp_path / "lost"
    shutil.copytree(run, lost)
    resumed = EvalDuring(tok, splits, ecfg, gold=lambda: pytest.fail("the gold model was loaded again"),
                         run_dir=run)  # its truth ratios come from the run's eval_gold.json
    out = api.unlearn(copy.deepcopy(model), tok, splits, "npo", api.UnlearnConfig(**CFG), run_dir=run,
                      callbacks=[resumed])
    assert _steps(resumed.rows) == _steps(whole.rows) and resumed.kept["step"] == whole.kept["step"]
    for a, b in zip(ref.parameters(), out.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    # a kept state newer than the checkpoint (a kill after a new pick) cannot give back the older pick:
    # the choice is made among the states from the resumed step on
    from safetensors.torch import load_file, save_file

    blob = load_file(str(lost / "best" / "params.safetensors"))
    save_file(blob, str(lost / "best" / "params.safetensors"), metadata={"step": "13"})
    later = EvalDuring(tok, splits, ecfg, gold=tiny_gold[0], run_dir=lost)
    api.unlearn(copy.deepcopy(model), tok, splits, "npo", api.UnlearnConfig(**CFG), run_dir=lost, callbacks=[later])
    assert _steps(later.rows) == [0, 3, 6, 9, 11, 12, 15] and later.kept["step"] >= 11


@pytest.mark.trains
def test_cli_eval_every_keep_best_writes_trajectory_and_report(tmp_path, splits, tiny_target, tiny_gold):
    from obliviate.llm.data import save_jsonl, splits_from_files

    runner = CliRunner()
    save_jsonl(splits.forget, tmp_path / "forget.jsonl")
    save_jsonl(splits.retain, tmp_path / "retain.jsonl")
    for name, (m, tok) in (("m", tiny_target), ("g", tiny_gold)):
        m.save_pretrained(tmp_path / name)
        tok.save_pretrained(tmp_path / name)
    runs = tmp_path / "runs"
    base = ["unlearn", "--model", str(tmp_path / "m"), "--method", "npo", "--forget", str(tmp_path / "forget.jsonl"),
            "--retain", str(tmp_path / "retain.jsonl"), "--epochs", "3", "--lr", "1e-3", "--runs-dir", str(runs)]
    for bad, msg in [(["--keep", "best"], "--eval-every"), (["--eval-every", "3", "--keep", "best"], "--gold"),
                     (["--eval-every", "3", "--keep", "first"], "last, best"),
                     (["--gold", str(tmp_path / "g")], "--eval-every"),
                     (["--eval-every", "3", "--eval-set", "max_forgets=3"], "unknown key")]:
        result = runner.invoke(app, base + bad)
        assert result.exit_code == 2 and msg in result.output, result.output
    assert not runs.exists() or not any(runs.iterdir())
    result = runner.invoke(app, base + ["--eval-every", "3", "--keep", "best", "--keep-threshold", "0.001",
                                        "--gold", str(tmp_path / "g"), "--eval-set", "max_per_split=8"])
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    rows = read_trajectory(run)
    assert _steps(rows) == [0, 3, 6, 9, 12, 15]
    metrics = json.loads((run / "metrics.json").read_text())
    kept = pick_best(rows, 0.001)["step"]
    assert metrics["eval_during"]["kept_step"] == kept and metrics["eval_during"]["keep"] == "best"
    assert f"kept the model of step {kept}" in result.output
    assert yaml.safe_load((run / "config.yaml").read_text())["eval_during"]["keep_threshold"] == 0.001
    html = (run / "report.html").read_text()
    assert f"Evaluation during unlearning (kept: step {kept})" in html and html.count("data:image/png") == 3
    from transformers import AutoModelForCausalLM

    saved = AutoModelForCausalLM.from_pretrained(run / "model")
    own = splits_from_files(tmp_path / "forget.jsonl", tmp_path / "retain.jsonl")
    kept_row = next(r for r in rows if r["step"] == kept)
    assert _forget_answer_prob(saved, tiny_target[1], own) == pytest.approx(kept_row["forget_answer_prob"], rel=1e-4)
    assert not (run / "best").exists() and not (run / "checkpoint").exists()


@pytest.mark.trains
def test_other_processes_follow_process_0(fresh_target, tiny_gold, splits, monkeypatch):
    """What a process other than 0 does, replayed on one process: it never scores the model, takes process 0's
    rows and decisions from the broadcasts, and so keeps the same step and ends at the same weights.

    (The 2-process torchrun run in tests/core/test_dist.py checks the whole path; only process 0's
    model is saved there, so the other process's own state is checked here.)"""
    from obliviate.core import dist

    model, tok = fresh_target
    ecfg = EvalDuringConfig(every=3, keep="best", keep_threshold=1e-3, max_per_split=8)
    _peak_at(monkeypatch, 9)
    sent = []
    real_broadcast = dist.broadcast
    monkeypatch.setattr(dist, "broadcast", lambda obj: sent.append(copy.deepcopy(obj)) or real_broadcast(obj))
    first = EvalDuring(tok, splits, ecfg, gold=tiny_gold[0])
    ref = api.unlearn(copy.deepcopy(model), tok, splits, "npo", api.UnlearnConfig(**CFG), callbacks=[first])

    monkeypatch.setattr(dist, "is_main", lambda: False)
    monkeypatch.setattr(dist, "broadcast", lambda obj: sent.pop(0))  # what process 0 sent, in order
    monkeypatch.setattr(EvalDuring, "_score", lambda self, step: pytest.fail("only process 0 scores"))
    other = EvalDuring(tok, splits, ecfg, gold=lambda: pytest.fail("only process 0 scores the gold model"))
    out = api.unlearn(copy.deepcopy(model), tok, splits, "npo", api.UnlearnConfig(**CFG), callbacks=[other])
    assert not sent and other.rows == first.rows and other.kept["step"] == first.kept["step"] == 9
    for a, b in zip(ref.parameters(), out.parameters()):
        assert torch.equal(a, b)
