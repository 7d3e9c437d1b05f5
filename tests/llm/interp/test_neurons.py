"""Knowledge neurons (``obliviate.llm.interp.neurons``): attribution against a direct computation, the random-
answer regulariser, top-p% selection, and masks in both weight layouts."""

import copy

import pytest
import torch

from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import PromptFormat, answer_logprob, collate
from obliviate.llm.interp.hooks import decoder_blocks
from obliviate.llm.interp.neurons import (
    knowledge_neurons,
    neuron_attribution,
    neuron_masks,
    random_answers,
    select_top,
    top_count,
)


def gain_attribution(model, fmt, records, block: int) -> torch.Tensor:
    """The same attribution by another route: d log p / d g at g = 1, for a gain g on each neuron.

    Scaling neuron i's activation by g_i gives d/dg_i = sum_t h_i,t * d log p / d h_i,t, i.e. A_i.
    """
    model = copy.deepcopy(model).eval()
    down = decoder_blocks(model)[block].mlp.down_proj
    gain = torch.ones(down.in_features, requires_grad=True)
    handle = down.register_forward_pre_hook(lambda mod, args: (args[0] * gain,))
    total = torch.zeros(down.in_features)
    for r in records:  # one record per pass: no batching at all
        logp, _ = answer_logprob(model, collate(fmt, [(r.question, r.answer)]))
        total += torch.autograd.grad(logp.sum(), gain)[0]
    handle.remove()
    return total


@pytest.mark.trains
def test_attribution_equals_a_direct_computation(tiny_target, splits):
    model, tok = tiny_target
    fmt = PromptFormat(tok)
    records = splits.forget[:3]
    assert all(p.grad is None for p in model.parameters())
    scores = neuron_attribution(model, fmt, records, batch_size=2)  # batched and padded
    assert all(p.grad is None for p in model.parameters())  # weights' .grad untouched
    assert sorted(scores) == [0, 1] and scores[0].shape == (192,)
    for block in (0, 1):
        expected = gain_attribution(model, fmt, records, block)
        assert torch.allclose(scores[block], expected, rtol=1e-3, atol=1e-6)
        assert expected.abs().max() > 0
    # other answers are scored when given (the regulariser's F~)
    wrong = [r.perturbed_answers[0] for r in records]
    other = neuron_attribution(model, fmt, records, wrong)
    assert not torch.allclose(other[0], scores[0])


def test_random_answers_are_other_answers_of_the_same_kind(splits):
    records = splits.forget
    wrong = random_answers(records, seed=0)
    assert wrong == random_answers(records, seed=0) and wrong != random_answers(records, seed=1)
    by_type = {}
    for r in records:
        by_type.setdefault(r.fact_type, set()).add(r.answer)
    for r, a in zip(records, wrong):
        assert a != r.answer
        if len(by_type[r.fact_type]) > 1:
            assert a in by_type[r.fact_type]  # same fact type, so the same template
        else:
            assert a in {o.answer for o in records}
    assert all(a != r.answer for r, a in zip(records, random_answers(records, seed=0, by="any")))


@pytest.mark.trains
def test_regulariser_subtracts_the_random_answer_attribution(tiny_target, splits):
    model, tok = tiny_target
    fmt = PromptFormat(tok)
    records = splits.forget
    a_true = neuron_attribution(model, fmt, records)
    a_rand = neuron_attribution(model, fmt, records, random_answers(records, seed=3))
    got = knowledge_neurons(model, fmt, records, top_percent=2.0, seed=3)
    expected = select_top({l: a_true[l] - a_rand[l] for l in a_true}, 2.0)
    assert {l: v.tolist() for l, v in got.items()} == {l: v.tolist() for l, v in expected.items()}
    plain = knowledge_neurons(model, fmt, records, top_percent=2.0, random_answers_by="off")
    assert {l: v.tolist() for l, v in plain.items()} == {l: v.tolist() for l, v in select_top(a_true, 2.0).items()}
    assert {l: v.tolist() for l, v in plain.items()} != {l: v.tolist() for l, v in got.items()}


def test_top_percent_picks_the_right_count_over_all_blocks():
    assert top_count(384, 2.0) == 8  # 7.68 rounded
    assert top_count(384, 0.1) == 1  # at least one neuron
    assert top_count(100, 100) == 100
    with pytest.raises(ConfigError, match="top_percent"):
        top_count(100, 0)
    scores = {0: torch.arange(100, dtype=torch.float32), 1: torch.arange(100, dtype=torch.float32) + 5.5}
    picked = select_top(scores, 5.0)  # 10 of 200, ranked jointly
    assert sum(len(v) for v in picked.values()) == 10
    assert picked[0].tolist() == [98, 99] and picked[1].tolist() == list(range(92, 100))
    assert 0 not in select_top({0: -scores[0], 1: scores[1]}, 5.0)  # a block without a pick is left out


@pytest.mark.trains
def test_masks_cover_exactly_gate_and_up_rows_and_down_columns(tiny_target):
    model = tiny_target[0]
    masks = neuron_masks(model, {0: torch.tensor([1, 5]), 1: torch.tensor([7])})
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in masks) == sorted(
        f"model.layers.{l}.mlp.{m}.weight" for l in (0, 1) for m in ("gate_proj", "up_proj", "down_proj"))
    for p, m in masks.items():
        name, idx = names[id(p)], ([1, 5] if ".0." in names[id(p)] else [7])
        assert m.dtype == torch.bool and m.shape == p.shape
        expected = torch.zeros_like(m)
        if "down_proj" in name:  # (hidden, intermediate): columns
            expected[:, idx] = True
        else:  # (intermediate, hidden): rows
            expected[idx] = True
        assert torch.equal(m, expected), name
    assert neuron_masks(model, {}) == {}
    with pytest.raises(ConfigError, match="out of range"):
        neuron_masks(model, {0: torch.tensor([192])})


def test_masks_follow_gpt2_conv1d_layout():
    """GPT-2 stores MLP weights transposed (Conv1D): c_fc columns and bias entries, c_proj rows."""
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=8, n_head=2, n_inner=32, vocab_size=16, n_positions=16))
    masks = neuron_masks(model, {1: torch.tensor([3, 30])})
    mlp = model.transformer.h[1].mlp
    assert {id(p) for p in masks} == {id(mlp.c_fc.weight), id(mlp.c_fc.bias), id(mlp.c_proj.weight)}
    assert masks[mlp.c_fc.weight].shape == (8, 32) and masks[mlp.c_fc.weight][:, [3, 30]].all()
    assert int(masks[mlp.c_fc.weight].sum()) == 2 * 8 and int(masks[mlp.c_fc.bias].sum()) == 2
    assert masks[mlp.c_proj.weight][[3, 30]].all() and int(masks[mlp.c_proj.weight].sum()) == 2 * 8
