"""The scorer (``obliviate.llm.eval.scoring``): token statistics against a direct computation, the memo, order
and batch size."""

import pytest
import torch

from obliviate.llm.encoding import IGNORE, collate
from obliviate.llm.eval.scoring import Scorer

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def pairs_of(records):
    return [(r.question, r.answer) for r in records]


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


def test_scorer_order_and_batching_do_not_change_results(tiny_target, splits):
    model, tok = tiny_target
    pairs = [(r.question, r.answer) for r in splits.retain[:20]]
    a, _ = Scorer(model, tok, batch_size=3).answer_logprobs(pairs)
    b, _ = Scorer(model, tok, batch_size=20).answer_logprobs(pairs[::-1])
    assert a == pytest.approx(b[::-1], abs=1e-4)
    g1 = Scorer(model, tok, batch_size=1).generate([q for q, _ in pairs[:6]])
    g2 = Scorer(model, tok, batch_size=6).generate([q for q, _ in pairs[:6]])
    assert g1 == g2  # left padding does not change greedy answers
