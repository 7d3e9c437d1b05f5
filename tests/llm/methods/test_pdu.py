"""PDU (``obliviate.llm.methods.pdu``): the forget loss by hand, the dual variable, its log and its checkpoint."""

import copy
import json

import pytest
import torch

from obliviate import api
from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import collate_records, mean_nll
from obliviate.llm.methods import get_method
from obliviate.llm.methods.pdu import pdu_forget_loss
from tests.llm.methods.helpers import ONE_EPOCH, prepared_method


def test_pdu_forget_loss_by_hand():
    rows = torch.tensor([[3.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    # margins max - mean: 3 - 1 = 2 and 3 - 2 = 1; mean of squares (4 + 1) / 2
    assert float(pdu_forget_loss(rows)) == pytest.approx(2.5)
    assert float(pdu_forget_loss(torch.log_softmax(rows, -1))) == pytest.approx(2.5, rel=1e-6)  # shift-free


def test_pdu_dual_variable_rises_above_the_bound_and_falls_to_zero_below():
    pdu = get_method("PDU", {"eps": 0.3, "dual_lr": 0.5, "lambda_init": 0.0})
    seen = [pdu.after_step({"forget": 1.0, "retain": 0.9})["dual_lambda"] for _ in range(3)]
    assert seen == pytest.approx([0.3, 0.6, 0.9])  # + 0.5 * (0.9 - 0.3) each step
    seen = [pdu.after_step({"retain": 0.1})["dual_lambda"] for _ in range(10)]
    assert seen[0] == pytest.approx(0.8) and seen[-1] == 0.0 and min(seen) == 0.0  # projected at 0
    assert pdu.state_dict() == {"dual_lambda": 0.0}
    pdu.load_state_dict({"dual_lambda": 2.5})
    assert pdu.after_step({})["dual_lambda"] == 2.5  # no retain figure: nothing to step on


@pytest.mark.trains
def test_pdu_retain_term_is_the_nll_with_gradient_scaled_by_lambda(tiny_target, splits):
    model, tok = tiny_target
    pdu, fmt = prepared_method("PDU", {}, model, tok, splits)
    batch = {"forget": collate_records(fmt, splits.forget[:4]), "retain": collate_records(fmt, splits.retain[:4])}
    head = model.lm_head.weight

    def retain_grad(lam):
        pdu.dual_lambda = lam
        out = pdu.losses(model, batch)["retain"]
        (g,) = torch.autograd.grad(out, head)
        return float(out.detach()), g

    nll = float(mean_nll(model, batch["retain"]).detach())
    v1, g1 = retain_grad(1.0)
    v0, g0 = retain_grad(0.0)
    v3, g3 = retain_grad(3.0)
    assert v0 == pytest.approx(nll) and v1 == pytest.approx(nll) and v3 == pytest.approx(nll)
    assert float(g0.abs().max()) == 0.0 and float(g1.abs().max()) > 0
    assert torch.allclose(g3, 3 * g1, atol=1e-7)


def _events(run_dir):
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def _assert_dual_ascent(events, eps, lr, lam0):
    lam = lam0
    for e in events:
        lam = max(0.0, lam + lr * (e["retain"] - eps))
        assert e["dual_lambda"] == pytest.approx(lam, rel=1e-9, abs=1e-12)


@pytest.mark.trains
def test_pdu_logs_its_dual_variable_in_a_real_run(fresh_target, splits, tmp_path):
    model, tok = fresh_target
    api.unlearn(copy.deepcopy(model), tok, splits, "PDU", api.UnlearnConfig(**ONE_EPOCH),
                method_config={"eps": 0.0, "dual_lr": 0.5}, run_dir=tmp_path / "up")
    up = _events(tmp_path / "up")
    assert len(up) >= 3
    _assert_dual_ascent(up, 0.0, 0.5, 1.0)  # NLL(R) > eps = 0 throughout: lambda climbs every step
    assert all(b["dual_lambda"] > a["dual_lambda"] for a, b in zip(up, up[1:]))
    api.unlearn(model, tok, splits, "PDU", api.UnlearnConfig(**ONE_EPOCH),
                method_config={"eps": 5.0}, run_dir=tmp_path / "down")
    down = _events(tmp_path / "down")
    _assert_dual_ascent(down, 5.0, 1.0, 1.0)
    assert all(e["dual_lambda"] == 0.0 for e in down)  # NLL(R) < eps: at 0 from the first step


@pytest.mark.trains
def test_pdu_resume_restores_the_dual_variable(tiny_target, splits, tmp_path):
    model, tok = tiny_target
    over = {"eps": 0.0, "dual_lr": 0.5}
    cfg = api.UnlearnConfig(**ONE_EPOCH)

    def crash(step, logs):
        if step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.unlearn(copy.deepcopy(model), tok, splits, "PDU", cfg, method_config=over, run_dir=tmp_path,
                    callbacks=[crash])
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["method"]["dual_lambda"] == pytest.approx(_events(tmp_path)[-1]["dual_lambda"])
    api.unlearn(copy.deepcopy(model), tok, splits, "PDU", cfg, method_config=over, run_dir=tmp_path)
    events = _events(tmp_path)
    assert [e["step"] for e in events] == list(range(1, len(events) + 1)) and len(events) >= 3
    _assert_dual_ascent(events, 0.0, 0.5, 1.0)  # step 3 continues from step 2's lambda, not from 1.0


def test_pdu_config_is_checked():
    with pytest.raises(ConfigError, match="PDU.eps"):
        get_method("PDU", {"eps": -0.1})
