"""``sweep --real``: the selection rule by hand, and a tiny sweep end to end (configs, picks, resume)."""

from __future__ import annotations

import json
import math

import pytest

from obliviate.core.errors import ConfigError, ObliviateError
from obliviate.llm.real_demo import REAL_DEFAULTS
from obliviate.llm.real_sweep import RealSweepConfig, picks, run_real_sweep, select_real

PLAIN = ("question", "answer")


def _row(index, forgotten, kept, steps=10, **extra):
    return {"index": index, "lr": [1e-5, 3e-5, 1e-4][index], "forgotten": forgotten, "general_kept": kept,
            "steps": steps, **extra}


def test_selection_prefers_general_knowledge_among_configs_that_forget_enough():
    rows = [_row(0, 0.5, 1.0), _row(1, 0.85, 0.7), _row(2, 1.0, 0.5)]
    assert select_real(rows, 0.8)["index"] == 1  # 0 keeps most but forgets too little
    assert select_real(rows, 0.9)["index"] == 2  # only 2 forgets 90%


def test_selection_without_a_passing_config_takes_the_most_forgotten_and_never_a_diverged_one():
    rows = [_row(0, 0.2, 1.0), _row(1, 0.6, 0.3), _row(2, 1.0, 1.0, diverged="loss exploded")]
    assert select_real(rows, 0.8)["index"] == 1
    assert select_real([rows[2]], 0.8) is None


def test_ties_go_to_fewer_steps_then_the_earlier_point_and_nan_counts_lowest():
    rows = [_row(0, 0.9, 0.8, steps=20), _row(1, 0.9, 0.8, steps=4), _row(2, 0.9, 0.8, steps=4)]
    assert select_real(rows)["index"] == 1
    assert select_real([_row(0, math.nan, 1.0), _row(1, 0.1, 0.0)])["index"] == 1


def test_config_is_checked():
    with pytest.raises(ConfigError, match="lrs"):
        RealSweepConfig(lrs=[])
    with pytest.raises(ConfigError, match="min_forgotten"):
        RealSweepConfig(min_forgotten=0)
    with pytest.raises(ObliviateError, match="unknown method"):
        RealSweepConfig(methods=["NoSuchMethod"])
    with pytest.raises(ConfigError, match="your own forget"):
        RealSweepConfig(retain="r.jsonl")
    with pytest.raises(ConfigError, match="no such file"):
        RealSweepConfig(forget="/nonexistent/forget.jsonl")
    assert RealSweepConfig(methods=["npo"]).methods == ["NPO"]


def test_every_method_has_pretrained_knowledge_defaults():
    cfg = RealSweepConfig()
    assert set(REAL_DEFAULTS) == set(cfg.methods)
    assert all(v["lr"] in cfg.lrs and v["epochs"] == 5.0 for v in REAL_DEFAULTS.values())


def _plain(records, path):
    path.write_text("".join(json.dumps({k: getattr(r, k) for k in PLAIN}) + "\n" for r in records))
    return path


@pytest.mark.trains
def test_tiny_sweep_runs_every_config_picks_one_and_resumes_without_rerunning(tmp_path, splits, tiny_target):
    model, tok = tiny_target
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    files = {"forget": str(_plain(splits.forget, tmp_path / "forget.jsonl")),
             "retain": str(_plain(splits.retain, tmp_path / "retain.jsonl")),
             "unseen": str(_plain(splits.holdout, tmp_path / "unseen.jsonl"))}
    cfg = RealSweepConfig(model=str(tmp_path / "m"), methods=["GradAscent"], lrs=[1e-6, 1e-3], epochs=4.0,
                          style="trained", **files)
    out = run_real_sweep(cfg, tmp_path / "sweep")
    data = json.loads((out / "real-sweep.json").read_text())
    low, high = data["methods"]["GradAscent"]["configs"]
    # lr 1e-6 barely moves the weights: no fact forgotten, the stop rule never fires and the cap ends it;
    # lr 1e-3 crosses the never-seen reference and stops early, having forgotten most of what the model stated
    assert low["forgotten"] <= 0.1 and low["stopped_at"] is None
    assert high["stopped_at"] is not None and high["steps"] < low["steps"]
    assert high["forgotten"] >= 0.5 and high["counts"]["forget"]["known_before"] >= 5
    assert data["methods"]["GradAscent"]["selected"]["index"] == 1
    assert picks(data) == {"GradAscent": {"lr": 1e-3, "epochs": 4.0}}
    assert "| GradAscent | 1e-03 |" in (out / "real-sweep.md").read_text()
    stamp = (out / "configs" / "gradascent-c01" / "metrics.json").stat().st_mtime_ns
    run_real_sweep(cfg, out)  # finished configs are kept, not re-run
    assert (out / "configs" / "gradascent-c01" / "metrics.json").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="other settings"):
        run_real_sweep(RealSweepConfig(**{**cfg.__dict__, "epochs": 2.0}), out)
