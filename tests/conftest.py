"""Shared fixtures: a small generated world and tiny target/gold models trained in seconds."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OBLIVIATE_QUIET", "1")

import copy  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def obliviate_home(tmp_path_factory):
    """Every test writes its caches into a temporary OBLIVIATE_HOME."""
    home = tmp_path_factory.mktemp("obliviate_home")
    os.environ["OBLIVIATE_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def world_dir(obliviate_home):
    from obliviate import api

    return api.build_world(api.WorldConfig(n_entities=16, seed=0))


@pytest.fixture(scope="session")
def splits(world_dir):
    from obliviate import api

    return api.load_world_splits(world_dir, "forget10")


def train_seed() -> int:
    """``OBLIVIATE_TEST_SEED`` (default 0): the seed of every model trained in a test fixture (the tiny LLM
    target and gold, the graph and vision originals). Each seed trains another model, as another CPU's
    rounding does, so a margin that holds only for one model shows up on any machine
    (``OBLIVIATE_TEST_SEED=3 make test``)."""
    return int(os.environ.get("OBLIVIATE_TEST_SEED", "0"))


@pytest.fixture(scope="session", name="train_seed")
def train_seed_fixture() -> int:
    return train_seed()


def tiny_finetune_config(**kw):
    """The tiny target/gold training settings (the seed: :func:`train_seed`)."""
    from obliviate import api

    base = dict(epochs=40.0, lr=4e-3, batch_size=16, warmup_ratio=0.05, checkpoint_every=0,
                seed=train_seed())
    return api.FinetuneConfig(**{**base, **kw})


@pytest.fixture(scope="session")
def tiny_target(world_dir, splits):
    """A tiny Llama that has memorised every trained fact (forget + retain + world facts)."""
    from obliviate import api

    records = splits.forget + splits.retain + splits.world_facts
    return api.finetuned(api.TINY, records, tiny_finetune_config(), role="target", world_dir=world_dir)


@pytest.fixture(scope="session")
def tiny_gold(world_dir, splits):
    """The same tiny Llama trained without the forget people: what perfect unlearning looks like."""
    from obliviate import api

    records = splits.retain + splits.world_facts
    return api.finetuned(api.TINY, records, tiny_finetune_config(), role="gold", world_dir=world_dir)


@pytest.fixture()
def fresh_target(tiny_target):
    """A copy of the tiny target each test may modify."""
    model, tok = tiny_target
    return copy.deepcopy(model), tok
