"""Graphs and deletion requests (``obliviate.graph.data``): the split, sampled and named requests, and requests
that name nothing real."""

import pytest
import torch

from obliviate.core.errors import ConfigError, DataError
from obliviate.graph.data import delete_edges, delete_nodes, load_planetoid, sample_deletion, two_hop_nodes


def test_split_and_requests(graph):
    assert graph.train.shape[1] > 500 and (graph.train[0] < graph.train[1]).all()
    every = {tuple(e) for e in graph.train.t().tolist()} | {tuple(e) for e in graph.test.t().tolist()}
    assert not every & {tuple(e) for e in graph.test_neg.t().tolist()}  # negatives are non-edges
    d = sample_deletion(graph, "edge", 0.05, "random", seed=1)
    assert d.edges.shape[1] == round(0.05 * graph.train.shape[1])
    assert d.retain.shape[1] + d.edges.shape[1] == graph.train.shape[1]
    kept = {tuple(e) for e in d.retain.t().tolist()}
    assert not kept & {tuple(e) for e in d.edges.t().tolist()}
    assert torch.equal(sample_deletion(graph, "edge", 0.05, "random", seed=1).edges, d.edges)  # seeded
    mask = two_hop_nodes(graph, graph.test.reshape(-1))
    inside = sample_deletion(graph, "edge", 0.05, "in", seed=0).edges
    assert (mask[inside[0]] & mask[inside[1]]).all()
    n = delete_nodes(graph, [3, 170])
    assert ((n.edges == 3) | (n.edges == 170)).any(0).all() and not ((n.retain == 3) | (n.retain == 170)).any()
    u, v = graph.train[:, 0].tolist()
    assert delete_edges(graph, [[v], [u]]).edges.tolist() == [[u], [v]]  # either direction


def test_requests_naming_nothing_real_are_refused(graph, tmp_path):
    with pytest.raises(DataError, match="not a training edge"):
        delete_edges(graph, graph.test[:, :1])
    with pytest.raises(DataError, match="out of range"):
        delete_edges(graph, [[0], [10_000]])
    with pytest.raises(DataError, match="do not exist"):
        delete_nodes(graph, [5, 999])
    with pytest.raises(ConfigError, match="fraction"):
        sample_deletion(graph, "edge", 0.9)
    with pytest.raises(ConfigError, match="unknown graph dataset"):
        load_planetoid("pubmed")
    with pytest.raises(DataError, match="OBLIVIATE_DATA"):
        load_planetoid("cora", data_dir=tmp_path)
