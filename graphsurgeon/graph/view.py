"""GraphView: a read-only view of a GraphDef's data, control and colocation edges, with networkx.

The view is built in bulk: one pass over ``graph_def.node`` collects the node names, their
inputs and colocation targets into flat lists indexed by node position, and every query
(producers, consumers, ancestors, why, topological order) runs on those. ``view.graph`` is the
same graph as a networkx ``DiGraph``, made in bulk from the lists the first time it is asked for
(so code that needs only reachability, such as ``prune``, never pays for it).

Edges point from the node that is referenced to the node that references it (producer ->
consumer, colocation target -> colocated node) and carry ``kind`` = ``"data"``, ``"control"``
or ``"colocation"``. When one pair of nodes has more than one kind of edge, the networkx edge
keeps the strongest (data > control > colocation); the per-kind queries are exact.

Typical use::

    view = GraphView(graph_def)
    view.ancestors(["logits"])               # what logits needs (itself included)
    view.why("conv1/weights", ["logits"])    # ['conv1/weights', 'conv1/Conv2D', ..., 'logits']
    nx.dag_longest_path(view.graph)          # any networkx algorithm
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import logging
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import compress, repeat
from operator import contains
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # networkx is imported on first use: it is a third of `gs`'s start-up time
    import networkx as nx

from graphsurgeon._proto import graph_pb2, node_def_pb2
from graphsurgeon.errors import GraphSurgeonError, InvalidGraphError, close_matches, listed, not_found
from graphsurgeon.graph.names import (
    TensorRef,
    colocation_target,
    input_nodes,
    parse_input,
    parse_inputs,
)

log = logging.getLogger(__name__)

DATA = "data"
CONTROL = "control"
COLOCATION = "colocation"
EDGE_KINDS = (DATA, CONTROL, COLOCATION)
_DATA_AND_CONTROL = frozenset({DATA, CONTROL})

#: Ops whose output feeds a while loop's Merge from the previous iteration (the loop's back edge).
NEXT_ITERATION_OPS = frozenset({"NextIteration", "RefNextIteration"})


class _SharedAttrs(dict):  # type: ignore[type-arg]
    """A read-only attr dict that many edges (or nodes) of ``view.graph`` share.

    Changing it raises ``TypeError`` (it would change every edge at once); copies of it
    (``copy``, ``deepcopy``, pickling, ``G.copy()``, ``G.reverse()``) are plain dicts.
    """

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> None:
        raise TypeError("view.graph's attr dicts are shared and read-only; change a view.graph.copy()")

    __setitem__ = __delitem__ = __ior__ = _read_only  # type: ignore[assignment]
    update = setdefault = pop = popitem = clear = _read_only  # type: ignore[assignment]

    def __copy__(self) -> dict[str, object]:
        return dict(self)

    def __deepcopy__(self, memo: object) -> dict[str, object]:
        return dict(self)

    def __reduce__(self) -> tuple[object, ...]:
        return (dict, (dict(self),))

    def __reduce_ex__(self, protocol: object) -> tuple[object, ...]:
        return self.__reduce__()


def _shared_attrs(**attrs: object) -> _SharedAttrs:
    shared = _SharedAttrs()
    dict.update(shared, attrs)
    return shared


# One read-only edge-attr dict a kind, shared by all edges of that kind (see bulk_digraph).
_EDGE_ATTRS = {kind: _shared_attrs(kind=kind) for kind in EDGE_KINDS}

_COLOCATION_ATTR = "_class"

# The attrs of a node of view.graph until they are asked for (see _NodeAttrs).
_NO_NODE_ATTRS = _shared_attrs()


def colocation_targets(node_def: node_def_pb2.NodeDef) -> list[str]:
    """The node names in ``node_def``'s ``_class: ["loc:@x", ...]`` attr (colocation constraints)."""
    if _COLOCATION_ATTR not in node_def.attr:
        return []
    out = []
    for entry in node_def.attr[_COLOCATION_ATTR].list.s:
        target = colocation_target(entry)
        if target is not None:
            out.append(target)
    return out


class GraphView:
    """A read-only view of a GraphDef's edges; ``view.graph`` is it as a networkx DiGraph.

    Args:
        graph_def: the graph. It is not copied and must not be changed while the view is used.
        allow_dangling: when False (default), an input that names a node missing from the graph
            raises ``InvalidGraphError``; when True such inputs are listed in :attr:`dangling`
            and get no edge (for graphs whose upper part was cut away; ``prune`` checks only the
            nodes it keeps).

    Raises:
        InvalidGraphError: for duplicate node names, and for dangling inputs unless allowed.
            Colocation attrs that name missing nodes are never an error (they are listed in
            :attr:`dangling_colocation`).
    """

    def __init__(self, graph_def: graph_pb2.GraphDef, *, allow_dangling: bool = False) -> None:
        with gc_paused():
            self._build(graph_def)
            if not allow_dangling and self.dangling:
                raise self._dangling_error()

    def _build(self, graph_def: graph_pb2.GraphDef) -> None:
        self._graph_def = graph_def
        names: list[str] = []
        raw_inputs: list[Sequence[str]] = []
        colocated: dict[str, list[str]] = {}
        add_name, add_raw = names.append, raw_inputs.append
        # One pass over the protobuf (attribute access on a NodeDef is the expensive part, and a
        # plain loop with bound appends beats three comprehensions over the nodes). ``input[:]``
        # is the cheapest copy of a repeated string field (cheaper than tuple() or list()).
        for node in graph_def.node:
            name = node.name
            add_name(name)
            add_raw(node.input[:])
            if _COLOCATION_ATTR in node.attr:
                targets = colocation_targets(node)
                if targets:
                    colocated[name] = targets
        # For most nodes the input strings are the producer names already, and are stored once.
        sources = list(map(input_nodes, raw_inputs))
        index = dict(zip(names, range(len(names))))
        if len(index) != len(names):
            dups = sorted(n for n, c in Counter(names).items() if c > 1)
            raise InvalidGraphError(
                f"graph has duplicate node names: {listed(dups)}; every node needs a unique name "
                "(was the same graph imported twice without a name scope?)")
        self._names = names
        self._index = index
        self._raw = raw_inputs        # node position -> its input strings
        self._sources = sources       # node position -> the node each input names (data and control)
        self._colocated = colocated   # node name -> loc:@ targets
        self._parsed: dict[int, tuple[TensorRef, ...]] = {}
        self._dangling: list[tuple[str, str]] | None = None
        self._consumers: dict[str, list[int]] | None = None
        self._graph: nx.DiGraph | None = None

    # --- the tables by node position, for passes that walk them directly (rewrite/prune); read-only

    @property
    def positions(self) -> dict[str, int]:
        """Node name -> its position in the GraphDef."""
        return self._index

    @property
    def raw_inputs(self) -> list[Sequence[str]]:
        """Per position, the node's input strings as written."""
        return self._raw

    @property
    def sources(self) -> list[Sequence[str]]:
        """Per position, the node each input names (data and control inputs, in order)."""
        return self._sources

    @property
    def colocations(self) -> dict[str, list[str]]:
        """Node name -> its ``loc:@`` targets, for the nodes that have any."""
        return self._colocated

    def input_refs(self, i: int) -> tuple[TensorRef, ...]:
        """The inputs of the node at position ``i``, parsed (cached)."""
        refs = self._parsed.get(i)
        if refs is None:
            refs = self._parsed[i] = parse_inputs(self._raw[i])
        return refs

    # --- basic lookups -------------------------------------------------------------------------

    @property
    def graph_def(self) -> graph_pb2.GraphDef:
        """The GraphDef this view was built from."""
        return self._graph_def

    @property
    def graph(self) -> nx.DiGraph:
        """The networkx DiGraph: nodes = node names in graph order; edge attr ``kind``.

        Built in bulk on first use, and a plain ``networkx.DiGraph``: nodes and edges can be
        added and removed, and node attrs set (``view.graph.nodes[n]["x"] = 1``, ``add_node``,
        ``set_node_attributes``), but the attr dicts of the edges it was built with are shared
        and read-only (setting one raises ``TypeError``); ``view.graph.copy()``, ``deepcopy``
        and pickling give plain dicts everywhere. Changing the graph does not change the view.
        """
        if self._graph is None:
            with gc_paused():
                self._graph = bulk_digraph(self)
        return self._graph

    @property
    def names(self) -> list[str]:
        """Node names in the graph's order."""
        return self._names

    @property
    def dangling(self) -> list[tuple[str, str]]:
        """(node, input) pairs whose input names a node missing from the graph."""
        if self._dangling is None:
            index = self._index
            self._dangling = [(self._names[i], raw) for i, srcs in enumerate(self._sources)
                              for src, raw in zip(srcs, self._raw[i]) if src not in index]
        return self._dangling

    @property
    def dangling_colocation(self) -> list[tuple[str, str]]:
        """(node, target) pairs whose ``loc:@target`` names a node missing from the graph."""
        return [(n, t) for n, targets in self._colocated.items() for t in targets if t not in self._index]

    def _dangling_error(self) -> InvalidGraphError:
        dangling = self.dangling
        node, missing = dangling[0]
        missing_node = parse_input(missing).node
        matches = close_matches(missing_node, self._names)
        msg = f"node '{node}' has input '{missing}', but the graph has no node '{missing_node}'"
        if matches:
            msg += " (did you mean " + ", ".join(f"'{m}'" for m in matches) + "?)"
        if len(dangling) > 1:
            msg += f" ({len(dangling) - 1} more dangling input(s))"
        return InvalidGraphError(msg + "; restore the missing node or remove/rewire the input")

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
        return self.input_refs(self._index[self.resolve(name)])

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
        for ref in self.input_refs(self._index[node]):
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
            consumers: dict[str, list[int]] = {}
            for i, srcs in enumerate(self._sources):
                for src in dict.fromkeys(srcs):
                    consumers.setdefault(src, []).append(i)
            for colocated_node, targets in self._colocated.items():
                for target in dict.fromkeys(targets):
                    consumers.setdefault(target, []).append(self._index[colocated_node])
            self._consumers = consumers
        out: dict[int, None] = {}
        for i in self._consumers.get(node, ()):
            for r in self.input_refs(i):
                if r.node != node:
                    continue
                if tensor is not None:
                    if not r.is_control and r.index == tensor:
                        out[i] = None
                elif (CONTROL if r.is_control else DATA) in kinds:
                    out[i] = None
            if tensor is None and COLOCATION in kinds and node in self._colocated.get(self._names[i], ()):
                out[i] = None
        return [self._names[i] for i in sorted(out)]

    # --- reachability --------------------------------------------------------------------------

    def ancestors(self, nodes: Iterable[str], kinds: Iterable[str] = (DATA, CONTROL)) -> set[str]:
        """The given nodes and every node they depend on through ``kinds`` edges.

        Names may be node or tensor names. Unlike ``networkx.ancestors`` the start nodes are
        included (they are what "keep these outputs" keeps). Dangling inputs are skipped.
        """
        kinds = _check_kinds(kinds)
        index = self._index
        start = [index[self.resolve(n, "output")] for n in nodes]
        mark = self._reach(start, kinds)
        names = self._names
        return {names[i] for i, m in enumerate(mark) if m}

    def _reach(self, start: Iterable[int], kinds: frozenset[str] = _DATA_AND_CONTROL) -> bytearray:
        """A mark per node position: 1 for ``start`` and everything it reaches through ``kinds``."""
        index, sources, colocated = self._index, self._sources, self._colocated
        mark = bytearray(len(self._names))
        stack = []
        for i in start:
            if not mark[i]:
                mark[i] = 1
                stack.append(i)
        pop, push, get = stack.pop, stack.append, index.get
        all_inputs = _DATA_AND_CONTROL <= kinds
        use_data, use_control, use_coloc = DATA in kinds, CONTROL in kinds, COLOCATION in kinds
        while stack:
            i = pop()
            if all_inputs:
                srcs: Iterable[str] = sources[i]
            elif use_data or use_control:
                srcs = [r.node for r in self.input_refs(i) if (use_control if r.is_control else use_data)]
            else:
                srcs = ()
            for src in srcs:
                j = get(src)
                if j is not None and not mark[j]:
                    mark[j] = 1
                    push(j)
            if use_coloc and colocated:
                for target in colocated.get(self._names[i], ()):
                    j = get(target)
                    if j is not None and not mark[j]:
                        mark[j] = 1
                        push(j)
        return mark

    def why(self, node: str, outputs: Iterable[str]) -> list[str]:
        """One shortest chain of data/control edges from ``node`` to one of ``outputs``.

        Returns node names ``[node, consumer, ..., output]`` (just ``[node]`` when ``node`` is
        itself an output); among equally short chains, earlier outputs and earlier inputs win.
        Raises ``NodeNotFoundError`` for unknown names and ``GraphSurgeonError`` when no output
        depends on ``node`` (prune would remove it).
        """
        index, names, sources = self._index, self._names, self._sources
        target = index[self.resolve(node)]
        outs = list(dict.fromkeys(index[self.resolve(o, "output")] for o in outputs))
        if not outs:
            raise GraphSurgeonError("why needs at least one output")
        parent: dict[int, int] = {o: -1 for o in outs}
        queue = deque(outs)
        while queue and target not in parent:
            current = queue.popleft()
            for src in sources[current]:
                j = index.get(src)
                if j is not None and j not in parent:
                    parent[j] = current
                    queue.append(j)
        if target not in parent:
            shown = ", ".join(f"'{names[o]}'" for o in outs[:5])
            raise GraphSurgeonError(
                f"node '{names[target]}' is not kept for outputs {shown}: none of them depends on it "
                "through data or control inputs, so prune would remove it")
        path = [names[target]]
        step = parent[target]
        while step != -1:
            path.append(names[step])
            step = parent[step]
        return path

    # --- order ---------------------------------------------------------------------------------

    def back_edges(self) -> list[tuple[str, str]]:
        """While-loop back edges (``NextIteration`` -> its consumers, the ``Merge``), as pairs."""
        loop_ops = {n.name for n in self._graph_def.node if n.op in NEXT_ITERATION_OPS}
        if not loop_ops:
            return []
        return [(src, self._names[i]) for i, srcs in enumerate(self._sources)
                for src in dict.fromkeys(srcs) if src in loop_ops]

    def topological_order(self) -> list[str]:
        """All node names, every producer before its consumers, ties kept in graph order.

        Colocation edges are ignored, and so are while-loop back edges (``NextIteration`` ->
        ``Merge``), so a graph with v1 while loops has an order. Raises ``InvalidGraphError``
        naming the nodes of any other cycle.
        """
        index, names = self._index, self._names
        back = set(self.back_edges())
        indegree = [0] * len(names)
        succ: dict[int, list[int]] = {}
        for i, srcs in enumerate(self._sources):
            for src in dict.fromkeys(srcs):
                j = index.get(src)
                if j is not None and not (back and (src, names[i]) in back):
                    indegree[i] += 1
                    succ.setdefault(j, []).append(i)
        heap = [i for i, d in enumerate(indegree) if d == 0]
        heapq.heapify(heap)
        order: list[str] = []
        while heap:
            i = heapq.heappop(heap)
            order.append(names[i])
            for j in succ.get(i, ()):
                indegree[j] -= 1
                if indegree[j] == 0:
                    heapq.heappush(heap, j)
        if len(order) != len(names):
            left = {names[i] for i, d in enumerate(indegree) if d > 0}
            edges = [(u, v) for u, v, kind in self.graph.subgraph(left).edges(data="kind")
                     if kind != COLOCATION and (u, v) not in back]
            import networkx as nx

            cycle = nx.find_cycle(nx.DiGraph(edges))
            shown = " -> ".join(f"'{s}'" for s, _ in cycle[:8]) + (" -> ..." if len(cycle) > 8 else "")
            raise InvalidGraphError(
                f"graph has a cycle that is not a while loop's NextIteration back edge: {shown} -> "
                f"'{cycle[0][0]}'; a GraphDef's nodes must form a DAG apart from while loops")
        return order


def bulk_digraph(view: GraphView) -> nx.DiGraph:
    """The view as a DiGraph with its nodes in graph order and a ``kind`` on every edge.

    The result equals ``add_nodes_from(names)`` followed by ``add_edges_from(pairs, kind=...)``
    for colocation, control and data edges in that order (the strongest kind wins), but the
    adjacency dicts are filled directly, every edge of a kind shares one read-only attr dict
    and the nodes share one empty attr dict until their attrs are asked for (``_NodeAttrs``):
    ``add_edges_from`` spends ~1.5 us an edge on checks that cannot fail here and on a new dict
    per edge. The test suite compares the result with the public construction (and networkx's
    algorithms, copies and pickling on it), so a networkx change that breaks this shows up there.
    """
    names, sources, raws = view._names, view._sources, view._raw
    data, control = _EDGE_ATTRS[DATA], _EDGE_ATTRS[CONTROL]
    succ: dict[str, dict[str, Mapping[str, str]]] = {n: {} for n in names}
    # Every node's producers as data edges, made in C (one dict.fromkeys a node, no bytecode) ...
    pred: dict[str, dict[str, Mapping[str, str]]] = dict(zip(names, map(dict.fromkeys, sources, repeat(data))))
    # ... then the nodes with control inputs again, each input's own text telling its kind.
    controlled = list(compress(range(len(names)), map(contains, map("".join, raws), repeat("^"))))
    for i in controlled:
        node_pred: dict[str, Mapping[str, str]] = {}
        for src, text in zip(sources[i], raws[i]):
            if text[:1] != "^":
                node_pred[src] = data
            elif src not in node_pred:
                node_pred[src] = control
        pred[names[i]] = node_pred
    for name, node_pred in pred.items():  # successors: every edge entered from its producer's side
        try:
            for src in node_pred:
                succ[src][name] = data
        except KeyError:  # a dangling input: no edge for it (replacing a value keeps the iteration valid)
            node_pred = pred[name] = {src: kind for src, kind in node_pred.items() if src in succ}
            for src in node_pred:
                succ[src][name] = data
    for i in controlled:
        name = names[i]
        for src, kind in pred[name].items():
            if kind is control:
                succ[src][name] = control
    coloc = _EDGE_ATTRS[COLOCATION]
    for name, targets in view._colocated.items():
        for target in targets:
            if target in succ and target not in pred[name]:
                pred[name][target] = succ[target][name] = coloc
    import networkx as nx

    graph = nx.DiGraph()
    graph._node = _NodeAttrs(dict.fromkeys(view._index, _NO_NODE_ATTRS))  # copied whole from a sized dict
    graph._adj = succ  # DiGraph's _adj setter also sets _succ and resets the cached views
    graph._pred = pred
    return graph


class _NodeAttrs(dict):  # type: ignore[type-arg]
    """``view.graph._node`` (node -> its attr dict) with one shared empty attr mapping until asked for.

    A million empty attr dicts cost a fifth of the DiGraph's build (and again when freed), and
    views never set node attrs. Every way networkx hands out a node's attrs (``G.nodes[n]``,
    ``G.nodes(data=True)``, ``G.add_node(n, **attr)``, ``set_node_attributes``, ``copy``, pickling)
    goes through ``__getitem__``, ``get``, ``items`` or ``values``, which first give the node (or
    every node) a dict of its own, so setting attrs works as in any DiGraph. Only C code that
    reads the dict's storage directly (``dict(G._node)``) can see the shared mapping, and it is
    read-only: changing it raises ``TypeError`` instead of changing every node.
    """

    __slots__ = ()

    def __getitem__(self, node: str) -> dict[str, object]:
        attrs = dict.__getitem__(self, node)
        if attrs is _NO_NODE_ATTRS:
            attrs = {}
            dict.__setitem__(self, node, attrs)
        return attrs  # type: ignore[no-any-return]

    def get(self, node: str, default: object = None) -> object:
        return self[node] if node in self else default

    def setdefault(self, node: str, default: object = None) -> object:
        if node in self:
            return self[node]
        dict.__setitem__(self, node, default)
        return default

    def pop(self, node: str, *default: object) -> object:
        attrs = dict.pop(self, node, *default)
        return {} if attrs is _NO_NODE_ATTRS else attrs

    def popitem(self) -> tuple[str, object]:
        node, attrs = dict.popitem(self)
        return node, {} if attrs is _NO_NODE_ATTRS else attrs

    def _own(self) -> None:
        """Gives every node that still shares the empty mapping a dict of its own."""
        shared = [node for node, attrs in dict.items(self) if attrs is _NO_NODE_ATTRS]
        for node in shared:
            dict.__setitem__(self, node, {})

    def items(self):  # type: ignore[no-untyped-def]  # noqa: ANN201  (dict's own view types)
        self._own()
        return dict.items(self)

    def values(self):  # type: ignore[no-untyped-def]  # noqa: ANN201
        self._own()
        return dict.values(self)

    def copy(self) -> dict[str, object]:
        self._own()
        return dict(dict.items(self))

    def __reduce__(self) -> tuple[object, ...]:
        self._own()
        return (dict, (dict(dict.items(self)),))

    def __reduce_ex__(self, protocol: object) -> tuple[object, ...]:
        return self.__reduce__()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pauses the cyclic garbage collector while millions of small tuples and dicts are made.

    Those allocations trigger repeated full collections that find nothing (the objects are all
    alive) and cost about as much as the work itself on large graphs. On the way out the objects
    made meanwhile are moved to the oldest generation (``gc.freeze()`` then ``gc.unfreeze()``,
    both O(1)): left in the youngest one, the next two young collections would each walk all of
    them (0.5 s for a million-node view and its DiGraph) only to find them alive. Everything the
    collector tracked at that moment moves with them, so a cycle that became garbage just before
    is freed by the next full collection instead of a young one. Nothing is moved when the
    collector was already off, or when the program has frozen objects of its own (``unfreeze``
    would thaw those too).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _check_kinds(kinds: Iterable[str]) -> frozenset[str]:
    out = frozenset([kinds] if isinstance(kinds, str) else kinds)
    unknown = out - set(EDGE_KINDS)
    if unknown:
        raise ValueError(f"unknown edge kind(s) {sorted(unknown)}; use {EDGE_KINDS}")
    return out
