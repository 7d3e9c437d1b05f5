"""Data for LLM unlearning: a seeded fictitious world, its QA records and splits.

``generate_world`` invents people and relations; ``qa_records`` turns them into
question/answer records; ``make_splits`` / ``save_world`` / ``load_splits``
divide them into forget, retain and holdout sets; ``load_world_facts`` gives
easy real-world facts that unlearning must not damage, ``load_real_entities``
real people and works (TOFU's "real authors"); ``load_request`` a plain forget
request (question/answer lines or text) with the missing fields derived and
marked, ``unseen_reference`` a never-seen set of the same shape; ``make_probes`` /
``save_probes`` / ``load_probes`` / ``load_world_probes`` build the audit sets
(neighbours, multi-hop, BLUR combined queries, relearning tiers, biographies).
Pure standard library.
"""

from obliviate.llm.data.facts import load_world_facts
from obliviate.llm.data.probes import (
    Probes,
    load_probes,
    load_world_probes,
    make_probes,
    probes_dir,
    save_probes,
)
from obliviate.llm.data.real_entities import load_real_entities, load_real_rehearsal
from obliviate.llm.data.records import QARecord, load_jsonl, read_jsonl_dicts, save_jsonl, slugify
from obliviate.llm.data.render import ATTRIBUTES, biography, qa_records, relation_facts
from obliviate.llm.data.request import is_plain_request, key_span, load_request, unseen_reference
from obliviate.llm.data.splits import (
    FORGET_VARIANTS,
    EntitySplit,
    Splits,
    load_world,
    make_splits,
    neighbour_records,
    retain_name,
    split_entities,
)
from obliviate.llm.data.user_files import load_records, load_splits, splits_from_files
from obliviate.llm.data.world import RELATION_KINDS, Entity, Relation, World, generate_world
from obliviate.llm.data.world_files import save_world

__all__ = [
    "ATTRIBUTES",
    "FORGET_VARIANTS",
    "RELATION_KINDS",
    "Entity",
    "EntitySplit",
    "Probes",
    "QARecord",
    "Relation",
    "Splits",
    "World",
    "biography",
    "generate_world",
    "is_plain_request",
    "key_span",
    "load_jsonl",
    "load_probes",
    "load_real_entities",
    "load_real_rehearsal",
    "load_records",
    "load_request",
    "load_splits",
    "load_world",
    "load_world_facts",
    "load_world_probes",
    "make_probes",
    "make_splits",
    "neighbour_records",
    "probes_dir",
    "qa_records",
    "read_jsonl_dicts",
    "relation_facts",
    "retain_name",
    "save_jsonl",
    "save_probes",
    "save_world",
    "slugify",
    "split_entities",
    "splits_from_files",
    "unseen_reference",
]
