"""FLAT's divergences, MEOW's inversions and selection, and the MEMO metric."""

import copy
import math

import numpy as np
import pytest
import torch

from obliviate.core.errors import ConfigError
from obliviate.llm.data.records import QARecord
from obliviate.llm.encoding import PromptFormat, collate_records
from obliviate.llm.eval.metrics.memo import cuts, memo_scores, rouge1_precision
from obliviate.llm.methods import MethodContext, get_method
from obliviate.llm.methods.flat import DIVERGENCES, flat_loss, lambert_w, mean_token_prob
from obliviate.llm.methods.meow import is_inversion, llm_inversions, rule_inversions, select, value_pools

# ---------------------------------------------------------------- FLAT


def test_flat_formulas_at_known_points():
    pe, pf = torch.tensor([0.3]), torch.tensor([0.8])
    assert float(flat_loss(pe, pf, "tv")) == pytest.approx(0.5 * (math.tanh(0.8) - math.tanh(0.3)))
    assert float(flat_loss(pe, pf, "kl")) == pytest.approx(-0.3 + math.exp(0.8 - 1))
    assert float(flat_loss(pe, pf, "pearson")) == pytest.approx(-0.3 + 0.8**2 / 4 + 0.8)
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731
    assert float(flat_loss(pe, pf, "jensen_shannon")) == pytest.approx(sp(-0.3) + sp(0.8) - 2 * math.log(2))
    w = float(lambert_w(torch.tensor(math.exp(1 - 0.8))))
    assert w * math.exp(w) == pytest.approx(math.exp(0.2), rel=1e-6)  # W is Lambert's W
    assert float(flat_loss(pe, pf, "jeffrey")) == pytest.approx(-0.3 + w + 1 / w + 0.8 - 2, rel=1e-5)
    with pytest.raises(ConfigError, match="divergence"):
        get_method("flat", {"divergence": "hellinger"})


@pytest.mark.parametrize("divergence", sorted(DIVERGENCES))
def test_flat_gradients_push_each_term_the_right_way(divergence):
    pe = torch.tensor([0.2, 0.5, 0.9], requires_grad=True)
    pf = torch.tensor([0.9, 0.5, 0.1], requires_grad=True)
    flat_loss(pe, pf, divergence).sum().backward()
    assert (pe.grad < 0).all() and (pf.grad > 0).all()  # descent raises P_template, lowers P_forget


@pytest.mark.parametrize("divergence", sorted(DIVERGENCES))
def test_flat_moves_template_up_and_forget_down(divergence, tiny_target, splits):
    """Six Adam steps of FLAT against the same steps with the template term's sign flipped.

    The tiny word-level tokenizer maps most template words ("I", "don", "t", ...) to <unk>, whose
    probability sits at 1e-8..1e-12, so only the template's "." can move: its mean token probability
    has a ceiling near 0.22, which FLAT reaches or keeps on every tiny target we tried (0.21-0.22 over
    six training seeds and three CPU kernel paths), from a start of 0.15-0.22. An absolute rise is
    therefore not a property of FLAT here. What is: FLAT never lowers the template (an implementation
    whose template term pushes the wrong way drops it to 0.0001-0.11, at least 0.1 below FLAT), and the
    forget answer falls (by 0.2-0.45 from 0.99; a missing or reversed forget term leaves it near 0.99).
    """
    model0, tok = tiny_target
    fmt = PromptFormat(tok)
    batch = collate_records(fmt, splits.forget[:6])

    def run(reverse_template: bool):
        model = copy.deepcopy(model0)
        flat = get_method("flat", {"divergence": divergence})
        flat.prepare(MethodContext(model, tok, fmt, splits))
        template = flat.template_batch(batch["ids"], "cpu")

        def probs():
            with torch.no_grad():
                return float(mean_token_prob(model, template).mean()), float(mean_token_prob(model, batch).mean())

        e0, f0 = probs()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(6):
            opt.zero_grad()
            if reverse_template:  # the broken implementation: the template term pushed down
                pe, pf = mean_token_prob(model, template), mean_token_prob(model, batch)
                loss = flat_loss(-pe, pf, divergence).mean()
            else:
                loss = flat.losses(model, {"forget": batch})["forget"]
            loss.backward()
            opt.step()
        return (e0, f0), probs()

    (e0, f0), (e1, f1) = run(False)
    _, (e_broken, _) = run(True)
    assert e1 >= e0 - 0.01, (e0, e1)  # the template never falls under FLAT
    assert e1 > e_broken + 0.05, (e1, e_broken)  # and its template term is what holds it up
    assert f1 < f0 - 0.1, (f0, f1)  # the forget answer falls


def test_flat_padded_normalisation_divides_by_the_sequence_length(tiny_target, splits):
    model, tok = tiny_target
    batch = collate_records(PromptFormat(tok), splits.forget[:4])
    with torch.no_grad():
        per_answer = mean_token_prob(model, batch, "answer")
        padded = mean_token_prob(model, batch, "padded")
    n_answer = (batch["labels"] != -100).sum(-1).float()  # answer tokens (+eos), as scored
    width = batch["input_ids"].shape[1]
    assert torch.allclose(padded, per_answer * n_answer / width, rtol=1e-4)


# ---------------------------------------------------------------- MEMO


class _FakeScorer:
    """Returns fixed continuations for each (question, prefix)."""

    class _Tok:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": text.split()}

    def __init__(self, table):
        self.table, self.tokenizer = table, self._Tok()

    def continue_answers(self, pairs, max_new_tokens=32, desc=""):
        return [self.table[p] for p in pairs]


def test_memo_matches_a_hand_computed_case():
    answer = "She was born"  # 12 characters: cuts at 1, 6, 11
    assert cuts(answer) == [1, 6, 11]
    table = {
        ("q", "S"): "he was born",  # rest "he was born": 3/3 unigrams match -> 1
        ("q", "She wa"): "s born in Rome",  # rest "s born": s, born match of s, born, in, rome -> 2/4
        ("q", "She was bor"): "",  # nothing generated -> 0
    }
    got = memo_scores(_FakeScorer(table), [("q", answer)])
    assert got.tolist() == pytest.approx([(1 + 0.5 + 0) / 3])
    assert rouge1_precision("born born born", "born") == pytest.approx(1 / 3)  # clipped counts


def test_memo_metric_is_high_for_memorised_answers(tiny_target, tiny_gold, splits):
    from obliviate.llm.eval.metrics import METRICS, MetricContext
    from obliviate.llm.eval.scoring import Scorer

    recs = splits.forget[:6]
    memo = METRICS.get("memo")
    target = memo(Scorer(*tiny_target), recs, MetricContext("forget"))["memo"]
    gold = memo(Scorer(*tiny_gold), recs, MetricContext("forget"))["memo"]
    # The word-level test tokenizer cannot encode a prefix cut inside a word (it becomes [UNK]),
    # so only some cuts can lead back to the answer: the target still clearly beats the gold model.
    assert target > 0.3 and gold < target - 0.15, (target, gold)


# ---------------------------------------------------------------- MEOW


def test_rule_inversions_never_equal_the_true_answer(splits):
    records = splits.forget + splits.retain
    pools = value_pools(records + splits.holdout)
    for r in records:
        inv = rule_inversions(r, pools, 4)
        assert inv, r.id
        assert len(inv) == len(set(inv)) <= 4
        for text in inv:
            assert text.lower() != r.answer.lower() and text != r.paraphrased_answer
            assert f" {r.meta['value']}" not in f" {text}"  # the true value is gone
            assert is_inversion(r, text)


def test_rule_inversion_needs_a_value():
    rec = QARecord("u/1", "Zed", "Who is Zed?", "Zed is a painter.", "Who's Zed?", "A painter.", ["A baker."], "bio")
    assert rule_inversions(rec, {"bio": ["x"]}, 4) is None


def test_selection_by_memo():
    cands, scores = ["a", "b", "c", "d"], [0.2, 0.9, 0.5, 0.1]
    assert select(cands, scores, 2, "largest", "k") == ["b", "c"]
    assert select(cands, scores, 2, "smallest", "k") == ["d", "a"]
    rnd = select(cands, scores, 3, "random", "k")
    assert len(set(rnd)) == 3 and rnd == select(cands, scores, 3, "random", "k")


def test_meow_prepares_top_k_inversions_and_forgets(tiny_target, splits):
    from obliviate import api
    from obliviate.llm.eval.scoring import Scorer

    model, tok = copy.deepcopy(tiny_target[0]), tiny_target[1]
    meow = get_method("meow", {"n_inverted": 4, "top_k": 2})
    meow.prepare(MethodContext(model, tok, PromptFormat(tok), splits))
    for r in splits.forget:
        assert len(meow.inverted[r.id]) == 4 and len(meow.chosen[r.id]) == 2
        top = sorted(meow.memo[r.id], reverse=True)[:2]
        assert sorted((meow.memo[r.id][meow.inverted[r.id].index(y)] for y in meow.chosen[r.id]),
                      reverse=True) == top
    out = api.unlearn(model, tok, splits, meow, api.UnlearnConfig(epochs=4.0, lr=1e-3, checkpoint_every=0))
    scorer = Scorer(out, tok)
    pairs = [(r.question, y) for r in splits.forget for y in meow.chosen[r.id]]
    inv_logp, n = scorer.answer_logprobs(pairs)
    true_logp, m = scorer.answer_logprobs([(r.question, r.answer) for r in splits.forget])
    assert np.exp(inv_logp / n).mean() > np.exp(true_logp / m).mean()  # the inverted facts now win


def test_llm_inverter_fills_every_record_with_valid_inversions(tiny_target, splits):
    model, tok = tiny_target
    recs = [QARecord(r.id, r.entity, r.question, r.answer, r.paraphrased_question, r.paraphrased_answer,
                     r.perturbed_answers, r.fact_type) for r in splits.forget[:3]]  # no meta: rules cannot apply
    out = llm_inversions(model, tok, recs, 3, seed=0)
    for r in recs:
        assert 1 <= len(out[r.id]) <= 3 and all(is_inversion(r, t) for t in out[r.id])
    assert out == llm_inversions(model, tok, recs, 3, seed=0)  # seeded
