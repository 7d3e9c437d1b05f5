"""A Cora-like toy graph built in the test."""

import torch

from obliviate.graph.data import make_graph


def two_communities(n: int = 100, words: int = 300, seed: int = 0):
    """A Cora-like toy: two communities (edge probability 0.08 inside, 0.003 across) and sparse binary
    bag-of-words features, each community using its half of the vocabulary four times as often."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(2 * n) // n
    p = torch.where(y[:, None] == y[None, :], 0.08, 0.003)
    adj = torch.triu(torch.rand(2 * n, 2 * n, generator=gen) < p, 1)
    rate = torch.where((torch.arange(words)[None, :] // (words // 2)) == y[:, None], 0.04, 0.01)
    x = (torch.rand(2 * n, words, generator=gen) < rate).float()
    return make_graph(x, y, adj.nonzero().t(), seed=seed, name="two-communities")
