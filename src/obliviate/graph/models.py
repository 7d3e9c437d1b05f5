"""GNN backbones (PyTorch Geometric's GCN, GAT and GIN layers) with link and node heads.

As in GNNDelete (Cheng et al., ICLR 2023, arXiv 2302.13406): two message-passing
layers (hidden 128, output 64, ReLU between), a dot-product link decoder
``s(u, v) = z_u . z_v`` and, for node classification, a linear head on ``z``.
``forward`` can hand each layer's output to a ``transform(layer, h)`` before the
next layer (GNNDelete's deletion operator plugs in there) and can return every
layer's output (D2DGN distils them).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from obliviate.core.errors import ConfigError

BACKBONES = ("gcn", "gat", "gin")


def _conv(kind: str, d_in: int, d_out: int):
    # deferred: loads torch_geometric
    from torch_geometric.nn import GATConv, GCNConv, GINConv

    if kind == "gcn":
        return GCNConv(d_in, d_out)
    if kind == "gat":
        return GATConv(d_in, d_out, heads=1)
    mlp = torch.nn.Sequential(torch.nn.Linear(d_in, d_out), torch.nn.ReLU(), torch.nn.Linear(d_out, d_out))
    return GINConv(mlp)


class GNN(torch.nn.Module):
    """A 2-layer GNN encoder with a link decoder and a node-classification head.

    Args:
        kind: ``gcn``, ``gat`` or ``gin``.
        in_dim: node feature width.
        num_classes: classes of the node head.
        hidden, out: layer widths (GNNDelete: 128, 64).
        seed: initialisation seed.
    """

    def __init__(self, kind: str, in_dim: int, num_classes: int, hidden: int = 128, out: int = 64,
                 seed: int = 0) -> None:
        super().__init__()
        if kind not in BACKBONES:
            raise ConfigError(f"unknown GNN backbone {kind!r}; choose one of {', '.join(BACKBONES)}")
        self.kind, self.dims = kind, (in_dim, hidden, out)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.convs = torch.nn.ModuleList([_conv(kind, in_dim, hidden), _conv(kind, hidden, out)])
            self.head = torch.nn.Linear(out, num_classes)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, *,
                transform: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
                all_layers: bool = False):
        """Node embeddings ``z`` (N, out), or every layer's output with ``all_layers``."""
        hs = []
        h = x
        for i, conv in enumerate(self.convs):
            h = conv(h, edge_index)
            if transform is not None:
                h = transform(i, h)
            hs.append(h)
            if i < len(self.convs) - 1:
                h = torch.relu(h)
        return hs if all_layers else hs[-1]

    @staticmethod
    def link_logits(z: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        """``z_u . z_v`` for each column ``(u, v)`` of ``pairs``."""
        return (z[pairs[0]] * z[pairs[1]]).sum(-1)

    def node_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(z)

    def fresh(self, seed: int) -> GNN:
        """An untrained model of the same shape (D2DGN's destroyer, Retrain's start)."""
        return GNN(self.kind, self.dims[0], self.head.out_features, self.dims[1], self.dims[2], seed=seed)
