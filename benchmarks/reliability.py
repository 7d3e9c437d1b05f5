"""Reliability: kill -9 and --resume, and two concurrent demos on one empty cache (issue 21).

1. A tiny ``obliviate unlearn`` run (evaluations during unlearning, so it has
   metrics.json and trajectory.jsonl) is run once uninterrupted, then three
   times killed with SIGKILL at a chosen point and finished with ``--resume``:
   early (before the first checkpoint), mid (after a checkpoint, between two),
   and during the final save (a ``.model.*.tmp`` folder exists). Each resumed
   run is compared with the uninterrupted one: model.safetensors bytes
   (sha256), metrics.json (timings aside), events.jsonl (each step once, the
   same losses) and no temporary file left.
2. Two ``obliviate demo --tiny`` processes start together on one empty
   OBLIVIATE_HOME; the log lines count how often each cached model is trained.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/reliability.py`` (about 10 min on 2 cores).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(tempfile.mkdtemp(prefix="obliviate-reliability-"))
ENV = {**os.environ, "OBLIVIATE_HOME": str(ROOT / "home"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
       "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
CLI = [sys.executable, "-m", "obliviate.cli"]


def setup() -> list[str]:
    """A world, the tiny target and gold saved as folders, the forget/retain files: the unlearn arguments."""
    os.environ.update(ENV)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests.* helpers
    from obliviate import api
    from obliviate.llm.data import save_jsonl
    from tests.helpers import tiny_finetune_config

    world = api.build_world(api.WorldConfig(n_entities=16, seed=0))
    s = api.load_world_splits(world, "forget10")
    for role, records in (("target", s.forget + s.retain + s.world_facts), ("gold", s.retain + s.world_facts)):
        m, tok = api.finetuned(api.TINY, records, tiny_finetune_config(), role=role, world_dir=world)
        m.save_pretrained(ROOT / role)
        tok.save_pretrained(ROOT / role)
    save_jsonl(s.forget, ROOT / "forget.jsonl")
    save_jsonl(s.retain, ROOT / "retain.jsonl")
    return ["unlearn", "--model", str(ROOT / "target"), "--forget", str(ROOT / "forget.jsonl"), "--retain",
            str(ROOT / "retain.jsonl"), "--epochs", "6", "--lr", "1e-3", "--batch-size", "4", "--eval-every", "8",
            "--gold", str(ROOT / "gold"), "--keep", "best"]


def steps_logged(run: Path) -> int:
    path = run / "events.jsonl"
    return len(path.read_text().splitlines()) if path.is_file() else 0


def run_killed(args: list[str], runs: Path, when) -> tuple[Path | None, str]:
    """Start a run, SIGKILL it when ``when(run_dir)`` holds; (run folder, what happened)."""
    proc = subprocess.Popen(CLI + args + ["--runs-dir", str(runs)], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while proc.poll() is None:
        found = list(runs.glob("*")) if runs.is_dir() else []
        if found and when(found[0]):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return found[0], "killed"
        time.sleep(0.002)
    return (next(runs.glob("*"), None)), "finished before the kill point"


def fingerprint(run: Path) -> dict:
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("wall_seconds", "unlearn_seconds"):
        metrics.pop(key, None)
    return {"model_sha256": hashlib.sha256((run / "model" / "model.safetensors").read_bytes()).hexdigest(),
            "metrics": json.dumps({k: metrics[k] for k in ("models", "eval_during", "nothing_unlearned")},
                                  sort_keys=True),
            "steps": [e["step"] for e in events],
            "losses": [{k: v for k, v in e.items() if k != "time_s"} for e in events],
            "temps": sorted(p.name for p in run.iterdir() if p.name.startswith(".")),
            "trajectory_steps": [json.loads(line)["step"]
                                 for line in (run / "trajectory.jsonl").read_text().splitlines()]}


def kill_and_resume() -> None:
    args = setup()
    t0 = time.time()
    subprocess.run(CLI + args + ["--runs-dir", str(ROOT / "base")], env=ENV, check=True, capture_output=True)
    (base,) = (ROOT / "base").iterdir()
    ref = fingerprint(base)
    total = len(ref["steps"])
    print(f"uninterrupted run: {total} steps, checkpoint every 10, evaluations at {ref['trajectory_steps']} "
          f"({time.time() - t0:.0f}s); model sha256 {ref['model_sha256'][:16]}")
    points = {
        "early (step 3, before the first checkpoint)": lambda run: steps_logged(run) >= 3,
        "mid (step 15, checkpoint at 10)": lambda run: steps_logged(run) >= 15,
        "during the final save (.model.*.tmp present)": lambda run: any(
            p.name.startswith(".model.") for p in run.iterdir()),
    }
    print(f"{'kill point':48s} {'weights':9s} {'metrics':8s} {'events':22s} {'temps left':10s}")
    for i, (name, when) in enumerate(points.items()):
        runs = ROOT / f"killed{i}"
        run, what = run_killed(args, runs, when)
        logged = steps_logged(run) if run else 0
        res = subprocess.run(CLI + args + ["--resume", str(run)], env=ENV, capture_output=True, text=True)
        if res.returncode != 0:
            print(f"{name:48s} resume failed ({what}): {res.stderr.strip().splitlines()[-1:]}")
            continue
        got = fingerprint(run)
        events_ok = got["steps"] == list(range(1, total + 1)) and got["losses"] == ref["losses"]
        print(f"{name:48s} {'same' if got['model_sha256'] == ref['model_sha256'] else 'DIFFER':9s} "
              f"{'same' if got['metrics'] == ref['metrics'] else 'DIFFER':8s} "
              f"{(f'{total} lines, no dup' if events_ok else 'DUPLICATED/DIFFER') + f' ({logged} at kill)':22s} "
              f"{got['temps'] or 'none'}  [{what}]")


def concurrent_demos() -> None:
    home = ROOT / "demo-home"
    env = {**ENV, "OBLIVIATE_HOME": str(home)}
    env.pop("OBLIVIATE_QUIET", None)
    t0 = time.time()
    procs = [subprocess.Popen(CLI + ["demo", "--tiny", "--runs-dir", str(ROOT / f"demo{i}")], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(2)]
    logs = [p.communicate()[1] for p in procs]
    trained = {role: sum(log.count(f"{role}: fine-tuning") for log in logs) for role in ("target", "gold")}
    reused = {role: sum(log.count(f"{role}: cached model") for log in logs) for role in ("target", "gold")}
    print(f"two concurrent `obliviate demo --tiny` on one empty OBLIVIATE_HOME ({time.time() - t0:.0f}s): "
          f"exit codes {[p.returncode for p in procs]}; trained target {trained['target']}x, gold "
          f"{trained['gold']}x; loaded from the cache: target {reused['target']}x, gold {reused['gold']}x; "
          "cached model folders:",
          sorted(p.name.split("-")[0] for p in (home / "finetuned").iterdir() if not p.name.startswith(".")))


if __name__ == "__main__":
    print(f"torch threads: OMP_NUM_THREADS={ENV['OMP_NUM_THREADS']}; scratch {ROOT}")
    kill_and_resume()
    concurrent_demos()
