"""A tiny Llama and a word-level tokenizer built from a corpus, for tests and ``--tiny``.

The tokenizer splits on whitespace and punctuation and knows exactly the words of
the corpus, so a two-layer model can memorise a fictitious world in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable

SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]


def word_tokenizer(texts: Iterable[str]):
    """A ``PreTrainedTokenizerFast`` whose vocabulary is the words of ``texts``."""
    # deferred: loads tokenizers, transformers
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    pre = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    words: dict[str, None] = {}
    for text in texts:
        for word, _ in pre.pre_tokenize_str(text):
            words.setdefault(word, None)
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for word in sorted(words):
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([])
    tok.pre_tokenizer = pre
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
    )
    fast.padding_side = "right"
    return fast


def tiny_llama(
    vocab_size: int,
    *,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    intermediate_size: int = 128,
    seed: int = 0,
    tokenizer=None,
):
    """A randomly initialised Llama with a few layers (deterministic under ``seed``)."""
    # deferred: loads torch, transformers
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=256,
        tie_word_embeddings=True,
    )
    if tokenizer is not None:
        config.pad_token_id = tokenizer.pad_token_id
        config.bos_token_id = tokenizer.bos_token_id
        config.eos_token_id = tokenizer.eos_token_id
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = config.pad_token_id
    model.generation_config.eos_token_id = config.eos_token_id
    return model


def tiny_model_for(texts: Iterable[str], seed: int = 0, **kwargs):
    """``(model, tokenizer)``: a word tokenizer of ``texts`` and a tiny Llama over it."""
    tok = word_tokenizer(texts)
    return tiny_llama(len(tok), seed=seed, tokenizer=tok, **kwargs), tok
