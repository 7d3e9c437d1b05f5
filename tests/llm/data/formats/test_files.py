"""Reading a benchmark folder (``obliviate.llm.data.formats.files``): missing folders and unreadable parquet."""

import importlib.util
import sys

import pytest

from obliviate.core.errors import DataError
from obliviate.llm.data.formats import load_benchmark


@pytest.mark.parametrize("name,expected,options", [
    ("tofu", "forget10_perturbed.json", {}), ("muse", "raw/forget", {"subset": "news"}), ("wmdp", "wmdp-bio", {}),
    ("blur", "_paired_forget_retain.json", {}), ("faithun", "FaithUnBench.json", {}),
])  # fmt: skip
def test_missing_folder_says_what_the_format_expects(tmp_path, name, expected, options):
    with pytest.raises(DataError) as e:
        load_benchmark(name, tmp_path / "nowhere", **options)
    assert f"{tmp_path / 'nowhere'}: no such folder" in str(e.value) and expected in str(e.value)
    with pytest.raises(DataError, match="not found"):
        load_benchmark(name, tmp_path, **options)  # an empty folder


def test_parquet_without_pyarrow_or_unreadable_says_what_to_do(tmp_path, monkeypatch):
    shard = tmp_path / "wmdp-bio" / "test-00000-of-00001.parquet"
    shard.parent.mkdir()
    shard.write_bytes(b"not parquet")
    if importlib.util.find_spec("pyarrow") is not None:
        with pytest.raises(DataError, match=f"{shard}: not a readable parquet file"):
            load_benchmark("wmdp", tmp_path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed
    with pytest.raises(DataError, match=f"{shard}: reading parquet needs pyarrow.*pip install pyarrow"):
        load_benchmark("wmdp", tmp_path)
