"""LoRA everywhere: unlearning, the reference model, saving the adapter, relearning."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from obliviate import api
from obliviate.core.errors import ConfigError
from obliviate.llm.eval.scoring import Scorer
from obliviate.llm.methods import get_method
from obliviate.train.trainer import is_peft, parse_lora

UNLEARN = dict(epochs=6.0, batch_size=4, checkpoint_every=0)


def likelihood(model, tok, records) -> float:
    logp, _ = Scorer(model, tok).answer_logprobs([(r.question, r.answer) for r in records])
    return float(np.exp(logp).mean())


def test_parse_lora():
    assert parse_lora("r=8,alpha=16,targets=q_proj,v_proj") == {
        "lora_r": 8, "lora_alpha": 16, "lora_targets": "q_proj,v_proj"}
    assert parse_lora("r=4") == {"lora_r": 4, "lora_alpha": 8, "lora_targets": ""}
    for bad, msg in [("alpha=16", "needs r"), ("r=0", ">= 1"), ("r=x", "integers"), ("r=4,rank=2", "unknown key"),
                     ("q_proj", "key=value")]:
        with pytest.raises(ConfigError, match=msg):
            parse_lora(bad)


@pytest.mark.parametrize("lora", [{}, {"lora_r": 8, "lora_alpha": 32}])
def test_lora_and_full_unlearning_both_lower_forget_likelihood(tiny_target, splits, lora):
    model, tok = tiny_target
    net = copy.deepcopy(model)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    l0 = likelihood(net, tok, splits.forget)
    out = api.unlearn(net, tok, splits, "npo", api.UnlearnConfig(lr=3e-3 if lora else 1e-3, **UNLEARN, **lora))
    assert not is_peft(out)  # merged into plain weights by default
    assert likelihood(out, tok, splits.forget) < 0.5 * l0
    after = out.state_dict()
    assert set(after) == set(before)  # same architecture, no adapter left behind
    if lora:  # LoRA touches only the adapted linear layers: norms and embeddings stay bit-identical
        assert torch.equal(after["model.norm.weight"], before["model.norm.weight"])
        assert torch.equal(after["model.embed_tokens.weight"], before["model.embed_tokens.weight"])


def test_lora_targets_restrict_the_adapted_modules(tiny_target, splits):
    model, tok = tiny_target
    net = copy.deepcopy(model)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    cfg = api.UnlearnConfig(lr=3e-3, **UNLEARN, lora_r=4, lora_targets="q_proj,v_proj")
    out = api.unlearn(net, tok, splits, "graddiff", cfg)
    after = out.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed and all(k.endswith(("q_proj.weight", "v_proj.weight")) for k in changed), changed
    with pytest.raises(ConfigError, match="LoRA targets"):
        api.unlearn(copy.deepcopy(model), tok, splits, "graddiff",
                    api.UnlearnConfig(lr=3e-3, **UNLEARN, lora_r=4, lora_targets="no_such_layer"))


def test_reference_methods_use_the_adapter_disabled_model_not_a_copy(tiny_target, splits):
    model, tok = tiny_target
    net = copy.deepcopy(model)
    l0 = likelihood(net, tok, splits.forget)
    m = get_method("KL")
    out = api.unlearn(net, tok, splits, m, api.UnlearnConfig(lr=3e-3, **UNLEARN, lora_r=8, lora_alpha=32),
                      keep_adapter=True)
    assert m.ref.shared and m.ref.model is out  # the reference is the trained model itself
    assert is_peft(out)
    assert likelihood(out, tok, splits.forget) < 0.5 * l0
    with m.ref() as ref:  # adapters off: exactly the model before unlearning
        assert likelihood(ref, tok, splits.forget) == pytest.approx(l0, rel=1e-5)
    # without LoRA the reference is a frozen copy, and its answers are cached once per record
    full = get_method("KL")
    api.unlearn(copy.deepcopy(model), tok, splits, full, api.UnlearnConfig(lr=1e-3, epochs=2.0, batch_size=4,
                                                                              sampling="cyclic"))
    assert not full.ref.shared and full.ref.model is not model
    assert full.ref.hits > 0  # the second epoch read the reference's rows from memory


def test_rmu_under_lora_trains_only_its_modules_adapters(tiny_target, splits):
    from obliviate.train.trainer import lora_parameters

    model, tok = tiny_target
    net = copy.deepcopy(model)
    rmu = get_method("RMU", {"param_names": "down_proj"})
    requested = rmu.trainable_parameters(net)
    out = api.unlearn(net, tok, splits, rmu, api.UnlearnConfig(lr=3e-3, epochs=2.0, batch_size=4, lora_r=4),
                      keep_adapter=True)
    chosen = lora_parameters(out, requested)
    assert chosen and all("lora_" in n for n, p in out.named_parameters() if any(p is c for c in chosen))
    n_lora = sum(1 for n, _ in out.named_parameters() if "lora_" in n)
    assert len(chosen) < n_lora  # not every adapter: only those of RMU's modules


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


def test_relearning_attack_through_lora(tiny_target, splits):
    from obliviate.llm.eval.attacks import RelearnConfig, relearn_attack

    model, tok = tiny_target
    damaged = api.unlearn(copy.deepcopy(model), tok, splits, "gradascent",
                          api.UnlearnConfig(lr=1e-3, epochs=3.0, batch_size=4))
    traj = relearn_attack(damaged, tok, splits.forget, splits.forget,
                          RelearnConfig(steps=6, lr=5e-3, eval_every=3, lora_r=8, lora_alpha=32))
    assert traj[-1][1] > traj[0][1]  # relearning through adapters brings the forget answers back
    assert not is_peft(damaged)  # the attacked model was a copy
