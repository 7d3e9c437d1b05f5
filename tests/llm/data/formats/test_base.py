"""The format registry (``obliviate.llm.data.formats.base``): every format, its paper, unknown names."""

import pytest

from obliviate.core.errors import ConfigError
from obliviate.llm.data.formats import FORMATS, load_benchmark


def test_registry_lists_every_format_with_its_paper():
    assert FORMATS.names() == ["blur", "faithun", "muse", "tofu", "wmdp"]
    assert all("arXiv" in e.paper for e in FORMATS.entries())
    with pytest.raises(ConfigError, match="unknown benchmark format 'rwku'; valid: blur, faithun, muse, tofu, wmdp"):
        load_benchmark("rwku", ".")
