"""Graphs, their link-prediction split, and deletion requests (edges or nodes).

Real data: Cora and CiteSeer (the Planetoid release), loaded by PyTorch
Geometric's own ``Planetoid`` class from local files, never downloaded. The
files are found through one setting, ``OBLIVIATE_DATA`` (the folder holding
``planetoid/<Name>/raw/``), and copied once to a writable cache
(``<cache>/planetoid``, where the loader writes ``processed/``).
**Trust the data folder:** the Planetoid raw files (``raw/ind.<name>.*``) are
Python pickles that PyG unpickles, so a raw-data folder can run code when it is
loaded; use only a copy you trust (the published release).

Link prediction follows GNNDelete (Cheng et al., ICLR 2023, arXiv 2302.13406):
the undirected edges (upper triangle, ``u < v``) are split into 90% train,
5% validation and 5% test, each with as many sampled non-edges; message
passing uses the training edges in both directions.

A deletion request names training edges, or nodes (whose incident training
edges go with them). Edges are drawn at random, or *inside* / *outside* the
2-hop enclosing subgraph of the test edges (GNNDelete's harder and easier
settings); anything not in the training graph is refused with a clear error.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from obliviate.core.errors import ConfigError, DataError
from obliviate.core.store import cache_home

DATASETS = ("Cora", "CiteSeer")
DATA_ENV = "OBLIVIATE_DATA"
WHERE = ("random", "in", "out")


def dataset_name(name: str) -> str:
    """``"cora"`` -> ``"Cora"`` (case-insensitive), or a ConfigError listing the choices."""
    for d in DATASETS:
        if d.lower() == name.lower():
            return d
    raise ConfigError(f"unknown graph dataset {name!r}; choose one of {', '.join(DATASETS)}")


def load_planetoid(name: str, data_dir: str | os.PathLike | None = None):
    """The PyG ``Data`` of Cora or CiteSeer, loaded offline.

    Args:
        name: ``cora`` or ``citeseer``.
        data_dir: the folder holding ``planetoid/<Name>/raw/`` (default: ``$OBLIVIATE_DATA``).

    Raises:
        DataError: the raw files are not there, naming the setting to use.
    """
    # deferred: loads torch_geometric
    from torch_geometric.datasets import Planetoid

    name = dataset_name(name)
    root = cache_home() / "planetoid"
    raw = root / name / "raw"
    source = data_dir or os.environ.get(DATA_ENV)
    if source:
        src = Path(source) / "planetoid" / name / "raw"
        if not src.is_dir():
            raise DataError(f"{src}: no {name} files here; {DATA_ENV} (or --data-dir) must be the folder that "
                            f"holds planetoid/{name}/raw/ (e.g. the project's ../shared/data)")
        if not raw.is_dir():
            tmp = root / f".{name}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src, tmp / "raw")
            os.replace(tmp, root / name)
    elif not raw.is_dir():
        raise DataError(f"the {name} files are not available offline: set {DATA_ENV} (or pass --data-dir) to the "
                        f"folder that holds planetoid/{name}/raw/ (ind.{name.lower()}.x, ...)")
    return Planetoid(str(root), name)[0]


@dataclass
class Graph:
    """A node-feature graph with its link split and node labels.

    Attributes:
        x: node features (N, F).
        y: node labels (N,).
        train: training edges, upper triangle (2, E); message passing uses both directions.
        val, test: held-out positive edges (2, *); ``val_neg``, ``test_neg``: as many non-edges.
        node_train, node_test: node-classification masks (N,).
        name: where it came from.
    """

    x: torch.Tensor
    y: torch.Tensor
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    val_neg: torch.Tensor
    test_neg: torch.Tensor
    node_train: torch.Tensor
    node_test: torch.Tensor
    name: str = "graph"

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.y.max()) + 1

    def message_edges(self, train: torch.Tensor | None = None) -> torch.Tensor:
        """Both directions of ``train`` (default: all training edges): the message-passing graph."""
        e = self.train if train is None else train
        return torch.cat([e, e.flip(0)], dim=1)


def _upper(edge_index: torch.Tensor) -> torch.Tensor:
    """Unique undirected edges as ``u < v`` columns, sorted."""
    e = edge_index[:, edge_index[0] != edge_index[1]]
    e = torch.stack([e.min(0).values, e.max(0).values])
    return torch.unique(e, dim=1)


def _non_edges(n: int, k: int, forbidden: set[tuple[int, int]], gen: torch.Generator) -> torch.Tensor:
    out: list[tuple[int, int]] = []
    seen = set(forbidden)
    while len(out) < k:
        cand = torch.randint(0, n, (2, 2 * (k - len(out)) + 8), generator=gen)
        for u, v in cand.t().tolist():
            a, b = min(u, v), max(u, v)
            if a != b and (a, b) not in seen:
                seen.add((a, b))
                out.append((a, b))
                if len(out) == k:
                    break
    return torch.tensor(out, dtype=torch.long).t().reshape(2, k)


def make_graph(x, y, edge_index, *, seed: int = 0, val: float = 0.05, test: float = 0.05,
               node_train: torch.Tensor | None = None, node_test: torch.Tensor | None = None,
               name: str = "graph") -> Graph:
    """Split a graph's undirected edges into train / val / test (with sampled non-edges), seeded.

    ``node_train``/``node_test`` default to a seeded 80/20 split of the nodes.
    """
    edges = _upper(edge_index)
    if edges.shape[1] < 20:
        raise DataError(f"{name}: {edges.shape[1]} undirected edges are too few to split (need 20)")
    gen = torch.Generator().manual_seed(seed)
    perm = edges[:, torch.randperm(edges.shape[1], generator=gen)]
    n_val, n_test = max(1, int(val * perm.shape[1])), max(1, int(test * perm.shape[1]))
    va, te, tr = perm[:, :n_val], perm[:, n_val:n_val + n_test], perm[:, n_val + n_test:]
    all_edges = {tuple(e) for e in edges.t().tolist()}
    n = int(x.shape[0])
    neg = _non_edges(n, n_val + n_test, all_edges, gen)
    if node_train is None or node_test is None:
        order = torch.randperm(n, generator=gen)
        node_train = torch.zeros(n, dtype=torch.bool)
        node_train[order[: int(0.8 * n)]] = True
        node_test = ~node_train
    return Graph(x.float(), y.long(), tr, va, te, neg[:, :n_val], neg[:, n_val:], node_train.bool(),
                 node_test.bool(), name)


def planetoid_graph(name: str, seed: int = 0, data_dir: str | os.PathLike | None = None) -> Graph:
    """Cora or CiteSeer with GNNDelete's 90/5/5 edge split (seeded), Planetoid's node masks, and node features
    row-normalised to sum 1 as GNNDelete's code loads them (PyG's ``NormalizeFeatures``)."""
    # deferred: loads torch_geometric
    from torch_geometric.transforms import NormalizeFeatures

    data = NormalizeFeatures()(load_planetoid(name, data_dir))
    train_nodes = data.train_mask | data.val_mask
    return make_graph(data.x, data.y, data.edge_index, seed=seed, node_train=train_nodes, node_test=data.test_mask,
                      name=dataset_name(name))


@dataclass
class Deletion:
    """What to delete: ``edges`` (2, k) upper-triangle training edges, ``nodes`` (for node deletion,
    with their incident edges in ``edges``), and ``retain`` = the training edges that stay."""

    kind: str
    edges: torch.Tensor
    nodes: torch.Tensor
    retain: torch.Tensor


def two_hop_nodes(g: Graph, seeds: torch.Tensor) -> torch.Tensor:
    """Nodes within 2 hops of ``seeds`` in the training graph (bool mask, seeds included)."""
    # deferred: loads torch_geometric
    from torch_geometric.utils import k_hop_subgraph

    subset, _, _, _ = k_hop_subgraph(seeds.unique(), 2, g.message_edges(), num_nodes=g.num_nodes)
    mask = torch.zeros(g.num_nodes, dtype=torch.bool)
    mask[subset] = True
    return mask


def _retained(g: Graph, drop: torch.Tensor) -> torch.Tensor:
    return g.train[:, ~drop]


def delete_edges(g: Graph, edges) -> Deletion:
    """A request to delete these training edges (any direction); refuses edges not in the training graph."""
    e = torch.as_tensor(edges, dtype=torch.long).reshape(2, -1) if not torch.is_tensor(edges) else edges.long()
    if e.numel() == 0:
        raise DataError("a deletion request must name at least one edge")
    if int(e.min()) < 0 or int(e.max()) >= g.num_nodes:
        raise DataError(f"edge endpoint out of range: {g.name} has nodes 0..{g.num_nodes - 1}")
    e = torch.stack([e.min(0).values, e.max(0).values])
    index = {tuple(c): i for i, c in enumerate(g.train.t().tolist())}
    drop = torch.zeros(g.train.shape[1], dtype=torch.bool)
    for u, v in e.t().tolist():
        i = index.get((u, v))
        if i is None:
            raise DataError(f"edge ({u}, {v}) is not a training edge of {g.name}; only trained edges can be deleted")
        drop[i] = True
    return Deletion("edge", g.train[:, drop], torch.zeros(0, dtype=torch.long), _retained(g, drop))


def delete_nodes(g: Graph, nodes) -> Deletion:
    """A request to delete these nodes and every training edge touching them."""
    nodes = torch.as_tensor(nodes, dtype=torch.long).reshape(-1).unique()
    if nodes.numel() == 0:
        raise DataError("a deletion request must name at least one node")
    if int(nodes.min()) < 0 or int(nodes.max()) >= g.num_nodes:
        bad = [int(v) for v in nodes if not 0 <= int(v) < g.num_nodes][:5]
        raise DataError(f"node(s) {bad} do not exist: {g.name} has nodes 0..{g.num_nodes - 1}")
    gone = torch.zeros(g.num_nodes, dtype=torch.bool)
    gone[nodes] = True
    drop = gone[g.train[0]] | gone[g.train[1]]
    if not drop.any():
        raise DataError("the nodes to delete have no training edge: there is nothing to unlearn")
    return Deletion("node", g.train[:, drop], nodes, _retained(g, drop))


def sample_deletion(g: Graph, kind: str = "edge", fraction: float = 0.005, where: str = "random",
                    seed: int = 0) -> Deletion:
    """Draw a deletion request, seeded.

    Args:
        kind: ``edge`` (a share of training edges) or ``node`` (nodes, with their edges).
        fraction: share of training edges (edge) or of nodes (node) to delete; GNNDelete uses 0.5-5% of edges.
        where: for edges, ``random``, ``in`` or ``out`` of the 2-hop enclosing subgraph of the test edges.
        seed: the draw's seed.
    """
    if not 0 < fraction < 0.5:
        raise ConfigError(f"deletion fraction must be in (0, 0.5), got {fraction}")
    if where not in WHERE:
        raise ConfigError(f"where must be one of {', '.join(WHERE)}, got {where!r}")
    gen = torch.Generator().manual_seed(seed)
    if kind == "node":
        candidates = torch.unique(g.train)
        k = max(1, round(fraction * g.num_nodes))
        return delete_nodes(g, candidates[torch.randperm(len(candidates), generator=gen)[:k]])
    if kind != "edge":
        raise ConfigError(f"deletion kind must be edge or node, got {kind!r}")
    pool = torch.arange(g.train.shape[1])
    if where != "random":
        near = two_hop_nodes(g, g.test.reshape(-1))
        inside = near[g.train[0]] & near[g.train[1]]
        pool = pool[inside] if where == "in" else pool[~inside]
    k = max(1, round(fraction * g.train.shape[1]))
    if len(pool) < k:
        raise DataError(f"only {len(pool)} training edges lie {where} the test edges' 2-hop subgraph; "
                        f"{k} were asked for")
    pick = pool[torch.randperm(len(pool), generator=gen)[:k]]
    return delete_edges(g, g.train[:, pick])
