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

Teacher-forced scoring removes repeated work (5.2x a naive per-pair loop on
a TOFU-style evaluation; ``benchmarks/perf.py``). Each prompt is run once per
scorer: its keys/values and last logits are kept (least recently used out,
within ``OBLIVIATE_PROMPT_CACHE_MB``, default 512) for every later answer to
the same question, and the prompt format's fixed opening (chat template,
system prompt) is run once for all prompts. An answer that starts like one
already scored after the same prompt reuses that answer's statistics and
keys/values and runs from its first different token. The answer log-prob and
the token statistics come from one pass. Prompt and answer are tokenised
separately, exactly as in training, so the tokens are those of a full
forward pass and the log-probs agree with it to float rounding (about 1e-5).
Tokenisation is cached by the prompt format. Everything runs under
``torch.inference_mode``; generation uses the model's KV cache.

Results are memoised per ``Scorer`` (evaluation is greedy and without
gradients, so the same input always gives the same output): asking twice for
the same pair, question or prefix runs the model once. A ``Scorer`` must
therefore not be reused after the model's weights change; build a new one or
call :meth:`Scorer.clear`.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from obliviate.core.progress import progress, timed
from obliviate.llm.encoding import PromptFormat, _keeps_logits


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


@dataclass
class _PromptState:
    """A prompt after its forward pass: its tokens, per-layer keys/values (heads, tokens, dim) and last logits."""

    tokens: tuple[int, ...]
    kv: list[tuple[torch.Tensor, torch.Tensor]]
    last_logits: torch.Tensor
    answers: list[_AnswerState] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        own = sum(k.numel() * k.element_size() * 2 for k, _ in self.kv) + self.last_logits.numel() * 4
        return own + sum(a.nbytes for a in self.answers)


@dataclass
class _AnswerState:
    """An answer scored after a prompt: its tokens, its inputs' keys/values (all tokens but the last), statistics."""

    tokens: tuple[int, ...]
    kv: list[tuple[torch.Tensor, torch.Tensor]]
    stats: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

    @property
    def nbytes(self) -> int:
        return sum(k.numel() * k.element_size() * 2 for k, _ in self.kv) + 25 * len(self.tokens)


class Scorer:
    """Scores one model; see module docstring.

    Args:
        model: a causal LM. Its weights must not change while this scorer is in
            use (results are memoised); otherwise call :meth:`clear`.
        tokenizer: its tokenizer.
        batch_size: sequences per forward pass.
        max_new_tokens: generation length cap of :meth:`generate`.
        style: how questions are put to the model (``trained``, ``chat`` or a ``{question}`` template; see
            :data:`~obliviate.llm.encoding.PROMPT_STYLES`).
    """

    def __init__(self, model, tokenizer, batch_size: int = 16, max_new_tokens: int = 32,
                 style: str = "trained") -> None:
        self.model, self.tokenizer = model, tokenizer
        self.fmt = PromptFormat(tokenizer, style=style)
        self.batch_size, self.max_new_tokens = batch_size, max_new_tokens
        self._memo: dict[Hashable, dict[Hashable, Any]] = {}
        self._prompts: OrderedDict[tuple[int, ...], _PromptState] = OrderedDict()
        self._prompt_bytes = 0
        self._prompt_budget = float(os.environ.get("OBLIVIATE_PROMPT_CACHE_MB", 512)) * 2**20
        self._prefix: _PromptState | None = None
        self._opening: tuple[int, ...] | None = None

    @property
    def vocab_size(self) -> int:
        """Tokens the model chooses among (the tokenizer's, added tokens included)."""
        return len(self.tokenizer)

    @property
    def device(self):
        return next(self.model.parameters()).device

    def clear(self) -> None:
        """Forget every memoised result (call after the model's weights changed)."""
        self._memo.clear()
        self._prompts.clear()
        self._prompt_bytes = 0
        self._prefix = None

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

    def _pair_stats(self, pairs: list[tuple[str, str]], desc: str) -> list[TokenStats]:
        """Token statistics of each pair, in input order (see the notes below on what is shared).

        Questions are taken in chunks (so the prompt states held stay bounded);
        in a chunk, prompts and then answers are batched by the length that will
        actually run, so batches carry almost no padding.
        """
        out: list[Any] = [None] * len(pairs)
        prompt_of = [tuple(self.fmt.encode_prompt(q)) for q, _ in pairs]
        answers = [tuple(self.fmt.encode_answer(a)) for _, a in pairs]
        members: dict[tuple[int, ...], list[int]] = {}
        for i, p in enumerate(prompt_of):
            members.setdefault(p, []).append(i)
        distinct = list(members)
        per_chunk = max(64, 8 * self.batch_size)
        chunks = [distinct[c : c + per_chunk] for c in range(0, len(distinct), per_chunk)]
        total = sum(-(-sum(len(members[p]) for p in chunk) // self.batch_size) for chunk in chunks)
        with timed("scoring"), self._eval_mode(), progress(total, desc) as advance:
            prefix = self._prefix_state(distinct)
            for chunk in chunks:
                states = dict(zip(chunk, self._prompt_states(chunk, prefix)))
                idx = [i for p in chunk for i in members[p]]
                idx.sort(key=lambda i: len(answers[i]) - self._shared(states[prompt_of[i]], answers[i])[1])
                for c in range(0, len(idx), self.batch_size):
                    rows = idx[c : c + self.batch_size]
                    found = self._answer_stats([states[prompt_of[i]] for i in rows], [answers[i] for i in rows])
                    for i, result in zip(rows, found):
                        out[i] = result
                    advance()
        return out

    # The prompt passes. A prompt's keys/values and its last-token logits are
    # kept (``_prompts``, least recently used first out, within
    # ``OBLIVIATE_PROMPT_CACHE_MB``), so the answer, paraphrase, perturbed
    # answers and token statistics asked for one question in separate calls
    # share one prompt pass; the tokens every prompt starts with (chat
    # template, system prompt) are run once per scorer.

    def _prefix_state(self, prompts: list[tuple[int, ...]]) -> _PromptState | None:
        """Keys/values of the prompt format's fixed opening (chat template, system prompt) if every prompt has it.

        The opening is the token prefix that the prompts of two unrelated
        questions share; it is run once per scorer.
        """
        if self._opening is None:
            a, b = self.fmt.encode_prompt("Who wrote it?"), self.fmt.encode_prompt("7 + 5")
            n = 0
            while n < min(len(a), len(b)) and a[n] == b[n]:
                n += 1
            self._opening = tuple(a[:n])
        key = self._opening
        if len(key) < 4 or not _plain_cache(self.model) or not all(len(p) > len(key) and p[:len(key)] == key
                                                                    for p in prompts):
            return None
        if self._prefix is None:
            self._prefix = self._prompt_pass([key], None)[0]
        return self._prefix

    def _prompt_states(self, prompts: list[tuple[int, ...]], prefix: _PromptState | None) -> list[_PromptState]:
        """The prompt state of each prompt: from the cache, or one batched pass for the missing ones."""
        todo = sorted((p for p in dict.fromkeys(prompts) if p not in self._prompts), key=len)
        fresh = {}
        for c in range(0, len(todo), self.batch_size):
            fresh.update(zip(todo[c : c + self.batch_size], self._prompt_pass(todo[c : c + self.batch_size], prefix)))
        states = []
        for p in prompts:
            if p in fresh:
                states.append(fresh[p])
            else:
                self._prompts.move_to_end(p)
                states.append(self._prompts[p])
        for p, state in fresh.items():
            self._prompts[p] = state
            self._prompt_bytes += state.nbytes
        while self._prompt_bytes > self._prompt_budget and self._prompts:
            _, old = self._prompts.popitem(last=False)
            self._prompt_bytes -= old.nbytes
        return states

    def _prompt_pass(self, prompts: list[tuple[int, ...]], prefix: _PromptState | None) -> list[_PromptState]:
        """One forward pass over ``prompts`` (left-padded after the shared ``prefix``): their states."""
        # deferred: loads transformers
        from transformers import DynamicCache

        dev, pad = self.device, self.tokenizer.pad_token_id
        start = len(prefix.tokens) if prefix else 0
        rest = [p[start:] for p in prompts]
        width, b = max(len(r) for r in rest), len(rest)
        ids = torch.full((b, width), pad, dtype=torch.long)
        mask = torch.zeros((b, width), dtype=torch.long)
        for r, p in enumerate(rest):
            ids[r, width - len(p):] = torch.tensor(p)
            mask[r, width - len(p):] = 1
        ids, mask = ids.to(dev), mask.to(dev)
        positions = start + (mask.cumsum(1) - 1).clamp_min(0)
        extra = self._keep(1)
        if prefix is not None:
            mask = torch.cat([torch.ones((b, start), dtype=torch.long, device=dev), mask], dim=1)
            extra[_cache_argument(self.model)] = DynamicCache(
                ddp_cache_data=[(k.unsqueeze(0).expand(b, -1, -1, -1).contiguous(),
                                 v.unsqueeze(0).expand(b, -1, -1, -1).contiguous()) for k, v in prefix.kv])
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **extra)
        cache = out.cache if hasattr(out, "cache") else out.past_key_values  # transformers >= 5.24 / older
        layers = _kv_tensors(cache)
        states = []
        for r, p in enumerate(rest):
            keep = torch.cat([torch.arange(start, device=dev),
                              torch.arange(start + width - len(p), start + width, device=dev)])
            kv = [(k[r].index_select(1, keep), v[r].index_select(1, keep)) for k, v in layers]
            states.append(_PromptState(tuple(prompts[r]), kv, out.logits[r, -1].clone()))
        return states

    def _answer_stats(self, owner: list[_PromptState], answers: list[tuple[int, ...]]) -> list[TokenStats]:
        """Token statistics of each answer after its prompt (``owner``), in one pass for the batch.

        An answer that starts like one scored before after the same prompt (the
        perturbed answers of a truth ratio share the paraphrase's template up to
        the changed fact) reuses that answer's statistics for the shared tokens
        and its keys/values as context, and runs only from the first token that
        differs. The last answer token (eos) is never an input: nothing is
        predicted from it.
        """
        # deferred: loads transformers
        from transformers import DynamicCache

        dev, pad = self.device, self.tokenizer.pad_token_id
        plans = [(a, *self._shared(state, a)[::-1]) for state, a in zip(owner, answers)]  # (answer, k, reused)
        # rows to run: context = prompt (+ the shared answer tokens but the last), inputs = the rest but eos
        run = [r for r, (a, k, _) in enumerate(plans) if k < len(a)]
        logits_rows: dict[int, torch.Tensor] = {}
        new_kv: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        if run:
            ctx, inputs = [], []  # per row: the context's pieces (keys/values, tokens used) and the input tokens
            for r in run:
                a, k, best = plans[r]
                prompt = owner[r]
                ctx.append([(prompt.kv, len(prompt.tokens))] + ([(best.kv, k - 1)] if k > 1 else []))
                inputs.append(a[k - 1 : -1] if k >= 1 else a[:-1])
            lengths = torch.tensor([sum(used for _, used in pieces) for pieces in ctx], device=dev)
            width, n = int(lengths.max()), len(run)
            i_width = max(1, max(len(x) for x in inputs))
            cache = []
            for layer in range(len(owner[0].kv)):
                k0, v0 = owner[0].kv[layer]
                k = k0.new_zeros((n, k0.shape[0], width, k0.shape[2]))
                v = v0.new_zeros((n, v0.shape[0], width, v0.shape[2]))
                for row, pieces in enumerate(ctx):  # left-padded: every context ends at column ``width``
                    at = width - int(lengths[row])
                    for kv, used in pieces:
                        k[row, :, at : at + used] = kv[layer][0][:, :used]
                        v[row, :, at : at + used] = kv[layer][1][:, :used]
                        at += used
                cache.append((k, v))
            c_mask = (torch.arange(width, device=dev).unsqueeze(0) >= (width - lengths).unsqueeze(1)).long()
            ids = torch.full((n, i_width), pad, dtype=torch.long)
            i_mask = torch.zeros((n, i_width), dtype=torch.long)
            for row, x in enumerate(inputs):
                if x:
                    ids[row, : len(x)] = torch.tensor(x)
                    i_mask[row, : len(x)] = 1
            ids, i_mask = ids.to(dev), i_mask.to(dev)
            positions = lengths.unsqueeze(1) + torch.arange(i_width, device=dev).unsqueeze(0)
            out = self.model(input_ids=ids, attention_mask=torch.cat([c_mask, i_mask], dim=1), position_ids=positions,
                             use_cache=True, **{_cache_argument(self.model): DynamicCache(ddp_cache_data=cache)})
            grown = _kv_tensors(out.cache if hasattr(out, "cache") else out.past_key_values)
            for row, r in enumerate(run):
                x, (a, k, best) = inputs[row], plans[r]
                rows = out.logits[row, : len(x)]
                logits_rows[r] = rows if k >= 1 else torch.cat([owner[r].last_logits.unsqueeze(0).to(rows.dtype), rows])
                # the answer's own keys/values (inputs a[:-1]) for later answers to share
                cut = slice(width, width + len(x))
                own = [(gk[row, :, cut].clone(), gv[row, :, cut].clone()) for gk, gv in grown]
                new_kv[r] = own if k < 1 else [(torch.cat([ak[:, : k - 1], ok], 1), torch.cat([av[:, : k - 1], ov], 1))
                                               for (ok, ov), (ak, av) in zip(own, best.kv)]
        fresh = self._stats_of([logits_rows[r] for r in run], [plans[r][0][plans[r][1]:] for r in run])
        results = []
        for r, (a, k, best) in enumerate(plans):
            parts = [best.stats[j][:k] for j in range(4)] if k else [np.zeros(0)] * 3 + [np.zeros(0, bool)]
            if k < len(a):
                new = fresh.pop(0)
                parts = [np.concatenate([p, q]) for p, q in zip(parts, new)]
            stats = TokenStats(*parts)
            results.append(stats)
            state = owner[r]
            if k < len(a) and not any(d.tokens == a for d in state.answers):
                done = _AnswerState(a, new_kv[r], (stats.logp, stats.mu, stats.sigma, stats.argmax_match))
                state.answers.append(done)
                if state.tokens in self._prompts:
                    self._prompt_bytes += done.nbytes
        return results

    @staticmethod
    def _shared(state: _PromptState, answer: tuple[int, ...]) -> tuple[_AnswerState | None, int]:
        """The answer scored after ``state`` that shares the most leading tokens with ``answer``, and how many."""
        best, k = None, 0
        for done in state.answers:
            n, m = 0, min(len(answer), len(done.tokens))
            while n < m and answer[n] == done.tokens[n]:
                n += 1
            if n > k:
                best, k = done, n
        return best, k

    @staticmethod
    def _stats_of(logits: list[torch.Tensor], labels: list[tuple[int, ...]]) -> list[tuple[np.ndarray, ...]]:
        """(logp, mu, sigma, argmax match) per row block: ``logits[i]`` (n_i, vocab) predicting ``labels[i]``."""
        if not logits:
            return []
        rows = torch.cat(logits)
        tgt = torch.tensor([t for lab in labels for t in lab], device=rows.device)
        parts = []
        for c in range(0, len(rows), 16):  # 16 rows of the vocabulary at a time stay in cache: 4x faster on a CPU
            logq = torch.log_softmax(rows[c : c + 16].float(), dim=-1)
            t = tgt[c : c + 16]
            prob = logq.exp()
            mu = torch.linalg.vecdot(prob, logq)
            # the variance in centred form: equal to E[(log p)^2] - mu^2, without the cancellation
            dev = (logq - mu.unsqueeze(-1)).square_()
            parts.append((logq.gather(-1, t.unsqueeze(-1)).squeeze(-1), mu, torch.linalg.vecdot(prob, dev).sqrt(),
                          logq.argmax(-1) == t))
        logp, mu, sigma, match = (torch.cat(col) for col in zip(*parts))
        cuts = np.cumsum([len(lab) for lab in labels])[:-1]
        cols = [np.split(t.cpu().numpy(), cuts) for t in (logp.double(), mu.double(), sigma.double(), match)]
        return [tuple(c) for c in zip(*cols)]

    def _keep(self, n: int) -> dict:
        return {"logits_to_keep": n} if _keeps_logits(self.model) else {}

    @property
    def _start_token(self) -> int:
        """The token a sequence with nothing to condition on starts from: bos, else eos."""
        tok = self.tokenizer
        return tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id

    def _padded(self, seqs: list[Sequence[int]], *, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, attention mask)`` of token sequences padded to the longest: left (generation) or right."""
        width = max(len(x) for x in seqs)
        ids = torch.full((len(seqs), width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, x in enumerate(seqs):
            cols = slice(width - len(x), width) if left else slice(0, len(x))
            ids[row, cols] = torch.tensor(x)
            mask[row, cols] = 1
        return ids.to(self.device), mask.to(self.device)

    def _greedy(self, prompts: list[list[int]], max_new_tokens: int, desc: str) -> list[str]:
        """Greedy continuations (decoded, stripped) of token-id prompts, left-padded in batches."""
        tok = self.tokenizer
        prompts = [p if p else [self._start_token] for p in prompts]  # generate needs at least one token
        out: list[str] = [""] * len(prompts)
        batches = list(self._batches([len(p) for p in prompts]))
        with timed("generation"), self._eval_mode(), progress(len(batches), desc) as advance:
            for idx in batches:
                ids, mask = self._padded([prompts[i] for i in idx], left=True)
                width = ids.shape[1]
                gen = self.model.generate(
                    input_ids=ids,
                    attention_mask=mask,
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
        """Summed answer log-probs and answer token counts, in input order.

        Read from the token statistics (:meth:`token_stats`), which are computed
        and memoised with them: the LOSS/Min-K statistics of a pair scored here
        cost nothing later, and the other way round.
        """
        values = self._memoised("answer_logprobs", [(q, a) for q, a in pairs],
                                lambda todo: [(float(s.logp.sum()), len(s)) for s in self.token_stats(todo, desc)])
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
                              lambda todo: self._pair_stats(todo, desc))

    def text_stats(self, texts: Sequence[str], desc: str = "text statistics",
                   max_tokens: int = 2048) -> list[TokenStats]:
        """Per-token statistics of raw text (no prompt format), in input order: MUSE's membership inference
        on documents. Each text is tokenised as the tokenizer does by default (with its bos, if it adds
        one), cut at ``max_tokens``; every token after the first is scored given the ones before it."""
        tok = self.tokenizer

        def compute(todo: list[str]) -> list[TokenStats]:
            ids = [tok(t)["input_ids"][:max_tokens] for t in todo]
            ids = [x if len(x) >= 2 else [self._start_token, *x] for x in ids]  # at least one token to predict
            out: list[Any] = [None] * len(todo)
            batches = list(self._batches([len(x) for x in ids]))
            with self._eval_mode(), progress(len(batches), desc) as advance:
                for idx in batches:
                    # right padding: the positions are those of the text alone
                    batch, mask = self._padded([ids[i] for i in idx], left=False)
                    logits = self.model(input_ids=batch, attention_mask=mask).logits
                    rows = [logits[row, : len(ids[i]) - 1] for row, i in enumerate(idx)]
                    for i, parts in zip(idx, self._stats_of(rows, [tuple(ids[i][1:]) for i in idx])):
                        out[i] = TokenStats(*parts)
                    advance()
            return out

        return self._memoised(("text_stats", max_tokens), list(texts), compute)

    # --------------------------------------------------------------- generation

    def generate(self, questions: Sequence[str], desc: str = "generating",
                 max_new_tokens: int | None = None) -> list[str]:
        """Greedy answers (decoded, stripped), in input order, of at most ``max_new_tokens`` (default: the
        scorer's) new tokens; generation stops at eos."""
        n = max_new_tokens or self.max_new_tokens

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
    base = getattr(model, "get_base_model", lambda: model)()
    return "cache" if "cache" in inspect.signature(type(base).forward).parameters else "past_key_values"


def _kv_tensors(cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-layer (keys, values) of a transformers key/value cache, each (batch, heads, tokens, dim)."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    return list(zip(cache.key_cache, cache.value_cache))  # transformers < 4.56


def _plain_cache(model) -> bool:
    """Whether every layer is attention with a key/value cache (no recurrent or linear-attention layers)."""
    types = getattr(getattr(model, "config", None), "layer_types", None)
    return not types or set(types) <= {"full_attention", "sliding_attention"}


def knowledge(scorer: Scorer, records: Sequence, *, paraphrased: bool = False, desc: str = "knowledge") -> np.ndarray:
    """Per-record ``P(a|q)^(1/|a|)``; with ``paraphrased`` the paraphrased question is asked."""
    if not records:
        return np.zeros(0)
    pairs = [(r.paraphrased_question if paraphrased else r.question, r.answer) for r in records]
    logp, n = scorer.answer_logprobs(pairs, desc=desc)
    return np.exp(logp / np.maximum(n, 1))
