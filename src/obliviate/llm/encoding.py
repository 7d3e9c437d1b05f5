"""How a question/answer pair becomes tokens, and how answers are scored.

One prompt format is used everywhere (fine-tuning, unlearning, scoring,
generation), so the model is always asked the same way. With a chat tokenizer
the question is a user turn after a one-line system message; a tokenizer
without a chat template (the tiny word-level one) uses
``Question: {q}\\nAnswer:``. Loss is taken on answer tokens only.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from obliviate.core.errors import ConfigError

SYSTEM_PROMPT = "Answer in one short sentence."
IGNORE = -100
# How a question is put to the model: "trained" (the format above, the one every method trains in), "chat"
# (the model's own chat template with the question as the only user turn: how people chat with it), or a
# template string with {question} (a completion prompt, e.g. "Q: {question}\nA:").
PROMPT_STYLES = ("trained", "chat")


def check_prompt_style(style: str) -> str:
    """``style`` if it is ``trained``, ``chat`` or a template holding ``{question}``; else a ConfigError."""
    if style in PROMPT_STYLES or (isinstance(style, str) and "{question}" in style):
        return style
    raise ConfigError(f"prompt format must be trained, chat or a template with {{question}}, got {style!r}")


@dataclass
class PromptFormat:
    """Renders prompts for one tokenizer; ``chat`` is decided from the tokenizer.

    Token ids of prompts and answers are cached per format, so a record is
    tokenised once per run however many epochs or metrics read it.
    """

    tokenizer: object
    system: str = SYSTEM_PROMPT
    style: str = "trained"
    _ids: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_prompt_style(self.style)
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.chat = has_template and self.style in PROMPT_STYLES

    def prompt(self, question: str) -> str:
        if self.style not in PROMPT_STYLES:
            return self.style.replace("{question}", question)
        if self.chat:
            messages = [{"role": "user", "content": question}]
            if self.style == "trained":
                messages.insert(0, {"role": "system", "content": self.system})
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return f"Question: {question}\nAnswer:"

    def answer(self, answer: str) -> str:
        return answer if self.chat else " " + answer

    def encode(self, question: str, answer: str) -> tuple[list[int], list[int]]:
        """Token ids of prompt+answer+eos and labels (prompt masked with -100)."""
        p, a = self.encode_prompt(question), self.encode_answer(answer)
        return p + a, [IGNORE] * len(p) + a

    def encode_prompt(self, question: str) -> list[int]:
        """Token ids of the prompt for ``question`` (cached; do not modify the list)."""
        key = ("q", question)
        if key not in self._ids:
            self._ids[key] = self.tokenizer(self.prompt(question), add_special_tokens=False)["input_ids"]
        return self._ids[key]

    def encode_answer(self, answer: str) -> list[int]:
        """Token ids of ``answer`` followed by eos, tokenised apart from the prompt (cached; do not modify)."""
        key = ("a", answer)
        if key not in self._ids:
            tok = self.tokenizer
            self._ids[key] = tok(self.answer(answer), add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        return self._ids[key]


def collate(fmt: PromptFormat, pairs: Sequence[tuple[str, str]]) -> dict[str, torch.Tensor]:
    """Right-padded batch ``{input_ids, attention_mask, labels}`` for (question, answer) pairs."""
    encoded = [fmt.encode(q, a) for q, a in pairs]
    width = max(len(ids) for ids, _ in encoded)
    pad = fmt.tokenizer.pad_token_id
    input_ids = torch.full((len(encoded), width), pad, dtype=torch.long)
    labels = torch.full((len(encoded), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for i, (ids, lab) in enumerate(encoded):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(lab)] = torch.tensor(lab)
        mask[i, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-prob of each label token and its mask.

    Args:
        logits: (batch, seq, vocab) next-token logits.
        labels: (batch, seq) with -100 where no loss is taken.

    Returns:
        (batch, seq-1) log-probs of the shifted labels (0 where masked) and the mask.
    """
    logits = logits[:, :-1].float()  # (B, T-1, V) predicts token t+1
    target = labels[:, 1:]  # (B, T-1)
    mask = target != IGNORE
    logp = torch.log_softmax(logits, dim=-1)
    picked = logp.gather(-1, target.clamp_min(0).unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    return picked * mask, mask


def answer_logits(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels from the earliest answer position on: (B, T', vocab), (B, T').

    Only those positions need logits, so with ``logits_to_keep`` the LM head and
    the log-softmax over the vocabulary run on ~1/4 of the sequence.
    """
    labels = batch["labels"]
    start = max(int((labels != IGNORE).float().argmax(1).min()) - 1, 0)
    kwargs = {"logits_to_keep": labels.shape[1] - start} if _keeps_logits(model) else {}
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **kwargs).logits
    return logits, labels[:, start:] if kwargs else labels


def answer_logprob(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample summed answer log-prob ``log p(a|q)`` and answer token count.

    The one function through which methods and the scorer read answer likelihoods.
    """
    picked, mask = token_logprobs(*answer_logits(model, batch))
    return picked.sum(-1), mask.sum(-1)


def answer_token_logprobs(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Log-softmax over the vocabulary at every answer position: (n_answer_tokens, vocab).

    For distribution-matching terms (KL to a reference model).
    """
    logits, labels = answer_logits(model, batch)
    mask = labels[:, 1:] != IGNORE  # (B, T'-1): positions that predict an answer token
    return torch.log_softmax(logits[:, :-1][mask].float(), dim=-1)


def _keeps_logits(model) -> bool:
    """Whether the model's forward takes ``logits_to_keep`` (Llama and most HF causal LMs)."""
    base = getattr(model, "module", model)  # DDP
    base = getattr(base, "get_base_model", lambda: base)()  # peft
    return _forward_takes_logits_to_keep(type(base))


@functools.cache
def _forward_takes_logits_to_keep(cls: type) -> bool:
    return "logits_to_keep" in inspect.signature(cls.forward).parameters


def mean_nll(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean token NLL of the answers in a batch (the usual fine-tuning loss)."""
    logp, n = answer_logprob(model, batch)
    return -logp.sum() / n.sum().clamp_min(1)


def collate_records(fmt: PromptFormat, records: Sequence) -> dict:
    """Collate QA records (question -> answer) and keep their ids for per-record caches."""
    batch = collate(fmt, [(r.question, r.answer) for r in records])
    batch["ids"] = [r.id for r in records]
    return batch
