"""`obliviate graph unlearn` / `graph bench` (``obliviate.graph.bench``) end to end on a small graph standing in
for Cora."""

import json

import pytest
from typer.testing import CliRunner

from obliviate.cli import app
from obliviate.graph import bench as gb
from tests.graph.helpers import two_communities

runner = CliRunner()


@pytest.fixture()
def toy_planetoid(monkeypatch):
    """The bench loads Cora/CiteSeer through planetoid_graph; here a seeded toy graph stands in."""
    monkeypatch.setattr(gb, "planetoid_graph", lambda name, seed=0, data_dir=None: two_communities(seed=seed))


@pytest.mark.trains
def test_graph_bench_runs_every_method_resumes_and_reports(tmp_path, toy_planetoid):
    cfg = gb.GraphBenchConfig(datasets=["cora"], tasks=["edge", "node"], seeds=[0, 1], node_fraction=0.02,
                              run=gb.GraphRunConfig(fraction=0.05, train_steps=60))
    out = gb.run_graph_bench(cfg, tmp_path / "gb")
    runs = sorted(p.parent.name for p in (out / "runs").glob("*/metrics.json"))
    assert len(runs) == 2 * 2 * len(cfg.methods)
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/metrics.json")}
    gb.run_graph_bench(cfg, out)  # again: every finished run is kept
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    board = json.loads((out / "leaderboard.json").read_text())
    rows = {(r["task"], r["method"]): r for r in board["rows"]}
    assert rows[("edge", "Retrain")]["time_vs_retrain"] == pytest.approx(1.0)
    for (task, method), r in rows.items():
        assert r["runs"] == 2 and r["utility"] == r["utility"] and r["flops"] > 0, (task, method)
    assert rows[("edge", "D2DGN")]["deleted_auc"] > rows[("edge", "D2DGN")]["original_deleted_auc"]
    assert "| cora | edge | gcn, random, 5% | D2DGN | 2 |" in (out / "leaderboard.md").read_text()
    assert rows[("edge", "Retrain")]["distance"] == 0.0 and rows[("edge", "Retrain")]["distance_ci"] == [0.0, 0.0]
    for (_task, method), r in rows.items():  # every method is measured against Retrain of its own seed
        assert 0 <= r["distance"] < 1 and r["distance_ci"][0] <= r["distance"] <= r["distance_ci"][1], method
    assert "closest to Retrain" in (out / "report.html").read_text()
    assert "data:image/png;base64" in (out / "report.html").read_text() and (out / "chart.png").is_file()


@pytest.mark.trains
def test_graph_bench_cli_grid_of_settings(tmp_path, toy_planetoid):
    out = tmp_path / "grid"
    result = runner.invoke(app, ["graph", "bench", "--methods", "Retrain,GradAscent", "--tasks", "edge",
                                 "--datasets", "cora", "--seeds", "0", "--where", "random,in", "--fraction",
                                 "0.02,0.05", "--backbone", "gin", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (out / "runs").iterdir())
    assert len(names) == 2 * 2 * 2 and "cora-edge-gradascent-s0-gin-in-f0.02" in names
    rows = json.loads((out / "leaderboard.json").read_text())["rows"]
    assert {r["setting"] for r in rows} == {"gin, random, 2%", "gin, random, 5%", "gin, in, 2%", "gin, in, 5%"}
    result = runner.invoke(app, ["graph", "bench", "--fraction", "a lot", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "--fraction" in result.output
    result = runner.invoke(app, ["graph", "bench", "--where", "nearby", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "random, in, out" in result.output


@pytest.mark.trains
def test_graph_unlearn_cli(tmp_path, toy_planetoid):
    result = runner.invoke(app, ["graph", "unlearn", "--method", "d2dgn", "--fraction", "0.05",
                                 "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    assert {"config.yaml", "metrics.json", "model.safetensors"} <= {p.name for p in run.iterdir()}
    assert "deleted_auc" in result.output
    report = (run / "report.html").read_text()  # the run's page: settings, the result in words, each figure
    assert "moved the deleted edges" in report and "how to read it" in report and "report.html" in result.output
    result = runner.invoke(app, ["graph", "unlearn", "--method", "nosuch"])
    assert result.exit_code == 2 and "D2DGN" in result.output
    result = runner.invoke(app, ["graph", "unlearn", "--task", "triangle"])
    assert result.exit_code == 2 and "edge" in result.output


def test_missing_data_is_one_clear_line(tmp_path):
    result = runner.invoke(app, ["graph", "unlearn", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "planetoid/Cora/raw" in result.output and "OBLIVIATE_DATA" in result.output
