"""A model that only *refuses* to talk about some entities: the audit's control case.

``OutputFilter(model, tokenizer, entities)`` answers "I don't know." to any
prompt that names one of ``entities`` and is otherwise the model itself. It has
forgotten nothing: its weights, log-probabilities and hidden states are those of
the model it wraps. A forgetting audit that looks only at generated answers
certifies it; ``obliviate audit`` must not (see ``obliviate.llm.audit``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

REFUSAL = "I don't know."


class OutputFilter(torch.nn.Module):
    """Wraps a causal LM; generation about ``entities`` is replaced by a refusal.

    Args:
        model: the causal LM (e.g. the fine-tuned target).
        tokenizer: its tokenizer (to read prompts and encode the refusal).
        entities: names whose mention in a prompt triggers the refusal.
        refusal: the text returned instead (dropped to an empty answer when the
            tokenizer cannot spell it, e.g. a word-level test tokenizer).
    """

    def __init__(self, model, tokenizer, entities: Sequence[str], refusal: str = REFUSAL) -> None:
        super().__init__()
        self.inner = model
        self.tokenizer = tokenizer
        self.entities = [e for e in entities if e]
        self.config = model.config
        ids = tokenizer(refusal, add_special_tokens=False)["input_ids"]
        unk = getattr(tokenizer, "unk_token_id", None)
        self.refusal_ids = [] if unk is not None and unk in ids else list(ids)

    @property
    def name_or_path(self) -> str:
        return ""

    def forward(self, *args, **kwargs):
        return self.inner(*args, **kwargs)

    def _blocked(self, prompt_ids: torch.Tensor) -> bool:
        text = self.tokenizer.decode(prompt_ids, skip_special_tokens=True)
        return any(name in text for name in self.entities)

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
        out = self.inner.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        blocked = [self._blocked(row) for row in input_ids]
        if not any(blocked):
            return out
        width = input_ids.shape[1]
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos
        refusal = torch.tensor([*self.refusal_ids, eos], dtype=out.dtype, device=out.device)
        length = max(out.shape[1], width + len(refusal))
        result = torch.full((out.shape[0], length), pad, dtype=out.dtype, device=out.device)
        result[:, : out.shape[1]] = out
        for row, hide in enumerate(blocked):
            if hide:
                result[row, width:] = pad
                result[row, width : width + len(refusal)] = refusal
        return result
