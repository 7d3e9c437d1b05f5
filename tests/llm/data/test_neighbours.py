"""Neighbourhoods of the forget people (``obliviate.llm.data.neighbours``): relations and domain."""

from obliviate.llm.data.neighbours import entity_neighbourhoods


def test_neighbourhoods_follow_relations_and_domain(world_dir, splits):
    from obliviate.llm.data import load_world

    world = load_world(world_dir / "world.json")
    retain_people = {r.entity for r in splits.retain}
    hoods = entity_neighbourhoods(splits.forget, splits.retain)
    assert set(hoods) == {r.entity for r in splits.forget}
    for f, own in hoods.items():
        related = set(world.neighbours(f)) & retain_people
        assert {r.entity for r in own["direct"]} == related
        indirect = {r.entity for r in own["indirect"]}
        assert indirect and not indirect & related and f not in indirect
        same_field = {n for n in retain_people - related if world.entity(n).field == world.entity(f).field}
        if same_field:
            assert indirect == same_field
