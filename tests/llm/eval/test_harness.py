"""``obliviate eval --lm-eval`` (``obliviate.llm.eval.harness``): EleutherAI lm-eval tasks from a local folder,
offline, on the model in memory.

The accuracy lm-eval reports must be the one computed here, independently, from the model's own
log-likelihoods of each choice (plain torch): that pins that the model, its tokenizer and the task reach
lm-eval as they are (evaluating another model, or a LoRA model without its adapters, gives another figure).
"""

from __future__ import annotations

import copy
import json
import os
import random

import pytest
import torch

# (question, choices, index of the right one): choices of one to three words, so acc_norm (log-likelihood
# per character) and acc (sum) can differ
QUESTIONS = [
    ("the cat sat on the", ["mat", "red dog", "blue sky above"], 0),
    ("the dog ran to the", ["park", "mat", "green tree"], 0),
    ("the sky is", ["blue", "red", "green"], 0),
    ("the tree is", ["green", "blue", "red dog"], 0),
    ("the cat is", ["red", "blue", "green"], 1),
    ("the dog is", ["green", "red", "blue"], 2),
    ("the park has a", ["tree", "blue sky above", "cat"], 0),
    ("the mat is", ["under the cat", "red", "green tree"], 0),
]
PROMPT = "Question: {q}\nAnswer:"
TASK_YAML = """\
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
  cache_dir: {cache}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: label
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
"""


def _task_dir(tmp_path, name="tinyqa", dataset_path=None):
    folder = tmp_path / "tasks"
    folder.mkdir(exist_ok=True)
    data = folder / f"{name}.jsonl"
    data.write_text("".join(json.dumps({"question": q, "choices": c, "label": y}) + "\n" for q, c, y in QUESTIONS))
    text = TASK_YAML.format(name=name, data=data, cache=tmp_path / "hf-datasets")  # datasets' cache: the test's
    if dataset_path:
        text = text.replace("dataset_path: json", f"dataset_path: {dataset_path}")
    (folder / f"{name}.yaml").write_text(text)
    return folder


@pytest.fixture(scope="module")
def base():
    """A tiny random Llama over the words of the task, its logits scaled so no two choices nearly tie."""
    from obliviate.models.tiny import tiny_model_for

    texts = [PROMPT.format(q=q) + " " + " ".join(c) for q, c, _ in QUESTIONS]
    model, tok = tiny_model_for(texts, seed=0)
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(8.0)  # tied: the input embeddings too (RMSNorm keeps them)
    return model.eval(), tok


def _lora(model, seed=3):
    """A LoRA model on a copy of ``model`` whose adapters are random, i.e. not a no-op (seed 3: they move the
    accuracy on QUESTIONS from 0.25 to 0.625)."""
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return get_peft_model(copy.deepcopy(model), cfg).eval()


def _loglik(model, tok, context: str, continuation: str) -> float:
    """log p(continuation | context) as lm-eval defines it: the continuation's tokens are those of
    context + continuation past the context's own tokens; their log-probabilities summed."""
    ctx = tok.encode(context)
    whole = tok.encode(context + continuation)
    assert whole[: len(ctx)] == ctx
    cont = whole[len(ctx):]
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    return sum(logp[len(ctx) - 1 + i, t].item() for i, t in enumerate(cont))


def _own_scores(model, tok, n=None):
    """acc and acc_norm over the first ``n`` questions, from the model's log-likelihoods; and the smallest
    gap between the best and second-best choice (so a float rounding cannot flip a prediction)."""
    acc, acc_norm, gap = [], [], float("inf")
    for q, choices, label in QUESTIONS[:n]:
        lls = [_loglik(model, tok, PROMPT.format(q=q), " " + c) for c in choices]
        norm = [ll / len(c) for ll, c in zip(lls, choices)]
        for scores in (lls, norm):
            top = sorted(scores, reverse=True)
            gap = min(gap, top[0] - top[1])
        acc.append(float(max(range(len(lls)), key=lls.__getitem__) == label))
        acc_norm.append(float(max(range(len(norm)), key=norm.__getitem__) == label))
    return sum(acc) / len(acc), sum(acc_norm) / len(acc_norm), gap


def test_lm_eval_accuracy_is_the_models_own(base, tmp_path):
    from obliviate.llm.eval.harness import run_lm_eval

    model, tok = base
    acc, acc_norm, gap = _own_scores(model, tok)
    assert gap > 1e-3 and 0 < acc < 1 and acc != acc_norm, (acc, acc_norm, gap)  # the check can tell models apart
    folder = _task_dir(tmp_path)
    model.train()  # HFLM switches to eval mode; the caller's mode comes back
    rng = torch.get_rng_state(), random.getstate()
    env = {k: os.environ.get(k) for k in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")}

    res = run_lm_eval(model, tok, ["tinyqa"], folder)

    assert set(res) == {"tinyqa"}
    m = res["tinyqa"]
    assert m["acc"] == pytest.approx(acc) and m["acc_norm"] == pytest.approx(acc_norm), (m, acc, acc_norm)
    assert m["n"] == len(QUESTIONS) and m["acc_stderr"] > 0 and "acc_norm_stderr" in m
    assert not any("," in k for k in m)
    assert model.training and torch.equal(torch.get_rng_state(), rng[0]) and random.getstate() == rng[1]
    assert {k: os.environ.get(k) for k in env} == env
    model.eval()

    # --limit scores the first examples only
    acc3, _, _ = _own_scores(model, tok, n=3)
    limited = run_lm_eval(model, tok, ["tinyqa"], folder, limit=3)["tinyqa"]
    assert limited["n"] == 3 and limited["acc"] == pytest.approx(acc3)


def test_a_lora_model_is_scored_with_its_adapters(base, tmp_path):
    from obliviate.llm.eval.harness import run_lm_eval

    model, tok = base
    lora = _lora(model)
    acc_base, _, _ = _own_scores(model, tok)
    acc_lora, acc_norm_lora, gap = _own_scores(lora, tok)
    assert gap > 1e-3 and acc_lora != acc_base, (acc_lora, acc_base, gap)  # the adapters change the answers
    m = run_lm_eval(lora, tok, ["tinyqa"], _task_dir(tmp_path))["tinyqa"]
    assert m["acc"] == pytest.approx(acc_lora) and m["acc_norm"] == pytest.approx(acc_norm_lora), (m, acc_lora)


def test_missing_task_and_hub_data_are_one_line_errors(base, tmp_path):
    from obliviate.core.errors import ConfigError, DataError
    from obliviate.llm.eval.harness import run_lm_eval

    model, tok = base
    folder = _task_dir(tmp_path)
    with pytest.raises(ConfigError, match=r"'nope' not found in .*tasks there: tinyqa"):
        run_lm_eval(model, tok, ["tinyqa", "nope"], folder)
    with pytest.raises(ConfigError, match="no such folder"):
        run_lm_eval(model, tok, ["tinyqa"], tmp_path / "no-tasks")
    (folder / "broken.yaml").write_text("task: broken\n  x: [\n")
    with pytest.raises(ConfigError, match=r"unreadable YAML: broken\.yaml"):
        run_lm_eval(model, tok, ["broken"], folder)
    _task_dir(tmp_path, name="onhub", dataset_path="nobody/no-such-dataset")  # offline: refused, not awaited
    with pytest.raises(DataError, match=r"'onhub'.*no-such-dataset") as e:
        run_lm_eval(model, tok, ["onhub"], folder)
    assert "\n" not in str(e.value)


def test_cli_eval_reports_lm_eval_beside_its_metrics(base, tmp_path, splits):
    """``eval --lm-eval`` on a LoRA adapter folder (what ``unlearn --lora-save adapter`` saves as a run's
    model/): the adapters are merged on load and the reported accuracy is the LoRA model's."""
    from typer.testing import CliRunner

    from obliviate.cli import app
    from obliviate.llm.data import save_jsonl

    model, tok = base
    model.save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    from transformers import AutoModelForCausalLM

    lora = _lora(AutoModelForCausalLM.from_pretrained(tmp_path / "base"))  # names its base folder
    lora.save_pretrained(tmp_path / "run" / "model")
    acc_lora, acc_norm_lora, _ = _own_scores(lora, tok)
    save_jsonl(splits.forget, tmp_path / "forget.jsonl")
    save_jsonl(splits.retain, tmp_path / "retain.jsonl")
    folder = _task_dir(tmp_path)
    args = ["eval", "--model", str(tmp_path / "run" / "model"), "--forget", str(tmp_path / "forget.jsonl"),
            "--retain", str(tmp_path / "retain.jsonl"), "--metric", "memo", "--max-per-split", "2",
            "--lm-eval", "tinyqa", "--lm-eval-dir", str(folder), "--out", str(tmp_path / "m.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert "forget" in printed  # our metrics, and lm-eval's beside them
    m = printed["lm_eval"]["tinyqa"]
    assert m["acc"] == pytest.approx(acc_lora) and m["acc_norm"] == pytest.approx(acc_norm_lora), m
    assert json.loads((tmp_path / "m.json").read_text())["lm_eval"] == printed["lm_eval"]

    result = CliRunner().invoke(app, [*args[:-6], "--lm-eval", "nope", "--lm-eval-dir", str(folder)])
    assert result.exit_code == 2 and result.stderr.strip().splitlines() == [
        f"error: lm-eval task 'nope' not found in {folder} (tasks there: tinyqa)"], result.output
