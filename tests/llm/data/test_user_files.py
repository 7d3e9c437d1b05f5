"""The user's own files: complete records or plain requests, the never-seen reference and the general set."""

from __future__ import annotations

import json

import pytest

from obliviate.core.errors import DataError
from obliviate.llm.data.facts import load_world_facts
from obliviate.llm.data.user_files import built_reference, load_records, request_splits, splits_from_files


def _lines(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


CAPITALS = [("France", "Paris"), ("Japan", "Tokyo"), ("Kenya", "Nairobi"), ("Peru", "Lima")]


@pytest.fixture()
def plain(tmp_path):
    forget = _lines(tmp_path / "forget.jsonl",
                    [{"question": f"What is the capital of {c}?", "answer": a} for c, a in CAPITALS])
    retain = _lines(tmp_path / "retain.jsonl", [{"question": "How many days are in a week?", "answer": "7"},
                                                {"question": "Who wrote Hamlet?", "answer": "Shakespeare"}])
    return forget, retain


def test_a_plain_request_gets_derived_fields_a_reference_and_an_untrained_general_set(plain):
    forget, retain = plain
    splits = splits_from_files(forget, retain)
    assert splits.request and len(splits.forget) == 4 and len(splits.retain) == 2
    assert all("paraphrased_question" in r.meta["derived"] for r in splits.forget)
    # the reference: the same questions about invented countries, never one of the request's
    assert len(splits.holdout) == 4 and all(r.meta["unseen"] for r in splits.holdout)
    assert not {r.entity for r in splits.holdout} & {c for c, _ in CAPITALS}
    assert all(r.question.startswith("What is the capital of ") for r in splits.holdout)
    # general knowledge: the shipped facts less every question that was trained (France and Japan are there)
    trained = {r.question.lower() for r in splits.forget + splits.retain}
    shipped = load_world_facts()
    assert any(r.question.lower() in trained for r in shipped)
    assert not any(r.question.lower() in trained for r in splits.world_facts)
    assert len(splits.world_facts) == len(shipped) - sum(r.question.lower() in trained for r in shipped)


def test_complete_records_keep_the_strict_loader(tmp_path, plain):
    forget, retain = plain
    complete = load_records(forget, "forget")
    assert not load_records(forget, "forget")[0].meta.get("unseen")
    strict = tmp_path / "strict.jsonl"
    strict.write_text("".join(json.dumps({**r.to_dict(), "meta": {}}) + "\n" for r in complete))
    again = load_records(strict, "forget")
    assert [r.meta for r in again] == [{}] * 4  # nothing derived, nothing marked
    assert not splits_from_files(strict, retain).request
    assert request_splits(strict, retain).request and len(request_splits(strict, retain).holdout) == 4


def test_bad_plain_files_name_file_line_and_field(tmp_path, plain):
    _, retain = plain
    bad = _lines(tmp_path / "bad.jsonl", [{"question": "What is the capital of Chad?"}])
    with pytest.raises(DataError, match=r"bad\.jsonl:1: missing field 'answer'"):
        splits_from_files(bad, retain)


def test_no_reference_from_text_passages(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(" ".join(f"w{i}" for i in range(80)))
    records = load_records(docs, "forget")
    assert records and built_reference(records) == []  # passages name no entity to swap: the user gives --unseen
