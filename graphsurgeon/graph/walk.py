"""Walking a graph by name: the nodes a set of nodes needs.

``GraphView`` (graph/view.py) is the fast path for whole-graph reachability over positions and
edge kinds; ``ancestors`` is the plain walk over a name -> NodeDef mapping that rewrites use on
graphs they are still building, function bodies, or a few roots of a large graph. The other loops
in the package walk something else or stop on their own rule, so they stay where they are: the
function call graph (graph/functions.py), consumers forward with an early exit (surgery's cycle
check, the freezer's write-after-read check), reference counts (the NVIDIA API's exclusive
dependencies), and training-scope descendants (summary.py).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping

from graphsurgeon._proto import node_def_pb2
from graphsurgeon.graph.names import node_name


def ancestors(nodes: Mapping[str, node_def_pb2.NodeDef], roots: Iterable[str],
              stop: Container[str] = ()) -> list[str]:
    """Every node ``roots`` reach through data and control inputs, ``roots`` included, depth first in
    discovery order. A node in ``stop`` is included but its inputs are not followed (a fed tensor);
    names not in ``nodes`` (and inputs that point outside it) are skipped. ``roots`` may be tensor
    names (``"a:1"``, ``"^a"``)."""
    seen: dict[str, None] = {}
    stack = [node_name(r) for r in roots]
    while stack:
        name = stack.pop()
        if name in seen or name not in nodes:
            continue
        seen[name] = None
        if name not in stop:
            stack.extend(node_name(i) for i in nodes[name].input)
    return list(seen)
