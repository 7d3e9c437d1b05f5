"""UNDIAL (``obliviate.llm.methods.undial``): the loss by hand, the cached reference, LoRA's adapter-disabled
teacher."""

import copy

import pytest
import torch

from obliviate import api
from obliviate.llm.encoding import PromptFormat, collate_records, mean_nll
from obliviate.llm.methods import get_method
from obliviate.llm.methods.undial import undial_loss
from tests.llm.methods.helpers import ONE_EPOCH, cross_entropy, padded, prepared_method, softmax


def test_undial_loss_by_hand():
    logits = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
    ref = [[2.0, 0.0, 1.0], [1.0, 1.0, 1.0]]
    target, beta = [0, 2], 1.5
    expected = 0.0
    for z, r, y in zip(logits, ref, target):
        adjusted = [v - beta if i == y else v for i, v in enumerate(r)]
        expected += cross_entropy(softmax(adjusted), z) / 2
    got = undial_loss(torch.tensor(logits), torch.tensor(ref), torch.tensor(target), beta)
    assert float(got) == pytest.approx(expected, rel=1e-6)


@pytest.mark.trains
def test_undial_is_the_same_with_its_reference_cached(tiny_target, splits):
    model, tok = tiny_target
    undial, fmt = prepared_method("UNDIAL", {"beta": 3.0}, copy.deepcopy(model), tok, splits)
    f = collate_records(fmt, splits.forget[:4])
    with torch.no_grad():
        first = float(undial.losses(model, {"forget": f})["forget"])
        second = float(undial.losses(model, {"forget": padded(f, 5, tok.pad_token_id)})["forget"])
    assert undial.ref.hits == 1 and second == pytest.approx(first, rel=1e-5)


@pytest.mark.trains
def test_undial_under_lora_distils_from_the_adapter_disabled_model(tiny_target, splits):
    from obliviate.train.trainer import is_peft

    model, tok = tiny_target
    f = collate_records(PromptFormat(tok), splits.forget[:4])
    before, _ = prepared_method("UNDIAL", {}, model, tok, splits)
    m = get_method("UNDIAL")
    out = api.unlearn(copy.deepcopy(model), tok, splits, m,
                      api.UnlearnConfig(**{**ONE_EPOCH, "lr": 3e-3, "lora_r": 8, "lora_alpha": 32}), keep_adapter=True)
    assert is_peft(out) and m.ref.shared and m.ref.model is out  # no second copy of the model
    with torch.no_grad():
        with m.ref() as ref:  # adapters off: exactly the model before unlearning
            assert float(mean_nll(ref, f)) == pytest.approx(float(mean_nll(model, f)), rel=1e-5)
        assert float(m.losses(out, {"forget": f})["forget"]) < float(before.losses(model, {"forget": f})["forget"])
        assert float(mean_nll(out, f)) > float(mean_nll(model, f))  # the adapter forgot
