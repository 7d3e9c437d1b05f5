"""Stand-in benchmark folders: files in each published format, written by the test."""

import json

import pytest

from obliviate.llm.data.records import QARecord


def write_lines(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def write_array(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")


def write_parquet(path, rows):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)


def entities(records):
    return {r.entity for r in records}


def valid(records):
    """Every record passes the project's own record checks."""
    for r in records:
        assert QARecord.from_dict(r.to_dict(), r.id) == r


def words(prefix, n):
    return " ".join(f"{prefix}{i}" for i in range(n))
