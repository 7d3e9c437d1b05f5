"""The other OpenUnlearning baselines: UNDIAL, CE-U, WGA, SatImp, PDU, AltPO.

Each loss is checked on a hand-computed example, token-level losses against
extra padding, PDU's dual variable and its checkpoint, AltPO's alternatives.
(The shared contract, forgetting included, is in test_methods_contract.py.)
"""

import copy
import json
import math

import pytest
import torch

from obliviate import api
from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import IGNORE, PromptFormat, collate_records, mean_nll
from obliviate.llm.methods import MethodContext, get_method
from obliviate.llm.methods.altpo import alternative_answer
from obliviate.llm.methods.ceu import ceu_loss
from obliviate.llm.methods.pdu import pdu_forget_loss
from obliviate.llm.methods.satimp import satimp_loss
from obliviate.llm.methods.undial import undial_loss
from obliviate.llm.methods.wga import wga_loss

NEW = ("UNDIAL", "CE-U", "WGA", "SatImp", "PDU", "AltPO")


def _softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [v / sum(e) for v in e]


def _cross_entropy(q, logits):
    """-sum_v q_v log softmax(logits)_v, skipping q_v = 0."""
    p = _softmax(logits)
    return -sum(qv * math.log(pv) for qv, pv in zip(q, p) if qv)


# ------------------------------------------------------------ the losses by hand


def test_undial_loss_by_hand():
    logits = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
    ref = [[2.0, 0.0, 1.0], [1.0, 1.0, 1.0]]
    target, beta = [0, 2], 1.5
    expected = 0.0
    for z, r, y in zip(logits, ref, target):
        adjusted = [v - beta if i == y else v for i, v in enumerate(r)]
        expected += _cross_entropy(_softmax(adjusted), z) / 2
    got = undial_loss(torch.tensor(logits), torch.tensor(ref), torch.tensor(target), beta)
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_ceu_loss_by_hand():
    logits, target = [[2.0, 1.0, 0.0], [0.5, 0.5, 3.0]], [0, 2]
    expected = 0.0
    for z, y in zip(logits, target):
        q = _softmax([v for i, v in enumerate(z) if i != y])
        q.insert(y, 0.0)  # the true token gets no mass
        expected += _cross_entropy(q, z) / 2
    got = ceu_loss(torch.tensor(logits), torch.tensor(target))
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_wga_and_satimp_losses_by_hand():
    p = [0.5, 0.25, 0.9]
    logp = torch.tensor([math.log(v) for v in p], requires_grad=True)
    wga = sum(v * math.log(v) for v in p) / 3  # beta = 1
    assert float(wga_loss(logp.detach(), 1.0)) == pytest.approx(wga, rel=1e-6)
    sat = sum(v**2 * (1 - v) * math.log(v) for v in p) / 3  # beta1 = 2, beta2 = 1
    loss = satimp_loss(logp, 2.0, 1.0)
    assert float(loss.detach()) == pytest.approx(sat, rel=1e-6)
    loss.backward()  # the weight is detached: d/dlog p_t = w_t / n
    assert logp.grad.tolist() == pytest.approx([v**2 * (1 - v) / 3 for v in p], rel=1e-6)


def test_pdu_forget_loss_by_hand():
    rows = torch.tensor([[3.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    # margins max - mean: 3 - 1 = 2 and 3 - 2 = 1; mean of squares (4 + 1) / 2
    assert float(pdu_forget_loss(rows)) == pytest.approx(2.5)
    assert float(pdu_forget_loss(torch.log_softmax(rows, -1))) == pytest.approx(2.5, rel=1e-6)  # shift-free


# ------------------------------------------------------------ padding


def _prepared(name, overrides, model, tok, splits):
    method = get_method(name, overrides)
    fmt = PromptFormat(tok)
    method.prepare(MethodContext(model, tok, fmt, splits))
    return method, fmt


def _padded(batch, extra, pad_id):
    """``batch`` with ``extra`` more padded (ignored) positions on the right of every row."""
    b, _ = batch["input_ids"].shape
    return {**batch,
            "input_ids": torch.cat([batch["input_ids"], torch.full((b, extra), pad_id)], 1),
            "attention_mask": torch.cat([batch["attention_mask"], torch.zeros(b, extra, dtype=torch.long)], 1),
            "labels": torch.cat([batch["labels"], torch.full((b, extra), IGNORE)], 1)}


@pytest.mark.parametrize("name", ["UNDIAL", "CE-U", "WGA", "SatImp", "PDU"])
def test_token_level_losses_ignore_padding(name, tiny_target, splits):
    model, tok = tiny_target
    values = []
    for extra in (0, 7):
        method, fmt = _prepared(name, {}, model, tok, splits)  # fresh: UNDIAL's reference rows not cached
        f = collate_records(fmt, splits.forget[:4])
        r = collate_records(fmt, splits.retain[:4])
        with torch.no_grad():
            values.append(method.losses(model, {"forget": _padded(f, extra, tok.pad_token_id),
                                                "retain": _padded(r, extra, tok.pad_token_id)}))
    for k in values[0]:
        assert float(values[1][k]) == pytest.approx(float(values[0][k]), rel=1e-5), k
    assert float(values[0]["forget"]) != 0.0


def test_undial_is_the_same_with_its_reference_cached(tiny_target, splits):
    model, tok = tiny_target
    undial, fmt = _prepared("UNDIAL", {"beta": 3.0}, copy.deepcopy(model), tok, splits)
    f = collate_records(fmt, splits.forget[:4])
    with torch.no_grad():
        first = float(undial.losses(model, {"forget": f})["forget"])
        second = float(undial.losses(model, {"forget": _padded(f, 5, tok.pad_token_id)})["forget"])
    assert undial.ref.hits == 1 and second == pytest.approx(first, rel=1e-5)


def test_undial_under_lora_distils_from_the_adapter_disabled_model(tiny_target, splits):
    from obliviate.train.trainer import is_peft

    model, tok = tiny_target
    f = collate_records(PromptFormat(tok), splits.forget[:4])
    before, _ = _prepared("UNDIAL", {}, model, tok, splits)
    m = get_method("UNDIAL")
    out = api.unlearn(copy.deepcopy(model), tok, splits, m,
                      api.UnlearnConfig(**{**CFG, "lr": 3e-3, "lora_r": 8, "lora_alpha": 32}), keep_adapter=True)
    assert is_peft(out) and m.ref.shared and m.ref.model is out  # no second copy of the model
    with torch.no_grad():
        with m.ref() as ref:  # adapters off: exactly the model before unlearning
            assert float(mean_nll(ref, f)) == pytest.approx(float(mean_nll(model, f)), rel=1e-5)
        assert float(m.losses(out, {"forget": f})["forget"]) < float(before.losses(model, {"forget": f})["forget"])
        assert float(mean_nll(out, f)) > float(mean_nll(model, f))  # the adapter forgot


# ------------------------------------------------------------ PDU's dual variable


def test_pdu_dual_variable_rises_above_the_bound_and_falls_to_zero_below():
    pdu = get_method("PDU", {"eps": 0.3, "dual_lr": 0.5, "lambda_init": 0.0})
    seen = [pdu.after_step({"forget": 1.0, "retain": 0.9})["dual_lambda"] for _ in range(3)]
    assert seen == pytest.approx([0.3, 0.6, 0.9])  # + 0.5 * (0.9 - 0.3) each step
    seen = [pdu.after_step({"retain": 0.1})["dual_lambda"] for _ in range(10)]
    assert seen[0] == pytest.approx(0.8) and seen[-1] == 0.0 and min(seen) == 0.0  # projected at 0
    assert pdu.state_dict() == {"dual_lambda": 0.0}
    pdu.load_state_dict({"dual_lambda": 2.5})
    assert pdu.after_step({})["dual_lambda"] == 2.5  # no retain figure: nothing to step on


def test_pdu_retain_term_is_the_nll_with_gradient_scaled_by_lambda(tiny_target, splits):
    model, tok = tiny_target
    pdu, fmt = _prepared("PDU", {}, model, tok, splits)
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


CFG = dict(epochs=1.0, lr=1e-3, batch_size=4, checkpoint_every=0)


def test_pdu_logs_its_dual_variable_in_a_real_run(fresh_target, splits, tmp_path):
    model, tok = fresh_target
    api.unlearn(copy.deepcopy(model), tok, splits, "PDU", api.UnlearnConfig(**CFG),
                method_config={"eps": 0.0, "dual_lr": 0.5}, run_dir=tmp_path / "up")
    up = _events(tmp_path / "up")
    assert len(up) >= 3
    _assert_dual_ascent(up, 0.0, 0.5, 1.0)  # NLL(R) > eps = 0 throughout: lambda climbs every step
    assert all(b["dual_lambda"] > a["dual_lambda"] for a, b in zip(up, up[1:]))
    api.unlearn(model, tok, splits, "PDU", api.UnlearnConfig(**CFG),
                method_config={"eps": 5.0}, run_dir=tmp_path / "down")
    down = _events(tmp_path / "down")
    _assert_dual_ascent(down, 5.0, 1.0, 1.0)
    assert all(e["dual_lambda"] == 0.0 for e in down)  # NLL(R) < eps: at 0 from the first step


def test_pdu_resume_restores_the_dual_variable(tiny_target, splits, tmp_path):
    model, tok = tiny_target
    over = {"eps": 0.0, "dual_lr": 0.5}
    cfg = api.UnlearnConfig(**CFG)

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


# ------------------------------------------------------------ AltPO


def test_altpo_alternatives_are_wrong_fluent_and_deterministic(splits):
    forget = splits.forget
    alts = [alternative_answer(r) for r in forget]
    assert alts == [alternative_answer(copy.deepcopy(r)) for r in forget]  # stable per record id
    for r, alt in zip(forget, alts):
        value = str(r.meta["value"])
        at = r.answer.find(value)
        head, tail = r.answer[:at].removesuffix("a ").removesuffix("an "), r.answer[at + len(value):]
        assert alt != r.answer and value not in alt
        assert alt.startswith(head) and alt.endswith(tail)  # the answer's own template
        new = alt[len(head): len(alt) - len(tail)].removeprefix("a ").removeprefix("an ")
        assert any(new in p for p in r.perturbed_answers)  # a value the record offers as wrong
    occupations = [(r, a) for r, a in zip(forget, alts) if r.fact_type == "occupation"]
    assert occupations and all((" an " in a) == (a.split()[-1][0] in "aeiou") for _, a in occupations)
    world = splits.world_facts[:5]  # perturbed answers already in the answer's template: taken as they are
    assert all(alternative_answer(r) in r.perturbed_answers for r in world)


def test_altpo_falls_back_and_refuses_records_without_wrong_answers(splits):
    r = copy.deepcopy(splits.forget[0])
    r.meta = {}
    assert alternative_answer(r) in r.perturbed_answers
    r.perturbed_answers = []
    with pytest.raises(ConfigError, match="no perturbed_answers"):
        alternative_answer(r)


def test_altpo_prefers_the_alternative_and_is_neutral_at_the_reference(tiny_target, splits):
    model, tok = tiny_target
    alt, fmt = _prepared("AltPO", {"alpha": 0.0, "beta": 0.2}, model, tok, splits)
    assert {i: a for i, (_, a) in alt.pairs.items()} == {r.id: alternative_answer(r) for r in splits.forget}
    f = collate_records(fmt, splits.forget[:4])
    with torch.no_grad():  # pi == pi_ref: margin 0, loss (2/beta) ln 2
        assert float(alt.losses(model, {"forget": f})["forget"]) == pytest.approx(2 / 0.2 * math.log(2), rel=1e-4)


def test_new_methods_are_listed_by_the_cli_with_their_paper():
    from typer.testing import CliRunner

    from obliviate.cli import app
    from obliviate.llm.methods import METHODS

    out = CliRunner().invoke(app, ["methods"], terminal_width=400).output
    for name in NEW:
        arxiv = METHODS.entry(name).paper.split("arXiv ")[1].split(";")[0]
        assert name in out and arxiv in out, name
