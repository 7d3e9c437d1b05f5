"""The two conventions, ``obliviate`` (default) and ``openunlearning`` (``compat``), on worked examples.

Each divergence of issue 22 is pinned here in both modes with numbers computed by hand in the
comments (OpenUnlearning's formulas as in locuslab/open-unlearning, src/evals/metrics/*.py, 2025-12):
the truth ratio's 1e-10 guard on a collapsed model, the option share's guard, the end-of-answer
token in extraction strength / exact memorization / Min-K%, ROUGE stemming and generation length,
GradNorm's parameters and mode, PrivLeak; then the missing figures (``prob_mean``, ROUGE-1 recall,
ROUGE-L F1, ROUGE and probability of the paraphrased and perturbed answers, ``rel_diff``, MIA on raw
text), the summary file's keys, and a collapsed tiny model, which the default leaderboard must not rank.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from obliviate.core.errors import ConfigError
from obliviate.llm.data import QARecord
from obliviate.llm.eval.metrics import METRICS, MetricContext
from obliviate.llm.eval.metrics.mia import (
    gradnorm_score,
    mia_auc,
    mink_score,
    minkpp_score,
    muse_privleak,
    passage_text,
    privleak,
    rel_diff,
)
from obliviate.llm.eval.metrics.muse import exact_memorization, extraction_strength
from obliviate.llm.eval.metrics.tofu import (
    closer_to_1_better,
    collapse_threshold,
    option_share,
    rouge_figures,
    truth_ratio,
    truth_ratio_prob_mean,
)
from obliviate.llm.eval.scoring import TokenStats
from obliviate.llm.eval.suite import openunlearning_summary


def stats(logp, match=None, mu=None, sigma=None) -> TokenStats:
    n = len(logp)
    return TokenStats(logp, mu if mu is not None else [0.0] * n, sigma if sigma is not None else [1.0] * n,
                      match if match is not None else [True] * n)


# ------------------------------------------------------------- 1. truth ratio on a collapsed model


def test_truth_ratio_of_a_collapsed_model_in_both_modes():
    # mean token NLL of the true (paraphrased) answer 25 nats, of the wrong answers 24 and 24: both far
    # below a uniform guess. Ours: R = exp(-24 - (-25)) = e = 2.718282; min(R, 1/R) = 1/e = 0.367879.
    ref, pert = np.array([-25.0]), np.array([[-24.0, -24.0]])
    assert truth_ratio(ref, pert)[0] == pytest.approx(math.e)
    assert closer_to_1_better(truth_ratio(ref, pert)) == pytest.approx(1 / math.e)
    # OpenUnlearning: exp(-24) / (exp(-25) + 1e-10) = 3.775135e-11 / 1.138879e-10 = 0.331477,
    # and min(R, 1/(R + 1e-10)) = 0.331477: "the true answer is 3x likelier than the wrong ones"
    ou = truth_ratio(ref, pert, ou=True)[0]
    assert ou == pytest.approx(3.775135e-11 / 1.138879e-10, rel=1e-5)
    assert closer_to_1_better(np.array([ou]), ou=True) == pytest.approx(0.331477, rel=1e-5)
    # in the normal range the guard changes nothing: NLL 1.0 and 2.0 -> R = exp(-1) both ways
    normal = truth_ratio(np.array([-1.0]), np.array([[-2.0, -2.0]]), ou=True)[0]
    assert normal == pytest.approx(math.exp(-1), rel=1e-8)


def test_option_share_guard_in_both_modes():
    # correct option -30 nats/token, wrong -31 and -32. Ours (log space): 1 / (1 + e^-1 + e^-2) = 0.665241
    c, w = np.array([-30.0]), np.array([[-31.0, -32.0]])
    assert option_share(c, w)[0] == pytest.approx(1 / (1 + math.exp(-1) + math.exp(-2)))
    # theirs: e^-30 / (e^-30 + e^-31 + e^-32 + 1e-10) = 9.357623e-14 / 1.001407e-10 = 9.344473e-4
    assert option_share(c, w, ou=True)[0] == pytest.approx(9.357623e-14 / 1.001407e-10, rel=1e-5)


def test_prob_mean_aggregator():
    # OpenUnlearning's prob_mean: p_true / (p_true + p_wrong), p_wrong the geometric mean of the wrong
    # answers: ref -1, wrong -1.5 and -2.5 (mean -2): e^-1 / (e^-1 + e^-2) = 1 / (1 + e^-1) = 0.731059
    ref, pert = np.array([-1.0, -3.0]), np.array([[-1.5, -2.5], [-3.0, -3.0]])
    # second record: equal -> 0.5; mean over records (0.731059 + 0.5) / 2 = 0.615529
    assert truth_ratio_prob_mean(ref, pert) == pytest.approx((1 / (1 + math.exp(-1)) + 0.5) / 2)
    assert truth_ratio_prob_mean(ref, pert, ou=True) == pytest.approx(0.615529, abs=1e-6)
    # collapsed (NLL 30 for every answer): ours 0.5 (equally likely), theirs ~0 (the 1e-10 dominates)
    dead = (np.array([-30.0]), np.array([[-30.0, -30.0]]))
    assert truth_ratio_prob_mean(*dead) == pytest.approx(0.5)
    assert truth_ratio_prob_mean(*dead, ou=True) == pytest.approx(9.357623e-14 / (2 * 9.357623e-14 + 1e-10),
                                                                  rel=1e-5)


# ------------------------------------------------------------- 2. the end-of-answer token


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


# ------------------------------------------------------------- 3. ROUGE


def test_rouge_stemming_and_the_missing_rouge_figures():
    from rouge_score import rouge_scorer

    pred, ref = "She writes novels", "She wrote a novel"
    # ours, no stemming: tokens [she, writes, novels] vs [she, wrote, a, novel]: LCS 1 ("she")
    ours = rouge_figures(pred, ref)
    assert ours == pytest.approx({"rouge1_recall": 1 / 4, "rougeL_recall": 1 / 4, "rougeL_f1": 2 / 7})
    plain = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False).score(ref, pred)
    assert ours["rougeL_recall"] == pytest.approx(plain["rougeL"].recall)
    assert ours["rougeL_f1"] == pytest.approx(plain["rougeL"].fmeasure)
    assert ours["rouge1_recall"] == pytest.approx(plain["rouge1"].recall)
    # OpenUnlearning stems (Porter): novels -> novel; writes -> write, wrote stays: LCS [she, novel] = 2
    # recall 2/4, precision 2/3, F1 = 2 * (2/3) * (1/2) / (2/3 + 1/2) = 4/7
    ou = rouge_figures(pred, ref, stem=True)
    assert ou == pytest.approx({"rouge1_recall": 2 / 4, "rougeL_recall": 2 / 4, "rougeL_f1": 4 / 7})
    # repeated words: ROUGE-1 clips counts, "the the cat" vs "the cat": recall 2/2
    assert rouge_figures("the the cat", "the cat")["rouge1_recall"] == 1.0


class TableScorer:
    """A stand-in Scorer: summed log-prob and token count per answer text; greedy answers per question,
    recording the generation length asked for."""

    vocab_size = 100

    def __init__(self, table, answers=None):
        self.table, self.answers, self.lengths = table, answers or {}, []

    def answer_logprobs(self, pairs, desc=""):
        return (np.array([self.table[a][0] for _, a in pairs], dtype=float),
                np.array([self.table[a][1] for _, a in pairs]))

    def generate(self, questions, desc="", max_new_tokens=None):
        self.lengths.append(max_new_tokens)
        return [self.answers.get(q, "A novels.") for q in questions]


def rec(i: int) -> QARecord:
    return QARecord(id=f"r{i}", entity="e", question=f"Question {i}?", answer="A novel.",
                    paraphrased_question="?", paraphrased_answer="P novel.",
                    perturbed_answers=["W1 novel.", "W2 poem."], fact_type="t")


# normalised log-probs: answer -0.2, paraphrase -1.0, wrong answers -1.5 and -2.5
TABLE = {"A novel.": (-0.4, 2), "P novel.": (-1.0, 1), "W1 novel.": (-3.0, 2), "W2 poem.": (-2.5, 1)}


def test_tofu_qa_reports_openunlearnings_other_figures_in_both_modes():
    for compat, want_len in (("obliviate", None), ("openunlearning", 200)):
        scorer = TableScorer(TABLE)
        out = METRICS.get("tofu_qa")(scorer, [rec(0), rec(1)], MetricContext("forget", {"compat": compat}))
        assert scorer.lengths == [want_len]  # ours: the scorer's 32; theirs: 200 new tokens
        assert out["para_prob"] == pytest.approx(math.exp(-1.0))
        # Q_A_PERT_Prob: per record the arithmetic mean of exp(-avg loss): (e^-1.5 + e^-2.5) / 2 = 0.152611
        assert out["pert_prob"] == pytest.approx((math.exp(-1.5) + math.exp(-2.5)) / 2)
        # the greedy answer "A novels." against "A novel.": ours [a, novels] vs [a, novel] -> 1/2;
        # stemmed novels -> novel: 2/2
        stem = compat == "openunlearning"
        assert out["rouge_l_recall"] == pytest.approx(1.0 if stem else 0.5)
        assert out["rouge1_recall"] == pytest.approx(1.0 if stem else 0.5)
        assert out["rouge_l_f1"] == pytest.approx(1.0 if stem else 0.5)
        # against the paraphrase "P novel." [p, novel]: ours 0, stemmed 1/2; against the wrong answers
        # "W1 novel." (stemmed 1/2) and "W2 poem." (0): their mean, ours 0
        assert out["para_rouge_l_recall"] == pytest.approx(0.5 if stem else 0.0)
        assert out["pert_rouge_l_recall"] == pytest.approx(0.25 if stem else 0.0)
        # prob_mean: 1 / (1 + exp(-2 - (-1))) = 0.731059 in both modes (normal range)
        assert out["truth_ratio_prob_mean"] == pytest.approx(1 / (1 + math.exp(-1)), abs=1e-8)
        assert out["median_token_nll"] == pytest.approx(0.2) and out["collapsed"] is False


def test_world_facts_report_the_raw_and_the_normalised_probability():
    out = METRICS.get("tofu_qa")(TableScorer(TABLE), [rec(0)], MetricContext("world_facts", {}))
    assert out["answer_prob_raw"] == pytest.approx(math.exp(-0.2))  # wf_Q_A_Prob
    # wf_Q_A_Prob_normalised: e^-0.2 / (e^-0.2 + e^-1.5 + e^-2.5) = 0.728443
    assert out["answer_prob"] == pytest.approx(0.728443, abs=1e-6)


# ------------------------------------------------------------- 4. GradNorm


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


# ------------------------------------------------------------- 5. PrivLeak and rel_diff


def test_privleak_never_divides_by_zero():
    # MUSE / OpenUnlearning: ((1 - 0.5) - (1 - 1.0)) / ((1 - 1.0) + 1e-10) * 100 = 0.5 / 1e-10 * 100 = 5e11
    assert muse_privleak(0.5, 1.0) == pytest.approx(5e11)
    assert math.isnan(privleak(0.5, 0.0))  # ours: (AUC - 0) / 0 is undefined
    # rel_diff: (0.3 - 0.2) / (0.2 + 1e-10) * 100 = 50
    assert rel_diff(0.3, 0.2) == pytest.approx(50.0)
    assert muse_privleak(0.8, 0.4) == pytest.approx(rel_diff(0.2, 0.6))


# ------------------------------------------------------------- 6. MIA on raw text


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


# ------------------------------------------------------------- 7. the summary file


def test_openunlearning_summary_keys():
    split = {"answer_prob": 0.5, "para_prob": 0.4, "pert_prob": 0.1, "rouge_l_recall": 0.6,
             "para_rouge_l_recall": 0.3, "pert_rouge_l_recall": 0.2, "truth_ratio": 0.7, "rouge1_recall": 0.65}
    metrics = {"forget": dict(split), "retain": dict(split), "real_entities": {**split, "answer_prob_raw": 0.2},
               "world_facts": {**split, "answer_prob_raw": 0.3}, "neighbours": dict(split),
               "model_utility_hmean": 0.45, "forget_quality_ks_pvalue": 0.01, "compat": "openunlearning"}
    out = openunlearning_summary(metrics, {"extraction_strength": 0.2, "exact_memorization": 0.6})
    per_split = ["Q_A_Prob", "Q_A_PARA_Prob", "Q_A_PERT_Prob", "Q_A_ROUGE", "Q_A_PARA_ROUGE", "Q_A_PERT_ROUGE"]
    want = {"forget_quality", "model_utility", "forget_truth_ratio", "extraction_strength", "exact_memorization"}
    want |= {f"{p}_{f}" for p in ("forget", "retain", "ra", "wf") for f in per_split}
    want |= {"retain_Truth_Ratio", "ra_Truth_Ratio", "wf_Truth_Ratio", "ra_Q_A_Prob_normalised",
             "wf_Q_A_Prob_normalised"}
    assert set(out) == want
    assert out["ra_Q_A_Prob"] == 0.2 and out["ra_Q_A_Prob_normalised"] == 0.5
    assert out["forget_truth_ratio"] == 0.7 and out["forget_quality"] == 0.01 and out["model_utility"] == 0.45
    json.dumps(out)  # plain numbers


# ------------------------------------------------------------- 8. a collapsed model


def test_a_collapsed_model_is_marked_and_never_ranked(tiny_target, splits, tmp_path):
    """Push the tiny target's forget answers past 25 nats per token; its default truth ratio looks like
    the gold model's, the evaluation marks it collapsed and the leaderboard neither counts its forget
    quality nor ranks it above a method that works."""
    import copy

    from obliviate import api
    from obliviate.llm.bench import leaderboard

    model, tok = tiny_target
    broken = copy.deepcopy(model)
    with torch.no_grad():  # flip and sharpen every logit: what the model believed is now least likely
        broken.lm_head.weight.mul_(-40.0)
    forget = splits.forget[:8]
    sub = copy.copy(splits)
    sub.forget, sub.retain, sub.neighbours, sub.real_entities, sub.world_facts = forget, splits.retain[:4], [], [], []
    m_ok, _ = api.evaluate(model, tok, sub)
    m_bad, _ = api.evaluate(broken, tok, sub)
    assert m_bad["forget"]["median_token_nll"] > 25 > collapse_threshold(len(tok))
    assert m_bad["collapsed"] is True and m_ok["collapsed"] is False
    assert m_ok["forget"]["median_token_nll"] < collapse_threshold(len(tok)) - 5

    def run(name, seed, collapsed, fq, mu):
        folder = tmp_path / "runs" / f"{name}-{seed}"
        folder.mkdir(parents=True)
        met = {"forget_quality_ks_pvalue": fq, "forget_quality_log10_pvalue": math.log10(fq),
               "model_utility_hmean": mu, "collapsed": collapsed}
        (folder / "metrics.json").write_text(json.dumps({
            "name": name, "control": False, "seed": seed, "variant": "forget10", "metrics": met, "audit": {},
            "verdict": "NOT FORGOTTEN"}))

    for seed in (0, 1):
        run("Ascent", seed, True, 0.9, 0.5)  # gold-like forget quality, from a destroyed model
        run("Works", seed, False, 0.01, 0.5)
    board = leaderboard(tmp_path)
    rows = {r["name"]: r for r in board["rows"]}
    assert [r["name"] for r in board["rows"]] == ["Works", "Ascent"]
    assert rows["Ascent"]["collapsed"] == "2/2" and rows["Works"]["collapsed"] == "0/2"
    assert math.isnan(rows["Ascent"]["forget_quality"]) and rows["Works"]["forget_quality"] == pytest.approx(0.01)
    assert "collapsed" in (tmp_path / "leaderboard.md").read_text()


def test_cli_eval_compat_writes_openunlearnings_summary(tiny_target, splits, tmp_path):
    from typer.testing import CliRunner

    from obliviate.cli import app
    from obliviate.llm.data import save_jsonl

    model, tok = tiny_target
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    save_jsonl(splits.forget[:6], tmp_path / "f.jsonl")
    save_jsonl(splits.retain[:6], tmp_path / "r.jsonl")
    args = ["eval", "--model", str(tmp_path / "m"), "--forget", str(tmp_path / "f.jsonl"), "--retain",
            str(tmp_path / "r.jsonl"), "--max-per-split", "6", "--compat", "openunlearning",
            "--summary", str(tmp_path / "TOFU_SUMMARY.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output[result.output.index("{"):])
    assert printed["compat"] == "openunlearning"
    summary = json.loads((tmp_path / "TOFU_SUMMARY.json").read_text())
    assert summary["forget_Q_A_Prob"] == pytest.approx(printed["forget"]["answer_prob"])
    assert summary["forget_truth_ratio"] == pytest.approx(printed["forget"]["truth_ratio"])
    assert summary["retain_Q_A_ROUGE"] == pytest.approx(printed["retain"]["rouge_l_recall"])
    assert 0 <= summary["extraction_strength"] <= 1 and 0 <= summary["exact_memorization"] <= 1
    assert all(isinstance(v, float) for v in summary.values())
    again = CliRunner().invoke(app, args)  # the summary is never overwritten
    assert again.exit_code == 2 and "summary" in again.output
