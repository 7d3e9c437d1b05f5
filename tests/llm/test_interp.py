"""Activation hooks, the SAE, entity latents, the alignment metric and SAE-guided unlearning on the tiny model."""

import copy

import numpy as np
import pytest
import torch

from obliviate import api
from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.encoding import PromptFormat, collate_records
from obliviate.llm.eval.metrics.sae_alignment import Alignment, alignment
from obliviate.llm.interp import hooks
from obliviate.llm.interp.latents import LensConfig, build_lens, latent_scores
from obliviate.llm.interp.sae import SAE, SAEConfig, train_sae

# A tiny model's SAE: 96 dims x 4 = 384 latents, 6 active (density 1.6%).
TINY_LENS = LensConfig(sae=SAEConfig(expansion=4, k=6, epochs=30), top_latents=8, max_density=0.05)


@pytest.fixture(scope="module")
def lens(tiny_target, splits):
    model, tok = tiny_target
    return build_lens(model, tok, splits, TINY_LENS)


@pytest.fixture(scope="module")
def known(lens, splits):
    ids = set(lens.info["known_records"])
    return [r for r in splits.retain if r.id in ids]


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


def test_sae_reconstructs_heldout_activations_better_than_the_mean(tiny_target, splits, tmp_path):
    model, tok = tiny_target
    fmt = PromptFormat(tok)
    texts = [fmt.prompt(r.question) + fmt.answer(r.answer) for r in splits.retain + splits.forget]
    acts = torch.unique(hooks.text_activations(model, tok, texts, "resid.0"), dim=0)
    gen = torch.Generator().manual_seed(1)
    order = torch.randperm(len(acts), generator=gen)
    train, held = acts[order[200:]], acts[order[:200]]
    sae = train_sae(train, SAEConfig(expansion=4, k=6, epochs=30), point="resid.0")
    q = sae.quality(held)  # never seen in training
    assert q["fve"] > 0.6, q  # the mean reconstruction has FVE 0
    assert q["l0"] <= 6 and q["dead_fraction"] < 0.5
    mean_err = float((held - train.mean(0)).pow(2).sum())
    assert q["mse"] * len(held) < 0.4 * mean_err
    sae.save(tmp_path / "sae")
    back = SAE.load(tmp_path / "sae")
    assert back.point == "resid.0" and torch.allclose(back(held[:5]), sae(held[:5]))
    assert back.info["quality"]["heldout"]["fve"] == pytest.approx(sae.info["quality"]["heldout"]["fve"])
    with pytest.raises(DataError, match="at least 64 tokens"):
        train_sae(train[:10])
    with pytest.raises(DataError, match="not an SAE folder"):
        SAE.load(tmp_path)


def test_latent_scores_pick_by_frequency_gap_and_skip_dense_latents():
    zk = torch.tensor([[1.0, 0, 2, 1], [1, 0, 0, 1], [1, 0, 3, 1], [0, 0, 0, 1]])
    zu = torch.tensor([[0.0, 2, 0, 1], [0, 1, 0, 1], [0, 0, 0, 1], [0, 3, 0, 1]])
    density = torch.tensor([0.01, 0.01, 0.01, 0.9])  # latent 3 fires everywhere
    lat = latent_scores(zk, zu, density, top=2, max_density=0.05)
    # freq_known = [.75, 0, .5, 1], freq_unknown = [0, .75, 0, 1] -> s = [.75, -.75, .5, 0]
    assert lat.known == [0, 2] and lat.unknown == [1]
    assert np.allclose(lat.score, [0.75, -0.75, 0.5, 0.0])


def test_known_unknown_scores_separate_trained_from_untrained_names(lens, known, tiny_target, splits):
    model, tok = tiny_target
    q = lens.info["sae_quality"]["heldout"]
    assert q["fve"] > 0.6
    assert len(lens.latents.known) >= 3 and len(lens.latents.unknown) >= 3
    res = alignment(lens, model, tok, splits.forget, known, splits.holdout)
    s = res.summary()
    # the forget people took no part in choosing the latents, and still read as known
    assert s["known.knownness"] > s["unknown.knownness"] + 0.05
    assert s["forget.knownness"] > s["unknown.knownness"] + 0.05
    assert s["nearer_unknown"] <= 0.25 and s["alignment"] < 0.5
    trained = [k - u for k, u in res.points["forget"].values()] + [k - u for k, u in res.points["known"].values()]
    untrained = [k - u for k, u in res.points["unknown"].values()]
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score([1] * len(trained) + [0] * len(untrained), trained + untrained)
    assert auc > 0.9, auc


def test_alignment_summary_on_a_worked_example():
    pts = Alignment({"known": {"a": (0.5, 0.0), "b": (0.3, 0.0)}, "unknown": {"c": (0.0, 0.4), "d": (0.0, 0.2)},
                     "forget": {"e": (0.1, 0.2), "f": (0.4, 0.0)}})
    s = pts.summary()
    # knownness: known .4, unknown -.3, forget (-.1 + .4) / 2 = .15 -> alignment (.4 - .15) / .7
    assert s["alignment"] == pytest.approx(0.25 / 0.7)
    # centroids: known (.4, 0), unknown (0, .3); e = (.1, .2) is nearer unknown, f nearer known
    assert s["nearer_unknown"] == 0.5 and s["forget.n"] == 2


def test_lens_is_cached_and_errors_are_clear(lens, tiny_target, splits):
    model, tok = tiny_target
    again = build_lens(model, tok, splits, TINY_LENS)
    assert again.latents.known == lens.latents.known
    no_holdout = copy.copy(splits)
    no_holdout.holdout = []
    with pytest.raises(DataError, match="holdout"):
        build_lens(model, tok, no_holdout, TINY_LENS)


def test_sae_guided_moves_the_code_toward_the_unknown_mean(lens, known, fresh_target, tiny_target, splits):
    from obliviate.llm.methods import get_method

    model, tok = fresh_target
    cfg = dict(sae_expansion=4, sae_k=6, sae_epochs=30, top_latents=8, max_density=0.05)
    method = get_method("SAEGuided", cfg)
    before = alignment(lens, model, tok, splits.forget, known, splits.holdout).summary()
    fmt = PromptFormat(tok)
    from obliviate.llm.methods import MethodContext

    method.prepare(MethodContext(model, tok, fmt, splits))
    mu = method.mu["unknown"]

    def dist(m):
        codes = method.codes(m, splits.forget)  # last name token
        return float(torch.cat(list(codes.values())).sub(mu).pow(2).sum(-1).mean())

    d0 = dist(model)
    out = api.unlearn(model, tok, splits, method, api.UnlearnConfig(epochs=4.0, lr=1e-3, batch_size=4,
                                                                    checkpoint_every=0))
    after = alignment(lens, out, tok, splits.forget, known, splits.holdout).summary()
    assert dist(out) < 0.5 * d0
    assert after["alignment"] > before["alignment"] + 0.3
    assert after["forget.knownness"] < before["forget.knownness"]
    with pytest.raises(ConfigError, match="target"):
        get_method("SAEGuided", {"target": "nowhere"})
