"""SMARL's reference data (``obliviate.smarl.reference``): the setting it needs, and the real files when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from obliviate.core.errors import DataError
from obliviate.smarl import load_initial_fields, load_spectrum, spectrum, spectrum_reward

torch.set_num_threads(1)


# (h) reference data
def test_reference_files_need_the_setting(monkeypatch, tmp_path):
    monkeypatch.delenv("OBLIVIATE_DATA", raising=False)
    with pytest.raises(DataError, match="OBLIVIATE_DATA"):
        load_spectrum("k4")
    with pytest.raises(DataError, match="OBLIVIATE_DATA"):
        load_initial_fields("k4", 32, data_dir=tmp_path)


def _data() -> Path:
    root = os.environ.get("OBLIVIATE_DATA")
    if not root or not (Path(root) / "smarl").is_dir():
        pytest.skip("set OBLIVIATE_DATA to the folder holding smarl/ (e.g. ../shared/data) to read the reference files")
    return Path(root)


def test_reference_files_read_and_match_our_normalisation():
    _data()
    ref = load_spectrum("k4", "enstrophy")
    assert ref.value.shape == (512,) and float(ref.k[-1]) == 511 and (ref.value > 0).all()
    beta = load_spectrum("k4-beta20", "energy", "x")
    assert beta.low is not None and (beta.low <= beta.value).all()
    w = load_initial_fields("k4", 64)
    assert w.shape == (5, 64, 64) and w.dtype == torch.float64
    ours = spectrum(w, "enstrophy", "xy").mean(0)
    assert torch.allclose(ours[:5], ref.value[:5], rtol=0.02)  # same normalisation as the DNS files
    r = spectrum_reward(ours.unsqueeze(0), ref.value)
    assert r.shape == (1,) and float(r) > 0
