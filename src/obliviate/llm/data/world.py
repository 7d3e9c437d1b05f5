"""A fictitious world of people and their relations, generated from a seed.

In the spirit of TOFU (Maini et al., 2024): the model cannot know these people
before fine-tuning, so whatever it knows about them after fine-tuning was
learned from our data, and forgetting it can be measured cleanly. Relations
(mentor, collaborator, sibling, rival) tie people together, so unlearning one
person can be checked for damage to their neighbours.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from obliviate.core.errors import ConfigError, DataError

FEMALE_FIRST = (
    "Zara", "Ilsa", "Nerida", "Orla", "Maelis", "Tavia", "Sorrel", "Kessa", "Liora", "Brisa",
    "Anwen", "Veda", "Odalys", "Selka", "Imra", "Thessaly", "Quilla", "Renata", "Calla",
    "Edris", "Yavi", "Marisol", "Ottilie", "Pernille", "Junia", "Saskia", "Fenna", "Lunara",
    "Dessa", "Amara",
)  # fmt: skip
MALE_FIRST = (
    "Ivo", "Tobiah", "Casimir", "Oren", "Dashiell", "Lucan", "Emrys", "Bastian", "Kofi", "Rafe",
    "Teodor", "Anselm", "Jarek", "Milo", "Soren", "Hollis", "Evander", "Cato", "Idris", "Lorcan",
    "Thaddeus", "Fennick", "Brannock", "Quill", "Zoltan", "Matthias", "Orrin", "Nikolai",
    "Severin", "Alaric",
)  # fmt: skip
LAST_NAMES = (
    "Okafor", "Brandt", "Thornquist", "Castellane", "Varga", "Quennell", "Halloran", "Ashdown",
    "Marchetti", "Velasko", "Draycott", "Ferrante", "Lindqvist", "Oyelaran", "Petrakis",
    "Sandoval", "Tamberlane", "Ulverston", "Vantongeren", "Wrexley", "Yarrowby", "Zelenko",
    "Abernath", "Bellweather", "Corvane", "Dunmore", "Eskildsen", "Falkenrath", "Greywell",
    "Hesketh", "Imbrogno", "Jovanic", "Kettleby", "Larkspur", "Moravec", "Nettlefield",
    "Ostrander", "Pellucci", "Quarrington", "Renwick", "Sallow", "Trevanion", "Umberfield",
    "Valcourt", "Whitlock", "Xandros", "Yelverton", "Zamora",
)  # fmt: skip
BIRTHPLACES = (
    "Lisvara", "Port Emberly", "Kestrel Bay", "Norhaven", "Valdoria", "Ashcombe", "Tirnagh",
    "Saltmere", "Brightwater", "Castellmar", "Dunmorrow", "Eastwick Falls", "Halvorsund",
    "Mirelle", "Quarry Hill", "Rosenvale", "Sundergaard", "Tallowmere", "Westmarch", "Orlin",
)  # fmt: skip
FIELDS_BY_OCCUPATION = {
    "chemist": ("polymer chemistry", "soil chemistry", "atmospheric chemistry"),
    "novelist": ("historical fiction", "crime fiction", "science fiction"),
    "composer": ("film music", "chamber music", "choral music"),
    "architect": ("urban housing", "bridge design", "museum design"),
    "botanist": ("alpine flora", "desert plants", "rare orchids"),
    "historian": ("maritime history", "medieval trade", "colonial archives"),
    "astronomer": ("comet tracking", "variable stars", "radio astronomy"),
    "engineer": ("tidal energy", "railway signalling", "water treatment"),
    "painter": ("portraiture", "landscape painting", "abstract murals"),
    "physician": ("tropical medicine", "childhood vaccines", "heart surgery"),
    "linguist": ("endangered languages", "sign languages", "ancient scripts"),
    "photographer": ("wildlife photography", "war photography", "fashion photography"),
}
OCCUPATIONS = tuple(FIELDS_BY_OCCUPATION)
FIELDS = tuple(f for fs in FIELDS_BY_OCCUPATION.values() for f in fs)
AWARDS = (
    "Veltmark Prize", "Halden Medal", "Orrery Award", "Silver Lantern Prize", "Castellan Medal",
    "Brightwell Prize", "Amberline Award", "Corvid Medal", "Meridian Laurel", "Tessaly Prize",
    "Northgate Medal", "Aurelian Prize", "Wexford Ribbon", "Lumen Award", "Kestrel Medal",
    "Saltire Cup",
)  # fmt: skip
PARENT_OCCUPATIONS = (
    "baker", "carpenter", "nurse", "fisher", "teacher", "tailor", "postal worker", "farmer",
    "librarian", "electrician", "pharmacist", "mechanic", "shopkeeper", "butcher", "dressmaker",
    "accountant", "miner", "bus driver",
)  # fmt: skip
_TITLE_ADJ = (
    "Glass", "Silent", "Amber", "Hollow", "Crimson", "Paper", "Winter", "Salt", "Iron", "Velvet",
    "Distant", "Sleeping", "Copper", "Broken", "Golden", "Quiet", "Drowned", "Painted",
    "Northern", "Borrowed",
)  # fmt: skip
_TITLE_NOUN = (
    "Orchard", "Lighthouse", "Atlas", "Harbour", "Garden", "Cathedral", "River", "Archive",
    "Meridian", "Compass", "Choir", "Kingdom", "Lantern", "Tide", "Library", "Observatory",
    "Bridge", "Season", "Orchestra", "Map",
)  # fmt: skip
TITLES = tuple(f"The {a} {n}" for a, n in itertools.product(_TITLE_ADJ, _TITLE_NOUN))
YEARS = (1920, 1990)  # inclusive range of birth years
RELATION_KINDS = ("mentor", "collaborator", "sibling", "rival")
SYMMETRIC_KINDS = ("collaborator", "sibling", "rival")
MAX_ENTITIES = 1000


@dataclass
class Entity:
    """A fictitious person. ``gender`` is the subject pronoun, ``"she"`` or ``"he"``."""

    name: str
    gender: str
    birth_year: int
    birthplace: str
    occupation: str
    field: str
    notable_work: str
    award: str
    father_occupation: str
    mother_occupation: str


@dataclass
class Relation:
    """A tie between two people; for ``mentor``, ``source`` mentored ``target``."""

    kind: str
    source: str
    target: str


@dataclass
class World:
    """People and relations. Symmetric relations are stored in both directions."""

    seed: int
    entities: list[Entity]
    relations: list[Relation] = field(default_factory=list)

    def entity(self, name: str) -> Entity:
        """The entity called ``name``; raises :class:`DataError` if there is none."""
        for ent in self.entities:
            if ent.name == name:
                return ent
        raise DataError(f"world has no entity named {name!r}")

    def relations_of(self, name: str) -> list[Relation]:
        """Each relation of ``name`` once: symmetric ones from its side, mentor either way."""
        return [
            r
            for r in self.relations
            if r.source == name or (r.kind == "mentor" and r.target == name)
        ]

    def neighbours(self, name: str) -> list[str]:
        """Names of the entities directly related to ``name``, in relation order."""
        out: list[str] = []
        for r in self.relations_of(name):
            other = r.target if r.source == name else r.source
            if other not in out:
                out.append(other)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "world") -> World:
        """Inverse of :meth:`to_dict`; raises :class:`DataError` on a bad shape."""
        try:
            entities = [Entity(**e) for e in data["entities"]]
            relations = [Relation(**r) for r in data["relations"]]
            world = cls(seed=int(data["seed"]), entities=entities, relations=relations)
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{where}: not a world ({type(e).__name__}: {e})") from None
        names = {e.name for e in entities}
        for r in relations:
            if r.kind not in RELATION_KINDS or r.source not in names or r.target not in names:
                raise DataError(f"{where}: bad relation {r.kind} {r.source!r} -> {r.target!r}")
        return world


def _kind_for(
    a: int, b: int, years: list[int], roles: list[set[str]], rng: random.Random
) -> str | None:
    """Pick a relation kind for the pair, keeping one relation per role per person."""
    old, young = (a, b) if years[a] <= years[b] else (b, a)
    gap = years[young] - years[old]
    options: list[tuple[str, float]] = []
    if gap <= 10 and "sibling" not in roles[a] and "sibling" not in roles[b]:
        options.append(("sibling", 1.0))
    if gap >= 15 and "mentee" not in roles[old] and "mentor" not in roles[young]:
        options.append(("mentor", 2.5))
    for kind, w in (("collaborator", 2.0), ("rival", 1.5)):
        if kind not in roles[a] and kind not in roles[b]:
            options.append((kind, w))
    if not options:
        return None
    return rng.choices([k for k, _ in options], weights=[w for _, w in options])[0]


def _relation_graph(years: list[int], rng: random.Random) -> list[tuple[str, int, int]]:
    """Edges ``(kind, source, target)`` so that every node has 1-3 relations.

    A random pairing gives everyone one relation; extra edges then fill each
    node up to its drawn target degree. Mentor edges point from older to younger.
    """
    n = len(years)
    order = list(range(n))
    rng.shuffle(order)
    roles: list[set[str]] = [set() for _ in range(n)]
    linked: set[tuple[int, int]] = set()
    edges: list[tuple[str, int, int]] = []

    def link(a: int, b: int) -> bool:
        kind = _kind_for(a, b, years, roles, rng) if (min(a, b), max(a, b)) not in linked else None
        if kind is None:
            return False
        if kind == "mentor":
            a, b = (a, b) if years[a] <= years[b] else (b, a)
            roles[a].add("mentee")  # a has a mentee
            roles[b].add("mentor")  # b has a mentor
        else:
            roles[a].add(kind)
            roles[b].add(kind)
        linked.add((min(a, b), max(a, b)))
        edges.append((kind, a, b))
        return True

    pairs = list(zip(order[0::2], order[1::2]))
    if n % 2:
        pairs.append((order[-1], order[0]))
    for a, b in pairs:
        link(a, b)
    target = [rng.randint(1, 3) for _ in range(n)]
    degree = [len(r) for r in roles]
    for a in order:
        for b in rng.sample(order, n):
            if degree[a] >= target[a]:
                break
            if b != a and degree[b] < target[b] and link(a, b):
                degree[a] += 1
                degree[b] += 1
    return edges


def _names(genders: list[str], families: list[list[int]], rng: random.Random) -> list[str]:
    """Unique two-word names; members of a family share the last name."""
    lasts = rng.sample(LAST_NAMES, len(LAST_NAMES))
    pools = {"she": FEMALE_FIRST, "he": MALE_FIRST}
    firsts = {g: rng.sample(pool, len(pool)) for g, pool in pools.items()}
    names: list[str] = [""] * len(genders)
    taken: set[str] = set()
    for k, members in enumerate(families):
        last = lasts[k] if k < len(lasts) else rng.choice(LAST_NAMES)
        for i in members:
            pool = firsts[genders[i]]
            first = pool.pop() if pool else rng.choice(pools[genders[i]])
            while f"{first} {last}" in taken:
                first, last = rng.choice(pools[genders[i]]), rng.choice(LAST_NAMES)
            names[i] = f"{first} {last}"
            taken.add(names[i])
    return names


def generate_world(n_entities: int = 30, seed: int = 0) -> World:
    """Generate a fictitious world; the same seed always gives the same world.

    Args:
        n_entities: Number of people, 4 to 1000.
        seed: Seed of the private random generator.

    Raises:
        ConfigError: ``n_entities`` is out of range.
    """
    valid = isinstance(n_entities, int) and not isinstance(n_entities, bool)
    if not valid or not 4 <= n_entities <= MAX_ENTITIES:
        raise ConfigError(f"n_entities must be an integer from 4 to {MAX_ENTITIES}: {n_entities!r}")
    rng = random.Random(seed)
    n = n_entities
    years = [rng.randint(*YEARS) for _ in range(n)]
    genders = [rng.choice(("she", "he")) for _ in range(n)]
    edges = _relation_graph(years, rng)
    sibling_of: dict[int, int] = {}
    for kind, a, b in edges:
        if kind == "sibling":
            sibling_of[a], sibling_of[b] = b, a
    families = [[i, sibling_of[i]] if i in sibling_of else [i] for i in range(n)]
    families = [f for f in families if f[0] <= f[-1]]  # each sibling pair once
    names = _names(genders, families, rng)
    titles = rng.sample(TITLES, n) if n <= len(TITLES) else [rng.choice(TITLES) for _ in range(n)]
    entities: list[Entity] = []
    for i in range(n):
        occupation = rng.choice(OCCUPATIONS)
        entities.append(
            Entity(
                name=names[i],
                gender=genders[i],
                birth_year=years[i],
                birthplace=rng.choice(BIRTHPLACES),
                occupation=occupation,
                field=rng.choice(FIELDS_BY_OCCUPATION[occupation]),
                notable_work=titles[i],
                award=rng.choice(AWARDS),
                father_occupation=rng.choice(PARENT_OCCUPATIONS),
                mother_occupation=rng.choice(PARENT_OCCUPATIONS),
            )
        )
    for i, j in sibling_of.items():  # siblings share a birthplace and parents
        if i > j:
            for attr in ("birthplace", "father_occupation", "mother_occupation"):
                setattr(entities[i], attr, getattr(entities[j], attr))
    relations: list[Relation] = []
    for kind, a, b in edges:
        relations.append(Relation(kind, names[a], names[b]))
        if kind in SYMMETRIC_KINDS:
            relations.append(Relation(kind, names[b], names[a]))
    return World(seed=seed, entities=entities, relations=relations)
