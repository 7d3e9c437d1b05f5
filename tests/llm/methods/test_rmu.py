"""RMU (``obliviate.llm.methods.rmu``): the objective at the frozen model, steering toward c*u,
parameter selection, layer clamping."""

import copy

import pytest
import torch

from obliviate import api
from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import PromptFormat, collate_records
from obliviate.llm.methods import MethodContext, get_method
from obliviate.llm.methods.rmu import block_output, decoder_blocks, masked_mse, resolve_layers


def prepared(model, tok, splits, **overrides):
    """An RMU instance prepared on ``model`` and the prompt format."""
    rmu = get_method("RMU", overrides)
    fmt = PromptFormat(tok)
    rmu.prepare(MethodContext(model, tok, fmt, splits))
    return rmu, fmt


def batches(fmt, splits, n=4):
    return {"forget": collate_records(fmt, splits.forget[:n]), "retain": collate_records(fmt, splits.retain[:n])}


@pytest.mark.trains
def test_layers_are_clamped_to_the_model_depth(tiny_target, splits):
    assert resolve_layers(32, 7, 3) == (7, [5, 6, 7])  # the WMDP setting
    assert resolve_layers(2, 7, 3) == (1, [0, 1])
    assert resolve_layers(8, 0, 3) == (0, [0])
    assert resolve_layers(8, 5, 1) == (5, [5])
    rmu, _ = prepared(*tiny_target, splits)
    assert (rmu.layer, rmu.layer_ids) == (1, [0, 1])


@pytest.mark.trains
def test_block_output_is_the_residual_stream_after_block_l(tiny_target, splits):
    model, tok = tiny_target
    b = collate_records(PromptFormat(tok), splits.forget[:3])
    with torch.no_grad():
        hidden = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], output_hidden_states=True)
        h0 = block_output(model, decoder_blocks(model)[0], b)
    assert torch.allclose(h0, hidden.hidden_states[1], atol=1e-5)  # hidden_states[0] is the embedding


@pytest.mark.trains
def test_retain_term_is_zero_at_the_frozen_model(tiny_target, splits):
    model, tok = tiny_target
    rmu, fmt = prepared(model, tok, splits)
    b = batches(fmt, splits)
    with torch.no_grad():
        out = rmu.losses(model, b)
        h = rmu.activations(model, b["forget"])
    assert float(out["retain"]) == 0.0
    mask = b["forget"]["attention_mask"].bool()
    expected = ((h - 6.5 * rmu.u) ** 2).mean(-1)[mask].mean()  # element-wise MSE over real tokens
    assert float(out["forget"]) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.trains
def test_direction_is_a_seeded_unit_vector(tiny_target, splits):
    a, _ = prepared(*tiny_target, splits)
    b, _ = prepared(*tiny_target, splits)
    c, _ = prepared(*tiny_target, splits, seed=1)
    assert torch.equal(a.u, b.u) and not torch.equal(a.u, c.u)
    assert float(a.u.norm()) == pytest.approx(1.0) and bool((a.u >= 0).all())  # torch.rand, as in WMDP


@pytest.mark.trains
def test_scale_c_by_norm_uses_the_mean_forget_activation_norm(tiny_target, splits):
    model, tok = tiny_target
    rmu, fmt = prepared(model, tok, splits, scale_c_by_norm=True, steering_coeff=2.0)
    b = collate_records(fmt, splits.forget)
    with torch.no_grad():
        norms = rmu.activations(model, b).norm(dim=-1)[b["attention_mask"].bool()]
    assert rmu.coeff == pytest.approx(2.0 * float(norms.mean()), rel=1e-4)


@pytest.mark.trains
def test_forget_activations_turn_toward_u(fresh_target, splits):
    model, tok = fresh_target
    rmu, fmt = prepared(model, tok, splits)
    b = batches(fmt, splits, n=8)
    mask = b["forget"]["attention_mask"].bool()

    def cosine():
        with torch.no_grad():
            h = rmu.activations(model, b["forget"])[mask]
        return float(torch.nn.functional.cosine_similarity(h, rmu.u[None], dim=-1).mean())

    before = cosine()
    opt = torch.optim.Adam(rmu.trainable_parameters(model), lr=1e-3)
    for _ in range(10):
        opt.zero_grad()
        sum(rmu.losses(model, b).values()).backward()
        opt.step()
    assert cosine() > before + 0.1


@pytest.mark.trains
def test_down_proj_selection_trains_only_those_weights(fresh_target, splits):
    model, tok = fresh_target
    rmu, fmt = prepared(model, tok, splits, param_names="down_proj")
    blocks = decoder_blocks(model)
    params = rmu.trainable_parameters(model)
    assert [id(p) for p in params] == [id(blocks[i].mlp.down_proj.weight) for i in (0, 1)]

    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    api.unlearn(model, tok, splits, rmu, api.UnlearnConfig(epochs=1.0, lr=1e-3, batch_size=4, checkpoint_every=0))
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed == {f"model.layers.{i}.mlp.down_proj.weight" for i in (0, 1)}


@pytest.mark.trains
def test_gradients_stop_at_the_steered_block(tiny_target, splits):
    model, tok = copy.deepcopy(tiny_target[0]), tiny_target[1]
    rmu, fmt = prepared(model, tok, splits, layer=0)
    assert rmu.layer_ids == [0]
    sum(rmu.losses(model, batches(fmt, splits)).values()).backward()
    blocks = decoder_blocks(model)
    assert blocks[0].mlp.down_proj.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in blocks[1].parameters())  # the forward stopped after block 0
    assert all(p.grad is None for p in rmu.ref.model.parameters())


def test_masked_mse_ignores_masked_tokens():
    h = torch.tensor([[[1.0, 1.0], [5.0, 5.0]]])
    assert float(masked_mse(h, torch.zeros(2), torch.tensor([[True, False]]))) == pytest.approx(1.0)


@pytest.mark.trains
def test_bad_config_is_a_config_error(tiny_target):
    with pytest.raises(ConfigError, match="forget_tokens"):
        get_method("RMU", {"forget_tokens": "some"})
    with pytest.raises(ConfigError, match="steering_coeff"):
        get_method("RMU", {"steering_coeff": 0})
    with pytest.raises(ConfigError, match="matches no parameter"):
        get_method("RMU", {"param_names": "nope"}).trainable_parameters(tiny_target[0])
