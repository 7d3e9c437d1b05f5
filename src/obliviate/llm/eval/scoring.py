"""The batched scoring engine: every metric reads the model through here.

* ``answer_logprobs(pairs)``: summed log-prob of each answer given its question,
  and the number of answer tokens (teacher forcing);
* ``token_stats(pairs)``: per answer token, its log-prob, the mean and std of
  the log-prob under the next-token distribution, and whether it is the argmax
  (membership inference, memorisation);
* ``generate(questions)``: greedy answers;
* ``continue_text(prefixes)``: greedy continuation of raw text (no prompt format).

Inputs are sorted by length and cut into batches so padding is small; results
come back in the caller's order. The answer tokens are those of
:meth:`PromptFormat.encode`, i.e. the answer followed by eos.

Teacher-forced scoring shares prompts: the answers of one question (the true,
paraphrased and perturbed answers of a truth ratio, a multiple-choice set)
are scored against one forward pass of the prompt, whose key/value cache is
reused for each answer; the LM head runs on answer positions only. Prompt and
answer are tokenised separately, exactly as in training, so the tokens are
those of a full forward pass and the log-probs agree with it to float
rounding (about 1e-5). Tokenisation is cached by the prompt format. Everything runs
under ``torch.inference_mode``; generation uses the model's KV cache.

Results are memoised per ``Scorer`` (evaluation is greedy and without
gradients, so the same input always gives the same output): asking twice for
the same pair, question or prefix runs the model once. A ``Scorer`` must
therefore not be reused after the model's weights change; build a new one or
call :meth:`Scorer.clear`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from obliviate.core.progress import progress
from obliviate.llm.encoding import IGNORE, PromptFormat, token_logprobs


@dataclass(frozen=True)
class TokenStats:
    """Teacher-forced statistics of one answer, one entry per answer token (eos included).

    Arrays are read-only: a ``TokenStats`` may be shared through the scorer's memo.

    Attributes:
        logp: log-prob of each label token, ``log p(y_t | y_<t, q)``.
        mu: ``E_{z~p}[log p(z)]`` of the next-token distribution at that position
            (minus its entropy).
        sigma: standard deviation of ``log p(z)`` under ``z ~ p``,
            ``sqrt(E[(log p)^2] - mu^2)``.
        argmax_match: whether the most likely next token is the label.
    """

    logp: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    argmax_match: np.ndarray

    def __post_init__(self) -> None:
        for name, dtype in (("logp", float), ("mu", float), ("sigma", float), ("argmax_match", bool)):
            arr = np.array(getattr(self, name), dtype=dtype)  # a copy, so freezing it is safe
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        n = len(self.logp)
        if not len(self.mu) == len(self.sigma) == len(self.argmax_match) == n:
            raise ValueError("TokenStats arrays must all have one entry per answer token")

    def __len__(self) -> int:
        return len(self.logp)

    @property
    def mean_logp(self) -> float:
        """Mean token log-prob (``-`` the mean token NLL); 0 for an empty answer."""
        return float(self.logp.mean()) if len(self.logp) else 0.0


class Scorer:
    """Scores one model; see module docstring.

    Args:
        model: a causal LM. Its weights must not change while this scorer is in
            use (results are memoised); otherwise call :meth:`clear`.
        tokenizer: its tokenizer.
        batch_size: sequences per forward pass.
        max_new_tokens: generation length cap of :meth:`generate`.
    """

    def __init__(self, model, tokenizer, batch_size: int = 16, max_new_tokens: int = 32) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.fmt = PromptFormat(tokenizer)
        self.batch_size, self.max_new_tokens = batch_size, max_new_tokens
        self._memo: dict[Hashable, dict[Hashable, Any]] = {}

    @property
    def device(self):
        return next(self.model.parameters()).device

    def clear(self) -> None:
        """Forget every memoised result (call after the model's weights changed)."""
        self._memo.clear()

    # ------------------------------------------------------------------ helpers

    def _batches(self, lengths: Sequence[int]):
        order = np.argsort(np.asarray(lengths), kind="stable")
        for i in range(0, len(order), self.batch_size):
            yield order[i : i + self.batch_size]

    def _memoised(self, table: Hashable, keys: Sequence[Hashable], compute: Callable[[list], list]) -> list:
        """Values for ``keys`` from memo ``table``; the missing ones (deduplicated) go to ``compute``."""
        memo = self._memo.setdefault(table, {})
        todo = [k for k in dict.fromkeys(keys) if k not in memo]
        if todo:
            memo.update(zip(todo, compute(todo)))
        return [memo[k] for k in keys]

    @contextlib.contextmanager
    def _eval_mode(self) -> Iterator[None]:
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                yield
        finally:
            self.model.train(was_training)

    def _per_pair(self, pairs: list[tuple[str, str]], desc: str,
                  fn: Callable[[torch.Tensor, torch.Tensor], list]) -> list:
        """``fn(logits, labels)`` (one result per row) over batches of pairs, in input order.

        Pairs are grouped by question; a batch holds whole questions (about
        ``batch_size`` answers), sorted by length. ``logits`` (rows, T, vocab)
        and ``labels`` (rows, T) start at each prompt's last token, as
        :func:`~obliviate.llm.encoding.answer_logits` returns them.
        """
        out: list[Any] = [None] * len(pairs)
        groups: dict[str, list[int]] = {}
        for i, (q, _) in enumerate(pairs):
            groups.setdefault(q, []).append(i)
        questions = list(groups)
        prompts = [self.fmt.encode_prompt(q) for q in questions]
        answers = [self.fmt.encode_answer(a) for _, a in pairs]
        order = sorted(range(len(questions)),
                       key=lambda j: (len(prompts[j]), max(len(answers[i]) for i in groups[questions[j]])))
        batches, current, rows = [], [], 0
        for j in order:
            current.append(j)
            rows += len(groups[questions[j]])
            if rows >= self.batch_size:
                batches.append(current)
                current, rows = [], 0
        if current:
            batches.append(current)
        with self._eval_mode(), progress(len(batches), desc) as advance:
            for qs in batches:
                owner = [k for k, j in enumerate(qs) for _ in groups[questions[j]]]
                idx = [i for j in qs for i in groups[questions[j]]]
                logits, labels = self._shared_prompt_logits([prompts[j] for j in qs], [answers[i] for i in idx], owner)
                for i, result in zip(idx, fn(logits, labels)):
                    out[i] = result
                advance()
        return out

    def _shared_prompt_logits(self, prompts: list[list[int]], answers: list[list[int]],
                              owner: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits from each prompt's last token to the end of its answer, one prompt pass for many answers.

        Args:
            prompts: token ids of the distinct prompts (left-padded together).
            answers: token ids of each answer (eos included), right-padded together.
            owner: for each answer, the index of its prompt.
        """
        dev, pad = self.device, self.tokenizer.pad_token_id
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for r, p in enumerate(prompts):
            ids[r, width - len(p):] = torch.tensor(p)
            mask[r, width - len(p):] = 1
        ids, mask = ids.to(dev), mask.to(dev)
        positions = (mask.cumsum(1) - 1).clamp_min(0)
        first = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                           **self._keep(1))
        cache = first.cache if hasattr(first, "cache") else first.past_key_values  # transformers >= 5.24 / older
        rows = torch.tensor(owner, device=dev)
        cache.batch_select_indices(rows)  # one copy of its prompt's keys/values per answer
        a_width = max(len(a) for a in answers)
        a_ids = torch.full((len(answers), a_width), pad, dtype=torch.long)
        a_mask = torch.zeros((len(answers), a_width), dtype=torch.long)
        labels = torch.full((len(answers), a_width + 1), IGNORE, dtype=torch.long)
        for r, a in enumerate(answers):
            a_ids[r, : len(a)] = torch.tensor(a)
            a_mask[r, : len(a)] = 1
            labels[r, 1 : len(a) + 1] = torch.tensor(a)
        a_ids, a_mask = a_ids.to(dev), a_mask.to(dev)
        lengths = mask.sum(1)[rows]
        a_pos = lengths.unsqueeze(1) + torch.arange(a_width, device=dev).unsqueeze(0)
        second = self.model(input_ids=a_ids, attention_mask=torch.cat([mask[rows], a_mask], dim=1),
                            position_ids=a_pos, use_cache=False, **{_cache_argument(self.model): cache})
        logits = torch.cat([first.logits[:, -1:][rows], second.logits], dim=1)
        return logits, labels.to(dev)

    def _keep(self, n: int) -> dict:
        from obliviate.llm.encoding import _keeps_logits

        return {"logits_to_keep": n} if _keeps_logits(self.model) else {}

    def _greedy(self, prompts: list[list[int]], max_new_tokens: int, desc: str) -> list[str]:
        """Greedy continuations (decoded, stripped) of token-id prompts, left-padded in batches."""
        tok = self.tokenizer
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        prompts = [p if p else [start] for p in prompts]  # generate needs at least one token
        out: list[str] = [""] * len(prompts)
        batches = list(self._batches([len(p) for p in prompts]))
        with self._eval_mode(), progress(len(batches), desc) as advance:
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
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id,
                    eos_token_id=tok.eos_token_id,
                )
                for row, i in enumerate(idx):
                    out[i] = tok.decode(gen[row, width:], skip_special_tokens=True).strip()
                advance()
        return out

    # ------------------------------------------------------------------ scoring

    def answer_logprobs(self, pairs: Sequence[tuple[str, str]], desc: str = "scoring") -> tuple[np.ndarray, np.ndarray]:
        """Summed answer log-probs and answer token counts, in input order."""

        def compute(todo: list[tuple[str, str]]) -> list[tuple[float, int]]:
            def fn(logits: torch.Tensor, labels: torch.Tensor) -> list[tuple[float, int]]:
                picked, mask = token_logprobs(logits, labels)
                return list(zip(picked.sum(-1).double().cpu().tolist(), mask.sum(-1).cpu().tolist()))

            return self._per_pair(todo, desc, fn)

        values = self._memoised("answer_logprobs", [(q, a) for q, a in pairs], compute)
        logp = np.array([v[0] for v in values], dtype=float)
        ntok = np.array([v[1] for v in values], dtype=np.int64)
        return logp, ntok

    def mean_token_nll(self, pairs: Sequence[tuple[str, str]], desc: str = "scoring") -> np.ndarray:
        """Length-normalised NLL per pair: ``-log p(a|q) / |a|``."""
        logp, n = self.answer_logprobs(pairs, desc)
        return -logp / np.maximum(n, 1)

    def token_stats(self, pairs: Sequence[tuple[str, str]], desc: str = "token statistics") -> list[TokenStats]:
        """Per-token statistics of each answer given its question, in input order.

        The answer tokens are those scored by :meth:`answer_logprobs` (the answer
        and eos), so ``token_stats(p)[i].logp.sum() == answer_logprobs(p)[0][i]``.
        """
        return self._memoised("token_stats", [(q, a) for q, a in pairs],
                              lambda todo: self._per_pair(todo, desc, self._token_stats_batch))

    def _token_stats_batch(self, logits: torch.Tensor, labels: torch.Tensor) -> list[TokenStats]:
        target = labels[:, 1:]  # (B, T'-1): the token each position predicts
        mask = target != IGNORE
        logq = torch.log_softmax(logits[:, :-1][mask].float(), dim=-1)  # (N, V), answer positions only
        tgt = target[mask]  # (N,)
        logp = logq.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
        prob = logq.exp()
        mu = (prob * logq).sum(-1)
        # the variance in centred form: equal to E[(log p)^2] - mu^2, without the cancellation
        sigma = (prob * (logq - mu.unsqueeze(-1)).square()).sum(-1).sqrt()
        match = logq.argmax(-1) == tgt
        cuts = np.cumsum(mask.sum(1).cpu().numpy())[:-1]
        cols = [np.split(t.cpu().numpy(), cuts) for t in (logp.double(), mu.double(), sigma.double(), match)]
        return [TokenStats(*row) for row in zip(*cols)]

    # --------------------------------------------------------------- generation

    def generate(self, questions: Sequence[str], desc: str = "generating") -> list[str]:
        """Greedy answers (decoded, stripped), in input order."""
        n = self.max_new_tokens

        def compute(todo: list[str]) -> list[str]:
            return self._greedy([self.fmt.encode_prompt(q) for q in todo], n, desc)

        return self._memoised(("generate", n), list(questions), compute)

    def continue_answers(self, pairs: Sequence[tuple[str, str]], max_new_tokens: int = 32,
                         desc: str = "continuing answers") -> list[str]:
        """Greedy continuations (decoded, stripped) of answer prefixes: ``(question, answer prefix)`` pairs.

        The prompt is the question in the usual format followed by the prefix,
        tokenised as in training (prompt and answer separately): MEMO's probe.
        """
        fmt, tok = self.fmt, self.tokenizer

        def compute(todo: list[tuple[str, str]]) -> list[str]:
            prompts = [fmt.encode_prompt(q) + tok(fmt.answer(a), add_special_tokens=False)["input_ids"]
                       for q, a in todo]
            return self._greedy(prompts, max_new_tokens, desc)

        return self._memoised(("continue_answers", max_new_tokens), [(q, a) for q, a in pairs], compute)

    def continue_text(self, prefixes: Sequence[str], max_new_tokens: int = 48, desc: str = "continuing") -> list[str]:
        """Greedy continuations (decoded, stripped) of raw text, in input order.

        No prompt format or chat template and no special tokens are added (an
        empty prefix starts from bos): MUSE's verbatim memorisation probe.
        """
        tok = self.tokenizer

        def compute(todo: list[str]) -> list[str]:
            prompts = [tok(p, add_special_tokens=False)["input_ids"] for p in todo]
            return self._greedy(prompts, max_new_tokens, desc)

        return self._memoised(("continue_text", max_new_tokens), list(prefixes), compute)


def _cache_argument(model) -> str:
    """The forward argument that takes a key/value cache: ``cache`` (transformers >= 5.24) or ``past_key_values``."""
    import inspect

    base = getattr(model, "get_base_model", lambda: model)()
    return "cache" if "cache" in inspect.signature(type(base).forward).parameters else "past_key_values"
