"""Graph unlearning methods, one file each, in the ``GRAPH_METHODS`` registry."""

from obliviate.graph.methods import d2dgn, gnndelete, grad_ascent, retrain  # noqa: F401  (registers)
from obliviate.graph.methods.base import GRAPH_METHODS, GraphContext, GraphMethod, get_graph_method

__all__ = ["GRAPH_METHODS", "GraphContext", "GraphMethod", "get_graph_method"]
