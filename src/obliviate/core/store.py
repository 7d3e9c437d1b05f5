"""Files on disk: atomic writes, the cache home and run folders.

Every result is written to a temporary file in the same folder and moved into
place with :func:`os.replace`, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def cache_home() -> Path:
    """``$OBLIVIATE_HOME`` or ``~/.cache/obliviate``."""
    home = os.environ.get("OBLIVIATE_HOME")
    path = Path(home) if home else Path.home() / ".cache" / "obliviate"
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
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


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` only if the block succeeds.

    Used for model folders: a crash while saving leaves the old folder (or none),
    never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def stable_hash(obj: Any, length: int = 12) -> str:
    """A short hex digest of a JSON-serialisable object (key order ignored)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def new_run_dir(runs_dir: str | os.PathLike, name: str) -> Path:
    """Create ``runs_dir/<timestamp>-<name>`` (unique) and return it.

    In a multi-process run process 0 creates it and every process gets its path.
    """
    from obliviate.core import dist

    if dist.distributed():
        made = str(_new_run_dir(runs_dir, name)) if dist.is_main() else None
        return Path(dist.broadcast(made))
    return _new_run_dir(runs_dir, name)


def _new_run_dir(runs_dir: str | os.PathLike, name: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(runs_dir) / f"{stamp}-{name}"
    path, i = base, 1
    while path.exists():
        path = base.with_name(f"{base.name}-{i}")
        i += 1
    path.mkdir(parents=True)
    return path


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON line (event logs; each line is flushed)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, default=str) + "\n")
        f.flush()
