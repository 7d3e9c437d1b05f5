"""``obliviate bench`` on the tiny model: runs, leaderboard, report, and resume after an interruption."""

import json

import pytest

from obliviate.llm import bench as b


def test_bench_runs_resumes_and_ranks(tmp_path, monkeypatch):
    cfg = b.tiny_bench_config(methods=["GradAscent", "NPO"], seeds=[0], controls=True,
                              audit=b.AuditConfig(max_records=12, relearn_tiers=["high"],
                                                  relearn=dict(steps=2, lr=1e-3, batch_size=4, eval_every=1)))
    out = tmp_path / "bench"
    real = b._run_one
    done = []

    def interrupted(cfg_, p, out_, name, variant, seed):
        if name == "NPO":
            raise KeyboardInterrupt  # Ctrl-C half-way through the bench
        real(cfg_, p, out_, name, variant, seed)
        done.append(name)

    monkeypatch.setattr(b, "_run_one", interrupted)
    with pytest.raises(KeyboardInterrupt):
        b.run_bench(cfg, out)
    assert sorted(done) == ["GradAscent", "gold", "suppressed", "target"]
    first = {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/metrics.json")}
    assert len(first) == 4

    monkeypatch.setattr(b, "_run_one", real)
    b.run_bench(cfg, out)  # the same command again: finished runs are kept, NPO runs
    after = {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/metrics.json")}
    assert set(after) == set(first) | {"npo-forget10-s0"}
    assert all(after[k] == v for k, v in first.items())

    # where each run's time went (benchmarks/run_costs.py reads this): the parts of an audited method run
    phases = json.loads((out / "runs" / "npo-forget10-s0" / "metrics.json").read_text())["phase_seconds"]
    assert {"unlearning", "evaluation", "audit", "audit: relearning attack", "scoring", "generation"} <= set(phases)
    assert phases["audit"] >= phases["audit: relearning attack"] and phases["audit"] > 0  # seconds, to 0.1

    board = json.loads((out / "leaderboard.json").read_text())
    rows = {r["name"]: r for r in board["rows"]}
    assert set(rows) == {"GradAscent", "NPO", "target", "gold", "suppressed"}
    assert [r["control"] for r in board["rows"]] == sorted(r["control"] for r in board["rows"])  # methods first
    assert rows["target"]["forgotten"] == "0/1" and rows["suppressed"]["forgotten"] == "0/1"
    assert rows["gold"]["forget_quality"] == pytest.approx(1.0)
    for key in ("model_utility", "privleak", "relearn_recovery", "quant_recovery", "fluency_ppl", "unlearn_seconds",
                "over_forgetting", "alignment", "plausible"):
        assert rows["NPO"][key] == rows["NPO"][key], key  # a number, not NaN
    # forget answers of the right kind: the target states them, gold guesses values of the kind, the filter refuses
    assert rows["target"]["plausible"] >= 0.8 and rows["gold"]["plausible"] >= 0.8
    assert rows["suppressed"]["plausible"] <= 0.2
    # FaithUn against the target: the target forgot nothing; the gold model never knew the forget people
    assert rows["target"]["faithfulness"]["forgotten"] == 0.0
    assert rows["gold"]["faithfulness"]["forgotten"] > 0.5
    # the lens is built on the target: its forget people read nearer the known entities than gold's (never seen).
    # The tiny lens (30 epochs of a 4x SAE) is noisy: target / gold measured 0.20 / 0.71 (AVX-512), 0.17 / 0.28
    # (DEFAULT kernels) and 0.51 / 0.82 (training changed at float-rounding level: a tied embedding's gradient
    # summed in another order), so only the order is asserted; a lens blind to the model orders them at random.
    # The lens itself is tested in test_interp.py.
    assert rows["target"]["alignment"] < rows["gold"]["alignment"]
    assert set(rows["NPO"]["alignment_points"]) == {"forget", "known", "unknown"}
    md = (out / "leaderboard.md").read_text()
    assert "| NPO |" in md and "PrivLeak" in md and "SAE alignment" in md and "superficial.multi_hop" in md
    assert "right-kind answers" in md
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64") == 4  # Pareto, per-metric bars, relearning curves, alignment
    assert (out / "alignment.png").stat().st_size > 1000

    with pytest.raises(b.ConfigError):  # a finished run is never silently mixed with other settings
        b.run_bench(b.tiny_bench_config(methods=["NPO"], seeds=[0], controls=False, eval_max_per_split=7,
                                        audit=cfg.audit), out)


def test_bench_config_rejects_bad_input():
    with pytest.raises(Exception, match="method"):
        b.tiny_bench_config(methods=["NoSuchMethod"])
    with pytest.raises(b.ConfigError, match="forget split"):
        b.tiny_bench_config(variants=["forget50"])
