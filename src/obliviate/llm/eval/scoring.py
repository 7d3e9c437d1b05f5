"""The batched scoring engine: every metric reads the model through here.

* ``answer_logprobs(pairs)``: summed log-prob of each answer given its question,
  and the number of answer tokens (teacher forcing);
* ``generate(questions)``: greedy answers.

Inputs are sorted by length and cut into batches so padding is small; results
come back in the caller's order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from obliviate.core.progress import progress
from obliviate.llm.encoding import PromptFormat, answer_logprob, collate


class Scorer:
    """Scores one model; see module docstring.

    Args:
        model: a causal LM.
        tokenizer: its tokenizer.
        batch_size: sequences per forward pass.
        max_new_tokens: generation length cap.
    """

    def __init__(self, model, tokenizer, batch_size: int = 16, max_new_tokens: int = 32) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.fmt = PromptFormat(tokenizer)
        self.batch_size, self.max_new_tokens = batch_size, max_new_tokens

    @property
    def device(self):
        return next(self.model.parameters()).device

    def _batches(self, lengths: Sequence[int]):
        order = np.argsort(np.asarray(lengths), kind="stable")
        for i in range(0, len(order), self.batch_size):
            yield order[i : i + self.batch_size]

    @torch.no_grad()
    def answer_logprobs(self, pairs: Sequence[tuple[str, str]], desc: str = "scoring") -> tuple[np.ndarray, np.ndarray]:
        """Summed answer log-probs and answer token counts, in input order."""
        was_training = self.model.training
        self.model.eval()
        logp = np.zeros(len(pairs))
        ntok = np.zeros(len(pairs), dtype=np.int64)
        lengths = [len(q) + len(a) for q, a in pairs]
        batches = list(self._batches(lengths))
        with progress(len(batches), desc) as advance:
            for idx in batches:
                batch = collate(self.fmt, [pairs[i] for i in idx])
                batch = {k: v.to(self.device) for k, v in batch.items()}
                lp, n = answer_logprob(self.model, batch)
                logp[idx], ntok[idx] = lp.double().cpu().numpy(), n.cpu().numpy()
                advance()
        self.model.train(was_training)
        return logp, ntok

    def mean_token_nll(self, pairs: Sequence[tuple[str, str]], desc: str = "scoring") -> np.ndarray:
        """Length-normalised NLL per pair: ``-log p(a|q) / |a|``."""
        logp, n = self.answer_logprobs(pairs, desc)
        return -logp / np.maximum(n, 1)

    @torch.no_grad()
    def generate(self, questions: Sequence[str], desc: str = "generating") -> list[str]:
        """Greedy answers (decoded, stripped), in input order."""
        was_training = self.model.training
        self.model.eval()
        tok = self.tokenizer
        prompts = [self.fmt.encode_prompt(q) for q in questions]
        out: list[str] = [""] * len(questions)
        batches = list(self._batches([len(p) for p in prompts]))
        with progress(len(batches), desc) as advance:
            for idx in batches:
                width = max(len(prompts[i]) for i in idx)
                ids = torch.full((len(idx), width), tok.pad_token_id, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):  # left padding for generation
                    ids[row, width - len(prompts[i]) :] = torch.tensor(prompts[i])
                    mask[row, width - len(prompts[i]) :] = 1
                gen = self.model.generate(
                    input_ids=ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id,
                    eos_token_id=tok.eos_token_id,
                )
                for row, i in enumerate(idx):
                    out[i] = tok.decode(gen[row, width:], skip_special_tokens=True).strip()
                advance()
        self.model.train(was_training)
        return out
