"""Multi-process runs (``obliviate.core.dist``): ``obliviate unlearn`` under torchrun (2 CPU processes, gloo)
equals one process.

Two processes with ``grad_accum 1`` and one process with ``grad_accum 2`` see
the same global batch (2 micro-batches of ``batch_size`` per step); the
trainer deals the micro-batches round-robin and sums gradients, so the two
runs end at the same weights, up to float summation order.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unlearn(model_dir: Path, world_dir: Path, runs: Path, spec: str, processes: int, grad_accum: int,
             extra: tuple[str, ...] = ()) -> Path:
    method, _, combiner = spec.partition("+")
    args = ["-m", "obliviate.cli", "unlearn", "--model", str(model_dir), "--world", str(world_dir),
            "--method", method, "--epochs", "2", "--lr", "2e-3", "--batch-size", "2",
            "--grad-accum", str(grad_accum), "--runs-dir", str(runs)]
    if combiner:
        args += ["--combiner", combiner]
    args += extra
    if processes > 1:
        args = ["-m", "torch.distributed.run", "--nproc_per_node", str(processes), "--master_addr", "127.0.0.1",
                "--master_port", str(_free_port()), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OBLIVIATE_QUIET": "1"}
    out = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    dirs = [d for d in runs.iterdir() if d.is_dir()]
    assert len(dirs) == 1, f"one run folder per run, got {dirs}"  # process 0 made it, the other used it
    return dirs[0]


@pytest.mark.parametrize("spec", ["graddiff", "npo+gu"])
def test_two_processes_equal_one_with_the_same_global_batch(tiny_target, world_dir, tmp_path, spec):
    model, _ = tiny_target
    model_dir = Path(model.name_or_path)
    one = _unlearn(model_dir, world_dir, tmp_path / "one", spec, processes=1, grad_accum=2)
    two = _unlearn(model_dir, world_dir, tmp_path / "two", spec, processes=2, grad_accum=1)
    a, b = load_file(one / "model" / "model.safetensors"), load_file(two / "model" / "model.safetensors")
    base = {k: v for k, v in model.state_dict().items()}
    moved = max(float((a[k] - base[k]).abs().max()) for k in a)
    assert moved > 1e-3  # the runs trained
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
    # the step logs agree too: the losses were gathered from both processes
    import json

    ev_one = [json.loads(line) for line in (one / "events.jsonl").read_text().splitlines()]
    ev_two = [json.loads(line) for line in (two / "events.jsonl").read_text().splitlines()]
    assert [e["step"] for e in ev_one] == [e["step"] for e in ev_two]
    for x, y in zip(ev_one, ev_two):
        assert x["forget"] == pytest.approx(y["forget"], rel=1e-4, abs=1e-6)


def test_evaluation_during_unlearning_and_keep_best_agree_across_processes(tiny_target, tiny_gold, world_dir, tmp_path):
    """`--eval-every --keep best` on 2 processes: process 0 evaluates, the others wait for its row and decision;
    the trajectory, the kept step and the saved model equal those of one process."""
    import json

    model_dir, gold_dir = Path(tiny_target[0].name_or_path), Path(tiny_gold[0].name_or_path)
    extra = ("--eval-every", "2", "--keep", "best", "--keep-threshold", "0.001", "--gold", str(gold_dir),
             "--eval-set", "max_per_split=8")
    one = _unlearn(model_dir, world_dir, tmp_path / "one", "graddiff", processes=1, grad_accum=2, extra=extra)
    two = _unlearn(model_dir, world_dir, tmp_path / "two", "graddiff", processes=2, grad_accum=1, extra=extra)
    rows = [[json.loads(line) for line in (d / "trajectory.jsonl").read_text().splitlines()] for d in (one, two)]
    assert [r["step"] for r in rows[0]] == [r["step"] for r in rows[1]] and len(rows[0]) > 2
    for x, y in zip(*rows):
        assert x["model_utility_hmean"] == pytest.approx(y["model_utility_hmean"], rel=1e-3)
    kept = [json.loads((d / "metrics.json").read_text())["eval_during"]["kept_step"] for d in (one, two)]
    assert kept[0] == kept[1] and 0 < kept[0] < rows[0][-1]["step"]  # an earlier state was put back
    a, b = load_file(one / "model" / "model.safetensors"), load_file(two / "model" / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
