"""The SMARL data folder: the real files when ``$OBLIVIATE_DATA`` holds them, else stand-ins in their formats."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.stand_in_data import smarl_k4_files


@pytest.fixture()
def data_dir(tmp_path_factory, monkeypatch) -> str:
    """``$OBLIVIATE_DATA`` when it holds smarl/ (the real files), else stand-in files in the real formats."""
    root = os.environ.get("OBLIVIATE_DATA")
    if root and (Path(root) / "smarl").is_dir():
        return root
    stand_in = tmp_path_factory.getbasetemp() / "smarl-stand-in"
    if not stand_in.is_dir():
        smarl_k4_files(stand_in)
    monkeypatch.setenv("OBLIVIATE_DATA", str(stand_in))
    return str(stand_in)
