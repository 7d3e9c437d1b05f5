"""Files on disk: atomic writes, the cache home, run folders and their locks.

Every result is written to a temporary file in the same folder and moved into
place with :func:`os.replace`, so a crash never leaves a half-written file.

* **Temporary names** carry their writer: ``.<name>.<host>-<pid>-<random>.tmp``
  (and ``.old`` for a folder being replaced). A temp left by a killed writer
  (its process is gone) is removed the next time anything is written to that
  name (:func:`clean_stale_temps`); a live writer's temp is never touched.
* **Modes** honour the umask as ``open``/``mkdir`` do: files ``0o666 & ~umask``
  (0644 under the usual 022), folders ``0o777 & ~umask`` (0755), not the 0600 /
  0700 of ``mkstemp`` / ``mkdtemp``.
* **Run folders** record their kind in ``run.json``: ``{"command", "settings_hash",
  "finished"}``. A command writes only into a folder that is new, or that the
  same command made for the same settings and did not finish
  (:func:`open_out_dir`, :func:`check_resume`); anything else is refused with one
  line before any work.
* **Locks** (the ``filelock`` package, lock files under ``<cache>/locks/``):
  :func:`locked` makes a second process wait while the first builds a cached
  model or world, then reuse it; a claimed run folder is locked for the life of
  the process, so two processes never write one run.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from obliviate.core.errors import ObliviateError
from obliviate.core.progress import log

RUN_FILE = "run.json"


def git_sha() -> str:
    """The commit of the code that runs (empty outside a git checkout)."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent).stdout.strip()
    except Exception:
        return ""


def cache_home() -> Path:
    """``$OBLIVIATE_HOME`` or ``~/.cache/obliviate``."""
    home = os.environ.get("OBLIVIATE_HOME")
    path = Path(home) if home else Path.home() / ".cache" / "obliviate"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------- modes and temporary names


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (``os.umask`` sets it to read it)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode(is_dir: bool) -> int:
    """The mode ``open`` / ``mkdir`` would give under the current umask (0644 / 0755 under 022)."""
    return (0o777 if is_dir else 0o666) & ~_umask()


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _tag() -> str:
    """``<host>-<pid>``: who writes a temporary file (so a dead writer's leftovers can be told apart)."""
    return f"{_host()}-{os.getpid()}"


_TAGGED = re.compile(r"^\.(?P<name>.+)\.(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[\w.-]+\.(?:tmp|old)$")
_LEGACY = re.compile(r"^\.(?P<name>.+)\.(?:[a-z0-9_]{8}\.tmp|old)$")  # mkstemp/mkdtemp names before tags
STALE_OTHER_HOST_S = 24 * 3600  # a temp of another machine (shared disk) is left alone for a day


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _stale(entry: Path, name: str | None) -> bool:
    """Whether ``entry`` is one of our temporary names (for ``name``, or any) whose writer is gone."""
    m = _TAGGED.match(entry.name)
    if m:
        if name is not None and m["name"] != name:
            return False
        if m["host"] == _host():
            return not _alive(int(m["pid"]))
        try:
            age = _dt.datetime.now().timestamp() - entry.lstat().st_mtime
        except FileNotFoundError:
            return False
        return age > STALE_OTHER_HOST_S
    m = _LEGACY.match(entry.name)
    return bool(m) and name is not None and m["name"] == name


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def clean_stale_temps(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove temporary files/folders of killed writers in ``folder`` (of ``name``, or of every name).

    Only our own patterns are touched: ``.<name>.<host>-<pid>-<random>.tmp|.old``
    whose process is gone (another machine's: after a day), and, for a given
    ``name``, the untagged ``.<name>.XXXXXXXX.tmp`` / ``.<name>.old`` of older
    versions. Returns what was removed.
    """
    folder = Path(folder)
    removed = []
    try:
        entries = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        if entry.name.startswith(".") and _stale(entry, name):
            _remove(entry)
            removed.append(entry)
    return removed


# ---------------------------------------------------------------- atomic writes


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + rename), mode ``0o666 & ~umask``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_tag()}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), default_mode(False))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (temp file + rename)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as pretty JSON atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


_SWAP_TRIES = 1000


def _swap_in(tmp: Path, path: Path) -> None:
    """Move the finished folder ``tmp`` to ``path``, moving any folder there aside first.

    Safe with several writers of one ``path``: each moves the current folder to
    its own ``.old`` name and retries when another writer got in between, so
    the last writer wins and none fails.
    """
    olds = []
    try:
        for _ in range(_SWAP_TRIES):
            try:
                os.rename(tmp, path)  # succeeds when nothing (or an empty folder) is there
                return
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                    raise
            old = path.with_name(f".{path.name}.{_tag()}-{uuid.uuid4().hex[:8]}.old")
            try:
                os.rename(path, old)
            except FileNotFoundError:
                continue  # another writer moved it first
            olds.append(old)
        raise OSError(f"could not move {tmp} to {path}: other writers kept replacing it")
    finally:
        for old in olds:
            _remove(old)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` only if the block succeeds.

    Used for model folders: a crash while saving leaves the old folder (or none),
    never a half-written one. Several processes may write one ``path`` at once
    (the last one wins); a killed writer's temporary folder is removed by the
    next write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path.parent, path.name)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.{_tag()}-", suffix=".tmp"))
    try:
        os.chmod(tmp, default_mode(True))
        yield tmp
        _swap_in(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def rewrite_jsonl(path: str | os.PathLike, keep: Callable[[dict], bool]) -> int:
    """Keep only the lines of a JSONL file for which ``keep(record)`` holds (rewritten atomically).

    Resuming a run drops the log lines written after its checkpoint, so the
    replayed steps are not logged twice. Returns the number of lines dropped.
    """
    path = Path(path)
    if not path.is_file():
        return 0
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = [line for line in lines if keep(json.loads(line))]
    if len(kept) != len(lines):
        atomic_write_text(path, "".join(line + "\n" for line in kept))
    return len(lines) - len(kept)


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON line (event logs; each line is flushed)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, default=str) + "\n")
        f.flush()


def stable_hash(obj: Any, length: int = 12) -> str:
    """A short hex digest of a JSON-serialisable object (key order ignored)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


# ---------------------------------------------------------------- locks


def lock_file(path: str | os.PathLike) -> Path:
    """The lock file guarding ``path`` (under ``<cache>/locks/``, so nothing is added beside ``path``)."""
    folder = cache_home() / "locks"
    folder.mkdir(exist_ok=True)
    return folder / f"{stable_hash(str(Path(path).resolve()), 16)}.lock"


@contextlib.contextmanager
def locked(path: str | os.PathLike, what: str = "") -> Iterator[None]:
    """Hold the lock of ``path`` for a block; another process holding it is waited for (logged).

    Used around building a cached model or world: the second process waits,
    then finds the first one's result and reuses it.
    """
    # deferred: loads filelock
    from filelock import FileLock, Timeout

    if str(Path(path).resolve()) in _claimed:  # this process already holds it as its run folder
        yield
        return
    lock = FileLock(str(lock_file(path)))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log(f"waiting for another process building {what or path}")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


_claimed: dict[str, Any] = {}  # run folders this process holds (released at exit or when finished)


def _claim(path: Path) -> None:
    """Lock run folder ``path`` for this process (until :func:`finish_run` or exit); refuse if another holds it."""
    # deferred: loads filelock, torch
    from filelock import FileLock, Timeout

    from obliviate.core import dist

    key = str(path.resolve())
    if key in _claimed or not dist.is_main():
        return
    lock = FileLock(str(lock_file(path)))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ObliviateError(f"{path} is in use by another obliviate process; wait for it to end") from None
    _claimed[key] = lock


def _release(path: Path) -> None:
    lock = _claimed.pop(str(path.resolve()), None)
    if lock is not None:
        lock.release()


# ---------------------------------------------------------------- run folders


def run_info(path: str | os.PathLike) -> dict[str, Any] | None:
    """``run.json`` of a run folder (kind, settings hash, finished), or None when there is none."""
    file = Path(path) / RUN_FILE
    if not file.is_file():
        return None
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return info if isinstance(info, dict) else None


def run_record(command: str, settings: Any = None, finished: bool = False) -> dict[str, Any]:
    """What ``run.json`` holds."""
    return {"command": command, "settings_hash": None if settings is None else stable_hash(settings, 16),
            "finished": finished}


def start_run(path: str | os.PathLike, command: str, settings: Any = None) -> Path:
    """Mark ``path`` as a run of ``command`` with ``settings``, not finished (``run.json``); lock it."""
    path = Path(path)
    _claim(path)
    atomic_write_json(path / RUN_FILE, run_record(command, settings))
    return path


def finish_run(path: str | os.PathLike, *, into: str | os.PathLike | None = None, **extra: Any) -> None:
    """Mark the run in ``path`` finished (``run.json``) and release its lock.

    ``into``: write the finished ``run.json`` there instead (the temporary folder
    of an :func:`atomic_dir` about to replace ``path``).
    """
    path = Path(path)
    info = run_info(path) or {}
    atomic_write_json(Path(into or path) / RUN_FILE, {**info, **extra, "finished": True})
    _release(path)


def _describe(info: dict[str, Any] | None) -> str:
    if info is None:
        return "no obliviate run folder (no run.json)"
    return f"a {'finished' if info.get('finished') else 'unfinished'} {info.get('command')!r} run"


def check_resume(path: str | os.PathLike, command: str, settings: Any = None) -> dict[str, Any]:
    """Accept ``path`` for ``--resume`` only if it is an unfinished run of ``command`` (and ``settings``).

    A finished run, another command's folder, a folder without ``run.json``
    (e.g. one holding only a config.yaml) or other settings are refused with an
    :class:`~obliviate.core.errors.ObliviateError` before anything is written.
    Otherwise the folder is locked for this process and temporary files of a
    killed writer in it are removed. ``settings=None`` skips the settings check.
    """
    path = Path(path)
    if not path.is_dir():
        raise ObliviateError(f"--resume {path}: no such run folder")
    info = run_info(path)
    if info is None or info.get("command") != command:
        raise ObliviateError(f"--resume {path}: it is {_describe(info)}, not an interrupted {command!r} run; "
                             "nothing was changed")
    if info.get("finished"):
        raise ObliviateError(f"--resume {path}: this {command!r} run is finished, there is nothing to resume "
                             "(start a new run); nothing was changed")
    if settings is not None and info.get("settings_hash") != run_record(command, settings)["settings_hash"]:
        raise ObliviateError(f"--resume {path}: the run was started with other settings; resume it with the "
                             "same options; nothing was changed")
    _claim(path)
    clean_stale_temps(path)
    return info


def _holds_something(path: Path) -> bool:
    """Whether ``--out path`` is a folder with something in it (False: missing or empty); a file is refused."""
    if path.exists() and not path.is_dir():
        raise ObliviateError(f"--out {path} is a file, not a folder; choose a new folder")
    return path.is_dir() and any(path.iterdir())


def open_out_dir(path: str | os.PathLike, command: str, settings: Any = None, *,
                 reuse_finished: bool = False) -> bool:
    """Prepare ``--out FOLDER`` for ``command``: True when it continues an earlier run there.

    Accepted: a missing or empty folder (made and marked as a new run of
    ``command``), or a folder ``command`` made for the same ``settings`` that
    is not finished (resumed; with ``reuse_finished``, finished too: re-running
    a bench skips its finished work). Anything else (a file, a finished run,
    another command's run, other settings, a folder obliviate did not make) is
    refused with one line, before any work, nothing changed.
    """
    path = Path(path)
    if not _holds_something(path):
        path.mkdir(parents=True, exist_ok=True)
        start_run(path, command, settings)
        return False
    info = run_info(path)
    same = info is not None and info.get("command") == command
    if same and settings is not None and info.get("settings_hash") != run_record(command, settings)["settings_hash"]:
        raise ObliviateError(f"--out {path} holds a {command!r} run with other settings; it is not overwritten: "
                             "choose a new --out or delete it")
    if not same or (info.get("finished") and not reuse_finished):
        raise ObliviateError(f"--out {path} exists and is {_describe(info)}; it is not overwritten: choose a new "
                             "--out or delete it")
    _claim(path)
    clean_stale_temps(path)
    return True


def open_shared_out_dir(path: str | os.PathLike, command: str, marker: str) -> bool:
    """Prepare the ``--out FOLDER`` of a bench-like command that resumes and that several processes may
    share (disjoint method subsets): True when it continues an earlier one.

    Accepted: a missing or empty folder, or one holding ``marker`` (the settings file that ``command``
    writes first, e.g. ``bench.yaml``). Anything else (a file, a model or run folder, another
    command's output) is refused with one line before any work, nothing changed. No lock is held: the
    commands skip work another process on the same folder has finished.
    """
    path = Path(path)
    if _holds_something(path):
        if not (path / marker).is_file():
            raise ObliviateError(f"--out {path} exists and is not a {command!r} folder (no {marker}); it is not "
                                 "written into: choose a new --out or delete it")
        clean_stale_temps(path)
        return True
    path.mkdir(parents=True, exist_ok=True)
    return False


def check_own_folder(path: str | os.PathLike, option: str, marker: str, what: str) -> None:
    """Refuse an output folder that a command replaces as a whole (e.g. ``lens --out``) unless it is
    missing, empty, or that command's own earlier output (it holds ``marker``): a folder the command did
    not make is never replaced. Nothing is created or changed."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ObliviateError(f"{option} {path} is a file, not a folder; choose a new folder")
    if path.is_dir() and any(path.iterdir()) and not (path / marker).is_file():
        raise ObliviateError(f"{option} {path} exists and is not {what} (no {marker}); it is not replaced: "
                             f"choose a new {option} or delete it")


WRITTEN_BY = "written_by"  # the key that marks a JSON file as a command's own output


def check_own_file(path: str | os.PathLike, option: str, command: str) -> None:
    """Refuse an output file that exists and was not written by ``command`` (a JSON object whose
    ``written_by`` is ``obliviate <command>``, or a page with that ``written_by`` meta tag): re-running a
    command replaces its own result, never a file it did not write. Nothing is changed."""
    path = Path(path)
    if not path.exists() or path.is_dir():  # a folder is refused by check_writable with its own message
        return
    try:
        text = path.read_text(encoding="utf-8")
        obj = json.loads(text) if path.suffix != ".html" else None
    except (OSError, UnicodeDecodeError, ValueError):
        text, obj = "", None
    ours = (f'<meta name="{WRITTEN_BY}" content="obliviate {command}">' in text if path.suffix == ".html"
            else isinstance(obj, dict) and obj.get(WRITTEN_BY) == f"obliviate {command}")
    if not ours:
        raise ObliviateError(f"{option} {path} exists and was not written by `obliviate {command}`; it is not "
                             f"overwritten: choose a new {option} or delete it")


def new_run_dir(runs_dir: str | os.PathLike, name: str, *, command: str | None = None,
                settings: Any = None) -> Path:
    """Create ``runs_dir/<timestamp>-<name>`` (unique) and return it.

    With ``command`` the folder is marked (``run.json``: the command and a hash
    of ``settings``, not finished) and locked, so ``--resume`` can tell it apart.
    In a multi-process run process 0 creates it and every process gets its path.
    """
    # deferred: loads torch
    from obliviate.core import dist

    if dist.distributed():
        made = str(_new_run_dir(runs_dir, name, command, settings)) if dist.is_main() else None
        return Path(dist.broadcast(made))
    return _new_run_dir(runs_dir, name, command, settings)


def _new_run_dir(runs_dir: str | os.PathLike, name: str, command: str | None, settings: Any) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(runs_dir) / f"{stamp}-{name}"
    path, i = base, 1
    while True:
        try:
            path.mkdir(parents=True)  # exist_ok=False: two processes never get the same folder
            break
        except FileExistsError:
            path = base.with_name(f"{base.name}-{i}")
            i += 1
    if command is not None:
        start_run(path, command, settings)
    return path

