"""KLUE: neuron attribution, the regulariser, top-p% selection, masks, bit-exact training, the per-epoch filter."""

import copy
import json

import pytest
import torch

from obliviate import api
from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import PromptFormat, answer_logprob, collate
from obliviate.llm.eval.options import mc_correct
from obliviate.llm.eval.scoring import Scorer
from obliviate.llm.interp.hooks import decoder_blocks
from obliviate.llm.interp.neurons import (
    knowledge_neurons,
    neuron_attribution,
    neuron_masks,
    random_answers,
    select_top,
    top_count,
)
from obliviate.llm.methods import MethodContext, get_method
from obliviate.train.samplers import FilteredSampler, PairedSampler


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


@pytest.mark.parametrize("combiner", ["sum", "gu"])
def test_klue_changes_no_parameter_outside_its_mask(combiner, tiny_target, splits):
    """Bit-exact: every entry outside the mask is identical after unlearning, with weight decay on."""
    model = copy.deepcopy(tiny_target[0])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    klue = get_method("klue")
    cfg = api.UnlearnConfig(epochs=2.0, lr=1e-3, batch_size=4, weight_decay=0.1, grad_accum=2, checkpoint_every=0,
                            combiner=combiner)
    out = api.unlearn(model, tiny_target[1], splits, klue, cfg)
    masks = {id(p): m for p, m in klue.parameter_masks(out).items()}
    assert masks and cfg.weight_decay > 0
    changed = 0
    for n, p in out.named_parameters():
        mask = masks.get(id(p), torch.zeros_like(p, dtype=torch.bool))
        assert torch.equal(p.detach()[~mask], before[n][~mask]), f"{n} changed outside the mask"
        if mask.any():
            moved = p.detach()[mask] != before[n][mask]
            assert moved.float().mean() > 0.9, f"{n}: only {int(moved.sum())} of {int(mask.sum())} entries moved"
            changed += 1
    assert changed == len(masks)


def test_klue_trains_only_its_neurons_weights(tiny_target, splits):
    klue = get_method("klue", {"top_percent": 0.5})
    model, tok = tiny_target
    klue.prepare(MethodContext(model, tok, PromptFormat(tok), splits))
    assert sum(len(v) for v in klue.neurons.values()) == 2  # 0.5% of 384
    params = klue.trainable_parameters(model)
    assert {id(p) for p in params} == {id(p) for p in klue.parameter_masks(model)}
    assert sum(int(m.sum()) for m in klue.parameter_masks(model).values()) == 2 * 3 * 96


def test_config_is_validated():
    for bad, match in (({"top_percent": 0}, "top_percent"), ({"top_percent": 150}, "percentage"),
                       ({"loss": "dpo"}, "loss"), ({"random_answers": "some"}, "random_answers"),
                       ({"alpha": -1}, "alpha")):
        with pytest.raises(ConfigError, match=match):
            get_method("klue", bad)
    assert not get_method("klue").needs_retain and get_method("klue", {"alpha": 1.0}).needs_retain


def test_lora_is_refused(tiny_target, splits):
    model, tok = tiny_target
    with pytest.raises(ConfigError, match="KLUE.*LoRA"):
        api.unlearn(copy.deepcopy(model), tok, splits, "klue", api.UnlearnConfig(lora_r=4))


def test_npo_loss_is_neutral_at_the_reference(tiny_target, splits):
    import numpy as np

    from obliviate.llm.encoding import collate_records

    model, tok = tiny_target
    klue = get_method("klue", {"loss": "npo", "beta": 0.5})
    fmt = PromptFormat(tok)
    klue.prepare(MethodContext(model, tok, fmt, splits))
    with torch.no_grad():
        loss = klue.losses(model, {"forget": collate_records(fmt, splits.forget[:4])})["forget"]
    assert float(loss) == pytest.approx(2 / 0.5 * np.log(2), rel=1e-4)


# ---------------------------------------------------------------- the per-epoch filter


def small_forget(tiny_target, splits, n=4):
    """Splits whose forget set is the first ``n`` forget records the target answers correctly."""
    model, tok = tiny_target
    known = [r for r, ok in zip(splits.forget, mc_correct(Scorer(model, tok), splits.forget)) if ok]
    small = copy.copy(splits)
    small.forget = known[:n]
    return small


FAST = dict(epochs=40.0, lr=3e-3, batch_size=2, checkpoint_every=0)
FAST_KLUE = {"top_percent": 5.0}


def test_filter_keeps_the_records_still_answered_correctly(tiny_target, splits):
    model, tok = tiny_target
    klue = get_method("klue")
    klue.prepare(MethodContext(model, tok, PromptFormat(tok), splits))
    known = mc_correct(Scorer(model, tok), splits.forget)
    assert 0 < known.sum() < len(splits.forget)  # the target misses a few: they are never trained on
    assert klue.forget_filter(model, splits.forget) == [r for r, ok in zip(splits.forget, known) if ok]
    assert klue.forget_filter(model, []) == []
    assert get_method("klue", {"only_known": False}).forget_filter(model, splits.forget) is None


def test_training_stops_when_no_forget_record_is_answered_correctly(tiny_target, splits, tmp_path):
    small = small_forget(tiny_target, splits)
    steps = []
    cfg = api.UnlearnConfig(**FAST)
    out = api.unlearn(copy.deepcopy(tiny_target[0]), tiny_target[1], small, "klue", cfg, method_config=FAST_KLUE,
                      run_dir=tmp_path, callbacks=[lambda step, logs: steps.append(step)])
    kept = json.loads((tmp_path / "forget_filter.json").read_text())
    counts = [len(v) for v in kept.values()]
    assert counts[0] == 4 and counts[-1] == 0 and min(counts[:-1]) > 0  # ran until none remained
    assert sum(math_ceil(c, 2) for c in counts) == len(steps) < 40 * 2  # shrunk epochs, budget not used up
    assert not mc_correct(Scorer(out, tiny_target[1]), small.forget).any()
    ids = {r.id for r in small.forget}
    assert all(set(v) <= ids for v in kept.values())


def math_ceil(n: int, k: int) -> int:
    return -(-n // k)


def test_resume_reuses_the_stored_ids_of_each_epoch(tiny_target, splits, tmp_path):
    small = small_forget(tiny_target, splits)
    model, tok = tiny_target
    cfg = api.UnlearnConfig(**FAST)
    full = api.unlearn(copy.deepcopy(model), tok, small, "klue", cfg, method_config=FAST_KLUE, run_dir=tmp_path / "a")
    full_kept = json.loads((tmp_path / "a" / "forget_filter.json").read_text())
    changed_at = next(i for i, v in enumerate(full_kept.values()) if len(v) < 4)
    crash_step = sum(math_ceil(len(v), 2) for v in list(full_kept.values())[: changed_at + 2]) + 1

    def crash(step, logs):
        if step == crash_step:
            raise KeyboardInterrupt

    run = tmp_path / "b"
    with pytest.raises(KeyboardInterrupt):
        api.unlearn(copy.deepcopy(model), tok, small, "klue", cfg, method_config=FAST_KLUE, run_dir=run,
                    callbacks=[crash])
    stored = json.loads((run / "forget_filter.json").read_text())
    assert len(stored) == changed_at + 3  # the crash came one step into the second epoch after the first shrink

    klue = get_method("klue", FAST_KLUE)
    asked = []
    filter_ = klue.forget_filter
    klue.forget_filter = lambda m, recs: asked.append(len(recs)) or filter_(m, recs)
    resumed = api.unlearn(copy.deepcopy(model), tok, small, klue, cfg, run_dir=run)
    assert asked.count(4) == len(full_kept) - len(stored)  # stored epochs were not filtered again
    assert json.loads((run / "forget_filter.json").read_text()) == full_kept
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_a_fresh_run_ignores_ids_left_by_another_run(tiny_target, splits, tmp_path):
    small = small_forget(tiny_target, splits)
    (tmp_path / "forget_filter.json").write_text(json.dumps({"0": [], "1": []}))
    steps = []
    api.unlearn(copy.deepcopy(tiny_target[0]), tiny_target[1], small, "klue", api.UnlearnConfig(**dict(FAST, epochs=1)),
                method_config=FAST_KLUE, run_dir=tmp_path, callbacks=[lambda s, l: steps.append(s)])
    assert len(steps) == 2 and json.loads((tmp_path / "forget_filter.json").read_text())["0"]


def test_filtered_sampler_builds_each_epoch_from_the_kept_records(splits, tmp_path):
    forget = splits.forget[:6]
    plan = {0: forget, 1: forget[:3], 2: []}
    calls = []

    def keep(records):
        calls.append(len(calls))
        return list(reversed(plan[len(calls) - 1]))  # order does not matter

    def make(records):
        return PairedSampler(records, None, batch_size=2, seed=5)

    state = tmp_path / "kept.json"
    s = FilteredSampler(make, forget, keep, state)
    assert len(s) == 3  # the full set's batches
    for e in (0, 1):
        got = [r.id for b in s.epoch(e) for r in b["forget"]]
        assert sorted(got) == sorted(r.id for r in plan[e])
        assert [b["forget"] for b in s.epoch(e)] == [b["forget"] for b in make(plan[e]).epoch(e)]  # same draw
    assert list(s.epoch(2)) == [] and len(calls) == 3  # each epoch filtered once
    again = FilteredSampler(make, forget, lambda recs: pytest.fail("stored epochs are not filtered again"), state)
    assert [b["forget"] for b in again.epoch(1)] == [b["forget"] for b in s.epoch(1)]
    assert list(again.epoch(2)) == []
    state.write_text(json.dumps({"0": ["nobody/x"]}))
    with pytest.raises(Exception, match="not in this forget set"):
        FilteredSampler(make, forget, keep, state)


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
