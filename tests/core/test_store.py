import json

import pytest

from obliviate.core.store import atomic_dir, atomic_write_json, stable_hash


def test_atomic_write_replaces_whole_file(tmp_path):
    path = atomic_write_json(tmp_path / "a" / "m.json", {"x": 1})
    atomic_write_json(path, {"x": 2})
    assert json.loads(path.read_text()) == {"x": 2}
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]  # no temp files left


def test_atomic_dir_keeps_old_folder_on_crash(tmp_path):
    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "w").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "w").write_text("half")
            raise RuntimeError("crash while saving")
    assert (target / "w").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_stable_hash_ignores_key_order():
    assert stable_hash({"a": 1, "b": 2}) == stable_hash({"b": 2, "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


# ---------------------------------------------------------------- issue 21: leftovers, concurrency, modes

import multiprocessing  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from obliviate.core.errors import ObliviateError  # noqa: E402
from obliviate.core.store import (  # noqa: E402
    _tag,
    atomic_write_bytes,
    check_resume,
    clean_stale_temps,
    new_run_dir,
    open_out_dir,
    rewrite_jsonl,
)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_killed_writers_temps_are_cleaned_at_the_next_write_and_a_live_ones_kept(tmp_path):
    host = _tag().split("-")[0]
    dead = tmp_path / f".model.{host}-{_dead_pid()}-abcd1234.tmp"
    dead.mkdir()
    (dead / "half.safetensors").write_text("half")
    dead_file = tmp_path / f".m.json.{host}-{_dead_pid()}-k2j3h4g5.tmp"
    dead_file.write_text("{")
    legacy = tmp_path / ".model.ab12cd34.tmp"  # an older version's mkdtemp name
    legacy.mkdir()
    live = tmp_path / f".model.{_tag()}-zzzz9999.tmp"  # this process: a writer still at work
    live.mkdir()
    mine = tmp_path / "notes.tmp"  # not one of our patterns
    mine.write_text("keep")
    with atomic_dir(tmp_path / "model") as tmp:
        (tmp / "w").write_text("new")
    atomic_write_json(tmp_path / "m.json", {"x": 1})
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["model", "m.json", live.name, "notes.tmp"])


def test_clean_stale_temps_of_a_whole_run_folder(tmp_path):
    host = _tag().split("-")[0]
    (tmp_path / f".checkpoint.{host}-{_dead_pid()}-q1w2e3r4.tmp").mkdir()
    (tmp_path / f".model.{host}-{_dead_pid()}-q1w2e3r4.old").mkdir()
    (tmp_path / "events.jsonl").write_text("")
    removed = clean_stale_temps(tmp_path)
    assert len(removed) == 2 and [p.name for p in tmp_path.iterdir()] == ["events.jsonl"]


def _writer(path: str, n: int, errors) -> None:
    try:
        for i in range(n):
            with atomic_dir(path) as tmp:
                for j in range(3):
                    (tmp / f"f{j}").write_text(f"{os.getpid()}-{i}")
    except BaseException as e:  # noqa: BLE001
        errors.put(repr(e))


def test_concurrent_atomic_dir_writers_never_crash(tmp_path):
    """4 processes x 150 replacements of one folder (before: 6 crashes in 600)."""
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    target = tmp_path / "model"
    procs = [ctx.Process(target=_writer, args=(str(target), 150, errors)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    crashes = []
    while not errors.empty():
        crashes.append(errors.get())
    assert crashes == [] and [p.exitcode for p in procs] == [0, 0, 0, 0]
    contents = {(target / f"f{j}").read_text() for j in range(3)}
    assert len(contents) == 1  # one writer's complete folder, never a mix
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temp or .old left


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_written_files_and_folders_honour_the_umask(tmp_path, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        f = atomic_write_bytes(tmp_path / "a.json", b"{}")
        with atomic_dir(tmp_path / "model") as tmp:
            (tmp / "w").write_text("x")
        run = new_run_dir(tmp_path / "runs", "demo", command="demo", settings={"a": 1})
    finally:
        os.umask(old)
    assert f.stat().st_mode & 0o777 == file_mode
    assert (tmp_path / "model").stat().st_mode & 0o777 == dir_mode
    assert (tmp_path / "model" / "w").stat().st_mode & 0o777 == file_mode
    assert run.stat().st_mode & 0o777 == dir_mode and (run / "run.json").stat().st_mode & 0o777 == file_mode


def test_rewrite_jsonl_drops_replayed_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3, 4, 5)))
    assert rewrite_jsonl(path, lambda e: e["step"] <= 3) == 2
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2, 3]


def test_run_folder_claims(tmp_path):
    run = new_run_dir(tmp_path, "unlearn", command="unlearn", settings={"lr": 1})
    assert check_resume(run, "unlearn", {"lr": 1})["command"] == "unlearn"
    with pytest.raises(ObliviateError, match="other settings"):
        check_resume(run, "unlearn", {"lr": 2})
    with pytest.raises(ObliviateError, match="not an interrupted 'demo' run"):
        check_resume(run, "demo")
    assert open_out_dir(tmp_path / "new", "world", {"n": 1}) is False  # new: made and marked
    assert open_out_dir(tmp_path / "new", "world", {"n": 1}) is True  # unfinished, same settings: resumed
    with pytest.raises(ObliviateError, match="other settings"):
        open_out_dir(tmp_path / "new", "world", {"n": 2})
