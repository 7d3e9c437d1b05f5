"""No data loss, no silent nonsense, safe to share (issue 21, items 3, 4 and 6).

A command writes only into a folder that is new or that it made for the same
purpose; ``--resume`` takes only an unfinished run of the same command and
settings; a resumed run logs each step once; a diverged run saves no model;
bench reports are escaped (the run report: tests/core/report/test_html.py).
Cross-cutting (every command that writes a folder), so at the top level of tests/ (tests/test_layout.py lists it).
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from obliviate.cli import app
from obliviate.core.store import RUN_FILE, run_info

runner = CliRunner()


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: (bytes, mtime_ns)."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(result, pattern: str) -> None:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0], lines


@pytest.fixture()
def files(tmp_path, splits, tiny_target):
    from obliviate.llm.data import save_jsonl

    save_jsonl(splits.forget, tmp_path / "forget.jsonl")
    save_jsonl(splits.retain, tmp_path / "retain.jsonl")
    model_dir = tmp_path / "m"
    tiny_target[0].save_pretrained(model_dir)
    tiny_target[1].save_pretrained(model_dir)
    return tmp_path / "forget.jsonl", tmp_path / "retain.jsonl", model_dir


def _finetune_args(files, out, *extra):
    return ["finetune", "--data", str(files[0]), "--out", str(out), "--model", str(files[2]),
            "--epochs", "0.5", "--batch-size", "8", *extra]


@pytest.mark.trains
def test_finetune_out_refuses_a_finished_run_and_resumes_an_unfinished_one(tmp_path, files, monkeypatch):
    from obliviate.llm import pipeline

    out = tmp_path / "ft"
    real = pipeline.finetune

    def killed(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "finetune", killed)
    assert runner.invoke(app, _finetune_args(files, out)).exit_code == 130
    assert run_info(out) is not None and not run_info(out)["finished"]  # made by finetune, not finished
    monkeypatch.setattr(pipeline, "finetune", real)
    result = runner.invoke(app, _finetune_args(files, out, "--lr", "1e-3"))  # other settings: refused
    _refused(result, "other settings")
    result = runner.invoke(app, _finetune_args(files, out))  # same settings: resumed, finished
    assert result.exit_code == 0, result.output
    assert run_info(out)["finished"] and (out / "config.json").is_file()
    before = _snapshot(out)
    result = runner.invoke(app, _finetune_args(files, out))  # a finished model folder: never replaced
    _refused(result, "finished 'finetune' run")
    assert _snapshot(out) == before and sorted(os.listdir(tmp_path)) == sorted(os.listdir(tmp_path))


@pytest.mark.trains
@pytest.mark.parametrize("kind", ["foreign", "demo", "file"])
def test_finetune_out_refuses_other_folders_untouched(tmp_path, files, kind):
    out = tmp_path / "x"
    if kind == "file":
        out.write_text("mine")
    else:
        out.mkdir()
        (out / "notes.txt").write_text("precious")
        if kind == "demo":
            (out / RUN_FILE).write_text(json.dumps({"command": "demo", "settings_hash": "x", "finished": True}))
    before = _snapshot(tmp_path)
    result = runner.invoke(app, _finetune_args(files, out))
    _refused(result, "--out")
    assert _snapshot(tmp_path) == before


def _fake_run(folder: Path, command: str, finished: bool) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("model: tiny\n")
    (folder / "events.jsonl").write_text('{"step": 1}\n{"step": 2}\n')
    (folder / RUN_FILE).write_text(json.dumps({"command": command, "settings_hash": "abc", "finished": finished}))
    return folder


def _resume_target(run: Path, kind: str, command: str) -> Path:
    """A folder ``--resume`` of ``command`` must refuse: ``config-only`` (a config.yaml and nothing else),
    ``finished-<command>``, ``other-settings`` (an unfinished run of ``command`` made with other settings) or
    another command's name (an unfinished run of that command)."""
    if kind == "config-only":
        run.mkdir()
        (run / "config.yaml").write_text("model: tiny\n")
        return run
    own = kind in (f"finished-{command}", "other-settings")
    return _fake_run(run, command if own else kind, finished=kind.startswith("finished"))


@pytest.mark.trains
@pytest.mark.parametrize("kind", ["finished-unlearn", "demo", "config-only", "other-settings"])
def test_unlearn_resume_accepts_only_an_unfinished_unlearn_run_of_the_same_settings(tmp_path, files, kind):
    run = _resume_target(tmp_path / "run", kind, "unlearn")
    before = _snapshot(tmp_path)
    result = runner.invoke(app, ["unlearn", "--model", str(files[2]), "--forget", str(files[0]), "--retain",
                                 str(files[1]), "--epochs", "1", "--resume", str(run)])
    _refused(result, "--resume")
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["finished-demo", "unlearn", "config-only"])
def test_demo_resume_refuses_finished_and_foreign_folders(tmp_path, kind):
    run = _resume_target(tmp_path / "run", kind, "demo")
    before = _snapshot(tmp_path)
    _refused(runner.invoke(app, ["demo", "--resume", str(run)]), "--resume")
    assert _snapshot(tmp_path) == before


@pytest.mark.trains
def test_exploded_weights_fail_the_run_and_save_no_model(tmp_path, files):
    """`--lr 1e30 --epochs 0.2`: the only step is the last; the loss was fine, the weights are not."""
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["unlearn", "--model", str(files[2]), "--forget", str(files[0]), "--retain",
                                 str(files[1]), "--lr", "1e30", "--epochs", "0.2", "--runs-dir", str(runs)])
    _refused(result, "after the last update")
    assert "nothing was saved as the model" in result.output
    assert not list(runs.rglob("model")) and not list(runs.rglob("*.safetensors"))


@pytest.mark.parametrize("which", ["graph", "vision"])
def test_bench_reports_escape_names(tmp_path, which):
    if which == "graph":
        from obliviate.graph.bench import write_graph_report as write

        row = {"dataset": "<script>d</script>", "task": "edge", "setting": "<script>s</script>",
               "method": "<script>m</script>", "runs": 1, "utility": 0.5, "deleted_auc": 0.5}
    else:
        from obliviate.vision.bench import write_vision_report as write

        row = {"method": "<script>m</script>", "runs": 1, "forget_acc_aligned": 0.5, "forget_acc_conflicting": 0.4}
    out = tmp_path / "<img src=x onerror=alert(1)>"
    out.mkdir()
    html = write(out, {"rows": [row], "n_runs": 1}).read_text()
    assert "<script>" not in html and "<img src=x" not in html and "&lt;script&gt;m&lt;/script&gt;" in html


def _train_cached(home: str, world_dir: str, marker: str) -> None:
    """One of two processes asking for the same cached model on an empty cache (counts trainings in ``marker``)."""
    os.environ["OBLIVIATE_HOME"] = home
    from obliviate import api
    from obliviate.llm import pipeline
    from tests.helpers import tiny_finetune_config

    real = pipeline.finetune

    def counted(*a, **kw):
        with open(marker, "a") as f:
            f.write(f"{os.getpid()}\n")
        return real(*a, **kw)

    pipeline.finetune = counted
    splits = api.load_world_splits(world_dir, "forget10")
    api.finetuned(api.TINY, splits.retain, tiny_finetune_config(epochs=2.0), role="locktest", world_dir=world_dir)


@pytest.mark.trains
def test_two_processes_on_an_empty_cache_train_once(tmp_path, world_dir):
    marker = tmp_path / "trained"
    # Two fresh interpreters, as two users' commands are. A forked copy of this process inherits its helper
    # threads' locks (pyarrow's jemalloc background thread, once a test has loaded it) and can hang at once.
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_train_cached, args=(str(tmp_path / "home"), str(world_dir), str(marker)))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0, 0]
    assert len(marker.read_text().splitlines()) == 1  # the second waited, then loaded the first one's model
    (cached,) = (tmp_path / "home" / "finetuned").glob("locktest-*")
    assert (cached / "config.json").is_file()
