"""Finding and reading benchmark files: JSON (an array or JSON lines), JSONL and parquet.

Every row keeps its location for error messages: ``/data/x.json:3`` is line 3
of a JSON-lines file, ``/data/x.json[3]`` item 3 (from 0) of a JSON array or
of a parquet file. Nothing here touches the network; parquet needs
``pyarrow``, imported only when a parquet file is read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obliviate.core.errors import DataError
from obliviate.llm.data.records import read_text

TABLE_SUFFIXES = (".json", ".jsonl", ".parquet")


@dataclass(frozen=True)
class Row:
    """One decoded record and where it came from (``file:line`` or ``file[index]``)."""

    where: str
    value: Any


def open_folder(folder: str | os.PathLike, benchmark: str, expects: str) -> Path:
    """The benchmark folder as an absolute path.

    Raises:
        DataError: It does not exist or is not a folder; the message says which
            files the format expects.
    """
    path = Path(folder).expanduser().absolute()
    if not path.exists():
        raise DataError(f"{path}: no such folder; a {benchmark} folder holds {expects}")
    if not path.is_dir():
        raise DataError(f"{path}: not a folder; a {benchmark} folder holds {expects}")
    return path


def table_patterns(name: str) -> tuple[str, ...]:
    """Where a table called ``name`` may be: ``name.json|.jsonl|.parquet`` or parquet shards in ``name/``."""
    return (f"{name}.json", f"{name}.jsonl", f"{name}.parquet", f"{name}/*.parquet", f"{name}/train/*.parquet")


def find(folder: Path, *patterns: str) -> list[Path] | None:
    """The files of the first pattern that matches (shards of a glob sorted by name), else ``None``."""
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            hits = sorted(p for p in folder.glob(pattern) if p.is_file())
            if hits:
                return hits
        elif (folder / pattern).is_file():
            return [folder / pattern]
    return None


def require(folder: Path, *patterns: str) -> list[Path]:
    """Like :func:`find`, but a missing file is an error naming the first pattern's path."""
    files = find(folder, *patterns)
    if files is None:
        also = f" (also looked for {', '.join(patterns[1:])})" if len(patterns) > 1 else ""
        raise DataError(f"{folder / patterns[0]}: file not found{also}")
    return files


def read_rows(files: list[Path], allow_empty: bool = False) -> list[Row]:
    """Every record of ``files`` in order (shards concatenated).

    Raises:
        DataError: A file is unreadable or malformed, or (unless ``allow_empty``) holds no record.
    """
    rows = [row for path in files for row in _read_table(path)]
    if not rows and not allow_empty:
        raise DataError(f"{files[0]}: no records")
    return rows


def read_json(path: Path) -> Any:
    """One JSON document (the whole file)."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: bad JSON ({e.msg} at column {e.colno})") from None


def _read_table(path: Path) -> list[Row]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(path)
    if suffix not in (".json", ".jsonl"):
        raise DataError(f"{path}: unsupported file type {suffix!r}; expected {', '.join(TABLE_SUFFIXES)}")
    text = read_text(path)
    if suffix == ".json" and text.lstrip().startswith("["):
        items = read_json(path)
        return [Row(f"{path}[{i}]", item) for i, item in enumerate(items)]
    rows = []
    for lineno, line in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 is valid inside JSON
        if not line.strip():
            continue
        try:
            rows.append(Row(f"{path}:{lineno}", json.loads(line)))
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{lineno}: bad JSON ({e.msg} at column {e.colno})") from None
    return rows


def _read_parquet(path: Path) -> list[Row]:
    try:
        # deferred: loads pyarrow
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading parquet needs pyarrow, which is not installed: pip install pyarrow") from None
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path}: not a readable parquet file ({e})") from None
    return [Row(f"{path}[{i}]", item) for i, item in enumerate(table.to_pylist())]
