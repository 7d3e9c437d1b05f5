"""Registries (``obliviate.core.registry``): lookup ignores case and dashes, unknown and duplicate names are refused."""

import pytest

from obliviate.core.errors import ObliviateError
from obliviate.core.registry import Registry


def test_registry_lookup_is_case_and_dash_insensitive():
    reg = Registry("thing")

    @reg.register("grad-ascent", paper="X")
    class A:
        """Ascend."""

    assert reg.get("GRAD_ASCENT") is A and reg.get("gradascent") is A
    assert reg.entry("grad-ascent").summary == "Ascend."


def test_registry_unknown_lists_valid_and_duplicate_refused():
    reg = Registry("thing")
    reg.register("alpha")(object)
    reg.register("beta")(int)
    with pytest.raises(ObliviateError, match="valid: alpha, beta"):
        reg.get("gamma")
    with pytest.raises(ObliviateError, match="duplicate"):
        reg.register("ALPHA")(str)
