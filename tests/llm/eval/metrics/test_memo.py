"""MEMO (``obliviate.llm.eval.metrics.memo``): a hand-computed case, and memorised answers on the tiny models."""

import pytest

from obliviate.llm.eval.metrics.memo import cuts, memo_scores, rouge1_precision


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


@pytest.mark.trains
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
