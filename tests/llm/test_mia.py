"""Membership inference: hand-computed scores, the scorer's token statistics and memo, and
the attacks on tiny models that did (target) and did not (gold) train on the forget people."""

import zlib

import pytest
import torch

from obliviate.llm.encoding import IGNORE, collate
from obliviate.llm.eval.metrics import METRICS, MetricContext
from obliviate.llm.eval.metrics.mia import (
    loss_score,
    mia_auc,
    mink_score,
    minkpp_score,
    muse_privleak,
    privleak,
    reference_score,
    zlib_entropy,
    zlib_score,
)
from obliviate.llm.eval.scoring import Scorer, TokenStats


def stats(logp, mu=None, sigma=None, match=None):
    n = len(logp)
    return TokenStats(logp, mu if mu is not None else [0.0] * n, sigma if sigma is not None else [1.0] * n,
                      match if match is not None else [True] * n)


def pairs_of(records):
    return [(r.question, r.answer) for r in records]


# ----------------------------------------------------------------- by hand


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


# --------------------------------------------------------- scorer statistics


def test_token_stats_match_answer_logprobs_and_greedy(tiny_target, splits):
    model, tok = tiny_target
    records = splits.forget[:6] + splits.holdout[:6]
    pairs = pairs_of(records)
    scorer = Scorer(model, tok, batch_size=4)
    ts = scorer.token_stats(pairs)
    logp, ntok = scorer.answer_logprobs(pairs)
    assert [len(s) for s in ts] == ntok.tolist()
    assert [s.logp.sum() for s in ts] == pytest.approx(logp, abs=1e-4)
    for s in ts:
        assert (s.logp <= 0).all() and (s.mu <= 1e-6).all() and (s.sigma >= 0).all()
        assert not s.logp.flags.writeable
    # argmax_match is the teacher-forced greedy prediction, from full logits, one pair at a time
    for (q, a), s in zip(pairs, ts):
        batch = collate(scorer.fmt, [(q, a)])
        with torch.no_grad():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[0, :-1]
        labels = batch["labels"][0, 1:]
        keep = labels != IGNORE
        assert (logits[keep].argmax(-1) == labels[keep]).numpy().tolist() == s.argmax_match.tolist()
        # mu and sigma by the definition, on the same logits
        lp = torch.log_softmax(logits[keep].double(), -1)
        mu = (lp.exp() * lp).sum(-1)
        assert s.mu == pytest.approx(mu.numpy(), abs=1e-4)
        assert s.sigma == pytest.approx(((lp.exp() * lp**2).sum(-1) - mu**2).clamp_min(0).sqrt().numpy(), abs=1e-3)
    # order and batch size do not matter
    again = Scorer(model, tok, batch_size=5).token_stats(pairs[::-1])[::-1]
    for a, b in zip(ts, again):
        assert a.logp == pytest.approx(b.logp, abs=1e-4)
        assert a.argmax_match.tolist() == b.argmax_match.tolist()


def test_memo_reuses_results_until_cleared(tiny_target, splits):
    model, tok = tiny_target
    calls = []
    hook = model.register_forward_hook(lambda *_: calls.append(1))
    try:
        scorer = Scorer(model, tok, batch_size=4, max_new_tokens=8)
        pairs = pairs_of(splits.forget[:5])
        questions = [q for q, _ in pairs]
        first = (scorer.answer_logprobs(pairs), scorer.token_stats(pairs), scorer.generate(questions),
                 scorer.continue_text(questions, max_new_tokens=4))
        assert calls
        calls.clear()
        second = (scorer.answer_logprobs(pairs), scorer.token_stats(pairs), scorer.generate(questions),
                  scorer.continue_text(questions, max_new_tokens=4), scorer.mean_token_nll(pairs))
        assert not calls  # all memoised
        assert second[0][0] == pytest.approx(first[0][0]) and second[2:4] == first[2:4]
        assert second[1][0] is first[1][0]
        scorer.answer_logprobs(pairs + [pairs[0]] + pairs_of(splits.retain[:1]))  # one new pair, one duplicate
        assert len(calls) == 2  # one batch: its prompt pass and its answers' pass
        calls.clear()
        scorer.continue_text(questions, max_new_tokens=5)  # another length is another result
        assert calls
        scorer.clear()
        calls.clear()
        assert scorer.answer_logprobs(pairs)[0] == pytest.approx(first[0][0], abs=1e-5)
        assert scorer.generate(questions) == first[2]
        assert calls  # recomputed after clear()
    finally:
        hook.remove()


# ------------------------------------------------------- attacks on tiny models


@pytest.fixture(scope="module")
def target_mia(tiny_target, tiny_gold, splits):
    ctx = MetricContext("forget", {"nonmembers": splits.holdout, "reference_scorer": Scorer(*tiny_gold),
                                   "gradnorm": True})
    return METRICS.get("mia")(Scorer(*tiny_target), splits.forget, ctx), ctx


def test_every_attack_tells_trained_from_unseen_on_the_target(target_mia, splits):
    aucs, ctx = target_mia
    assert set(aucs) == {"auc_loss", "auc_zlib", "auc_mink", "auc_minkpp", "auc_reference", "auc_gradnorm"}
    for name, auc in aucs.items():
        assert auc > 0.8, (name, auc)
    per = ctx.extra["per_sample"]["mia"]
    assert per["member_ids"] == [r.id for r in splits.forget]
    assert len(per["nonmembers"]["mink"]) == len(splits.holdout)
    assert mia_auc(per["members"]["loss"], per["nonmembers"]["loss"]) == aucs["auc_loss"]


def test_gold_model_does_not_leak_the_forget_set(target_mia, tiny_gold, splits):
    aucs, _ = target_mia
    ctx = MetricContext("forget", {"nonmembers": splits.holdout})
    gold = METRICS.get("mia")(Scorer(*tiny_gold), splits.forget, ctx)
    assert "auc_reference" not in gold and "auc_gradnorm" not in gold  # both opt-in
    assert gold["auc_loss"] < aucs["auc_loss"] - 0.25
    assert privleak(aucs["auc_mink"], gold["auc_mink"]) > 0  # the target leaks against the gold model
