"""Shared fixtures: a small generated world and tiny target/gold models trained in seconds."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OBLIVIATE_QUIET", "1")

import copy  # noqa: E402

import pytest  # noqa: E402

from tests.helpers import tiny_finetune_config, train_seed, unmarked_training_tests  # noqa: E402


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


@pytest.fixture(scope="session", name="train_seed")
def train_seed_fixture() -> int:
    return train_seed()


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


def pytest_collection_modifyitems(config, items):
    """A test that uses a fixture that trains a model must be marked ``trains`` (see tests/helpers.py)."""
    unmarked = unmarked_training_tests(items)
    if unmarked:
        raise pytest.UsageError("these tests use a fixture that trains a model, so they belong to the `trains` tier; "
                                "mark them @pytest.mark.trains:\n  " + "\n  ".join(unmarked))
