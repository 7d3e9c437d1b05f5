"""Writing a generated world to a folder: its records, every forget/retain split and each split's probes.

Above both :mod:`~obliviate.llm.data.splits` and :mod:`~obliviate.llm.data.probes` (it uses the two).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from obliviate.core.store import atomic_write_text
from obliviate.llm.data.probes import make_probes, probes_dir, save_probes
from obliviate.llm.data.records import save_jsonl
from obliviate.llm.data.splits import (
    FORGET_VARIANTS,
    _trained_records,
    make_splits,
    retain_name,
    split_entities,
    validation_splits,
)
from obliviate.llm.data.world import World


def save_world(
    world: World,
    directory: str | os.PathLike,
    holdout_fraction: float = 0.2,
    seed: int | None = None,
    validation: int = 0,
) -> Path:
    """Write ``world.json``, ``qa_all.jsonl``, ``holdout.jsonl``, each forget/retain pair
    and each variant's audit probes (``probes-<variant>/``, see :func:`save_probes`).

    ``qa_all.jsonl`` holds every trained record (forget + retain, and the
    validation people's). With ``validation`` > 0 (see :func:`make_splits`) the
    reported files leave the validation people out and ``validation.jsonl``
    holds their records (:func:`validation_splits`' forget set). Every file is
    written atomically. Returns the folder.
    """
    directory = Path(directory)
    atomic_write_text(directory / "world.json", json.dumps(world.to_dict(), indent=2) + "\n")
    roles = split_entities(world, "forget10", holdout_fraction, seed)
    trained = [e.name for e in world.entities if e.name not in roles.holdout]
    save_jsonl(_trained_records(world, trained, roles.holdout), directory / "qa_all.jsonl")
    first = make_splits(world, "forget10", holdout_fraction, seed, world_facts=[], validation=validation)
    save_jsonl(first.holdout, directory / "holdout.jsonl")
    if validation:
        val = validation_splits(world, holdout_fraction, seed, validation, world_facts=[])
        save_jsonl(val.forget, directory / "validation.jsonl")
    for variant in FORGET_VARIANTS:
        splits = make_splits(world, variant, holdout_fraction, seed, world_facts=[], validation=validation)
        save_jsonl(splits.forget, directory / f"{variant}.jsonl")
        save_jsonl(splits.retain, directory / f"{retain_name(variant)}.jsonl")
        probes = make_probes(world, variant, holdout_fraction, seed, world_facts=[])
        save_probes(probes, probes_dir(directory, variant))
    return directory
