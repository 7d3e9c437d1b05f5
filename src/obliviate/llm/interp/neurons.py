"""Knowledge neurons: which MLP units carry the answers of a set of QA records.

A *neuron* is one unit of a decoder block's MLP intermediate activation (the
input of its output projection, hook point ``mlp_act.L``; 192 per block on the
tiny test model, 1536 on SmolLM2-135M). Following KLUE (FaithUn, Yang et al.,
EMNLP 2025, arXiv 2502.19207), its attribution on a record set ``F`` is
activation x gradient of the answer log-likelihood, summed over the records
and over token positions::

    A_i(F) = sum_{(q, a) in F} sum_t  h_{i,t}(q, a) * d log p(a|q) / d h_{i,t}

where ``log p(a|q)`` is summed over the answer tokens (the trainer's
:func:`~obliviate.llm.encoding.answer_logprob`) and ``h_{i,t}`` is neuron ``i``'s
activation at position ``t``. Padding and the positions after the last
predicted token get a zero gradient, so they add nothing. The regularised score
removes what a neuron does for *any* answer in that format (superficial
knowledge: the answer template, the entity type)::

    S_i = A_i(F) - A_i(F~),   F~ = each question of F with a random other record's answer

(drawn, by default, among the records of the same ``fact_type``: "He was born
in 1969." against "She was born in 1985.", so the template cancels and the
fact remains), and the knowledge neurons are the top ``p%`` of ``S`` over all neurons of all
blocks (one ranking, so blocks that matter more get more neurons).

:func:`neuron_masks` turns neurons into gradient masks: the trainable entries
of neuron ``i`` of block ``L`` are row ``i`` of every MLP in-projection with the
intermediate width (``gate_proj`` and ``up_proj`` in Llama; their bias entry
if any) and column ``i`` of the out-projection (``down_proj``). Everything else,
the out-projection's bias included, is masked.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.encoding import answer_logprob, collate
from obliviate.llm.interp.hooks import capture, decoder_blocks, mlp_out_proj


def _conv1d_type():
    try:
        # deferred: loads transformers
        from transformers.pytorch_utils import Conv1D

        return Conv1D
    except ImportError:  # pragma: no cover
        return ()


def intermediate_size(block: torch.nn.Module) -> int:
    """Neurons in a block's MLP: the input width of its output projection."""
    out = mlp_out_proj(block)
    if isinstance(out, torch.nn.Linear):
        return out.in_features
    if isinstance(out, _conv1d_type()):  # GPT-2's Conv1D: weight (in, out)
        return out.weight.shape[0]
    raise ConfigError(f"the MLP output projection {type(out).__name__} is neither Linear nor Conv1D")


def neuron_attribution(model, fmt, records: Sequence, answers: Sequence[str] | None = None,
                       batch_size: int = 8) -> dict[int, torch.Tensor]:
    """``A(F)``: activation x gradient of ``log p(a|q)`` per neuron, summed over records and positions.

    The model is put in eval mode for the pass and restored after; gradients
    are taken with :func:`torch.autograd.grad`, so no parameter's ``.grad`` is
    touched.

    Args:
        model: a causal LM whose MLP weights require gradients.
        fmt: the :class:`~obliviate.llm.encoding.PromptFormat`.
        records: QA records (question, answer).
        answers: answers to score instead of ``record.answer`` (e.g. random ones).
        batch_size: records per forward pass.

    Returns:
        ``{block: (intermediate,) float32 tensor on the CPU}`` for every block.
    """
    records = list(records)
    answers = list(answers) if answers is not None else [r.answer for r in records]
    if len(answers) != len(records):
        raise DataError(f"neuron_attribution: {len(answers)} answers for {len(records)} records")
    blocks = decoder_blocks(model)
    points = [f"mlp_act.{l}" for l in range(len(blocks))]
    device = next(model.parameters()).device
    totals = {l: torch.zeros(intermediate_size(b), dtype=torch.float32) for l, b in enumerate(blocks)}
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            for i in range(0, len(records), batch_size):
                pairs = [(r.question, a) for r, a in zip(records[i : i + batch_size], answers[i : i + batch_size])]
                batch = {k: v.to(device) for k, v in collate(fmt, pairs).items()}
                with capture(model, points) as acts:
                    logp, _ = answer_logprob(model, batch)  # (B,)
                hs = [acts[p] for p in points]  # each (B, T, intermediate)
                if not all(h.requires_grad for h in hs):
                    raise ConfigError("neuron attribution needs gradients through the MLPs; "
                                      "some MLP weights are frozen (requires_grad=False)")
                grads = torch.autograd.grad(logp.sum(), hs)
                for l, (h, g) in enumerate(zip(hs, grads)):
                    totals[l] += (h.detach().float() * g.float()).sum(dim=(0, 1)).cpu()  # (intermediate,)
    finally:
        model.train(was_training)
    return totals


RANDOM_ANSWERS = ("same_type", "any", "off")


def random_answers(records: Sequence, seed: int = 0, by: str = "same_type") -> list[str]:
    """For each record, the answer of another random record with a different answer (seeded).

    Args:
        records: QA records.
        seed: seed of the draw.
        by: ``same_type`` draws among the records of the same ``fact_type``
            when one has a different answer (then any record): the wrong answer
            keeps the true one's template, so only the fact itself differs;
            ``any`` draws among all records.

    A record whose answer every other record shares gets one of its own
    perturbed answers instead; with neither, a DataError.
    """
    if by not in ("same_type", "any"):
        raise ConfigError(f"random answers by {by!r}: use same_type or any")
    rng = random.Random(seed)
    records = list(records)
    out = []
    for r in records:
        others = [o.answer for o in records if o.answer != r.answer]
        if by == "same_type":
            kind = getattr(r, "fact_type", None)
            others = [o.answer for o in records if o.answer != r.answer and getattr(o, "fact_type", None) == kind] \
                or others
        pool = others or list(getattr(r, "perturbed_answers", []) or [])
        if not pool:
            raise DataError(f"record {getattr(r, 'id', r)!r}: no other answer to pair its question with "
                            "(the random-answer regularisation needs two different answers or perturbed answers)")
        out.append(rng.choice(pool))
    return out


def top_count(total: int, top_percent: float) -> int:
    """How many neurons are ``top_percent`` % of ``total`` (rounded, at least 1)."""
    if not 0 < top_percent <= 100:
        raise ConfigError(f"top_percent must be in (0, 100], got {top_percent}")
    return max(1, min(total, round(total * top_percent / 100)))


def select_top(scores: dict[int, torch.Tensor], top_percent: float) -> dict[int, torch.Tensor]:
    """The top ``top_percent`` % of all scores, ranked jointly over blocks: ``{block: sorted indices}``.

    Ties are broken by position (earlier block, lower index first); blocks
    without a selected neuron are left out.
    """
    layers = sorted(scores)
    flat = torch.cat([scores[l].float().reshape(-1) for l in layers])  # (n_blocks * intermediate,)
    k = top_count(flat.numel(), top_percent)
    order = torch.sort(flat, descending=True, stable=True).indices[:k]
    out: dict[int, torch.Tensor] = {}
    offset = 0
    for l in layers:
        n = scores[l].numel()
        idx = order[(order >= offset) & (order < offset + n)] - offset
        if idx.numel():
            out[l] = torch.sort(idx).values
        offset += n
    return out


def knowledge_neurons(model, fmt, records: Sequence, top_percent: float, seed: int = 0,
                      random_answers_by: str = "same_type", batch_size: int = 8) -> dict[int, torch.Tensor]:
    """KLUE's knowledge neurons: the top ``top_percent`` % of ``S = A(F) - A(F~)`` over all blocks.

    Args:
        model, fmt: the model before unlearning and its prompt format.
        records: the forget records ``F``.
        top_percent: share of all neurons to keep, in percent (the paper sweeps 0.1-5).
        seed: seed of the random answers of ``F~`` (see :func:`random_answers`).
        random_answers_by: how ``F~`` draws its answers: ``same_type``, ``any``
            (see :func:`random_answers`), or ``off`` for no regulariser (``S = A(F)``).
        batch_size: records per forward pass.

    Returns:
        ``{block: LongTensor of neuron indices}`` for the blocks with a selected neuron.
    """
    records = list(records)
    if not records:
        raise DataError("knowledge_neurons: no records to attribute")
    if random_answers_by not in RANDOM_ANSWERS:
        raise ConfigError(f"random_answers_by must be one of {', '.join(RANDOM_ANSWERS)}, got {random_answers_by!r}")
    scores = neuron_attribution(model, fmt, records, batch_size=batch_size)
    if random_answers_by != "off":
        wrong = random_answers(records, seed, random_answers_by)
        a_rand = neuron_attribution(model, fmt, records, wrong, batch_size=batch_size)
        scores = {l: scores[l] - a_rand[l] for l in scores}
    return select_top(scores, top_percent)


def mlp_projections(block: torch.nn.Module):
    """``(module, is_out_projection)`` for every Linear/Conv1D of a block's MLP."""
    out = mlp_out_proj(block)
    kinds = (torch.nn.Linear, _conv1d_type()) if _conv1d_type() else (torch.nn.Linear,)
    for mod in block.mlp.modules():
        if isinstance(mod, kinds):
            yield mod, mod is out


def neuron_masks(model, neurons: dict[int, torch.Tensor]) -> dict[torch.nn.Parameter, torch.Tensor]:
    """Gradient masks (True = trainable) for the weights that hold the given neurons.

    Per block with selected neurons ``idx``: rows ``idx`` of each MLP
    in-projection whose output width is the intermediate size (and those bias
    entries), columns ``idx`` of the out-projection weight. GPT-2's Conv1D
    stores weights transposed; that is handled.

    Returns:
        ``{parameter: bool tensor of the parameter's shape}``; parameters with no
        selected entry are left out.
    """
    conv = _conv1d_type()
    blocks = decoder_blocks(model)
    masks: dict[torch.nn.Parameter, torch.Tensor] = {}
    for l, idx in sorted(neurons.items()):
        if not len(idx):
            continue
        block = blocks[l]
        n = intermediate_size(block)
        idx = torch.as_tensor(idx, dtype=torch.long).cpu()
        if int(idx.min()) < 0 or int(idx.max()) >= n:
            raise ConfigError(f"block {l}: neuron index out of range 0..{n - 1}")
        for mod, is_out in mlp_projections(block):
            transposed = bool(conv) and isinstance(mod, conv)  # Conv1D weight is (in, out)
            w = mod.weight
            in_dim, out_dim = (w.shape[0], w.shape[1]) if transposed else (w.shape[1], w.shape[0])
            if is_out:
                if in_dim != n:
                    continue
                m = torch.zeros(w.shape, dtype=torch.bool, device=w.device)
                if transposed:
                    m[idx.to(w.device)] = True  # rows of (in, out)
                else:
                    m[:, idx.to(w.device)] = True  # columns of (out, in)
                masks[w] = m
            elif out_dim == n:
                m = torch.zeros(w.shape, dtype=torch.bool, device=w.device)
                if transposed:
                    m[:, idx.to(w.device)] = True
                else:
                    m[idx.to(w.device)] = True
                masks[w] = m
                if getattr(mod, "bias", None) is not None:
                    mb = torch.zeros(mod.bias.shape, dtype=torch.bool, device=mod.bias.device)
                    mb[idx.to(mb.device)] = True
                    masks[mod.bias] = mb
    return masks
