"""QARecord and JSONL files: round trips and one-line errors with file:line."""

import json

import pytest

from obliviate.core.errors import DataError
from obliviate.llm.data.records import QARecord, load_jsonl, read_jsonl_dicts, save_jsonl

GOOD = {
    "id": "a/1",
    "entity": "Ada",
    "question": "Where was Ada born?",
    "answer": "She was born in Lisvara.",
    "paraphrased_question": "What is the birthplace of Ada?",
    "paraphrased_answer": "Her birthplace is Lisvara.",
    "perturbed_answers": ["She was born in Orlin.", "She was born in Saltmere."],
    "fact_type": "birthplace",
    "meta": {"value": "Lisvara"},
}


def write(tmp_path, *lines, name="qa.jsonl"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_round_trip(tmp_path):
    rec = QARecord.from_dict(GOOD)
    assert rec.to_dict() == GOOD
    records = [rec, QARecord.from_dict({**GOOD, "id": "a/2", "meta": {}})]
    path = save_jsonl(records, tmp_path / "sub" / "out.jsonl")
    assert load_jsonl(path) == records
    assert [p.name for p in path.parent.iterdir()] == ["out.jsonl"]  # no temp files left


def test_optional_id_and_meta(tmp_path):
    data = {k: v for k, v in GOOD.items() if k not in ("id", "meta")}
    path = write(tmp_path, "", json.dumps(data), json.dumps({**data, "id": "mine"}))
    first, second = load_jsonl(path)
    assert (first.id, first.meta) == ("qa-2", {})
    assert second.id == "mine"


def test_missing_field_names_field_and_line(tmp_path):
    data = {k: v for k, v in GOOD.items() if k != "answer"}
    path = write(tmp_path, json.dumps(GOOD), json.dumps(data))
    with pytest.raises(DataError) as err:
        load_jsonl(path)
    msg = str(err.value)
    assert f"{path}:2:" in msg and "missing field 'answer'" in msg and "\n" not in msg


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"perturbed_answers": "x"}, "list of strings"),
        ({"perturbed_answers": [1, 2]}, "list of strings"),
        ({"perturbed_answers": []}, "at least 1"),
        ({"question": 3}, "'question' must be a non-empty string"),
        ({"entity": "  "}, "'entity' must be a non-empty string"),
        ({"meta": [1]}, "'meta' must be a JSON object"),
        ({"id": None}, "'id'"),
    ],
)
def test_wrong_types(tmp_path, change, match):
    path = write(tmp_path, json.dumps({**GOOD, **change}))
    with pytest.raises(DataError, match=match) as err:
        load_jsonl(path)
    assert f"{path}:1:" in str(err.value)


def test_bad_json_and_non_object(tmp_path):
    path = write(tmp_path, json.dumps(GOOD), '{"entity": "Ada",')
    with pytest.raises(DataError, match=r"qa\.jsonl:2: bad JSON"):
        load_jsonl(path)
    with pytest.raises(DataError, match=r":1: expected a JSON object"):
        read_jsonl_dicts(write(tmp_path, "[1, 2]", name="list.jsonl"))


def test_empty_missing_duplicate(tmp_path):
    empty = write(tmp_path, "", "  ", name="empty.jsonl")
    with pytest.raises(DataError, match="empty file"):
        load_jsonl(empty)
    assert load_jsonl(empty, allow_empty=True) == []
    with pytest.raises(DataError, match="file not found"):
        load_jsonl(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match="folder"):
        load_jsonl(tmp_path)
    dup = write(tmp_path, json.dumps(GOOD), json.dumps(GOOD), name="dup.jsonl")
    with pytest.raises(DataError, match=r"dup\.jsonl:2: duplicate id 'a/1' \(first on line 1\)"):
        load_jsonl(dup)
