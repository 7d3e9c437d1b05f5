"""Graph unlearning: delete edges or nodes from a trained GNN and measure that they are gone.

``data`` (Cora/CiteSeer offline, link split, deletion requests), ``models`` (GCN, GAT,
GIN via PyTorch Geometric), ``train`` (full-batch objectives through the one Trainer),
``metrics`` (utility, deleted-edge AUC, MI ratio) and ``methods`` (one file each).
"""
