"""generate_world: determinism, names, relation graph shape, serialisation."""

import random

import pytest

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.data import world as W
from obliviate.llm.data.world import SYMMETRIC_KINDS, World, generate_world

SIZES = (4, 5, 9, 30, 120)


def test_same_seed_same_world_other_seed_other_world():
    assert generate_world(30, seed=7).to_dict() == generate_world(30, seed=7).to_dict()
    a, b = generate_world(30, seed=7), generate_world(30, seed=8)
    assert [e.name for e in a.entities] != [e.name for e in b.entities]
    assert a.relations != b.relations


def test_does_not_touch_global_random():
    random.seed(123)
    expected = random.random()
    random.seed(123)
    generate_world(30, seed=1)
    assert random.random() == expected


@pytest.mark.parametrize("n", SIZES)
def test_names_unique_two_words(n):
    for seed in range(5):
        names = [e.name for e in generate_world(n, seed).entities]
        assert len(names) == n == len(set(names))
        assert all(len(name.split()) == 2 for name in names)


@pytest.mark.parametrize("n", SIZES)
def test_every_entity_has_one_to_three_relations(n):
    for seed in range(20):
        world = generate_world(n, seed)
        for e in world.entities:
            assert 1 <= len(world.relations_of(e.name)) <= 3, (seed, e.name)


def test_relation_directions():
    for seed in range(20):
        world = generate_world(30, seed)
        edges = {(r.kind, r.source, r.target) for r in world.relations}
        assert len(edges) == len(world.relations)  # no duplicates
        for kind, a, b in edges:
            assert a != b
            if kind in SYMMETRIC_KINDS:
                assert (kind, b, a) in edges
            else:
                assert kind == "mentor" and (kind, b, a) not in edges
                assert world.entity(a).birth_year < world.entity(b).birth_year
        for e in world.entities:
            for other in world.neighbours(e.name):
                assert e.name in world.neighbours(other)


def test_all_relation_kinds_occur():
    kinds = {r.kind for seed in range(5) for r in generate_world(30, seed).relations}
    assert kinds == set(W.RELATION_KINDS)


def test_siblings_share_family():
    pairs = [
        (w.entity(r.source), w.entity(r.target))
        for w in (generate_world(30, s) for s in range(10))
        for r in w.relations
        if r.kind == "sibling"
    ]
    assert pairs
    for a, b in pairs:
        assert a.name.split()[1] == b.name.split()[1]
        assert (a.birthplace, a.father_occupation, a.mother_occupation) == (
            b.birthplace, b.father_occupation, b.mother_occupation)  # fmt: skip


def test_value_pools_are_large_and_used():
    for pool in (W.BIRTHPLACES, W.OCCUPATIONS, W.FIELDS, W.AWARDS, W.PARENT_OCCUPATIONS, W.TITLES):
        assert len(set(pool)) >= 12
    world = generate_world(30, 0)
    assert len({e.notable_work for e in world.entities}) == 30
    for e in world.entities:
        assert e.gender in ("she", "he")
        assert e.field in W.FIELDS_BY_OCCUPATION[e.occupation]
        assert W.YEARS[0] <= e.birth_year <= W.YEARS[1]


@pytest.mark.parametrize("n", [3, 0, -1, 2.5, True, 10_000])
def test_bad_sizes_are_config_errors(n):
    with pytest.raises(ConfigError, match="n_entities"):
        generate_world(n)


def test_dict_round_trip_and_bad_dict():
    world = generate_world(12, 3)
    assert World.from_dict(world.to_dict()) == world
    with pytest.raises(DataError, match="not a world"):
        World.from_dict({"seed": 0, "entities": [{"name": "x"}], "relations": []})
    bad = world.to_dict()
    bad["relations"][0]["target"] = "Nobody Here"
    with pytest.raises(DataError, match="bad relation"):
        World.from_dict(bad)
    with pytest.raises(DataError, match="no entity"):
        world.entity("Nobody Here")
