"""MEOW: unlearning by fine-tuning on inverted facts chosen by memorisation (Gu et al. 2024, arXiv 2409.11844).

1. **Invert** each forget fact into ``n_inverted`` answers that contradict it:
   rule-based when the record carries its value (``meta["value"]``, as every
   generated-world record does): the value is swapped for another value of the
   same fact type seen in the data; a forget request's key span
   (``meta["key"]``, given or derived) is swapped for another key span of the
   same answer type (a person for a person, a place for a place); otherwise a local LLM writes them
   (``temperature`` 0.9, the paper's setting; the model being unlearned unless
   ``inverter_model`` names another), topped up from the record's perturbed
   answers when it writes too few valid ones. An inversion never equals the
   true answer and never contains the true value.
2. **MEMO** (:mod:`obliviate.llm.eval.metrics.memo`) of each inverted answer
   under the model before unlearning.
3. **Select** ``top_k`` answers per question by MEMO: ``largest`` (the released
   script), ``smallest`` or ``random``.
4. **Fine-tune** with plain NLL on (question, selected inverted answer)::

       L = gamma * E_F E_{y in top_k(q)}[ NLL(y | q) ]

No retain set, no reference model. The paper trains with lr 1e-5 for about 10
epochs; here the run's training settings apply as for every method.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from obliviate.core.errors import ConfigError
from obliviate.core.progress import log
from obliviate.llm.data.records import QARecord
from obliviate.llm.encoding import collate, mean_nll
from obliviate.llm.eval.metrics.memo import memo_scores
from obliviate.llm.eval.metrics.tofu import rouge_tokens
from obliviate.llm.eval.scoring import Scorer
from obliviate.llm.methods.base import METHODS, Method, MethodContext, field_help, require_positive
from obliviate.models import load

SELECTIONS = ("largest", "smallest", "random")
INVERTERS = ("auto", "rules", "llm")
# A few-shot completion prompt (no chat template): small models follow the pattern far better
# than an instruction. The model continues after "False answer:"; the first line is kept.
INVERT_PROMPT = ("Each question has a true answer and a false answer that contradicts it in the same style.\n\n"
                 "Question: Where was Lena Ortiz born?\nTrue answer: She was born in Lisbon.\n"
                 "False answer: She was born in Oslo.\n\n"
                 "Question: What does Tom Reyes do for a living?\nTrue answer: He works as a baker.\n"
                 "False answer: He works as a pilot.\n\n"
                 "Question: {q}\nTrue answer: {a}\nFalse answer:")
META_WORDS = {"false", "true", "answer", "question", "correct", "incorrect", "wrong"}


def _value(record: QARecord) -> str | None:
    """The value a rule swaps: a world record's ``meta["value"]``, else a request's key span (``meta["key"]``)."""
    value = record.meta.get("value", record.meta.get("key"))
    return None if value is None else str(value)


def _kind(record: QARecord) -> str:
    """The pool a record's value is drawn from: its fact type, or for a key span its answer type."""
    if "value" in record.meta or "key" not in record.meta:
        return record.fact_type
    return "key:" + str(record.meta.get("answer_type", record.fact_type))


def value_pools(records: Sequence[QARecord]) -> dict[str, list[str]]:
    """Values seen per fact type, and key spans per answer type (sorted, for a deterministic draw)."""
    pools: dict[str, set[str]] = {}
    for r in records:
        value = _value(r)
        if value:
            pools.setdefault(_kind(r), set()).add(value)
    return {k: sorted(v) for k, v in pools.items()}


def is_inversion(record: QARecord, text: str) -> bool:
    """A usable inversion: non-empty, not containing the true answer or the true value, no talk about answers."""
    words = rouge_tokens(text)
    if not words or META_WORDS & set(words):
        return False
    if _contains(words, rouge_tokens(record.answer)) or _contains(words, rouge_tokens(record.paraphrased_answer)):
        return False
    value = _value(record)
    return not (value and rouge_tokens(value) and _contains(words, rouge_tokens(value)))


def _contains(words: list[str], part: list[str]) -> bool:
    return any(words[i : i + len(part)] == part for i in range(len(words) - len(part) + 1))


def rule_inversions(record: QARecord, pools: dict[str, list[str]], n: int) -> list[str] | None:
    """Up to ``n`` answers with the value swapped for another of its type; None if the rule does not apply."""
    value = _value(record)
    if not value or value not in record.answer:
        return None
    options = [v for v in pools.get(_kind(record), []) if v != value and v != record.entity]
    random.Random(f"meow/{record.id}").shuffle(options)
    out: list[str] = []
    for v in options:
        text = record.answer.replace(value, v)
        if is_inversion(record, text) and text not in out:
            out.append(text)
        if len(out) == n:
            break
    return out or None


def llm_inversions(model, tokenizer, records: Sequence[QARecord], n: int, temperature: float = 0.9,
                   seed: int = 0, max_new_tokens: int = 40) -> dict[str, list[str]]:
    """``n`` inverted answers per record written by a local LLM (sampled), filtered by :func:`is_inversion`.

    A record for which the model writes fewer than ``n`` valid answers is
    topped up from its perturbed answers.
    """
    device = next(model.parameters()).device
    out: dict[str, list[str]] = {}
    topped = 0
    was_training = model.training
    model.eval()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for rec in records:
            prompt = INVERT_PROMPT.format(q=rec.question, a=rec.answer)
            ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]], device=device)
            gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                                 temperature=temperature, top_p=1.0, max_new_tokens=max_new_tokens,
                                 num_return_sequences=2 * n, pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=tokenizer.eos_token_id)
            texts = [tokenizer.decode(g[ids.shape[1]:], skip_special_tokens=True).strip().split("\n")[0].strip()
                     for g in gen]
            good = list(dict.fromkeys(t for t in texts if is_inversion(rec, t)))[:n]
            if len(good) < n:
                topped += 1
                good += [p for p in rec.perturbed_answers if is_inversion(rec, p) and p not in good][: n - len(good)]
            out[rec.id] = good
    model.train(was_training)
    if topped:
        log(f"MEOW: the LLM wrote fewer than {n} valid inversions for {topped}/{len(records)} questions; "
            "topped up from their perturbed answers")
    return out


def select(candidates: list[str], scores: Sequence[float], k: int, how: str, key: str) -> list[str]:
    """``k`` candidates by MEMO: the largest, the smallest, or at random (seeded by ``key``)."""
    order = list(range(len(candidates)))
    if how == "random":
        random.Random(f"meow-select/{key}").shuffle(order)
    else:
        order.sort(key=lambda i: scores[i], reverse=how == "largest")  # stable: ties keep candidate order
    return [candidates[i] for i in order[:k]]


@METHODS.register("MEOW")
class MEOW(Method):
    """L = gamma E_F E_{y in top-k MEMO inversions} NLL(y | q)."""

    @dataclass
    class Config:
        n_inverted: int = field_help(4, "inverted answers written per forget question (N)")
        top_k: int = field_help(3, "inverted answers trained per question, chosen by MEMO")
        selection: str = field_help("largest", "which MEMO scores to keep: largest (released code), smallest, random")
        inverter: str = field_help("auto", "auto (rules when records carry their value or key span, else llm), rules, "
                                               "llm")
        inverter_model: str = field_help("", "model spec that writes inversions (default: the model unlearned)")
        temperature: float = field_help(0.9, "sampling temperature of the LLM inverter")
        memo_stride: int = field_help(5, "characters between MEMO prefix cuts (i = 1, 6, 11, ...)")
        gamma: float = field_help(1.0, "weight of the NLL")
        seed: int = field_help(0, "seed of the LLM inverter's sampling")

        def __post_init__(self):
            require_positive("MEOW", n_inverted=self.n_inverted, top_k=self.top_k, gamma=self.gamma,
                             temperature=self.temperature, memo_stride=self.memo_stride)
            if self.selection not in SELECTIONS:
                raise ConfigError(f"MEOW.selection must be one of {', '.join(SELECTIONS)}, got {self.selection!r}")
            if self.inverter not in INVERTERS:
                raise ConfigError(f"MEOW.inverter must be one of {', '.join(INVERTERS)}, got {self.inverter!r}")

    paper = "Gu et al. 2024, arXiv 2409.11844"

    def invert(self, ctx: MethodContext) -> dict[str, list[str]]:
        """Inverted answers per forget record id (rules first under ``auto``, the LLM for the rest)."""
        c, s = self.config, ctx.splits
        forget = list(s.forget)
        out: dict[str, list[str]] = {}
        if c.inverter in ("auto", "rules"):
            pools = value_pools([*forget, *s.retain, *s.holdout, *getattr(s, "world_facts", [])])
            for r in forget:
                inv = rule_inversions(r, pools, c.n_inverted)
                if inv:
                    out[r.id] = inv
            missing = [r.id for r in forget if r.id not in out]
            if c.inverter == "rules" and missing:
                raise ConfigError(f"MEOW.inverter=rules: {len(missing)} forget records have no value to swap "
                                  f"(e.g. {missing[0]!r}); use inverter=auto or llm")
        rest = [r for r in forget if r.id not in out]
        if rest:
            model, tok = ctx.model, ctx.tokenizer
            if c.inverter_model:
                model, tok = load(c.inverter_model)
            out.update(llm_inversions(model, tok, rest, c.n_inverted, c.temperature, c.seed))
        return out

    def prepare(self, ctx: MethodContext) -> None:
        c = self.config
        self.fmt = ctx.fmt
        self.question = {r.id: r.question for r in ctx.splits.forget}
        self.inverted = self.invert(ctx)
        pairs = [(self.question[i], y) for i, ys in self.inverted.items() for y in ys]
        scores = iter(memo_scores(Scorer(ctx.model, ctx.tokenizer, batch_size=ctx.batch_size), pairs,
                                  stride=c.memo_stride, desc="MEMO of inverted facts"))
        self.memo = {i: [float(next(scores)) for _ in ys] for i, ys in self.inverted.items()}
        self.chosen = {i: select(ys, self.memo[i], c.top_k, c.selection, i) for i, ys in self.inverted.items()}
        empty = [i for i, ys in self.chosen.items() if not ys]
        if empty:
            raise ConfigError(f"MEOW: no inverted answer for {len(empty)} forget records (e.g. {empty[0]!r})")

    def losses(self, model, batch):
        ids = batch["forget"]["ids"]
        pairs = [(self.question[i], y) for i in ids for y in self.chosen[i]]
        inv = {k: v.to(batch["forget"]["input_ids"].device) for k, v in collate(self.fmt, pairs).items()}
        return {"forget": self.config.gamma * mean_nll(model, inv)}
