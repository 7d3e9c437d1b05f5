"""``obliviate sweep`` and the tuned leaderboard's statistics: intervals against scipy, Holm-corrected
significance marks, the selection rule, and a tiny sweep that never reads a reported forget person."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from obliviate import api
from obliviate.llm import bench as b
from obliviate.llm import pipeline
from obliviate.llm import sweep as sw
from obliviate.llm.data.splits import names_any

# ---------------------------------------------------------------- statistics


def test_t_interval_agrees_with_scipy():
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 9):
        xs = rng.normal(0.5, 0.2, n)
        want = stats.t.interval(0.95, n - 1, loc=xs.mean(), scale=stats.sem(xs))
        assert b.t_interval(xs) == pytest.approx(want, rel=1e-12)
        assert b.t_interval(xs, level=0.9) == pytest.approx(
            stats.t.interval(0.9, n - 1, loc=xs.mean(), scale=stats.sem(xs)), rel=1e-12)
    assert b.t_interval([1.0, math.nan, 3.0]) == pytest.approx(stats.t.interval(0.95, 1, loc=2.0, scale=1.0))
    assert all(math.isnan(v) for v in b.t_interval([0.4]))  # one run: no interval


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


# ---------------------------------------------------------------- the validation split


def test_validation_split_is_apart_from_every_reported_forget_set():
    from obliviate.llm.data import generate_world
    from obliviate.llm.data.splits import make_splits, split_entities, validation_entities, validation_splits

    for n, seed in ((16, 0), (25, 0), (40, 1)):
        world = generate_world(n, seed)
        reported = split_entities(world, "forget10", 0.2, seed)
        people = validation_entities(world, 0.2, seed)
        assert len(people) == len(reported.forget)  # the size of forget10
        near = set(reported.forget) | {nb for f in reported.forget for nb in world.neighbours(f)}
        assert not near & set(people) and set(people) <= set(reported.retain)
        s = validation_splits(world, 0.2, seed, world_facts=[])
        assert {r.entity for r in s.forget} == set(people)
        assert not {r.entity for r in s.retain} & (set(people) | set(reported.forget))
        assert s.retain and s.holdout and s.neighbours
        assert not any(names_any(r, reported.forget) for r in s.forget + s.retain + s.holdout)
        plain = make_splits(world, "forget10", 0.2, seed, world_facts=[]).retain
        assert any(names_any(r, reported.forget) for r in plain)  # the filter has something to remove
    with pytest.raises(b.ConfigError, match="validation split of 9"):
        validation_entities(generate_world(16, 0), 0.2, 0, count=9)


# ---------------------------------------------------------------- the grid and the selection rule


def _cfg(index, p, mu, hi=None):
    """A finished config: KS p, utility and the upper end of the people-bootstrap interval of D (None: no interval)."""
    return dict(index=index, forget_quality_ks_pvalue=p, model_utility_hmean=mu,
                **({} if hi is None else {"forget_quality_ks_distance_ci": [0.0, hi]}))


def test_selection_rule():
    """Among configs like gold within delta (interval of D ends <= 0.2), the highest utility. The old rule
    ("p >= 0.05 passes", then utility) picks config 0 here: not told apart on few answers, yet not shown close."""
    rows = [_cfg(0, 0.6, 0.95, hi=0.35),  # best utility, p passes, but D may be up to 0.35: not like gold
            _cfg(1, 0.01, 0.50, hi=0.15),  # like gold although the KS test tells them apart (by less than 0.15)
            _cfg(2, 0.3, 0.70, hi=0.18),
            _cfg(3, 0.9, 0.70, hi=0.2),  # at delta counts; a tie with 2: the earlier wins
            _cfg(4, 0.5, math.nan, hi=0.1),  # NaN utility: the lowest
            _cfg(5, 0.99, 0.99)]  # finished before the interval existed: not shown like gold
    assert sw.select(rows)["index"] == 2
    assert sw.select(rows, delta=0.16)["index"] == 1  # only 1 and 4 are within 0.16
    assert sw.equivalent(rows[3]) and not sw.equivalent(rows[0]) and not sw.equivalent(rows[5])
    # none like gold: the highest forget quality (on one validation set, the smallest D); the old rule would
    # pick 0 (both p >= 0.05, higher utility), a broken fallback on utility too
    none_pass = [_cfg(0, 0.6, 0.9, hi=0.4), _cfg(1, 0.9, 0.1, hi=0.3)]
    assert sw.select(none_pass)["index"] == 1
    assert sw.select([_cfg(0, 0.001, 0.9), _cfg(1, 0.02, 0.1)])["index"] == 1
    assert sw.select([]) is None


def test_every_method_gets_the_same_budget():
    from obliviate.llm.methods import METHODS

    cfg = sw.SweepConfig(bench=b.tiny_bench_config())  # every registered method
    base = b.unlearn_config(cfg.bench, "NPO")
    for name in METHODS.names():
        grid = sw.method_grid(cfg, name)
        assert len(grid) == 12, name
        assert len({json.dumps(p, sort_keys=True) for p in grid}) == 12, name  # 12 different configs
        assert {p["epochs"] for p in grid} == {base.epochs / 2, base.epochs}
        weights = sw.SWEEP_WEIGHTS.get(name, {})
        assert len({p["lr"] for p in grid}) == (3 if weights else 6)
        default = METHODS.get(name).Config()
        for key, values in weights.items():  # each swept weight exists and its values include the paper's
            assert getattr(default, key) in values, (name, key)
    assert set(sw.SWEEP_WEIGHTS) <= set(METHODS.names())
    small = sw.SweepConfig(bench=b.tiny_bench_config(methods=["NPO"]), budget=2)
    assert [p["weights"] for p in sw.method_grid(small, "NPO")] == [{"beta": 0.1}, {"beta": 0.5}]
    assert [p["lr"] for p in sw.method_grid(small, "NPO")] == [base.lr, base.lr]
    with pytest.raises(b.ConfigError, match="no_such_weight"):
        sw.SweepConfig(bench=b.tiny_bench_config(methods=["NPO"]), weights={"npo": {"no_such_weight": [1.0]}})


# ---------------------------------------------------------------- a tiny sweep, resumed, then a tuned bench


def test_tiny_sweep_never_reads_the_reported_forget_set_and_feeds_the_bench(tmp_path, monkeypatch, splits,
                                                                           tiny_target, tiny_gold):
    from tests.helpers import tiny_finetune_config  # the session's target and gold are reused from the cache

    bench_cfg = b.tiny_bench_config(
        world=api.WorldConfig(n_entities=16, seed=0), finetune=tiny_finetune_config(), methods=["GradAscent", "NPO"],
        controls=False, faithfulness=False, alignment=False,
        audit=b.AuditConfig(max_records=8, relearn_tiers=["high"], quant_bits=[4],
                            relearn=dict(steps=1, lr=1e-3, batch_size=4, eval_every=1)))
    cfg = sw.SweepConfig(bench=bench_cfg, budget=2)
    out = tmp_path / "sweep"
    reported = {r.entity for r in splits.forget}
    reported_ids = {r.id for r in splits.forget}
    seen: list = []

    def record(s):
        seen.extend(r for part in ("forget", "retain", "holdout", "neighbours", "world_facts", "real_entities")
                    for r in getattr(s, part, None) or [])

    # what the sweep trains and scores
    real = {n: getattr(pipeline, n) for n in ("unlearn", "evaluate", "cached_evaluate")}
    monkeypatch.setattr(pipeline, "unlearn", lambda m, t, s, *a, **k: record(s) or real["unlearn"](m, t, s, *a, **k))
    monkeypatch.setattr(pipeline, "evaluate", lambda m, t, s, *a, **k: record(s) or real["evaluate"](m, t, s, *a, **k))
    monkeypatch.setattr(pipeline, "cached_evaluate",
                        lambda d, m, t, s, *a, **k: record(s) or real["cached_evaluate"](d, m, t, s, *a, **k))

    calls = []
    real_run = sw._run_config

    def counted(cfg_, v, out_, spec, i, point, stop=None):
        if (spec, i) == stop:
            raise KeyboardInterrupt  # Ctrl-C at the last config
        calls.append((spec, i))
        real_run(cfg_, v, out_, spec, i, point)

    monkeypatch.setattr(sw, "_run_config", lambda *a: counted(*a, stop=("NPO", 1)))
    with pytest.raises(KeyboardInterrupt):
        sw.run_sweep(cfg, out)
    assert calls == [("GradAscent", 0), ("GradAscent", 1), ("NPO", 0)]
    first = {p.parent.name: p.stat().st_mtime_ns for p in (out / "configs").glob("*/metrics.json")}
    calls.clear()
    monkeypatch.setattr(sw, "_run_config", counted)
    sw.run_sweep(cfg, out)  # the same command again: only the unfinished config runs
    assert calls == [("NPO", 1)]
    after = {p.parent.name: p.stat().st_mtime_ns for p in (out / "configs").glob("*/metrics.json")}
    assert all(after[k] == v for k, v in first.items()) and len(after) == 4

    # nothing the sweep trained or scored is, or names, a reported forget person
    assert seen and not any(names_any(r, sorted(reported)) for r in seen)
    assert not reported_ids & {r.id for r in seen}
    val = json.loads((out / "validation.json").read_text())
    assert set(val["excluded_forget10"]) == reported and not reported & set(val["people"])
    assert {r.entity for r in seen if r.id in set(val["ids"]["forget"])} == set(val["people"])

    data = json.loads((out / "sweep.json").read_text())
    for spec in ("GradAscent", "NPO"):
        m = data["methods"][spec]
        assert m["finished"] == m["budget"] == 2 and len(m["configs"]) == 2
        assert m["selected"] == {**sw.select(m["configs"]), "unlearn": m["selected"]["unlearn"],
                                 "passes": m["selected"]["passes"]}
        assert all(math.isfinite(c["model_utility_hmean"]) for c in m["configs"])
    assert {c["method_config"]["beta"] for c in data["methods"]["NPO"]["configs"]} == {0.1, 0.5}

    # the tuned bench: NPO at its selected config, 2 seeds, intervals in the leaderboard
    monkeypatch.undo()
    tuned = sw.bench_config_from_sweep(out / "sweep.json", methods=["npo"], seeds=[0, 1])
    assert tuned.methods == ["NPO"] and tuned.tuned_from == str(out / "sweep.json")
    assert sw.bench_config_from_sweep(out / "sweep.json").seeds == [0, 1, 2, 3, 4]
    with pytest.raises(b.ConfigError, match="no selected config"):
        sw.bench_config_from_sweep(out / "sweep.json", methods=["RMU"])
    sel = data["methods"]["NPO"]["selected"]
    bench_out = b.run_bench(tuned, tmp_path / "bench")
    settings = b.load_yaml(b.run_folder(bench_out, "NPO", "forget10", 1) / "config.yaml")
    assert settings["unlearn"]["lr"] == sel["lr"] and settings["unlearn"]["epochs"] == sel["epochs"]
    assert settings["method_config"] == sel["method_config"]
    row = json.loads((bench_out / "leaderboard.json").read_text())["rows"][0]
    assert row["name"] == "NPO" and row["runs"] == 2 and len(row["model_utility_ci"]) == 2
    assert "obliviate sweep" in (bench_out / "leaderboard.md").read_text()


def test_cli_bench_configs_rejects_a_second_source(tmp_path):
    from typer.testing import CliRunner

    from obliviate.cli import app

    res = CliRunner().invoke(app, ["bench", "--configs", str(tmp_path / "sweep.json"), "--model", "tiny",
                                   "--out", str(tmp_path / "b")])
    assert res.exit_code == 2 and "drop --config, --model and --profile" in res.output
    res = CliRunner().invoke(app, ["bench", "--configs", str(tmp_path / "sweep.json"), "--out", str(tmp_path / "b")])
    assert res.exit_code == 2 and "sweep.json" in res.output and not (tmp_path / "b").exists()
