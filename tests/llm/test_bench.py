"""``obliviate bench`` (``obliviate.llm.bench``) on the tiny model: runs, leaderboard, report, resume after an
interruption; the leaderboard's statistics (intervals against scipy, Holm-corrected marks, the power
column) and its refusal to rank a collapsed model."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats

from obliviate.llm import bench as b
from obliviate.llm.eval.metrics.tofu import collapse_threshold


@pytest.mark.trains
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
    page = (out / "report.html").read_text()  # example answers: target, gold and the methods side by side
    assert "Example questions and each model" in page and page.count("<th>target</th>") == 1
    examples = b.bench_examples(out, board).rows
    assert examples and {"target", "gold"} <= set(examples[0]["answers"])
    # FaithUn against the target: the target forgot nothing; the gold model never knew the forget people
    assert rows["target"]["faithfulness"]["forgotten"] == 0.0
    assert rows["gold"]["faithfulness"]["forgotten"] > 0.5
    # the lens is built on the target: its forget people read nearer the known entities than gold's (never seen).
    # The tiny lens (30 epochs of a 4x SAE) is noisy: target / gold measured 0.20 / 0.71 (AVX-512), 0.17 / 0.28
    # (DEFAULT kernels) and 0.51 / 0.82 (training changed at float-rounding level: a tied embedding's gradient
    # summed in another order), so only the order is asserted; a lens blind to the model orders them at random.
    # The lens itself is tested in tests/llm/interp/test_latents.py.
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


def test_holm_and_significance_marks():
    assert b.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert b.holm([0.03, 0.03, 0.03]) == pytest.approx([0.09, 0.09, 0.09])  # each < 0.05 alone, none after Holm
    a = [0.90, 0.91, 0.89, 0.92, 0.90]
    far = [0.50, 0.52, 0.49, 0.51, 0.50]
    res = b.compare_to_best({"A": a, "B": far, "C": list(a)}, "high")
    assert res["best"] == "A"
    assert res["tests"]["B"]["significant"] and not res["tests"]["C"]["significant"]
    p_raw = stats.ttest_ind(a, far, equal_var=False).pvalue
    assert res["tests"]["B"]["p"] == pytest.approx(p_raw)
    assert res["tests"]["B"]["p_holm"] == pytest.approx(min(1.0, 2 * p_raw))  # 2 comparisons, the smaller p
    # lower is better; "zero": closest to 0 wins, compared as |x|
    assert b.compare_to_best({"A": a, "B": far}, "low")["best"] == "B"
    assert b.compare_to_best({"A": [-1, 1.2, -0.8], "B": [30, 31, 29.5]}, "zero")["best"] == "A"
    assert b.compare_to_best({"A": a, "B": [0.5]}, "high") is None  # one run: nothing to test


def _fake_run(out, name, seed, mu, log10_fq, control=False):
    folder = b.run_folder(out, name, "forget10", seed)
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({
        "name": name, "variant": "forget10", "seed": seed, "control": control, "verdict": "FORGOTTEN",
        "metrics": {"forget_quality_ks_pvalue": 10 ** log10_fq, "model_utility_hmean": mu},  # no log10 figure
        "audit": {"membership.privleak": 5.0 + seed}, "unlearn_seconds": 10.0}))


def test_leaderboard_intervals_marks_and_report(tmp_path):
    mus = {"Good": [0.70, 0.71, 0.69, 0.72, 0.70], "Bad": [0.40, 0.42, 0.39, 0.41, 0.40],
           "Same": [0.70, 0.72, 0.69, 0.71, 0.70]}
    for name, xs in mus.items():
        for seed, mu in enumerate(xs):
            _fake_run(tmp_path, name, seed, mu, -1.0 - seed / 10)
    _fake_run(tmp_path, "gold", 0, 0.1, 0.0, control=True)  # controls are never compared
    board = b.leaderboard(tmp_path)
    rows = {r["name"]: r for r in board["rows"]}
    xs = np.array(mus["Bad"])
    assert rows["Bad"]["model_utility_ci"] == pytest.approx(
        stats.t.interval(0.95, 4, loc=xs.mean(), scale=stats.sem(xs)))
    assert rows["Bad"]["forget_quality_log10"] == pytest.approx(-1.2)  # log10 of the p-value when not given
    sig = board["significance"]["model_utility"]
    assert sig["best"] in ("Good", "Same") and sig["tests"]["Bad"]["significant"]
    assert not any(t["significant"] for k, t in sig["tests"].items() if k != "Bad")
    assert rows["Bad"]["marks"]["model_utility"] == "worse" and "marks" not in rows["gold"]
    assert "gold" not in sig["tests"] and sig["best"] != "gold"
    md = (tmp_path / "leaderboard.md").read_text()
    bad_line = next(l for l in md.splitlines() if l.startswith("| Bad |"))
    lo, hi = rows["Bad"]["model_utility_ci"]
    assert f"0.404 [{lo:.3f}, {hi:.3f}] †" in bad_line
    assert "★" in md and "Holm" in md
    html = b.write_bench_report(tmp_path, board).read_text()
    assert "†" in html and "Welch" in html


def test_leaderboard_power_column_and_people_interval(tmp_path):
    """The detectable distance sits beside forget quality, D carries its t-interval over seeds and the median
    people-bootstrap interval, and "like gold" counts the runs whose interval ends at most 0.2."""
    ds, his = [0.10, 0.12, 0.14], [0.18, 0.22, 0.19]
    for seed, (d, hi) in enumerate(zip(ds, his)):
        _fake_run(tmp_path, "A", seed, 0.7, -0.5)
        path = b.run_folder(tmp_path, "A", "forget10", seed) / "metrics.json"
        m = json.loads(path.read_text())
        m["metrics"].update(forget_quality_ks_distance=d, forget_quality_detectable_distance=0.42,
                            forget_quality_ks_distance_ci=[d - 0.05, hi], forget_quality_equivalent=hi <= 0.2)
        path.write_text(json.dumps(m))
    _fake_run(tmp_path, "Old", 0, 0.7, -0.5)  # a run from before the interval: no D, no verdict
    rows = {r["name"]: r for r in b.leaderboard(tmp_path)["rows"]}
    a = rows["A"]
    assert a["detectable_distance"] == pytest.approx(0.42) and "detectable_distance_ci" not in a
    assert a["ks_distance"] == pytest.approx(0.12) and a["ks_distance_ci"] == pytest.approx(b.t_interval(ds))
    assert a["ks_distance_people_ci"] == pytest.approx([0.07, 0.19])  # medians of the ends
    assert a["equivalent"] == "2/3" and rows["Old"]["equivalent"] != rows["Old"]["equivalent"]  # NaN: none
    md = (tmp_path / "leaderboard.md").read_text()
    head = md.splitlines()[0]
    assert "forget quality (KS p) | power: KS D detectable at 80% |" in head and "like gold (D ≤ 0.2)" in head
    a_line = next(line for line in md.splitlines() if line.startswith("| A |"))
    lo, hi = a["ks_distance_ci"]
    assert f"0.120 [{lo:.3f}, {hi:.3f}] people [0.070, 0.190]" in a_line and "| 2/3 |" in a_line


@pytest.mark.trains
def test_a_collapsed_model_is_marked_and_never_ranked(tiny_target, splits, tmp_path):
    """Push the tiny target's forget answers past 25 nats per token; its default truth ratio looks like
    the gold model's, the evaluation marks it collapsed and the leaderboard neither counts its forget
    quality nor ranks it above a method that works."""
    import copy

    from obliviate import api
    from obliviate.llm.bench import leaderboard

    model, tok = tiny_target
    broken = copy.deepcopy(model)
    with torch.no_grad():  # flip and sharpen every logit: what the model believed is now least likely
        broken.lm_head.weight.mul_(-40.0)
    forget = splits.forget[:8]
    sub = copy.copy(splits)
    sub.forget, sub.retain, sub.neighbours, sub.real_entities, sub.world_facts = forget, splits.retain[:4], [], [], []
    m_ok, _ = api.evaluate(model, tok, sub)
    m_bad, _ = api.evaluate(broken, tok, sub)
    assert m_bad["forget"]["median_token_nll"] > 25 > collapse_threshold(len(tok))
    assert m_bad["collapsed"] is True and m_ok["collapsed"] is False
    assert m_ok["forget"]["median_token_nll"] < collapse_threshold(len(tok)) - 5

    def run(name, seed, collapsed, fq, mu):
        folder = tmp_path / "runs" / f"{name}-{seed}"
        folder.mkdir(parents=True)
        met = {"forget_quality_ks_pvalue": fq, "forget_quality_log10_pvalue": math.log10(fq),
               "model_utility_hmean": mu, "collapsed": collapsed}
        (folder / "metrics.json").write_text(json.dumps({
            "name": name, "control": False, "seed": seed, "variant": "forget10", "metrics": met, "audit": {},
            "verdict": "NOT FORGOTTEN"}))

    for seed in (0, 1):
        run("Ascent", seed, True, 0.9, 0.5)  # gold-like forget quality, from a destroyed model
        run("Works", seed, False, 0.01, 0.5)
    board = leaderboard(tmp_path)
    rows = {r["name"]: r for r in board["rows"]}
    assert [r["name"] for r in board["rows"]] == ["Works", "Ascent"]
    assert rows["Ascent"]["collapsed"] == "2/2" and rows["Works"]["collapsed"] == "0/2"
    assert math.isnan(rows["Ascent"]["forget_quality"]) and rows["Works"]["forget_quality"] == pytest.approx(0.01)
    assert "collapsed" in (tmp_path / "leaderboard.md").read_text()


def test_perplexity_is_averaged_on_a_log_scale_and_faithfulness_reaches_the_report(tmp_path):
    """Perplexities span decades: a plain mean of 10, 1e3, 1e5 is 33,670 with a t-interval below 0 (the issue's
    "perplexity intervals below 0"); the geometric mean is 1,000 and its interval stays positive."""
    for seed, ppl in enumerate((10.0, 1e3, 1e5)):
        folder = tmp_path / "runs" / f"m-{seed}"
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps({
            "name": "M", "variant": "forget10", "seed": seed, "control": False, "verdict": "FORGOTTEN",
            "metrics": {"forget_quality_ks_pvalue": 0.5, "model_utility_hmean": 0.5},
            "audit": {"fluency.perplexity": ppl}, "unlearn_seconds": 1.0,
            "faithfulness": {k: 0.25 for k in b.FAITH_COLUMNS}}))
    board = b.leaderboard(tmp_path)
    (row,) = board["rows"]
    assert row["fluency_ppl"] == pytest.approx(1000.0)
    lo, hi = row["fluency_ppl_ci"]
    assert 0 < lo < 1000 < hi
    assert np.mean([10.0, 1e3, 1e5]) - stats.t.ppf(0.975, 2) * np.std([10.0, 1e3, 1e5], ddof=1) / 3 ** 0.5 < 0
    html = b.write_bench_report(tmp_path, board).read_text()
    assert "Faithfulness (FaithUn" in html and "over_forgetting.unrelated" in html
