"""Tiny models for tests and demos (``obliviate.models.tiny``): the word tokenizer knows its corpus."""

from obliviate.models.tiny import tiny_model_for


def test_word_tokenizer_knows_corpus_words():
    _, tok = tiny_model_for(["Zara Okafor won the Quill Prize."])
    ids = tok("Zara won the Prize .").input_ids
    assert tok.unk_token_id not in ids
    assert tok("Unseen").input_ids == [tok.unk_token_id]
