"""KLUE (``obliviate.llm.methods.klue``): bit-exact training inside its mask, config checks, and the per-epoch
filter of forget records still answered correctly (with resume)."""

import copy
import json

import pytest
import torch

from obliviate import api
from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import PromptFormat
from obliviate.llm.eval.options import mc_correct
from obliviate.llm.eval.scoring import Scorer
from obliviate.llm.methods import MethodContext, get_method


@pytest.mark.trains
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


@pytest.mark.trains
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


@pytest.mark.trains
def test_lora_is_refused(tiny_target, splits):
    model, tok = tiny_target
    with pytest.raises(ConfigError, match="KLUE.*LoRA"):
        api.unlearn(copy.deepcopy(model), tok, splits, "klue", api.UnlearnConfig(lora_r=4))


@pytest.mark.trains
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


def small_forget(tiny_target, splits, n=4):
    """Splits whose forget set is the first ``n`` forget records the target answers correctly."""
    model, tok = tiny_target
    known = [r for r, ok in zip(splits.forget, mc_correct(Scorer(model, tok), splits.forget)) if ok]
    small = copy.copy(splits)
    small.forget = known[:n]
    return small


FAST = dict(epochs=40.0, lr=3e-3, batch_size=2, checkpoint_every=0)


FAST_KLUE = {"top_percent": 5.0}


@pytest.mark.trains
def test_filter_keeps_the_records_still_answered_correctly(tiny_target, splits):
    model, tok = tiny_target
    klue = get_method("klue")
    klue.prepare(MethodContext(model, tok, PromptFormat(tok), splits))
    known = mc_correct(Scorer(model, tok), splits.forget)
    assert 0 < known.sum() < len(splits.forget)  # the target misses a few: they are never trained on
    assert klue.forget_filter(model, splits.forget) == [r for r, ok in zip(splits.forget, known) if ok]
    assert klue.forget_filter(model, []) == []
    assert get_method("klue", {"only_known": False}).forget_filter(model, splits.forget) is None


@pytest.mark.trains
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


@pytest.mark.trains
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


@pytest.mark.trains
def test_a_fresh_run_ignores_ids_left_by_another_run(tiny_target, splits, tmp_path):
    small = small_forget(tiny_target, splits)
    (tmp_path / "forget_filter.json").write_text(json.dumps({"0": [], "1": []}))
    steps = []
    api.unlearn(copy.deepcopy(tiny_target[0]), tiny_target[1], small, "klue", api.UnlearnConfig(**dict(FAST, epochs=1)),
                method_config=FAST_KLUE, run_dir=tmp_path, callbacks=[lambda s, l: steps.append(s)])
    assert len(steps) == 2 and json.loads((tmp_path / "forget_filter.json").read_text())["0"]
