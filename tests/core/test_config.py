"""Configs (``obliviate.core.config``): dataclasses round-trip through YAML, command-line overrides are typed,
and a bad key or value is one error that names it."""

import dataclasses

import pytest

from obliviate.core.config import from_dict, load_yaml, parse_overrides, save_yaml, to_dict
from obliviate.core.errors import ConfigError
from obliviate.llm.methods import METHODS, get_method


@pytest.mark.parametrize("name", METHODS.names())
def test_method_config_round_trips_through_yaml(name, tmp_path):
    method = get_method(name)
    def other(v):  # a different valid value of the same type (strings are choices: kept)
        return (not v) if isinstance(v, bool) else v if isinstance(v, str) else v * 2

    changed = {f.name: other(f.default) for f in dataclasses.fields(method.config)}
    method = get_method(name, changed)
    save_yaml(tmp_path / "m.yaml", method.to_dict())
    again = METHODS.get(name).from_dict(load_yaml(tmp_path / "m.yaml"))
    assert again.config == method.config and again.to_dict() == changed


def test_config_errors_name_the_problem():
    with pytest.raises(ConfigError, match="unknown key.*betta.*valid: beta"):
        get_method("npo", {"betta": 1})
    with pytest.raises(ConfigError, match="expected float"):
        get_method("npo", {"beta": "high"})
    with pytest.raises(ConfigError, match="beta must be > 0"):
        get_method("npo", {"beta": 0})
    # CLI strings are typed by the dataclass
    assert get_method("npo", parse_overrides(["beta=0.5"])).config.beta == 0.5
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["beta"])


def test_nested_dataclass_round_trip():
    from obliviate import api

    cfg = api.tiny_demo_config()
    data = to_dict(cfg)
    again = api.demo_config_from(data)
    assert to_dict(again) == data
    with pytest.raises(ConfigError):
        from_dict(api.WorldConfig, {"n_entities": 3})
