"""Forget/retain/holdout splits: disjoint, nested, neighbours, files round trip; the validation split."""

import json

import pytest

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm import bench as b
from obliviate.llm.data import (
    FORGET_VARIANTS,
    load_jsonl,
    load_splits,
    load_world,
    load_world_facts,
    make_splits,
    save_jsonl,
    save_world,
    split_entities,
    splits_from_files,
)
from obliviate.llm.data.splits import names_any
from obliviate.llm.data.world import generate_world

WORLD = generate_world(30, seed=0)


def entities(records):
    return {r.entity for r in records}


@pytest.mark.parametrize("seed", range(8))
def test_roles_disjoint_nested_and_sized(seed):
    world = generate_world(30, seed)
    everyone = {e.name for e in world.entities}
    forgets = []
    for variant in FORGET_VARIANTS:
        roles = split_entities(world, variant)
        f, r, h = set(roles.forget), set(roles.retain), set(roles.holdout)
        assert not (f & r or f & h or r & h) and f | r | h == everyone
        assert len(f) >= 2 and len(h) == 6  # 20% of 30
        forgets.append(roles.forget)
    assert forgets[0] == forgets[1][: len(forgets[0])] and forgets[1] == forgets[2][: len(forgets[1])]
    assert len(forgets[2]) == 3  # ceil(10% of 24 trained)


@pytest.mark.parametrize("seed", range(8))
def test_forget_entities_keep_a_retained_neighbour(seed):
    world = generate_world(30, seed)
    roles = split_entities(world, "forget10")
    for name in roles.forget:
        assert set(world.neighbours(name)) & set(roles.retain), name


def test_record_splits_match_roles_and_neighbours():
    splits = make_splits(WORLD, "forget10")
    roles = split_entities(WORLD, "forget10")
    assert entities(splits.forget) == set(roles.forget)
    assert entities(splits.retain) == set(roles.retain)
    assert entities(splits.holdout) == set(roles.holdout)
    assert splits.world_facts == load_world_facts()
    assert splits.neighbours and all(r in splits.retain for r in splits.neighbours)
    related = {nb for f in roles.forget for nb in WORLD.neighbours(f)}
    assert entities(splits.neighbours) == related & set(roles.retain)
    hidden = set(roles.holdout)  # holdout names never appear in trained records
    for rec in splits.forget + splits.retain:
        assert not any(h in rec.answer or h in rec.question for h in hidden)


def test_deterministic_and_seeded():
    assert make_splits(WORLD, world_facts=[]) == make_splits(WORLD, world_facts=[])
    assert split_entities(WORLD, seed=1) != split_entities(WORLD, seed=2)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="variant"):
        split_entities(WORLD, "forget50")
    with pytest.raises(ConfigError, match="holdout_fraction"):
        split_entities(WORLD, holdout_fraction=1.5)
    with pytest.raises(ConfigError, match="too small"):
        split_entities(generate_world(4, 0))
    small = split_entities(generate_world(5, 0))
    assert (len(small.forget), len(small.retain), len(small.holdout)) == (2, 1, 2)


def test_save_load_round_trip(tmp_path):
    save_world(WORLD, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {
        "world.json", "qa_all.jsonl", "holdout.jsonl", "forget01.jsonl", "retain99.jsonl",
        "forget05.jsonl", "retain95.jsonl", "forget10.jsonl", "retain90.jsonl",
        "probes-forget01", "probes-forget05", "probes-forget10",
    }  # fmt: skip
    assert load_world(tmp_path / "world.json") == WORLD
    for variant in FORGET_VARIANTS:
        assert load_splits(tmp_path, variant) == make_splits(WORLD, variant)
        loaded = load_splits(tmp_path, variant)
        assert {r.id for r in loaded.forget + loaded.retain} == {
            r.id for r in load_jsonl(tmp_path / "qa_all.jsonl")
        }
    files = {"forget": tmp_path / "forget05.jsonl", "retain": tmp_path / "retain95.jsonl"}
    assert load_splits(files).forget == make_splits(WORLD, "forget05").forget
    with pytest.raises(ConfigError, match="'forget' and 'retain'"):
        load_splits({"forget": files["forget"]})
    with pytest.raises(DataError, match="not a folder"):
        load_splits(tmp_path / "nope")
    (tmp_path / "world.json").write_text("{", encoding="utf-8")
    with pytest.raises(DataError, match="bad JSON"):
        load_world(tmp_path / "world.json")


def test_user_files(tmp_path):
    splits = make_splits(WORLD, world_facts=[])
    save_jsonl(splits.forget, tmp_path / "f.jsonl")
    save_jsonl(splits.retain, tmp_path / "r.jsonl")
    mine = splits_from_files(tmp_path / "f.jsonl", tmp_path / "r.jsonl")
    assert (mine.forget, mine.retain, mine.holdout) == (splits.forget, splits.retain, [])
    assert mine.neighbours == splits.neighbours and mine.world_facts == load_world_facts()

    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="forget split names no entity: .*empty.jsonl"):
        splits_from_files(tmp_path / "empty.jsonl", tmp_path / "r.jsonl")

    save_jsonl(splits.retain + splits.forget[:1], tmp_path / "r2.jsonl")
    with pytest.warns(UserWarning, match="1 entities are in both"):
        splits_from_files(tmp_path / "f.jsonl", tmp_path / "r2.jsonl")

    lines = (tmp_path / "f.jsonl").read_text().splitlines()
    broken = json.loads(lines[1])
    del broken["question"]
    (tmp_path / "f.jsonl").write_text("\n".join([lines[0], json.dumps(broken)]) + "\n")
    with pytest.raises(DataError, match=r"f\.jsonl:2: missing field 'question'"):
        splits_from_files(tmp_path / "f.jsonl", tmp_path / "r.jsonl")


def test_validation_split_is_apart_from_every_reported_forget_set():
    from obliviate.llm.data import generate_world
    from obliviate.llm.data.splits import make_splits, split_entities, validation_entities, validation_splits

    for n, seed in ((16, 0), (25, 0), (40, 1)):
        world = generate_world(n, seed)
        reported = split_entities(world, "forget10", 0.2, seed)
        people = validation_entities(world, 0.2, seed)
        assert len(people) == len(reported.forget)  # the size of forget10
        near = set(reported.forget) | {nb for f in reported.forget for nb in world.neighbours(f)}
        assert not near & set(people) and set(people) <= set(reported.retain)
        s = validation_splits(world, 0.2, seed, world_facts=[])
        assert {r.entity for r in s.forget} == set(people)
        assert not {r.entity for r in s.retain} & (set(people) | set(reported.forget))
        assert s.retain and s.holdout and s.neighbours
        assert not any(names_any(r, reported.forget) for r in s.forget + s.retain + s.holdout)
        plain = make_splits(world, "forget10", 0.2, seed, world_facts=[]).retain
        assert any(names_any(r, reported.forget) for r in plain)  # the filter has something to remove
    with pytest.raises(b.ConfigError, match="validation split of 9"):
        validation_entities(generate_world(16, 0), 0.2, 0, count=9)
