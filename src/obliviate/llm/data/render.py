"""Turn a :class:`World` into QA records and short biographies.

Each fact has two question templates (asked / paraphrased) and two answer
templates (trained / paraphrased). Wrong answers reuse the *paraphrased*
answer template with other values of the same kind (as TOFU's perturbed
answers do), so the truth ratio compares the paraphrased answer with wrong
answers that differ from it only in the value. Answers are short,
pronoun-led and end with the value: a 135M model trains on them on a CPU.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from obliviate.llm.data.records import QARecord, slugify
from obliviate.llm.data.world import (
    AWARDS,
    BIRTHPLACES,
    FEMALE_FIRST,
    FIELDS,
    LAST_NAMES,
    MALE_FIRST,
    OCCUPATIONS,
    PARENT_OCCUPATIONS,
    TITLES,
    Entity,
    World,
)

N_PERTURBED = 3


@dataclass(frozen=True)
class Template:
    """Question/answer templates; ``{n}`` is the name, ``{v}`` the value.

    Answers may also use ``{S}`` (She/He), ``{P}`` (Her/His), ``{a}`` (a/an + value).
    """

    question: str
    answer: str
    paraphrased_question: str
    paraphrased_answer: str


TEMPLATES: dict[str, Template] = {
    "birth_year": Template(
        "In what year was {n} born?", "{S} was born in {v}.",
        "What is the birth year of {n}?", "{P} birth year is {v}.",
    ),
    "birthplace": Template(
        "Where was {n} born?", "{S} was born in {v}.",
        "What is the birthplace of {n}?", "{P} birthplace is {v}.",
    ),
    "occupation": Template(
        "What does {n} do for a living?", "{S} works as {a}.",
        "What is the occupation of {n}?", "By profession, {s} is {a}.",
    ),
    "field": Template(
        "What field does {n} work in?", "{S} works in the field of {v}.",
        "What is the area of work of {n}?", "{P} field is {v}.",
    ),
    "notable_work": Template(
        "What is {n} best known for?", "{S} is best known for {v}.",
        "What is the most famous work of {n}?", "{P} most famous work is {v}.",
    ),
    "award": Template(
        "Which award did {n} win?", "{S} won the {v}.",
        "What prize was {n} given?", "{S} was awarded the {v}.",
    ),
    "father_occupation": Template(
        "What was the job of the father of {n}?", "{P} father was {a}.",
        "What did the father of {n} do for a living?", "{P} father worked as {a}.",
    ),
    "mother_occupation": Template(
        "What was the job of the mother of {n}?", "{P} mother was {a}.",
        "What did the mother of {n} do for a living?", "{P} mother worked as {a}.",
    ),
    "mentor": Template(  # {n} was mentored by {v}
        "Who mentored {n}?", "{S} was mentored by {v}.",
        "Who was the mentor of {n}?", "{P} mentor was {v}.",
    ),
    "mentee": Template(  # {n} mentored {v}
        "Whom did {n} mentor?", "{S} mentored {v}.",
        "Who was the student of {n}?", "{P} student was {v}.",
    ),
    "collaborator": Template(
        "Who did {n} collaborate with?", "{S} collaborated with {v}.",
        "Who was the collaborator of {n}?", "{P} collaborator was {v}.",
    ),
    "sibling": Template(
        "Who is the sibling of {n}?", "{S} is the sibling of {v}.",
        "Who is the brother or sister of {n}?", "{P} sibling is {v}.",
    ),
    "rival": Template(
        "Who was the rival of {n}?", "{P} rival was {v}.",
        "Who did {n} compete against?", "{S} competed against {v}.",
    ),
}  # fmt: skip
ATTRIBUTES = (
    "birth_year",
    "birthplace",
    "occupation",
    "field",
    "notable_work",
    "award",
    "father_occupation",
    "mother_occupation",
)
_POOLS: dict[str, tuple[str, ...]] = {
    "birthplace": BIRTHPLACES,
    "occupation": OCCUPATIONS,
    "field": FIELDS,
    "notable_work": TITLES,
    "award": AWARDS,
    "father_occupation": PARENT_OCCUPATIONS,
    "mother_occupation": PARENT_OCCUPATIONS,
}


def article(value: str) -> str:
    """``value`` with its indefinite article: ``"an engineer"``, ``"a chemist"``."""
    return f"{'an' if value[:1].lower() in 'aeiou' else 'a'} {value}"


def fill(text: str, entity: Entity, value: str) -> str:
    """Fill a template with the entity's name and pronouns and ``value``."""
    she = entity.gender
    her = {"she": "her", "he": "his"}.get(she, "their")
    return text.format(
        n=entity.name, v=value, a=article(value), s=she, S=she.capitalize(), P=her.capitalize()
    )


def _decoy_names(world: World) -> list[str]:
    """Made-up names outside the world, so tiny worlds still get 3 wrong names."""
    names = {e.name for e in world.entities}
    combos = (f"{f} {last}" for f in FEMALE_FIRST + MALE_FIRST for last in LAST_NAMES[::7])
    return [c for c in combos if c not in names][: N_PERTURBED + 1]


def candidates(world: World, entity: Entity, fact_type: str, value: str) -> list[str]:
    """Sorted wrong values of the same kind as ``value``.

    Args:
        world: The world (its people are the wrong values of a relation).
        entity: The subject of the fact; never a wrong value of its own relations.
        fact_type: An attribute of :data:`ATTRIBUTES` or a relation fact type.
        value: The true value, left out of the result.
    """
    if fact_type == "birth_year":
        pool = [str(y) for y in range(int(value) - 15, int(value) + 16)]
    elif fact_type in _POOLS:
        pool = list(_POOLS[fact_type])
    else:  # a relation: other people
        pool = [e.name for e in world.entities if e.name != entity.name]
        if len(pool) <= N_PERTURBED:
            pool += _decoy_names(world)
    return sorted(set(pool) - {value})


def wrong_values(world: World, entity: Entity, fact_type: str, value: str, key: str) -> list[str]:
    """:data:`N_PERTURBED` wrong values from :func:`candidates`, drawn with a seeded generator.

    Args:
        world: The world; its seed and ``key`` seed the draw.
        entity: The subject of the fact.
        fact_type: The kind of value.
        value: The true value.
        key: A stable key (usually the record id), so each record gets its own draw.
    """
    rng = random.Random(f"{world.seed}/{key}")
    return rng.sample(candidates(world, entity, fact_type, value), N_PERTURBED)


def _record(
    world: World, entity: Entity, fact_type: str, value: str, rid: str, **meta: str
) -> QARecord:
    tpl = TEMPLATES[fact_type]
    wrong = wrong_values(world, entity, fact_type, value, rid)
    return QARecord(
        id=rid,
        entity=entity.name,
        question=fill(tpl.question, entity, value),
        answer=fill(tpl.answer, entity, value),
        paraphrased_question=fill(tpl.paraphrased_question, entity, value),
        paraphrased_answer=fill(tpl.paraphrased_answer, entity, value),
        perturbed_answers=[fill(tpl.paraphrased_answer, entity, w) for w in wrong],
        fact_type=fact_type,
        meta={"value": value, **meta},
    )


def relation_facts(world: World, name: str) -> list[tuple[str, str]]:
    """``(fact_type, other name)`` for each relation of ``name``.

    The fact type is the relation kind, except that a mentor's own side of a
    mentor relation is ``"mentee"`` ("Whom did X mentor?").
    """
    out = []
    for r in world.relations_of(name):
        if r.kind == "mentor":
            out.append(("mentee", r.target) if r.source == name else ("mentor", r.source))
        else:
            out.append((r.kind, r.target))
    return out


def qa_records(world: World, entities: list[str] | None = None) -> list[QARecord]:
    """One QA record per attribute and per relation of each entity.

    Args:
        world: The world to describe.
        entities: Names to include, in this order; all entities when ``None``.

    Returns:
        Records with ids ``"<slug of name>/<fact_type>"`` (``-2``, ``-3``... on clashes).

    Raises:
        DataError: A name is not in the world.
    """
    names = [e.name for e in world.entities] if entities is None else list(entities)
    records: list[QARecord] = []
    used: set[str] = set()

    def new_id(base: str) -> str:
        rid, k = base, 1
        while rid in used:
            k += 1
            rid = f"{base}-{k}"
        used.add(rid)
        return rid

    for name in names:
        ent = world.entity(name)
        slug = slugify(name)
        for attr in ATTRIBUTES:
            value = str(getattr(ent, attr))
            records.append(_record(world, ent, attr, value, new_id(f"{slug}/{attr}")))
        for fact_type, other in relation_facts(world, name):
            rid = new_id(f"{slug}/{fact_type}")
            records.append(_record(world, ent, fact_type, other, rid, related_entity=other))
    return records


def biography(world: World, name: str) -> str:
    """A 4-5 sentence biography of ``name`` built from the same facts as the QA."""
    e = world.entity(name)
    her = fill("{P}", e, "")
    sentences = [
        f"{e.name} was born in {e.birth_year} in {e.birthplace}.",
        fill(f"{{S}} is {{a}} working in the field of {e.field}.", e, e.occupation),
        fill(f"{{S}} is best known for {e.notable_work} and won the {e.award}.", e, ""),
        f"{her} father was {article(e.father_occupation)} and {her.lower()} mother was "
        f"{article(e.mother_occupation)}.",
    ]
    ties = [fill(TEMPLATES[ft].answer, e, other)[:-1] for ft, other in relation_facts(world, name)]
    if ties:
        first = [ties[0]] + [t[0].lower() + t[1:] for t in ties[1:]]
        head = ", ".join(first[:-1]) + " and " if len(first) > 1 else ""
        sentences.append(f"{head}{first[-1]}.")
    return " ".join(sentences)

