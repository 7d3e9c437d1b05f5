"""``obliviate sweep`` (``obliviate.llm.sweep``): the selection rule, every method's budget, a tiny sweep that
never reads a reported forget person, and the bench's gold reused when the world sets people apart."""

from __future__ import annotations

import json
import math

import pytest

from obliviate import api
from obliviate.llm import bench as b
from obliviate.llm import pipeline
from obliviate.llm import sweep as sw
from obliviate.llm.data.splits import names_any


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


@pytest.mark.trains
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
