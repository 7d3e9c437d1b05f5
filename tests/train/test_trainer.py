"""The one training loop (``obliviate.train.trainer``): determinism, resume, guards, LoRA."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from obliviate import api
from obliviate.core.errors import ConfigError, TrainingDiverged
from obliviate.llm.encoding import PromptFormat, collate_records, mean_nll
from obliviate.llm.methods import get_method
from obliviate.train import TrainConfig, Trainer
from obliviate.train.samplers import SingleSampler
from obliviate.train.trainer import is_peft, parse_lora
from tests.helpers import LORA_UNLEARN, likelihood


def _trainer(model_tok, records, cfg, **kw):
    model, tok = model_tok
    fmt = PromptFormat(tok)
    return Trainer(model, lambda m, b: {"nll": mean_nll(m, b["train"])},
                   SingleSampler(records, cfg.batch_size, cfg.seed),
                   lambda recs: collate_records(fmt, recs), cfg, **kw)


def _fresh(world_dir):
    from obliviate import api

    return api.base_model(api.TINY, world_dir)


CFG = dict(epochs=3.0, lr=3e-3, batch_size=8, grad_accum=2, checkpoint_every=2)


@pytest.mark.trains
def test_finetuning_lowers_loss_and_is_deterministic(world_dir, splits):
    records = splits.retain[:32]
    a = _trainer(_fresh(world_dir), records, TrainConfig(**CFG)).fit()
    b = _trainer(_fresh(world_dir), records, TrainConfig(**CFG)).fit()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    untrained = _fresh(world_dir)
    batch = collate_records(PromptFormat(untrained[1]), records)
    with torch.no_grad():
        assert mean_nll(a, batch) < mean_nll(untrained[0], batch) - 1.0


@pytest.mark.trains
def test_resume_after_interrupt_matches_uninterrupted(world_dir, splits, tmp_path):
    records = splits.retain[:32]
    full = _trainer(_fresh(world_dir), records, TrainConfig(**CFG)).fit()

    def crash(step, logs):
        if step == 3:
            raise KeyboardInterrupt

    ckpt = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        _trainer(_fresh(world_dir), records, TrainConfig(**CFG), checkpoint_dir=ckpt, callbacks=[crash]).fit()
    assert (ckpt / "state.json").is_file()
    resumed_trainer = _trainer(_fresh(world_dir), records, TrainConfig(**CFG), checkpoint_dir=ckpt,
                               events_path=tmp_path / "events.jsonl")
    resumed = resumed_trainer.fit()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    steps = [int(line.split('"step": ')[1].split(",")[0]) for line in lines]
    assert steps[0] == 4 and steps[-1] == resumed_trainer.total_steps  # really resumed, not restarted
    for pa, pb in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(pa, pb)
    assert not ckpt.exists()  # a finished run removes its checkpoint


@pytest.mark.trains
def test_resume_with_other_settings_is_refused(world_dir, splits, tmp_path):
    from obliviate.core.errors import ConfigError

    records = splits.retain[:32]

    def crash(step, logs):
        if step == 2:
            raise KeyboardInterrupt

    ckpt = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        _trainer(_fresh(world_dir), records, TrainConfig(**CFG), checkpoint_dir=ckpt, callbacks=[crash]).fit()
    with pytest.raises(ConfigError, match="other training settings"):
        _trainer(_fresh(world_dir), records, TrainConfig(**{**CFG, "lr": 1e-2}), checkpoint_dir=ckpt).fit()


def test_nan_loss_stops_with_clear_message(world_dir, splits):
    model, tok = _fresh(world_dir)
    fmt = PromptFormat(tok)
    trainer = Trainer(model, lambda m, b: {"forget": mean_nll(m, b["train"]) * math.nan},
                      SingleSampler(splits.retain[:8], 4), lambda r: collate_records(fmt, r), TrainConfig())
    with pytest.raises(TrainingDiverged, match="step 0: loss 'forget' is nan"):
        trainer.fit()


def test_exploding_loss_stops(world_dir, splits):
    model, tok = _fresh(world_dir)
    fmt = PromptFormat(tok)
    trainer = Trainer(model, lambda m, b: {"forget": -1e6 * mean_nll(m, b["train"])},
                      SingleSampler(splits.retain[:8], 4), lambda r: collate_records(fmt, r),
                      TrainConfig(max_loss_abs=1e4))
    with pytest.raises(TrainingDiverged, match="exploding"):
        trainer.fit()


@pytest.mark.trains
def test_lora_trains_adapters_and_merges(world_dir, splits):
    model, tok = _fresh(world_dir)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = _trainer((model, tok), splits.retain[:16], TrainConfig(epochs=2, lr=1e-2, batch_size=8, lora_r=4)).fit()
    after = out.state_dict()
    assert set(after) == set(before)  # merged back into a plain model
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(after[q], before[q])
    assert torch.equal(after["model.norm.weight"], before["model.norm.weight"])  # LoRA leaves norms alone


@pytest.mark.trains
def test_gradient_masks_keep_entries_outside_the_mask_bit_exact(world_dir, splits):
    """A masked parameter moves only inside its mask (weight decay on); others train as usual; hooks go away."""
    model, tok = _fresh(world_dir)
    gate, down = model.model.layers[0].mlp.gate_proj.weight, model.model.layers[1].mlp.down_proj.weight
    g = torch.Generator().manual_seed(0)
    masks = {gate: torch.rand(gate.shape, generator=g) < 0.1, down: torch.rand(down.shape, generator=g) < 0.1}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    cfg = TrainConfig(epochs=2, lr=1e-2, batch_size=8, grad_accum=2, weight_decay=0.1, checkpoint_every=0)
    out = _trainer((model, tok), splits.retain[:32], cfg, masks=masks).fit()
    names = {id(p): n for n, p in out.named_parameters()}
    for p, m in masks.items():
        n = names[id(p)]
        assert torch.equal(p.detach()[~m], before[n][~m]), f"{n} moved outside its mask"
        assert (p.detach()[m] != before[n][m]).float().mean() > 0.9
    q = out.model.layers[0].self_attn.q_proj.weight  # unmasked: trained, weight decay included
    assert (q.detach() != before["model.layers.0.self_attn.q_proj.weight"]).float().mean() > 0.9
    batch = collate_records(PromptFormat(tok), splits.retain[:4])
    mean_nll(out, batch).backward()
    assert (gate.grad[~masks[gate]] != 0).any()  # the masking hooks were removed after training


def test_gradient_masks_are_checked(world_dir, splits):
    from obliviate.core.errors import ConfigError

    model, tok = _fresh(world_dir)
    w = model.model.layers[0].mlp.up_proj.weight
    with pytest.raises(ConfigError, match="shape"):
        _trainer((model, tok), splits.retain[:8], TrainConfig(), masks={w: torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ConfigError, match="LoRA"):
        _trainer((model, tok), splits.retain[:8], TrainConfig(lora_r=4),
                 masks={w: torch.ones_like(w, dtype=torch.bool)})


@pytest.mark.trains
def test_training_ends_when_an_epoch_has_no_batch(world_dir, splits):
    from obliviate.train.samplers import FilteredSampler

    model, tok = _fresh(world_dir)
    records = splits.retain[:8]
    seen = []

    def keep(recs):  # two epochs on everything, then nothing is left
        seen.append(len(seen))
        return recs if len(seen) <= 2 else []

    cfg = TrainConfig(epochs=10, lr=1e-3, batch_size=4, checkpoint_every=0)
    steps = []
    sampler = FilteredSampler(lambda recs: SingleSampler(recs, 4, 0), records, keep)
    fmt = PromptFormat(tok)
    trainer = Trainer(model, lambda m, b: {"nll": mean_nll(m, b["train"])}, sampler,
                      lambda recs: collate_records(fmt, recs), cfg, callbacks=[lambda s, l: steps.append(s)])
    trainer.fit()
    assert trainer.total_steps == 20 and steps == [1, 2, 3, 4] and trainer.ran_out and seen == [0, 1, 2]


@pytest.mark.trains
def test_a_crash_between_checkpoints_logs_each_step_once_after_resume(world_dir, splits, tmp_path):
    """Killed at step 5 (last checkpoint: step 4): the resumed run replays step 5 and logs it once."""
    import json

    records = splits.retain[:32]
    ckpt, events = tmp_path / "ckpt", tmp_path / "events.jsonl"

    def killed(step, logs):
        if step == 5:
            raise RuntimeError("killed")  # no Ctrl-C checkpoint: like kill -9

    with pytest.raises(RuntimeError):
        _trainer(_fresh(world_dir), records, TrainConfig(**CFG), checkpoint_dir=ckpt, events_path=events,
                 callbacks=[killed]).fit()
    assert [json.loads(line)["step"] for line in events.read_text().splitlines()] == [1, 2, 3, 4, 5]
    resumed = _trainer(_fresh(world_dir), records, TrainConfig(**CFG), checkpoint_dir=ckpt, events_path=events)
    resumed.fit()
    steps = [json.loads(line)["step"] for line in events.read_text().splitlines()]
    assert steps == list(range(1, resumed.total_steps + 1))


@pytest.mark.trains
def test_exploded_weights_after_the_last_update_are_refused(world_dir, splits):
    """One step at lr 1e30: the loss before it is fine, the weights after it are not."""
    records = splits.retain[:8]
    cfg = TrainConfig(epochs=1.0, lr=1e30, batch_size=8, max_grad_norm=1.0, checkpoint_every=0)
    with pytest.raises(TrainingDiverged, match="after the last update .* exploded"):
        _trainer(_fresh(world_dir), records, cfg).fit()


# ---------------------------------------------------------------- LoRA


def test_parse_lora():
    assert parse_lora("r=8,alpha=16,targets=q_proj,v_proj") == {
        "lora_r": 8, "lora_alpha": 16, "lora_targets": "q_proj,v_proj"}
    assert parse_lora("r=4") == {"lora_r": 4, "lora_alpha": 8, "lora_targets": ""}
    for bad, msg in [("alpha=16", "needs r"), ("r=0", ">= 1"), ("r=x", "integers"), ("r=4,rank=2", "unknown key"),
                     ("q_proj", "key=value")]:
        with pytest.raises(ConfigError, match=msg):
            parse_lora(bad)


@pytest.mark.trains
@pytest.mark.parametrize("lora", [{}, {"lora_r": 8, "lora_alpha": 32}])
def test_lora_and_full_unlearning_both_lower_forget_likelihood(tiny_target, splits, lora):
    model, tok = tiny_target
    net = copy.deepcopy(model)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    l0 = likelihood(net, tok, splits.forget)
    out = api.unlearn(net, tok, splits, "npo", api.UnlearnConfig(lr=3e-3 if lora else 1e-3, **LORA_UNLEARN, **lora))
    assert not is_peft(out)  # merged into plain weights by default
    assert likelihood(out, tok, splits.forget) < 0.5 * l0
    after = out.state_dict()
    assert set(after) == set(before)  # same architecture, no adapter left behind
    if lora:  # LoRA touches only the adapted linear layers: norms and embeddings stay bit-identical
        assert torch.equal(after["model.norm.weight"], before["model.norm.weight"])
        assert torch.equal(after["model.embed_tokens.weight"], before["model.embed_tokens.weight"])


@pytest.mark.trains
def test_lora_targets_restrict_the_adapted_modules(tiny_target, splits):
    model, tok = tiny_target
    net = copy.deepcopy(model)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    cfg = api.UnlearnConfig(lr=3e-3, **LORA_UNLEARN, lora_r=4, lora_targets="q_proj,v_proj")
    out = api.unlearn(net, tok, splits, "graddiff", cfg)
    after = out.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed and all(k.endswith(("q_proj.weight", "v_proj.weight")) for k in changed), changed
    with pytest.raises(ConfigError, match="LoRA targets"):
        api.unlearn(copy.deepcopy(model), tok, splits, "graddiff",
                    api.UnlearnConfig(lr=3e-3, **LORA_UNLEARN, lora_r=4, lora_targets="no_such_layer"))


@pytest.mark.trains
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
