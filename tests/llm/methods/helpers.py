"""Softmax and cross-entropy by hand, a method prepared on the tiny model, padded batches: for the per-method tests."""

import math

import torch

from obliviate.llm.encoding import IGNORE, PromptFormat
from obliviate.llm.methods import MethodContext, get_method


def softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [v / sum(e) for v in e]


def cross_entropy(q, logits):
    """-sum_v q_v log softmax(logits)_v, skipping q_v = 0."""
    p = softmax(logits)
    return -sum(qv * math.log(pv) for qv, pv in zip(q, p) if qv)


def prepared_method(name, overrides, model, tok, splits):
    method = get_method(name, overrides)
    fmt = PromptFormat(tok)
    method.prepare(MethodContext(model, tok, fmt, splits))
    return method, fmt


def padded(batch, extra, pad_id):
    """``batch`` with ``extra`` more padded (ignored) positions on the right of every row."""
    b, _ = batch["input_ids"].shape
    return {**batch,
            "input_ids": torch.cat([batch["input_ids"], torch.full((b, extra), pad_id)], 1),
            "attention_mask": torch.cat([batch["attention_mask"], torch.zeros(b, extra, dtype=torch.long)], 1),
            "labels": torch.cat([batch["labels"], torch.full((b, extra), IGNORE)], 1)}


ONE_EPOCH = dict(epochs=1.0, lr=1e-3, batch_size=4, checkpoint_every=0)
