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
