"""``obliviate smarl`` (``obliviate.smarl.cli``): simulate, train and eval write their run folders."""

from __future__ import annotations

import json

import pytest
import torch

from obliviate.smarl.rl import read_events

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained

torch.set_num_threads(1)


def test_cli_simulate_train_eval_write_run_folders(data_dir, tmp_path):
    from typer.testing import CliRunner

    from obliviate.smarl.cli import smarl_app

    runner = CliRunner()
    res = runner.invoke(smarl_app, ["simulate", "--closure", "leith", "--case", "k4", "--n", "16", "--t-end", "0.3",
                                    "--t-avg", "0.1", "--runs-dir", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    (sim,) = (tmp_path / "runs").glob("*smarl-sim-k4-leith")
    assert (sim / "report.html").is_file() and (sim / "spectra.png").is_file() and (sim / "pdf.png").is_file()
    row = json.loads((sim / "metrics.json").read_text())["rows"][0]
    assert row["closure"] == "leith" and row["blowups"] == 0 and row["z_log_error"] > 0

    out = tmp_path / "train"
    res = runner.invoke(smarl_app, ["train", "--case", "k4", "--n", "16", "--iterations", "2", "--envs", "2",
                                    "--rollout", "4", "--episode-steps", "40", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").is_file() and (out / "reward.png").is_file() and len(read_events(out)) == 2

    res = runner.invoke(smarl_app, ["eval", "--run", str(out), "--closures", "none", "--t-end", "0.2",
                                    "--t-avg", "0.1", "--no-build-reference", "--no-dns-cost",
                                    "--runs-dir", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    (ev,) = (tmp_path / "runs").glob("*smarl-eval-k4")
    names = [r["closure"] for r in json.loads((ev / "metrics.json").read_text())["rows"]]
    assert names == ["none", "learned"] and (ev / "coefficient.png").is_file()

    res = runner.invoke(smarl_app, ["simulate", "--closure", "leith-dynamic"])
    assert res.exit_code == 2 and "error:" in res.output and "smagorinsky" in res.output
