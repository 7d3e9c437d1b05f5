"""Activation hooks (``obliviate.llm.interp.hooks``): points read what transformers computes, entity spans,
activations cached by weights."""

import copy

import pytest
import torch

from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import PromptFormat, collate_records
from obliviate.llm.interp import hooks

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_points_read_what_transformers_computes(tiny_target, splits):
    model, tok = tiny_target
    batch = collate_records(PromptFormat(tok), splits.forget[:3])
    with torch.no_grad():
        ref = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
        acts = hooks.read(model, batch, ["resid.0", "mlp_act.1", "mlp.-1"], stop=False)
    assert torch.allclose(acts["resid.0"], ref.hidden_states[1])  # hidden_states[0] is the embedding output
    assert acts["mlp_act.1"].shape[-1] == model.config.intermediate_size
    with torch.no_grad():
        assert torch.allclose(model.model.layers[1].mlp.down_proj(acts["mlp_act.1"]), acts["mlp.-1"], atol=1e-5)
    with pytest.raises(ConfigError, match="outside"):
        hooks.Point.parse("resid.5", 2)
    with pytest.raises(ConfigError, match="bad activation point"):
        hooks.Point.parse("attn.0")


def test_entity_span_finds_the_name_tokens(tiny_target, splits):
    _, tok = tiny_target
    fmt = PromptFormat(tok)
    for r in splits.forget[:5] + splits.holdout[:5]:
        a, b = hooks.entity_span(fmt, r.question, r.entity)
        ids = fmt.encode_prompt(r.question)
        assert tok.decode(ids[a:b]).replace(" ", "") == r.entity.replace(" ", "")
        assert hooks.entity_position(fmt, r.question, r.entity) == b - 1
    q = "What is the capital of France?"  # no name: the last prompt token
    assert hooks.entity_position(fmt, q, "Zed Nobody") == len(fmt.encode_prompt(q)) - 1


def test_record_activations_are_cached_by_weights(tiny_target, splits, obliviate_home):
    model, tok = tiny_target
    a = hooks.record_activations(model, tok, splits.forget[:6], "resid.0", "entity")
    files = set((obliviate_home / "activations").glob("*.safetensors"))
    b = hooks.record_activations(model, tok, splits.forget[:6], "resid.0", "entity")
    assert torch.equal(a, b) and set((obliviate_home / "activations").glob("*.safetensors")) == files
    fmt = PromptFormat(tok)
    batch = collate_records(fmt, splits.forget[:6])
    h = hooks.read(model, batch, ["resid.0"])["resid.0"]
    pos = [hooks.entity_position(fmt, r.question, r.entity) for r in splits.forget[:6]]
    assert torch.allclose(a, hooks.gather(h, pos).float(), atol=1e-5)  # prompt positions agree with answer batches
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.model.embed_tokens.weight.mul_(1.5)
    assert hooks.model_fingerprint(other) != hooks.model_fingerprint(model)
