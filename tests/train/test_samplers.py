"""Each unlearning sampler (``obliviate.train.samplers``) yields what it promises, neighbour choices included;
the filtered sampler of KLUE's per-epoch filter."""

import json
import math

import pytest

from obliviate.core.errors import DataError
from obliviate.llm.data.neighbours import retain_sets
from obliviate.train.samplers import FilteredSampler, PairedSampler, RetainSets, parse_neighbours, unlearning_sampler


def _ids(records):
    return [r.id for r in records]


def _epoch(sampler, e=0):
    return list(sampler.epoch(e))


def test_random_pairs_each_forget_item_once_with_a_retain_item(splits):
    s = unlearning_sampler("random", splits.forget, splits.retain, 4, seed=1)
    batches = _epoch(s)
    assert len(batches) == len(s) == math.ceil(len(splits.forget) / 4)
    assert sorted(i for b in batches for i in _ids(b["forget"])) == sorted(_ids(splits.forget))
    retain_ids = set(_ids(splits.retain))
    for b in batches:
        assert len(b["retain"]) == len(b["forget"]) and set(_ids(b["retain"])) <= retain_ids
    assert _ids(batches[0]["forget"]) == _ids(_epoch(unlearning_sampler("random", splits.forget, splits.retain, 4,
                                                                         seed=1))[0]["forget"])  # seeded
    assert [_ids(b["forget"]) for b in _epoch(s, 0)] != [_ids(b["forget"]) for b in _epoch(s, 1)]  # reshuffled


def test_sequential_zips_retain_prefix_with_forget_in_order(splits):
    s = unlearning_sampler("sequential", splits.forget, splits.retain, 3)
    flat_f = [r for b in _epoch(s) for r in b["forget"]]
    flat_r = [r for b in _epoch(s) for r in b["retain"]]
    assert _ids(flat_f) == _ids(splits.forget)
    assert _ids(flat_r) == _ids(splits.retain[: len(splits.forget)])
    assert [_ids(b["forget"]) for b in _epoch(s, 0)] == [_ids(b["forget"]) for b in _epoch(s, 3)]
    short = unlearning_sampler("sequential", splits.forget, splits.retain[:2], 4)  # retain wraps
    assert _ids([r for b in _epoch(short) for r in b["retain"]])[:4] == _ids(splits.retain[:2]) * 2


def test_cyclic_epoch_covers_the_longer_side_once(splits):
    assert len(splits.retain) > len(splits.forget)
    s = unlearning_sampler("cyclic", splits.forget, splits.retain, 4, seed=0)
    batches = _epoch(s)
    assert len(s) == len(batches) == math.ceil(len(splits.retain) / 4)
    retain = [i for b in batches for i in _ids(b["retain"])]
    forget = [i for b in batches for i in _ids(b["forget"])]
    assert sorted(retain) == sorted(_ids(splits.retain))  # every retain item exactly once
    assert len(forget) == len(splits.retain) and set(forget) == set(_ids(splits.forget))  # forget wraps
    counts = [forget.count(i) for i in set(forget)]
    assert max(counts) - min(counts) <= 1


def test_melu_batches_hold_one_entity_with_its_own_neighbours(splits):
    sets = retain_sets(splits)
    s = unlearning_sampler("melu", splits.forget, sets, 3, seed=0)
    batches = _epoch(s)
    assert len(batches) == len(s)
    assert sorted(i for b in batches for i in _ids(b["forget"])) == sorted(_ids(splits.forget))
    mixed_batches = 0
    for b in batches:
        entities = {r.entity for r in b["forget"]}
        assert len(entities) == 1  # one forget entity per batch
        (e,) = entities
        own = sets.local[e]
        direct, indirect = set(_ids(own["direct"])), set(_ids(own["indirect"]))
        got = set(_ids(b["retain"]))
        assert got <= direct | indirect  # only this entity's own neighbours
        assert len(b["retain"]) == len(b["forget"])
        if len(b["retain"]) >= 2 and direct and indirect:
            assert got & direct and got & indirect  # diverse: both sets in one batch
            mixed_batches += 1
    assert mixed_batches > 0
    # entities come one after the other: each entity's batches are contiguous
    order = [b["forget"][0].entity for b in batches]
    assert len({e for e in order}) == sum(1 for i, e in enumerate(order) if i == 0 or order[i - 1] != e)


@pytest.mark.parametrize("choice", ["direct", "indirect", "general", "direct+general", "mixed"])
def test_neighbour_choice_restricts_the_retain_pool(choice, splits):
    sets = retain_sets(splits)
    allowed = set()
    for name in parse_neighbours(choice):
        if name == "general":
            allowed |= set(_ids(splits.world_facts))
        else:
            allowed |= {r.id for own in sets.local.values() for r in own[name]}
    for kind in ("random", "melu"):
        s = unlearning_sampler(kind, splits.forget, sets, 4, seed=0, neighbours=choice)
        got = {i for b in _epoch(s) for i in _ids(b["retain"])}
        assert got and got <= allowed


def test_bad_neighbour_choices_fail_clearly(splits):
    with pytest.raises(DataError, match="unknown neighbour set 'cousins'"):
        parse_neighbours("direct+cousins")
    with pytest.raises(DataError, match="hold no retain record"):
        unlearning_sampler("random", splits.forget, RetainSets(retain=splits.retain), 4, neighbours="direct")
    with pytest.raises(DataError, match="for fine-tuning"):
        unlearning_sampler("single", splits.forget, splits.retain, 4)
    with pytest.raises(DataError, match="empty"):
        unlearning_sampler("melu", [], splits.retain, 4)


def test_forget_only_samplers_yield_no_retain(splits):
    for kind in ("random", "sequential", "cyclic", "melu"):
        batches = _epoch(unlearning_sampler(kind, splits.forget, None, 4))
        assert all(set(b) == {"forget"} for b in batches)
        assert sorted(i for b in batches for i in _ids(b["forget"])) == sorted(_ids(splits.forget))


def test_filtered_sampler_builds_each_epoch_from_the_kept_records(splits, tmp_path):
    forget = splits.forget[:6]
    plan = {0: forget, 1: forget[:3], 2: []}
    calls = []

    def keep(records):
        calls.append(len(calls))
        return list(reversed(plan[len(calls) - 1]))  # order does not matter

    def make(records):
        return PairedSampler(records, None, batch_size=2, seed=5)

    state = tmp_path / "kept.json"
    s = FilteredSampler(make, forget, keep, state)
    assert len(s) == 3  # the full set's batches
    for e in (0, 1):
        got = [r.id for b in s.epoch(e) for r in b["forget"]]
        assert sorted(got) == sorted(r.id for r in plan[e])
        assert [b["forget"] for b in s.epoch(e)] == [b["forget"] for b in make(plan[e]).epoch(e)]  # same draw
    assert list(s.epoch(2)) == [] and len(calls) == 3  # each epoch filtered once
    again = FilteredSampler(make, forget, lambda recs: pytest.fail("stored epochs are not filtered again"), state)
    assert [b["forget"] for b in again.epoch(1)] == [b["forget"] for b in s.epoch(1)]
    assert list(again.epoch(2)) == []
    state.write_text(json.dumps({"0": ["nobody/x"]}))
    with pytest.raises(Exception, match="not in this forget set"):
        FilteredSampler(make, forget, keep, state)
