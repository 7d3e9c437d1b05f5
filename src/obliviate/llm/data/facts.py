"""Easy real-world facts shipped with the package.

They measure collateral damage: an unlearning method that removes a fictitious
person should leave "What is the capital of France?" intact. Which of these a
given model actually knows is decided elsewhere, by asking it.
"""

from __future__ import annotations

from importlib import resources

from obliviate.llm.data.records import QARecord, load_jsonl

WORLD_FACTS_FILE = "world_facts.jsonl"


def load_world_facts() -> list[QARecord]:
    """The shipped world facts (``fact_type == "world_fact"``), in file order."""
    ref = resources.files("obliviate.llm.data").joinpath(WORLD_FACTS_FILE)
    with resources.as_file(ref) as path:
        return load_jsonl(path)
