"""GraphView: a networkx DiGraph of a GraphDef's data, control and colocation edges.

The view is read-only and built in bulk: one pass over ``graph_def.node`` collects names, parsed
inputs and colocation targets; the networkx graph is then made from whole edge lists at once.
Edges always point from the node that is referenced to the node that references it (producer
-> consumer, colocation target -> colocated node), and carry ``kind`` = ``"data"``,
``"control"`` or ``"colocation"``. When one pair of nodes has more than one kind of edge, the
networkx edge keeps the strongest (data > control > colocation); the per-kind queries
(:meth:`GraphView.producers`, :meth:`GraphView.consumers`, :meth:`GraphView.ancestors`) are exact.

Typical use::

    view = GraphView(graph_def)
    view.ancestors(["logits"])          # what logits needs (itself included)
    view.why("conv1/weights", ["logits"])  # ['conv1/weights', 'conv1/Conv2D', ..., 'logits']
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import logging
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType

import networkx as nx

from graphsurgeon._proto import graph_pb2, node_def_pb2
from graphsurgeon.errors import GraphSurgeonError, InvalidGraphError
from graphsurgeon.graph.names import TensorRef, close_matches, format_input, not_found, parse_input, parse_inputs

log = logging.getLogger(__name__)

DATA = "data"
CONTROL = "control"
COLOCATION = "colocation"
EDGE_KINDS = (DATA, CONTROL, COLOCATION)

#: Ops whose output feeds a while loop's Merge from the previous iteration (the loop's back edge).
NEXT_ITERATION_OPS = frozenset({"NextIteration", "RefNextIteration"})

# One read-only edge-attr mapping a kind, shared by all edges of that kind (see _bulk_digraph).
_EDGE_ATTRS = {kind: MappingProxyType({"kind": kind}) for kind in EDGE_KINDS}

_COLOCATION_ATTR = "_class"
_COLOCATION_PREFIX = b"loc:@"


def colocation_targets(node_def: node_def_pb2.NodeDef) -> list[str]:
    """The node names in ``node_def``'s ``_class: ["loc:@x", ...]`` attr (colocation constraints)."""
    if _COLOCATION_ATTR not in node_def.attr:
        return []
    out = []
    for entry in node_def.attr[_COLOCATION_ATTR].list.s:
        if entry.startswith(_COLOCATION_PREFIX):
            out.append(entry[len(_COLOCATION_PREFIX):].decode("utf-8", "replace"))
    return out


class GraphView:
    """A read-only networkx view of a GraphDef.

    Args:
        graph_def: the graph. It is not copied and must not be changed while the view is used.
        allow_dangling: when False (default), an input that names a node missing from the graph
            raises ``InvalidGraphError``; when True such inputs are recorded in :attr:`dangling`
            and get no edge (useful for graphs whose upper part was cut away).

    Raises:
        InvalidGraphError: for duplicate node names, and for dangling inputs unless allowed.
            Colocation attrs that name missing nodes are never an error (they are listed in
            :attr:`dangling_colocation`).
    """

    def __init__(self, graph_def: graph_pb2.GraphDef, *, allow_dangling: bool = False) -> None:
        with _gc_paused():
            self._build(graph_def, allow_dangling)

    def _build(self, graph_def: graph_pb2.GraphDef, allow_dangling: bool) -> None:
        self._graph_def = graph_def
        nodes = graph_def.node
        names: list[str] = []
        inputs: list[tuple[TensorRef, ...]] = []
        colocated: dict[str, list[str]] = {}
        append_name, append_inputs = names.append, inputs.append
        parse = parse_inputs
        # One pass over the protobuf: attribute access on NodeDef is the expensive part.
        for node in nodes:
            name = node.name
            append_name(name)
            raw = node.input
            append_inputs(parse(raw) if raw else ())
            if _COLOCATION_ATTR in node.attr:
                targets = colocation_targets(node)
                if targets:
                    colocated[name] = targets
        index = {name: i for i, name in enumerate(names)}
        if len(index) != len(names):
            dups = sorted(n for n, c in Counter(names).items() if c > 1)
            shown = ", ".join(f"'{n}'" for n in dups[:5]) + (f" and {len(dups) - 5} more" if len(dups) > 5 else "")
            raise InvalidGraphError(
                f"graph has duplicate node names: {shown}; every node needs a unique name "
                "(was the same graph imported twice without a name scope?)")
        self._names = names
        self._index = index
        self._inputs = dict(zip(names, inputs))

        graph, dangling, dangling_colocation = _bulk_digraph(names, inputs, colocated)
        if dangling and not allow_dangling:
            node, missing = dangling[0]
            missing_node = parse_input(missing).node
            matches = close_matches(missing_node, names)
            msg = f"node '{node}' has input '{missing}', but the graph has no node '{missing_node}'"
            if matches:
                msg += "; did you mean " + ", ".join(f"'{m}'" for m in matches) + "?"
            if len(dangling) > 1:
                msg += f" ({len(dangling) - 1} more dangling input(s))"
            msg += "; restore the missing node or remove/rewire the input"
            raise InvalidGraphError(msg)
        self._graph = graph
        self.dangling: list[tuple[str, str]] = dangling
        """(node, input) pairs whose input names a missing node (only with ``allow_dangling``)."""
        self.dangling_colocation: list[tuple[str, str]] = dangling_colocation
        """(node, target) pairs whose ``loc:@target`` names a missing node."""
        self._colocated = colocated
        self._consumers: dict[str, list[tuple[str, TensorRef]]] | None = None

    # --- basic lookups -------------------------------------------------------------------------

    @property
    def graph_def(self) -> graph_pb2.GraphDef:
        """The GraphDef this view was built from."""
        return self._graph_def

    @property
    def graph(self) -> nx.DiGraph:
        """The networkx DiGraph (nodes = node names; edge attr ``kind``).

        Read-only: edge attrs are shared read-only mappings; ``view.graph.copy()`` to change it.
        """
        return self._graph

    @property
    def names(self) -> list[str]:
        """Node names in the graph's order."""
        return self._names

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and parse_input(name).node in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def resolve(self, name: str, kind: str = "node") -> str:
        """The node a node name, tensor name (``a:1``) or control name (``^a``) refers to.

        Raises ``NodeNotFoundError`` with close matches and a hint to run ``gs inspect``.
        """
        node = parse_input(name).node
        if node not in self._index:
            # Close matches are looked up by node name ("mm" for "mn:0"); the message shows the name as given.
            err = not_found(kind, node, self._names)
            raise type(err)(str(err).replace(f"{kind} '{node}'", f"{kind} '{name}'", 1))
        return node

    def node(self, name: str) -> node_def_pb2.NodeDef:
        """The NodeDef for a node (or tensor) name; ``NodeNotFoundError`` if there is none."""
        return self._graph_def.node[self._index[self.resolve(name)]]

    def index(self, name: str) -> int:
        """The position of a node in ``graph_def.node``."""
        return self._index[self.resolve(name)]

    def inputs(self, name: str) -> tuple[TensorRef, ...]:
        """A node's inputs, parsed, in NodeDef order (data and control)."""
        return self._inputs[self.resolve(name)]

    def colocated_with(self, name: str) -> list[str]:
        """The nodes named by a node's ``_class: loc:@x`` attr (including missing ones)."""
        return list(self._colocated.get(self.resolve(name), ()))

    # --- neighbours ----------------------------------------------------------------------------

    def producers(self, name: str, kinds: Iterable[str] = (DATA, CONTROL)) -> list[str]:
        """The nodes that ``name`` takes inputs from, in input order, without repeats.

        ``name`` may be a node or tensor name; ``kinds`` selects data, control and/or
        colocation edges (colocation targets come after the inputs). Missing producers (dangling
        inputs) are left out.
        """
        kinds = _check_kinds(kinds)
        node = self.resolve(name)
        out: dict[str, None] = {}
        for ref in self._inputs[node]:
            if (CONTROL if ref.is_control else DATA) in kinds and ref.node in self._index:
                out[ref.node] = None
        if COLOCATION in kinds:
            for target in self._colocated.get(node, ()):
                if target in self._index:
                    out[target] = None
        return list(out)

    def consumers(self, name: str, kinds: Iterable[str] = (DATA, CONTROL)) -> list[str]:
        """The nodes that use ``name``, in graph order, without repeats.

        With a tensor name (``a:1``), only nodes that take that very tensor as a data input
        (control and colocation edges do not carry a tensor). With a node name (``a``), nodes
        that take any output of it, control-depend on it (``^a``), or are colocated with it,
        as ``kinds`` selects.
        """
        kinds = _check_kinds(kinds)
        ref = parse_input(name)
        node = self.resolve(name)
        tensor = None if ref.is_control or ":" not in name else ref.index
        if self._consumers is None:
            consumers: dict[str, list[tuple[str, TensorRef]]] = {}
            for consumer, refs in self._inputs.items():
                for r in refs:
                    consumers.setdefault(r.node, []).append((consumer, r))
            self._consumers = consumers
        out: dict[str, None] = {}
        for consumer, r in self._consumers.get(node, ()):
            if tensor is not None:
                if not r.is_control and r.index == tensor:
                    out[consumer] = None
            elif (CONTROL if r.is_control else DATA) in kinds:
                out[consumer] = None
        if tensor is None and COLOCATION in kinds:
            for colocated_node in self._graph.successors(node):
                if node in self._colocated.get(colocated_node, ()):
                    out[colocated_node] = None
        return sorted(out, key=self._index.__getitem__)

    # --- reachability --------------------------------------------------------------------------

    def ancestors(self, nodes: Iterable[str], kinds: Iterable[str] = (DATA, CONTROL)) -> set[str]:
        """The given nodes and every node they depend on through ``kinds`` edges.

        Names may be node or tensor names. Unlike ``networkx.ancestors`` the start nodes are
        included (they are what "keep these outputs" keeps). Dangling inputs are skipped.
        """
        kinds = _check_kinds(kinds)
        start = [self.resolve(n, "output") for n in nodes]
        return self._reach(start, kinds)

    def _reach(self, start: Iterable[str], kinds: frozenset[str]) -> set[str]:
        use_data, use_control, use_coloc = DATA in kinds, CONTROL in kinds, COLOCATION in kinds
        inputs, index, colocated = self._inputs, self._index, self._colocated
        seen = set(start)
        stack = list(seen)
        pop, push, add = stack.pop, stack.append, seen.add
        while stack:
            for ref in inputs[pop()]:
                src = ref.node
                if src in seen or src not in index:
                    continue
                if use_control if ref.is_control else use_data:
                    add(src)
                    push(src)
        if use_coloc:
            # Iterate to a fixed point: colocation targets can have inputs of their own.
            frontier = [t for n in seen for t in colocated.get(n, ()) if t in index and t not in seen]
            while frontier:
                new = self._reach(frontier, kinds - {COLOCATION}) - seen
                seen |= new
                frontier = [t for n in new for t in colocated.get(n, ()) if t in index and t not in seen]
        return seen

    def why(self, node: str, outputs: Iterable[str]) -> list[str]:
        """One shortest chain of data/control edges from ``node`` to one of ``outputs``.

        Returns node names ``[node, consumer, ..., output]`` (just ``[node]`` when ``node`` is
        itself an output). Raises ``NodeNotFoundError`` for unknown names and
        ``GraphSurgeonError`` when no output depends on ``node`` (it would be pruned).
        """
        target = self.resolve(node)
        outs = list(dict.fromkeys(self.resolve(o, "output") for o in outputs))
        if not outs:
            raise GraphSurgeonError("why needs at least one output")
        parent: dict[str, str | None] = {o: None for o in outs}
        queue = deque(outs)
        inputs, index = self._inputs, self._index
        while queue and target not in parent:
            current = queue.popleft()
            for ref in inputs[current]:
                src = ref.node
                if src not in parent and src in index:
                    parent[src] = current
                    queue.append(src)
        if target not in parent:
            shown = ", ".join(f"'{o}'" for o in outs[:5])
            raise GraphSurgeonError(
                f"node '{target}' is not kept for outputs {shown}: none of them depends on it "
                "through data or control inputs, so prune would remove it")
        path = [target]
        step = parent[target]
        while step is not None:
            path.append(step)
            step = parent[step]
        return path

    # --- order ---------------------------------------------------------------------------------

    def back_edges(self) -> list[tuple[str, str]]:
        """While-loop back edges (``NextIteration`` -> ``Merge``), as (producer, consumer) pairs."""
        loop_ops = [n.name for n in self._graph_def.node if n.op in NEXT_ITERATION_OPS]
        return [(src, dst) for src in loop_ops for dst in self._graph.successors(src)
                if self._graph.edges[src, dst]["kind"] != COLOCATION]

    def topological_order(self) -> list[str]:
        """All node names, every producer before its consumers, ties kept in graph order.

        Colocation edges are ignored, and so are while-loop back edges (``NextIteration`` ->
        ``Merge``), so a graph with v1 while loops has an order. Raises ``InvalidGraphError``
        naming the nodes of any other cycle.
        """
        index = self._index
        back = set(self.back_edges())
        indegree = dict.fromkeys(self._names, 0)
        succ: dict[str, list[str]] = {}
        for dst, refs in self._inputs.items():
            for src in dict.fromkeys(r.node for r in refs):
                if src in index and (src, dst) not in back:
                    indegree[dst] += 1
                    succ.setdefault(src, []).append(dst)
        heap = [index[n] for n, d in indegree.items() if d == 0]
        heapq.heapify(heap)
        names = self._names
        order: list[str] = []
        while heap:
            name = names[heapq.heappop(heap)]
            order.append(name)
            for dst in succ.get(name, ()):
                indegree[dst] -= 1
                if indegree[dst] == 0:
                    heapq.heappush(heap, index[dst])
        if len(order) != len(names):
            left = {n for n, d in indegree.items() if d > 0}
            cycle = nx.find_cycle(self._graph.subgraph(left).edge_subgraph(
                [(s, d) for s, d in self._graph.subgraph(left).edges if (s, d) not in back
                 and self._graph.edges[s, d]["kind"] != COLOCATION]))
            shown = " -> ".join(f"'{s}'" for s, _ in cycle[:8]) + (" -> ..." if len(cycle) > 8 else "")
            raise InvalidGraphError(
                f"graph has a cycle that is not a while loop's NextIteration back edge: {shown} -> "
                f"'{cycle[0][0]}'; a GraphDef's nodes must form a DAG apart from while loops")
        return order


def _bulk_digraph(names: list[str], inputs: list[tuple[TensorRef, ...]], colocated: dict[str, list[str]],
                  ) -> tuple[nx.DiGraph, list[tuple[str, str]], list[tuple[str, str]]]:
    """The DiGraph of a graph's nodes (in order) and edges, plus its dangling inputs and colocations.

    The result equals ``add_nodes_from(names)`` followed by ``add_edges_from(pairs, kind=...)``
    for colocation, control and data edges in that order (the strongest kind wins), but the
    adjacency dicts are filled directly and every edge of a kind shares one read-only attr
    mapping: ``add_edges_from`` spends ~1.5 us an edge on checks that cannot fail here and on a
    new dict per edge, which dominated building the view of a million-node graph. The test
    suite compares the result with the public construction, so a networkx change that breaks
    this shows up there. ``graph.copy()`` gives ordinary, writable edge dicts.
    """
    succ: dict[str, dict[str, Mapping[str, str]]] = {n: {} for n in names}
    pred: dict[str, dict[str, Mapping[str, str]]] = {}
    dangling: list[tuple[str, str]] = []
    data, control = _EDGE_ATTRS[DATA], _EDGE_ATTRS[CONTROL]
    for name, refs in zip(names, inputs):
        node_pred: dict[str, Mapping[str, str]] = {}
        pred[name] = node_pred
        for ref in refs:
            src, _, is_control = ref
            src_succ = succ.get(src)
            if src_succ is None:
                dangling.append((name, format_input(ref)))
            elif not is_control:
                node_pred[src] = src_succ[name] = data
            elif src not in node_pred:
                node_pred[src] = src_succ[name] = control
    dangling_colocation: list[tuple[str, str]] = []
    for name, targets in colocated.items():
        for target in targets:
            if target not in succ:
                dangling_colocation.append((name, target))
            elif target not in pred[name]:
                pred[name][target] = succ[target][name] = _EDGE_ATTRS[COLOCATION]
    graph = nx.DiGraph()
    graph._node = {n: {} for n in names}
    graph._adj = succ  # DiGraph's _adj setter also sets _succ and resets the cached views
    graph._pred = pred
    return graph, dangling, dangling_colocation


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pauses the cyclic garbage collector while millions of small tuples and dicts are made.

    Those allocations trigger repeated full collections that find nothing (the objects are all
    alive) and cost about as much as the work itself on large graphs.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_kinds(kinds: Iterable[str]) -> frozenset[str]:
    out = frozenset([kinds] if isinstance(kinds, str) else kinds)
    unknown = out - set(EDGE_KINDS)
    if unknown:
        raise ValueError(f"unknown edge kind(s) {sorted(unknown)}; use {EDGE_KINDS}")
    return out
