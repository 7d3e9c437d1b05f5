"""The static method contract over every domain (LLM, graph, vision): a paper with its arXiv id, a stated
objective, a config that round-trips through YAML and refuses unknown keys. The behavioural contracts run per
domain on tiny models, each in the test module of its domain's method base: tests/llm/methods/test_base.py,
tests/graph/methods/test_base.py (``test_methods_unlearn_and_keep_utility``), tests/vision/methods/test_base.py
(``test_every_method_lowers_forget_accuracy``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from obliviate.core.config import load_yaml, save_yaml
from obliviate.core.errors import ConfigError, ObliviateError
from obliviate.core.method import UnlearningMethod, make_method
from obliviate.core.registry import Registry
from obliviate.graph.methods import GRAPH_METHODS, GraphMethod
from obliviate.llm.methods import METHODS
from obliviate.vision.methods import VISION_METHODS, VisionMethod

REGISTRIES = {"llm": METHODS, "graph": GRAPH_METHODS, "vision": VISION_METHODS}
CASES = [(domain, name) for domain, reg in REGISTRIES.items() for name in reg.names()]


@pytest.mark.parametrize("domain, name", CASES)
def test_method_declares_its_paper_and_objective(domain, name):
    entry = REGISTRIES[domain].entry(name)
    assert "arXiv" in (entry.paper or entry.obj.paper), name
    module_doc = __import__(entry.obj.__module__, fromlist=["x"]).__doc__ or ""
    assert "L =" in (entry.obj.__doc__ or "") + module_doc or "L=" in module_doc, f"{name}: no objective stated"


@pytest.mark.parametrize("domain, name", CASES)
def test_method_config_round_trips_and_refuses_unknown_keys(domain, name, tmp_path):
    reg = REGISTRIES[domain]
    method = reg.get(name).from_dict(None)
    data = method.to_dict()
    save_yaml(tmp_path / "m.yaml", data)
    assert reg.get(name).from_dict(load_yaml(tmp_path / "m.yaml")).config == method.config
    with pytest.raises(ConfigError, match="unknown key"):
        reg.get(name).from_dict({"no_such_setting": 1})


def test_graph_and_vision_share_one_method_base():
    assert GraphMethod is VisionMethod is UnlearningMethod
    for reg in (GRAPH_METHODS, VISION_METHODS):
        for name in reg.names():
            assert issubclass(reg.get(name), UnlearningMethod) and reg.get(name).unlearn is not UnlearningMethod.unlearn


def test_make_method_applies_overrides_and_names_unknown_methods():
    reg: Registry = Registry("test method")

    @reg.register("Toy")
    class Toy(UnlearningMethod):
        @dataclass
        class Config:
            steps: int = 3

    assert make_method(reg, "toy", {"steps": 5}).config.steps == 5
    with pytest.raises(ObliviateError, match="valid: Toy"):
        make_method(reg, "nope")
    with pytest.raises(NotImplementedError):
        make_method(reg, "Toy").unlearn(None)
