"""Membership inference (``obliviate.llm.eval.metrics.mia``): hand-computed scores, OpenUnlearning's conventions
(Min-K% without the end-of-answer token, GradNorm, PrivLeak, MIA on raw text), and the attacks on tiny
models that did (target) and did not (gold) train on the forget people."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
import torch

from obliviate.llm.data import QARecord
from obliviate.llm.eval.metrics import METRICS, MetricContext
from obliviate.llm.eval.metrics.mia import (
    gradnorm_score,
    loss_score,
    mia_auc,
    mink_score,
    minkpp_score,
    muse_privleak,
    passage_text,
    privleak,
    reference_score,
    rel_diff,
    zlib_entropy,
    zlib_score,
)
from obliviate.llm.eval.scoring import Scorer
from tests.llm.eval.helpers import stats


def test_loss_and_reference_scores_by_hand():
    s = [stats([-1.0, -3.0]), stats([-0.5])]
    assert loss_score(s) == pytest.approx([-2.0, -0.5])  # -mean NLL: higher = member
    ref = [stats([-4.0, -2.0]), stats([-0.25])]  # reference mean NLLs 3 and 0.25
    # -(NLL - NLL_ref): the model finds the first sample likelier than the reference does
    assert reference_score(s, ref) == pytest.approx([-(2 - 3), -(0.5 - 0.25)])


def test_zlib_score_on_a_known_string():
    # "hello" deflates to 13 bytes: 2 header + 7 deflate + 4 adler32
    assert zlib.compress(b"hello") == b"x\x9c\xcbH\xcd\xc9\xc9\x07\x00\x06,\x02\x15"
    assert zlib_entropy("hello") == 13
    assert zlib_score([stats([-1.0, -3.0])], ["hello"]) == pytest.approx([-2.0 / 13])


def test_min_k_by_hand():
    s = [stats([-1.0, -2.0, -3.0, -4.0, -5.0])]
    assert mink_score(s, k=0.4) == pytest.approx([-4.5])  # int(5 * .4) = 2 lowest: -4, -5
    assert mink_score(s, k=0.1) == pytest.approx([-5.0])  # at least one token
    assert mink_score(s, k=1.0) == pytest.approx([-3.0])
    assert mink_score([stats([-5.0, -1.0, -4.0, -2.0, -3.0])], k=0.4) == pytest.approx([-4.5])  # order-free


def test_min_k_plus_plus_by_hand():
    s = [stats([-1.0, -2.0, -3.0], mu=[-1.5, -1.5, -1.5], sigma=[0.5, 1.0, 2.0])]
    # z = (logp - mu) / sigma = [1, -0.5, -0.75]
    assert minkpp_score(s, k=0.4) == pytest.approx([-0.75])  # int(1.2) = 1 token
    assert minkpp_score(s, k=0.7) == pytest.approx([-0.625])  # int(2.1) = 2 tokens
    # sigma is floored at 1e-3 (OpenUnlearning clamps the variance at 1e-6)
    assert minkpp_score([stats([-2.0], mu=[-1.0], sigma=[0.0])]) == pytest.approx([-1000.0])


def test_auc_known_cases():
    assert mia_auc([3, 4], [1, 2]) == 1.0
    assert mia_auc([1, 2], [3, 4]) == 0.0
    assert mia_auc([1, 1], [1, 1]) == 0.5  # ties count one half
    # pairs (member > non-member): .9>.5, .9>.1, .4<.5, .4>.1 -> 3 of 4
    assert mia_auc([0.9, 0.4], [0.5, 0.1]) == pytest.approx(0.75)
    assert mia_auc([2, 1], [1, 0]) == pytest.approx((1 + 1 + 0.5 + 1) / 4)


def test_privleak_sign_and_muse_convention():
    assert privleak(0.9, 0.5) == pytest.approx(80.0)  # forget set still detectable: leakage
    assert privleak(0.5, 0.5) == 0.0
    assert privleak(0.3, 0.5) == pytest.approx(-40.0)  # over-unlearning
    # MUSE/OpenUnlearning report the AUC as 1 - ours, so their PrivLeak has the other sign ...
    assert muse_privleak(0.9, 0.5) == pytest.approx(-80.0)
    openunlearning = lambda auc, ref: ((1 - auc) - (1 - ref)) / (1 - ref) * 100  # noqa: E731  their privleak()
    assert muse_privleak(0.9, 0.6) == pytest.approx(openunlearning(0.9, 0.6))
    # ... and a different size when the gold AUC is not 0.5
    assert privleak(0.9, 0.6) == pytest.approx(50.0)
    assert muse_privleak(0.9, 0.6) == pytest.approx(-75.0)
    assert muse_privleak(1.0, 0.5) == pytest.approx(-100.0)  # the untouched target in MUSE's tables


def test_privleak_signs_ours_and_openunlearnings():
    # our AUC 0.8 on the unlearned model, 0.4 on the retain-only (gold) model
    # ours: (0.8 - 0.4) / 0.4 * 100 = +100 (positive = the forget set still leaks)
    assert privleak(0.8, 0.4) == pytest.approx(100.0)
    # OpenUnlearning's privleak(): score = 1 - 0.8 = 0.2, ref = 1 - 0.4 = 0.6, (0.2 - 0.6) / 0.6 * 100 = -66.67
    score, ref = 1 - 0.8, 1 - 0.4
    assert muse_privleak(0.8, 0.4) == pytest.approx((score - ref) / (ref + 1e-10) * 100, abs=1e-6)
    assert muse_privleak(0.8, 0.4) == pytest.approx(-200 / 3)
    assert privleak(0.4, 0.4) == muse_privleak(0.4, 0.4) == 0.0


def test_our_auc_equals_openunlearnings_on_loss_like_scores():
    from sklearn.metrics import roc_auc_score

    members, nonmembers = [stats([-0.1, -0.2]), stats([-0.5])], [stats([-0.3]), stats([-2.0, -1.0])]
    ours = mia_auc(loss_score(members), loss_score(nonmembers))
    # pairs (member > non-member): -0.15 > -0.3, -0.15 > -1.5, -0.5 < -0.3, -0.5 > -1.5 -> 3 of 4
    assert ours == pytest.approx(0.75)
    # OpenUnlearning: scores are mean NLLs (higher = non-member), forget labelled 0 and holdout 1
    nll = [0.15, 0.5, 0.3, 1.5]
    assert roc_auc_score([0, 0, 1, 1], nll) == pytest.approx(ours)


def test_every_mia_score_is_higher_for_members():
    # members: the model is sure of them; non-members: not
    members = [stats([-0.1, -0.2, -0.1], mu=[-0.5] * 3, sigma=[0.5] * 3), stats([-0.05, -0.3], mu=[-0.5] * 2,
                                                                                 sigma=[0.5] * 2)]
    nonmembers = [stats([-2.0, -3.0, -1.0], mu=[-0.5] * 3, sigma=[0.5] * 3), stats([-4.0, -0.5], mu=[-0.5] * 2,
                                                                                     sigma=[0.5] * 2)]
    texts = ["Paris.", "Berlin."]
    reference = [stats([-1.0, -1.0, -1.0]), stats([-1.0, -1.0])]  # a reference model equally unsure of all
    # LOSS = -mean NLL: members -0.1333, -0.175; non-members -2.0, -2.25
    assert loss_score(members) == pytest.approx([-0.4 / 3, -0.175])
    scores = {
        "loss": (loss_score(members), loss_score(nonmembers)),
        "zlib": (zlib_score(members, texts), zlib_score(nonmembers, texts)),
        # Min-K (k 0.4): int(3 * .4) = 1 lowest token: members -0.2, -0.3; non-members -3.0, -4.0
        "mink": (mink_score(members), mink_score(nonmembers)),
        # Min-K++: z = (logp + 0.5) / 0.5, lowest: members 0.6, 0.4; non-members -5.0, -7.0
        "minkpp": (minkpp_score(members), minkpp_score(nonmembers)),
        "reference": (reference_score(members, reference), reference_score(nonmembers, reference)),
    }
    assert scores["mink"][0] == pytest.approx([-0.2, -0.3]) and scores["minkpp"][1] == pytest.approx([-5.0, -7.0])
    for name, (m, n) in scores.items():
        assert mia_auc(m, n) == 1.0, name


@pytest.mark.trains
def test_gradnorm_by_hand_direction_and_no_side_effects():
    from obliviate.llm.encoding import collate, mean_nll
    from obliviate.llm.eval.scoring import Scorer
    from obliviate.models.tiny import tiny_model_for

    names = ["ada", "bo", "cy", "di", "ed", "fay", "gus", "hal"]
    cities = ["rome", "oslo", "lima", "kiev", "bern", "doha", "riga", "baku"]
    pairs = [(f"where does {n} live ?", f"{n} lives in {c} .") for n, c in zip(names, cities)]
    members = pairs[:4]
    model, tok = tiny_model_for([t for p in pairs for t in p] + ["Question:", "Answer:"], seed=0,
                                hidden_size=32, layers=1, heads=2, intermediate_size=64)
    scorer = Scorer(model, tok, batch_size=8)
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = collate(scorer.fmt, members)
    for _ in range(60):  # memorise the members
        opt.zero_grad()
        mean_nll(model, batch).backward()
        opt.step()
    model.zero_grad(set_to_none=True)

    # by hand: backward on one member, the mean over parameter tensors of the gradients' 2-norms, negated
    loss = mean_nll(model, collate(scorer.fmt, members[:1]))
    loss.backward()
    by_hand = -torch.stack([w.grad.norm(2) for w in model.parameters()]).mean().item()
    model.zero_grad(set_to_none=True)

    model.train()
    frozen = next(model.parameters())
    frozen.requires_grad_(False)
    last = list(model.parameters())[-1]
    last.grad = torch.full_like(last, 7.0)  # an accumulated gradient the attack must leave alone
    scores = gradnorm_score(scorer, pairs)
    assert scores[0] == pytest.approx(by_hand, rel=1e-4)
    assert model.training and not frozen.requires_grad  # mode and flags restored
    assert torch.equal(last.grad, torch.full_like(last, 7.0))
    assert all(w.grad is None for w in model.parameters() if w is not last)
    # members sit near a minimum: smaller gradients, higher score
    assert mia_auc(scores[:4], scores[4:]) == 1.0
    # through the metric, opt-in
    recs = [QARecord(id=f"x{i}", entity="e", question=q, answer=a, paraphrased_question=q, paraphrased_answer=a,
                     perturbed_answers=[a], fact_type="t") for i, (q, a) in enumerate(pairs)]
    ctx = MetricContext("forget", {"nonmembers": recs[4:]})
    assert "auc_gradnorm" not in METRICS.get("mia")(scorer, recs[:4], ctx)
    ctx = MetricContext("forget", {"nonmembers": recs[4:], "gradnorm": True})
    aucs = METRICS.get("mia")(scorer, recs[:4], ctx)
    assert aucs["auc_gradnorm"] == 1.0
    assert ctx.extra["per_sample"]["mia"]["members"]["gradnorm"] == pytest.approx(scores[:4].tolist(), rel=1e-4)


def test_min_k_drops_eos_in_openunlearning_mode():
    # token log-probs [-1, -2, -0.5] and eos -4; k = 0.4. Ours: m = int(4 * 0.4) = 1 -> the lowest, -4 (eos)
    s = [stats([-1.0, -2.0, -0.5, -4.0])]
    assert mink_score(s) == pytest.approx([-4.0])
    # theirs without eos: m = int(3 * 0.4) = 1 -> -2
    assert mink_score(s, ou=True) == pytest.approx([-2.0])
    # Min-K%++: (logp - mu) / sigma with mu 0, sigma 1 -> same numbers; their sigma sqrt(max(var, 1e-6))
    assert minkpp_score(s, ou=True) == pytest.approx([-2.0])
    tiny_sigma = [stats([-1.0, -2.0, -0.5, -4.0], sigma=[1e-4] * 4)]
    # sigma^2 = 1e-8 < 1e-6 -> sqrt(1e-6) = 1e-3: (-2) / 1e-3 = -2000 (ours floors sigma at 1e-3 too)
    assert minkpp_score(tiny_sigma, ou=True) == pytest.approx([-2000.0])
    assert minkpp_score(tiny_sigma) == pytest.approx([-4000.0])


def test_gradnorm_in_openunlearning_mode_reads_trainable_parameters_in_train_mode():
    from obliviate.llm.encoding import collate, mean_nll
    from obliviate.llm.eval.scoring import Scorer
    from obliviate.models.tiny import tiny_model_for

    pairs = [("where does ada live ?", "ada lives in rome ."), ("where does bo live ?", "bo lives in oslo .")]
    model, tok = tiny_model_for([t for p in pairs for t in p] + ["Question:", "Answer:"], seed=0,
                                hidden_size=32, layers=1, heads=2, intermediate_size=64)
    params = list(model.parameters())
    for w in params[:-3]:  # only the last three tensors train (as LoRA adapters would)
        w.requires_grad_(False)
    model.eval()
    scorer = Scorer(model, tok)
    # by hand, theirs: train mode, loss = mean NLL of the answer tokens without the last (eos),
    # the mean of the 2-norms over the trainable tensors
    model.train()
    batch = collate(scorer.fmt, pairs[:1])
    labels = batch["labels"].clone()
    labels[0, (labels[0] != -100).nonzero()[-1]] = -100
    grads = torch.autograd.grad(mean_nll(model, {**batch, "labels": labels}), params[-3:])
    theirs = -torch.stack([g.norm(2) for g in grads]).mean().item()
    model.eval()
    got = gradnorm_score(scorer, pairs, ou=True)
    assert got[0] == pytest.approx(theirs, rel=1e-4)
    ours = gradnorm_score(scorer, pairs)  # every tensor, eval mode, eos counted
    assert abs(ours[0] - theirs) > 1e-3 * abs(theirs)
    assert not model.training and [w.requires_grad for w in params] == [False] * (len(params) - 3) + [True] * 3
    for w in params[-3:]:
        w.requires_grad_(False)
    from obliviate.core.errors import ObliviateError

    with pytest.raises(ObliviateError, match="trainable"):
        gradnorm_score(scorer, pairs, ou=True)


def test_privleak_never_divides_by_zero():
    # MUSE / OpenUnlearning: ((1 - 0.5) - (1 - 1.0)) / ((1 - 1.0) + 1e-10) * 100 = 0.5 / 1e-10 * 100 = 5e11
    assert muse_privleak(0.5, 1.0) == pytest.approx(5e11)
    assert math.isnan(privleak(0.5, 0.0))  # ours: (AUC - 0) / 0 is undefined
    # rel_diff: (0.3 - 0.2) / (0.2 + 1e-10) * 100 = 50
    assert rel_diff(0.3, 0.2) == pytest.approx(50.0)
    assert muse_privleak(0.8, 0.4) == pytest.approx(rel_diff(0.2, 0.6))


@pytest.mark.trains
def test_text_statistics_and_mia_on_documents(tiny_target, splits):
    from obliviate.llm.eval.scoring import Scorer

    model, tok = tiny_target
    scorer = Scorer(model, tok, batch_size=3)
    members, nonmembers = splits.forget[:3], splits.holdout[:3]
    texts = [passage_text(r) for r in members + nonmembers]
    assert texts[0] == f"{members[0].question} {members[0].answer}"
    got = scorer.text_stats(texts)
    # by hand: one full forward per text, log-softmax, the log-prob of each next token
    for text, st in zip(texts, got):
        ids = torch.tensor([tok(text)["input_ids"]])
        with torch.no_grad():
            logq = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
        want = logq.gather(1, ids[0, 1:, None])[:, 0].double().numpy()
        assert st.logp == pytest.approx(want, abs=1e-4)
        assert st.argmax_match.tolist() == (logq.argmax(-1) == ids[0, 1:]).tolist()
    out = METRICS.get("mia_text")(scorer, members, MetricContext("forget", {"nonmembers": nonmembers}))
    loss = np.array([s.mean_logp for s in got])
    assert out["auc_loss"] == pytest.approx(mia_auc(loss[:3], loss[3:]))
    assert set(out) == {"auc_loss", "auc_zlib", "auc_mink", "auc_minkpp"}


# ------------------------------------------------------- attacks on tiny models


@pytest.fixture(scope="module")
def target_mia(tiny_target, tiny_gold, splits):
    ctx = MetricContext("forget", {"nonmembers": splits.holdout, "reference_scorer": Scorer(*tiny_gold),
                                   "gradnorm": True})
    return METRICS.get("mia")(Scorer(*tiny_target), splits.forget, ctx), ctx


@pytest.mark.trains
def test_every_attack_tells_trained_from_unseen_on_the_target(target_mia, splits):
    aucs, ctx = target_mia
    assert set(aucs) == {"auc_loss", "auc_zlib", "auc_mink", "auc_minkpp", "auc_reference", "auc_gradnorm"}
    for name, auc in aucs.items():
        assert auc > 0.8, (name, auc)
    per = ctx.extra["per_sample"]["mia"]
    assert per["member_ids"] == [r.id for r in splits.forget]
    assert len(per["nonmembers"]["mink"]) == len(splits.holdout)
    assert mia_auc(per["members"]["loss"], per["nonmembers"]["loss"]) == aucs["auc_loss"]


@pytest.mark.trains
def test_gold_model_does_not_leak_the_forget_set(target_mia, tiny_gold, splits):
    aucs, _ = target_mia
    ctx = MetricContext("forget", {"nonmembers": splits.holdout})
    gold = METRICS.get("mia")(Scorer(*tiny_gold), splits.forget, ctx)
    assert "auc_reference" not in gold and "auc_gradnorm" not in gold  # both opt-in
    assert gold["auc_loss"] < aucs["auc_loss"] - 0.25
    assert privleak(aucs["auc_mink"], gold["auc_mink"]) > 0  # the target leaks against the gold model
