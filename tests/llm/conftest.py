"""Fixtures shared by the LLM test modules: the world's probes and the tiny model's entity lens."""

import pytest

from obliviate.llm.interp.latents import build_lens
from tests.llm.helpers import TINY_LENS


@pytest.fixture(scope="module")
def probes(world_dir):
    from obliviate.llm.data import load_world_probes

    return load_world_probes(world_dir, "forget10")


@pytest.fixture(scope="module")
def lens(tiny_target, splits):
    model, tok = tiny_target
    return build_lens(model, tok, splits, TINY_LENS)


@pytest.fixture(scope="module")
def known(lens, splits):
    ids = set(lens.info["known_records"])
    return [r for r in splits.retain if r.id in ids]
