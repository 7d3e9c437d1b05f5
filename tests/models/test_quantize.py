"""The weight quantisation round trip (Zhang et al. 2024's attack on unlearning)."""

import pytest
import torch
from torch import nn

from obliviate.core.errors import ConfigError
from obliviate.models.quantize import quantize_weights, quantized_copy, round_trip
from obliviate.models.tiny import tiny_llama


def mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(24, 16), nn.ReLU(), nn.Linear(16, 8), nn.LayerNorm(8))


def linears(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: m.weight.detach().clone() for n, m in model.named_modules() if isinstance(m, nn.Linear)}


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("bits", [8, 4, 3])
def test_each_row_lies_on_its_integer_grid(bits):
    model = mlp()
    before = linears(model)
    quantize_weights(model, bits)
    qmax = 2 ** (bits - 1) - 1
    for name, w in before.items():
        wq = dict(model.named_modules())[name].weight.detach()
        scale = w.abs().amax(1, keepdim=True) / qmax  # per output row
        steps = wq / scale
        assert torch.allclose(steps, steps.round(), atol=1e-4), name
        assert int(steps.round().abs().max()) <= qmax
        assert all(len(row.unique()) <= 2**bits - 1 for row in wq)
        assert bool(((w - wq).abs() <= scale / 2 + 1e-6).all()), name


def test_eight_bits_are_much_closer_than_four():
    w = mlp()[0].weight.detach()
    err8 = (w - round_trip(w, 8)).abs().mean()
    err4 = (w - round_trip(w, 4)).abs().mean()
    assert 0 < err8 < 0.1 * err4  # the step is 7/127 as large


def test_groups_have_their_own_scales():
    torch.manual_seed(1)
    w = torch.randn(4, 20)
    w[:, :8] *= 100  # one loud group would swamp a per-row scale
    wq = round_trip(w, 4, group_size=8)  # groups of 8, 8 and a ragged 4
    for lo, hi in [(0, 8), (8, 16), (16, 20)]:
        scale = w[:, lo:hi].abs().amax(1, keepdim=True) / 7
        steps = wq[:, lo:hi] / scale
        assert torch.allclose(steps, steps.round(), atol=1e-4)
        assert bool(((w[:, lo:hi] - wq[:, lo:hi]).abs() <= scale / 2 + 1e-6).all())
    assert (w - wq)[:, 8:].abs().max() < (w - round_trip(w, 4))[:, 8:].abs().max()


def test_zero_rows_stay_zero():
    w = torch.zeros(3, 5)
    w[1] = torch.arange(5.0)
    wq = round_trip(w, 4)
    assert torch.equal(wq[0], torch.zeros(5)) and torch.equal(wq[2], torch.zeros(5))


def test_quantizing_twice_equals_once():
    once = quantize_weights(mlp(), 4)
    twice = quantize_weights(quantize_weights(mlp(), 4), 4)
    for a, b in zip(once.parameters(), twice.parameters()):
        assert torch.allclose(a, b, rtol=1e-6, atol=0)


def test_embeddings_norms_biases_and_tied_head_are_untouched():
    model = tiny_llama(50, seed=0)
    assert model.lm_head.weight is model.model.embed_tokens.weight  # tied
    before = state(model)
    quantize_weights(model, 4)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.endswith("_proj.weight") for k in changed)
    proj = {k for k in before if k.endswith("_proj.weight")}
    assert changed == proj  # every attention and MLP projection, nothing else

    seq = mlp()
    biases = [seq[0].bias.detach().clone(), seq[2].bias.detach().clone()]
    quantize_weights(seq, 4)
    assert torch.equal(seq[0].bias, biases[0]) and torch.equal(seq[2].bias, biases[1])


def test_a_weight_tied_to_a_skipped_module_is_left_alone():
    model = tiny_llama(50, seed=0)
    embedding = model.model.embed_tokens.weight.detach().clone()
    quantize_weights(model, 4, skip=("embed_tokens",))  # lm_head is not skipped, but shares the embedding
    assert torch.equal(model.model.embed_tokens.weight, embedding)


def test_custom_skip():
    model = mlp()
    first, second = model[0].weight.detach().clone(), model[2].weight.detach().clone()
    quantize_weights(model, 4, skip=("0",))
    assert torch.equal(model[0].weight, first) and not torch.equal(model[2].weight, second)


@pytest.mark.parametrize("bits", [1, 17, 0, -4, 4.0, True, "8"])
def test_bad_bits_are_a_config_error(bits):
    with pytest.raises(ConfigError, match="bits"):
        quantize_weights(mlp(), bits)


@pytest.mark.parametrize("group_size", [0, -8, 2.5])
def test_bad_group_size_is_a_config_error(group_size):
    with pytest.raises(ConfigError, match="group_size"):
        quantize_weights(mlp(), 4, group_size=group_size)


def test_quantized_copy_leaves_the_original_untouched():
    model = tiny_llama(50, seed=0)
    before = state(model)
    copy = quantized_copy(model, 4, group_size=16)
    assert copy is not model
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not torch.equal(copy.model.layers[0].mlp.down_proj.weight, model.model.layers[0].mlp.down_proj.weight)
    assert copy.lm_head.weight is copy.model.embed_tokens.weight  # ties survive the copy
