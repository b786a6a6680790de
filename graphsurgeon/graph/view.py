"""GraphView: a networkx DiGraph of a GraphDef's data and control edges.

PLACEHOLDER: lands with the prune issue.
"""

from __future__ import annotations


class GraphView:
    def __init__(self, graph_def) -> None:  # noqa: ANN001
        raise NotImplementedError
