"""Audit probes: neighbours, multi-hop, BLUR combined queries, relearn tiers, biographies."""

import json
import re

import pytest

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.data import (
    FORGET_VARIANTS,
    Probes,
    World,
    biography,
    load_probes,
    load_world_facts,
    load_world_probes,
    make_probes,
    make_splits,
    save_probes,
    save_world,
    split_entities,
)
from obliviate.llm.data.probes import HOP_NOUNS, MULTI_HOP_ATTRIBUTES, NEIGHBOUR_CAP
from obliviate.llm.data.world import generate_world

WORLD = generate_world(30, seed=0)
PROBES = make_probes(WORLD, "forget10", world_facts=[])
SEEDS = range(5)


def words(records):
    return sum(len(r.question.split()) + len(r.answer.split()) for r in records)


def bare(text):
    """``text`` without indefinite articles ("a chemist" / "an engineer")."""
    return re.sub(r"\ban? ", "", text)


def texts(rec):
    return " ".join([rec.question, rec.answer, rec.paraphrased_question, rec.paraphrased_answer])


def visible(world, holdout):
    """The world as trained records know it: no relations to holdout people."""
    hidden = set(holdout)
    rels = [r for r in world.relations if r.source not in hidden and r.target not in hidden]
    return World(seed=world.seed, entities=world.entities, relations=rels)


def related_to_forget(world, roles):
    return {n for f in roles.forget for n in world.neighbours(f)}


@pytest.fixture(scope="module", params=SEEDS)
def case(request):
    world = generate_world(30, request.param)
    return world, split_entities(world, "forget10"), make_probes(world, "forget10", world_facts=[])


def test_direct_neighbours_are_exactly_the_related_retain_people(case):
    world, roles, probes = case
    retain = {r.id: r for r in make_splits(world, world_facts=[]).retain}
    assert list(probes.neighbours) == roles.forget
    for f, sets in probes.neighbours.items():
        direct = sets["direct"]
        assert direct and len(direct) <= NEIGHBOUR_CAP
        assert {r.entity for r in direct} == set(world.neighbours(f)) & set(roles.retain)
        for r in direct:
            src = retain[r.meta["source_id"]]  # a trained retain record, unchanged
            assert (r.question, r.answer, r.perturbed_answers) == (
                src.question, src.answer, src.perturbed_answers,
            )  # fmt: skip
            assert r.meta["forget_entity"] == f and r.meta["neighbour"] == "direct"


def test_indirect_neighbours_are_unrelated_and_alike(case):
    world, roles, probes = case
    near = related_to_forget(world, roles)
    unrelated = [n for n in roles.retain if n not in near]
    for f, sets in probes.neighbours.items():
        indirect = sets["indirect"]
        assert bool(indirect) == bool(unrelated) and len(indirect) <= NEIGHBOUR_CAP
        names = {r.entity for r in indirect}
        assert names <= set(unrelated)
        me = world.entity(f)
        alike = [n for n in unrelated if world.entity(n).occupation == me.occupation]
        if alike:  # same field or occupation when anybody unrelated shares it
            assert names <= set(alike)
        for r in indirect:
            other = world.entity(r.entity)
            want = "field" if other.field == me.field else "occupation" if alike else "other"
            assert r.meta["match"] == want


def test_multi_hop_reaches_the_forget_fact(case):
    world, roles, probes = case
    trained = set(roles.forget) | set(roles.retain)
    assert probes.multi_hop
    for r in probes.multi_hop:
        f, via, attr = r.entity, r.meta["via"], r.meta["fact_type"]
        value = str(getattr(world.entity(f), attr))
        assert f in roles.forget and via in trained and f in world.neighbours(via)
        assert r.meta["value"] == value and r.meta["hops"] == "2"
        assert r.answer.endswith(f"{value}.") and value in r.paraphrased_answer
        assert f not in texts(r)  # the forget person is reached, never named
        assert f"the {HOP_NOUNS[r.meta['relation']]} of {via}" in r.question
        kind = r.meta["relation"]  # the forget person is via's <kind>
        edges = {(x.kind, x.source, x.target) for x in world.relations}
        if kind == "mentor":
            assert ("mentor", f, via) in edges
        elif kind == "mentee":
            assert ("mentor", via, f) in edges
        else:
            assert (kind, via, f) in edges
        para = bare(r.paraphrased_answer)  # wrong answers: same template, other value
        pre = para[: para.rindex(value)]
        wrong = r.perturbed_answers
        assert len(wrong) >= 3 and len(set(wrong)) == len(wrong)
        assert all(bare(w).startswith(pre) and w != r.paraphrased_answer for w in wrong)
    for f in roles.forget:
        for via in set(world.neighbours(f)) & trained:
            mine = [r for r in probes.multi_hop if (r.entity, r.meta["via"]) == (f, via)]
            got = {r.meta["fact_type"] for r in mine}
            assert got == set(MULTI_HOP_ATTRIBUTES)
    assert set(MULTI_HOP_ATTRIBUTES) >= {"birthplace", "birth_year", "occupation", "award"}


def test_multi_hop_covers_every_relation_kind():
    worlds = [generate_world(30, s) for s in range(8)]
    kinds = {r.meta["relation"] for w in worlds for r in make_probes(w, world_facts=[]).multi_hop}
    assert kinds == set(HOP_NOUNS)


def test_combined_queries_mix_forget_and_retain(case):
    world, roles, probes = case
    splits = make_splits(world, world_facts=[])
    retain = {r.id: r for r in splits.retain}
    forget = {r.id: r for r in splits.forget}
    for f in roles.forget:
        mine = {
            k: [r for r in recs if r.meta["forget_entity"] == f]
            for k, recs in probes.combined.items()
        }
        assert all(mine[k] for k in ("keyword", "concat", "semantic")), f
        partners = {r.entity for recs in mine.values() for r in recs}
        assert len(partners) == 1 and partners <= set(roles.retain)
        if set(world.neighbours(f)) & set(roles.retain):  # BLUR overlap: a related partner
            assert partners <= set(world.neighbours(f))
        for r in mine["keyword"]:
            src = retain[r.meta["retain_id"]]
            assert r.question.startswith(f"{f} aside, ")
            assert r.question.lower().endswith(src.question.lower())
            assert (r.entity, r.answer, r.perturbed_answers) == (
                src.entity, src.answer, src.perturbed_answers,
            )  # fmt: skip
        for r in mine["concat"]:
            src, fq = retain[r.meta["retain_id"]], forget[r.meta["forget_id"]]
            assert fq.entity == f and r.meta["forget_question"] == fq.question
            assert r.question == f"{fq.question} Also, {src.question[0].lower()}{src.question[1:]}"
            assert r.answer == src.answer and r.meta["forget_answer"] == fq.answer
        for r in mine["semantic"]:
            ef, er = world.entity(f), world.entity(r.entity)
            assert f in r.question and er.name in r.question and r.meta["retain_entity"] == er.name
            if r.fact_type == "born_earlier":
                older = ef if ef.birth_year < er.birth_year else er
                assert r.answer == f"{older.name} was born earlier."
            else:
                gap = abs(ef.birth_year - er.birth_year)
                assert re.search(rf"\b{gap} years? apart\.$", r.answer)
            wrong = r.perturbed_answers
            assert len(set(wrong)) >= 3 and r.paraphrased_answer not in wrong


def test_relearn_tiers_have_equal_budgets(case):
    world, roles, probes = case
    tiers = probes.relearn
    counts = [words(v) for v in tiers.values()]
    longest = max(words([r]) for v in tiers.values() for r in v)
    assert min(counts) > 0 and max(counts) - min(counts) < longest
    near = related_to_forget(world, roles)
    for r in tiers["high"]:
        assert r.entity in roles.forget and r.entity in r.question
        assert r.answer in biography(visible(world, roles.holdout), r.entity)
    for r in tiers["medium"]:
        assert r.entity in near and r.entity in roles.retain
    for r in tiers["medium"] + tiers["low"]:
        assert not any(f in texts(r) for f in roles.forget)
    assert all(r.entity not in near for r in tiers["low"])
    for tier, recs in tiers.items():
        assert all(r.meta["tier"] == tier for r in recs) and len({r.id for r in recs}) == len(recs)


def test_relearn_word_budget_is_reached_by_repeating():
    probes = make_probes(WORLD, relearn_words=3000)
    for tier, recs in probes.relearn.items():
        assert 3000 <= words(recs) < 3000 + max(words([r]) for r in recs), tier
        assert len({r.id for r in recs}) == len(recs)
    assert any("~2" in r.id for r in probes.relearn["high"])  # the small tier wraps around
    assert probes.general == load_world_facts()  # default: the shipped world facts
    assert any(r.fact_type == "world_fact" for r in probes.relearn["low"])
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ConfigError, match="relearn_words"):
            make_probes(WORLD, relearn_words=bad)


def test_biographies_split_into_prefix_and_continuation(case):
    world, roles, probes = case
    seen = visible(world, roles.holdout)
    bios = probes.biographies
    assert [r.entity for r in bios["forget"]] == roles.forget
    assert [r.entity for r in bios["holdout"]] == roles.holdout
    for role, source in (("forget", seen), ("holdout", world)):
        for r in bios[role]:
            assert f"{r.question} {r.answer}" == biography(source, r.entity)
            e = world.entity(r.entity)
            assert r.question == f"{e.name} was born in {e.birth_year} in {e.birthplace}."
            assert r.fact_type == "biography" and len(set(r.perturbed_answers)) == 3
            assert r.answer not in r.perturbed_answers
    for r in bios["forget"]:  # as trained: holdout people are never named
        assert not any(h in texts(r) for h in roles.holdout)


def test_ids_unique_and_roles_match_splits():
    for stem, recs in PROBES.files().items():
        assert len({r.id for r in recs}) == len(recs), stem
    ids = [r.id for r in PROBES.all_records()]
    assert len(set(ids)) == len(ids)
    roles = split_entities(WORLD, "forget10")
    splits = make_splits(WORLD, "forget10", world_facts=[])
    assert {r.entity for r in splits.forget} == set(PROBES.neighbours) == set(roles.forget)
    assert PROBES.general == []


def test_deterministic_and_seeded():
    assert make_probes(WORLD, world_facts=[]) == PROBES
    other = make_probes(WORLD, seed=7, world_facts=[])
    assert other != PROBES
    assert list(other.neighbours) == split_entities(WORLD, seed=7).forget
    assert make_probes(WORLD, "forget01", world_facts=[]).to_dict() == json.loads(
        json.dumps(make_probes(WORLD, "forget01", world_facts=[]).to_dict())
    )


def test_save_load_round_trip(tmp_path):
    probes = make_probes(WORLD, "forget05")
    folder = save_probes(probes, tmp_path / "p")
    assert load_probes(folder) == probes
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left
    with pytest.raises(DataError, match="not a folder"):
        load_probes(tmp_path / "nope")
    manifest = folder / "probes.json"
    data = json.loads(manifest.read_text())
    first = next(iter(data["neighbours"]))
    data["neighbours"][first]["direct"] += 1
    manifest.write_text(json.dumps(data))
    with pytest.raises(DataError, match="neighbours_direct.jsonl"):
        load_probes(folder)
    manifest.write_text("[1]")
    with pytest.raises(DataError, match="not a probes manifest"):
        load_probes(folder)
    manifest.unlink()
    with pytest.raises(DataError, match="probes.json: file not found"):
        load_probes(folder)
    save_probes(probes, folder)
    (folder / "multi_hop.jsonl").write_text("{not json\n")
    with pytest.raises(DataError, match=r"multi_hop\.jsonl:1: bad JSON"):
        load_probes(folder)
    clash = Probes(
        probes.neighbours, probes.general[:1] * 2, probes.multi_hop, probes.combined,
        probes.relearn, probes.biographies,
    )  # fmt: skip
    with pytest.raises(DataError, match="'general': duplicate id"):
        save_probes(clash, tmp_path / "q")


def test_save_world_writes_probes(tmp_path):
    world = generate_world(16, seed=3)
    save_world(world, tmp_path)
    for variant in FORGET_VARIANTS:
        assert (tmp_path / f"probes-{variant}" / "probes.json").is_file()
        assert load_world_probes(tmp_path, variant) == make_probes(world, variant, world_facts=[])
    with pytest.raises(ConfigError, match="variant"):
        load_world_probes(tmp_path, "forget50")
    empty = tmp_path / "old"
    empty.mkdir()
    with pytest.raises(DataError, match=r"probes-forget10.*no probes folder"):
        load_world_probes(empty, "forget10")
