"""MUSE memorisation, extraction and BLUR metrics (``obliviate.llm.eval.metrics.muse``): by hand, in both
conventions, then on the tiny target and gold models."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import numpy as np
import pytest

from obliviate.core.errors import ConfigError
from obliviate.llm.eval.metrics import METRICS, MetricContext
from obliviate.llm.eval.metrics.muse import exact_memorization, extraction_strength, perplexity, rouge_l_f1
from obliviate.llm.eval.scoring import Scorer, TokenStats
from tests.llm.eval.helpers import stats


def matched(*pattern):
    n = len(pattern)
    return TokenStats([-1.0] * n, [-1.0] * n, [1.0] * n, [bool(p) for p in pattern])


def run(metric, scorer, records, split="forget", **extra):
    return METRICS.get(metric)(scorer, records, MetricContext(split, extra))


def test_rouge_l_f1_by_hand():
    # LCS(the cat sat on the mat, the cat lay on a mat) = the cat on mat: P = R = 4/6
    assert rouge_l_f1("The cat sat on the mat.", "the cat lay on a mat") == pytest.approx(2 / 3)
    # LCS = she was born in (4); P = 4/5, R = 4/7, F = 2PR/(P+R) = 2*4/(5+7)
    assert rouge_l_f1("She was born in Paris", "She was born in 1961 in France") == pytest.approx(8 / 12)
    assert rouge_l_f1("", "x") == 0.0 and rouge_l_f1("a b", "c d") == 0.0
    assert rouge_l_f1("A, b!", "a b") == 1.0


def test_rouge_l_f1_agrees_with_rouge_score():
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    words = "she he was born in 1961 paris the quill prize a chemist won his her".split()
    rng = random.Random(1)
    for _ in range(100):
        pred, ref = (" ".join(rng.choice(words) for _ in range(rng.randint(0, 8))) for _ in range(2))
        assert rouge_l_f1(pred, ref) == pytest.approx(scorer.score(ref, pred)["rougeL"].fmeasure)


def test_extraction_strength_and_exact_memorization_by_hand():
    patterns = [(1, 1, 1), (0, 1, 1), (1, 0, 1), (1, 1, 0), (0, 0, 0), (1,), (0, 1, 0, 1, 1)]
    s = [matched(*p) for p in patterns]
    # 1 - k/|y|, k the first index from which every token matches
    assert extraction_strength(s) == pytest.approx([1, 2 / 3, 1 / 3, 0, 0, 1, 2 / 5])
    assert exact_memorization(s) == pytest.approx([1, 2 / 3, 2 / 3, 2 / 3, 0, 1, 3 / 5])


def test_perplexity_of_a_known_logprob():
    # summed log-prob -6 over 3 tokens: mean NLL 2, perplexity e^2
    assert perplexity(np.array([-6.0, 0.0]), np.array([3, 1])) == pytest.approx([math.e**2, 1.0])


def test_extraction_strength_and_exact_memorization_by_hand_against_openunlearnings_loop():
    def openunlearning_es(match):  # their loop, literally: k stops at len - 1
        n = len(match)
        for k in range(n):
            if all(match[k:]):
                break
        return 1 - k / n

    cases = [
        ([True, True, False, True, True], 1 - 3 / 5, 4 / 5),  # suffix from index 3 matches: ES 0.4, EM 0.8
        ([True, True, True], 1.0, 1.0),  # everything matches: k = 0
        ([False, True, True, True], 1 - 1 / 4, 3 / 4),
        ([True, True, False], 0.0, 2 / 3),  # last token misses: k = |y| = 3 (OpenUnlearning: 1/3)
    ]
    s = [stats([-0.1] * len(m), match=m) for m, _, _ in cases]
    assert extraction_strength(s) == pytest.approx([es for _, es, _ in cases])
    assert exact_memorization(s) == pytest.approx([em for _, _, em in cases])
    assert [openunlearning_es(m) for m, _, _ in cases[:3]] == pytest.approx([es for _, es, _ in cases[:3]])
    assert openunlearning_es(cases[3][0]) == pytest.approx(1 / 3)  # the one documented difference


def test_extraction_strength_of_a_model_that_does_not_stop():
    # the answer's 3 tokens are all reproduced, the eos that follows is not predicted (the model goes on)
    runs_on = stats([-0.1] * 4, match=[True, True, True, False])
    # ours counts eos: the matching suffix is empty, ES = 1 - 4/4 = 0; EM = 3/4
    assert extraction_strength([runs_on]) == pytest.approx([0.0])
    assert exact_memorization([runs_on]) == pytest.approx([0.75])
    # OpenUnlearning drops the last label: [T, T, T] -> ES 1.0, EM 1.0
    assert extraction_strength([runs_on], ou=True) == pytest.approx([1.0])
    assert exact_memorization([runs_on], ou=True) == pytest.approx([1.0])
    # their loop stops at k = n - 1: [T, T, F | eos] -> [T, T, F], no suffix matches, ES = 1 - 2/3
    last_wrong = stats([-0.1] * 4, match=[True, True, False, True])
    assert extraction_strength([last_wrong], ou=True) == pytest.approx([1 / 3])
    assert extraction_strength([last_wrong]) == pytest.approx([1 - 3 / 4])  # ours: suffix [eos] from k = 3
    # an answer of eos alone has no token left in their reading: EM is left out (None there, NaN here)
    assert math.isnan(exact_memorization([stats([-0.1])], ou=True)[0])


@pytest.mark.trains
def test_memorization_metric_follows_the_mode(tiny_target, splits):
    from obliviate.llm.eval.scoring import Scorer

    scorer = Scorer(*tiny_target)
    recs = splits.retain[:6]
    ours = METRICS.get("memorization")(scorer, recs, MetricContext("retain", {}))
    theirs = METRICS.get("memorization")(scorer, recs, MetricContext("retain", {"compat": "openunlearning"}))
    st = scorer.token_stats([(r.question, r.answer) for r in recs])
    assert ours["exact_memorization"] == pytest.approx(np.mean([s.argmax_match.mean() for s in st]))
    assert theirs["exact_memorization"] == pytest.approx(np.mean([s.argmax_match[:-1].mean() for s in st]))
    with pytest.raises(ConfigError, match="compat"):
        METRICS.get("memorization")(scorer, recs, MetricContext("retain", {"compat": "tofu"}))


# ------------------------------------------------------------- tiny models


@pytest.mark.trains
def test_memorization_target_vs_gold(tiny_target, tiny_gold, splits):
    target = run("memorization", Scorer(*tiny_target), splits.forget)
    gold = run("memorization", Scorer(*tiny_gold), splits.forget)
    assert target["exact_memorization"] >= 0.95 and target["extraction_strength"] >= 0.9
    assert gold["exact_memorization"] < target["exact_memorization"] - 0.1
    assert gold["extraction_strength"] < target["extraction_strength"] - 0.3


@pytest.mark.trains
def test_knowledge_and_verbatim_target_vs_gold(tiny_target, tiny_gold, splits):
    target, gold = Scorer(*tiny_target), Scorer(*tiny_gold)
    k_t, k_g = run("knowledge", target, splits.forget), run("knowledge", gold, splits.forget)
    assert k_t["knowmem_rouge_l_f1"] >= 0.9 and k_g["knowmem_rouge_l_f1"] < k_t["knowmem_rouge_l_f1"] - 0.1
    # raw text: the trained prompt as a prefix, the answer as its true continuation
    texts = [replace(r, question=target.fmt.prompt(r.question)) for r in splits.forget]
    v_t, v_g = run("verbatim", target, texts), run("verbatim", gold, texts)
    assert v_t["verbmem_rouge_l_f1"] >= 0.9 and v_g["verbmem_rouge_l_f1"] < v_t["verbmem_rouge_l_f1"] - 0.1
    # continuation of the raw prompt = the chat-formatted greedy answer (the tiny tokenizer has no template)
    questions = [r.question for r in splits.forget[:5]]
    assert target.continue_text([target.fmt.prompt(q) for q in questions]) == target.generate(questions)


@pytest.mark.trains
def test_base_rouge_computes_base_answers_once(tiny_target, tiny_gold, splits):
    base = Scorer(*tiny_target)
    calls = []
    hook = tiny_target[0].register_forward_hook(lambda *_: calls.append(1))
    try:
        same = run("base_rouge", Scorer(*tiny_target), splits.forget, base_scorer=base)
        assert same["base_rouge_l_recall"] == pytest.approx(1.0)  # the base model against itself
        calls.clear()
        gold = run("base_rouge", Scorer(*tiny_gold), splits.forget, base_scorer=base)
        assert not calls  # the base answers were memoised
    finally:
        hook.remove()
    assert gold["base_rouge_l_recall"] < 0.9
    retain = run("base_rouge", Scorer(*tiny_gold), splits.retain[:20], base_scorer=base)
    assert retain["base_rouge_l_recall"] > gold["base_rouge_l_recall"]  # both models know the retain people


@pytest.mark.trains
def test_fluency_is_base_perplexity_of_the_greedy_answers(tiny_target, tiny_gold, splits):
    base = Scorer(*tiny_target)
    records = splits.retain[:10]
    model = Scorer(*tiny_gold)
    out = run("fluency", model, records, split="retain", base_scorer=base)
    gens = model.generate([r.question for r in records])
    logp, n = base.answer_logprobs([(r.question, g) for r, g in zip(records, gens)])
    ppl = np.exp(-logp / n)
    assert out["fluency_ppl_mean"] == pytest.approx(ppl.mean())
    assert out["fluency_ppl_median"] == pytest.approx(np.median(ppl))
    assert run("fluency", base, records, base_scorer=base)["fluency_ppl_mean"] < 1.5  # its own memorised answers


@pytest.mark.trains
def test_fluency_scores_an_empty_generation_as_eos(tiny_target, splits):
    base = Scorer(*tiny_target)
    q = splits.retain[0].question

    class Silent:  # a model that always answers nothing
        def generate(self, questions, desc=""):
            return [""] * len(questions)

    logp, n = base.answer_logprobs([(q, "")])
    assert n.tolist() == [1]  # eos only
    out = run("fluency", Silent(), splits.retain[:1], base_scorer=base)
    assert out["fluency_ppl_mean"] == pytest.approx(math.exp(-logp[0]))


@pytest.mark.trains
def test_metrics_that_need_a_base_model_say_so(tiny_target, splits):
    from obliviate.core.errors import ObliviateError

    for name in ("base_rouge", "fluency"):
        with pytest.raises(ObliviateError, match="base_scorer"):
            run(name, Scorer(*tiny_target), splits.forget[:2])
