"""``StaticGraph``: NVIDIA graphsurgeon's read-only view of a GraphDef, without TensorFlow.

    graph = StaticGraph("frozen_inference_graph.pb")     # or a GraphDef (ours or TensorFlow's), a tf.Graph
    graph.find_nodes_by_op("Identity")
    graph.node_outputs["conv1/BiasAdd"]                  # the nodes that consume it
    graph.write_tensorboard("logs/")

Like NVIDIA's, a graph built from a GraphDef works on that very object (edits of a DynamicGraph show
in it, and ``as_graph_def()`` returns it), so the caller gets back the kind it passed in: a
TensorFlow GraphDef stays one. A graph read from a file holds TensorFlow's GraphDef when the
process has imported TensorFlow, else ours.
"""

from __future__ import annotations

import os
import pathlib
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import graphsurgeon.nvidia._messages as _messages
from graphsurgeon.errors import UsageError, not_found
from graphsurgeon.formats.events import write_graph_event
from graphsurgeon.formats.model import load_graph
from graphsurgeon.formats.protofile import save_message
from graphsurgeon.graph.names import node_name

__all__ = ["StaticGraph"]

#: The ops NVIDIA's package takes for graph inputs.
INPUT_OPS = frozenset({"Placeholder", "FIFOQueueV2", "FIFOQueue"})


def _search_terms(value: object, what: str) -> list[str]:
    """One string, or an iterable of strings (NVIDIA: 'also accepts iterable containers')."""
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else [value]
    bad = [v for v in items if not isinstance(v, str)]
    if bad:
        raise UsageError(f"{what}: expected a string or a list of strings, got {bad[0]!r:.80}")
    return items  # type: ignore[return-value]


def _matcher(patterns: list[str], what: str) -> re.Pattern[str] | None:
    """One compiled alternation of ``patterns`` (each must match a whole name), or None for no patterns."""
    compiled = []
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as err:
            raise UsageError(f"{what}: '{pattern}' is not a valid regular expression ({err}); escape special "
                             "characters with re.escape() to match a name literally") from None
        compiled.append(f"(?:{pattern})")
    return re.compile("|".join(compiled)) if compiled else None


def _matches(name: str, patterns: list[str], matcher: re.Pattern[str] | None) -> bool:
    # An exact name always matches, even one that is not a valid regex; else the whole name must match.
    return name in patterns or (matcher is not None and matcher.fullmatch(name) is not None)


class StaticGraph:
    """A read-only wrapper of a GraphDef: search by op, name or path; nodes by name or index; iteration.

    Attributes (rebuilt after every edit of a DynamicGraph):
        node_map: node name -> NodeDef.
        node_outputs: node name -> the NodeDefs that consume it (every node has an entry).
        graph_outputs: nodes that nothing consumes and that have at least one input.
        graph_inputs: ``Placeholder`` and FIFO queue nodes.
    """

    def __init__(self, graphdef: Any = None) -> None:
        self._internal_graphdef: Any = _messages.default_graph_class()()
        self.node_map: dict[str, Any] = {}
        self.node_outputs: defaultdict[str, list[Any]] = defaultdict(list)
        self.graph_outputs: list[Any] = []
        self.graph_inputs: list[Any] = []
        self._sources: list[pathlib.Path] = []  # files read: write() never overwrites them
        if graphdef is None:
            pass
        elif isinstance(graphdef, str | os.PathLike):
            self.read(graphdef)
            return
        elif isinstance(graphdef, StaticGraph):
            self._internal_graphdef = graphdef._internal_graphdef
            self._sources = list(graphdef._sources)
        elif _messages.is_graph_def(graphdef):
            self._internal_graphdef = graphdef
        elif callable(getattr(graphdef, "as_graph_def", None)) and not hasattr(graphdef, "SerializeToString"):
            self._internal_graphdef = graphdef.as_graph_def()  # a tf.Graph
            if not _messages.is_graph_def(self._internal_graphdef):
                raise UsageError(f"{type(graphdef).__name__}.as_graph_def() did not return a GraphDef")
        else:
            raise UsageError(f"{type(self).__name__} takes a GraphDef (TensorFlow's or graphsurgeon's), a tf.Graph, "
                             f"another StaticGraph/DynamicGraph or the path of a frozen .pb, not "
                             f"{type(graphdef).__name__}")
        self._initialize_analysis_data()

    # ------------------------------------------------------------------------------- containers
    def __len__(self) -> int:
        return len(self._internal_graphdef.node)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._internal_graphdef.node)

    def __getitem__(self, key: int | slice | str) -> Any:
        if isinstance(key, str):
            if key not in self.node_map:
                raise not_found("node", key, self.node_map, hint="")
            return self.node_map[key]
        return self._internal_graphdef.node[key]

    def __contains__(self, item: object) -> bool:
        name = item if isinstance(item, str) else getattr(item, "name", None)
        return name in self.node_map

    def as_graph_def(self) -> Any:
        """The GraphDef this graph works on (TensorFlow's when one was given, or TensorFlow is loaded)."""
        return self._internal_graphdef

    # ------------------------------------------------------------------------------- analysis
    def _initialize_analysis_data(self) -> None:
        nodes = self._internal_graphdef.node
        self.node_map = {node.name: node for node in nodes}
        outputs: defaultdict[str, list[Any]] = defaultdict(list)
        for node in nodes:
            outputs[node.name]  # noqa: B018 - every node gets an entry, consumed or not
            for inp in node.input:
                outputs[node_name(inp)].append(node)
        self.node_outputs = outputs
        self.graph_outputs = [node for node in nodes if not outputs[node.name] and len(node.input) > 0]
        self.graph_inputs = self.find_nodes_by_op(INPUT_OPS)

    # ------------------------------------------------------------------------------- files
    def read(self, filename: str | os.PathLike[str]) -> None:
        """Replaces this graph's nodes with a GraphDef file's (binary or text; a .meta's graph also works)."""
        loaded = load_graph(filename).graph_def
        _messages.assign(self._internal_graphdef, loaded)
        self._sources.append(pathlib.Path(filename))
        self._initialize_analysis_data()

    def write(self, filename: str | os.PathLike[str]) -> None:
        """Writes the GraphDef as a binary .pb (to a temporary name, renamed into place). The file the
        graph was read from is never overwritten (``OutputError``)."""
        save_message(self._internal_graphdef, filename, inputs=self._sources)

    def write_tensorboard(self, logdir: str | os.PathLike[str]) -> pathlib.Path:
        """Writes the graph as a TensorBoard event file in ``logdir`` (``tensorboard --logdir`` shows it,
        plugin nodes included); returns the file's path. Needs no TensorFlow."""
        return write_graph_event(self._internal_graphdef, logdir)

    # ------------------------------------------------------------------------------- search
    def find_nodes_by_op(self, op: str | Iterable[str]) -> list[Any]:
        """The nodes whose op is ``op`` (or any op in an iterable of ops), in graph order."""
        ops = set(_search_terms(op, "find_nodes_by_op"))
        return [node for node in self._internal_graphdef.node if node.op in ops]

    def find_nodes_by_name(self, name: str | Iterable[str]) -> list[Any]:
        """The nodes whose last path component (``b`` in ``a/b``) is ``name``, or wholly matches it as a
        regular expression (or any of a list of names)."""
        patterns = _search_terms(name, "find_nodes_by_name")
        matcher = _matcher(patterns, "find_nodes_by_name")
        return [node for node in self._internal_graphdef.node
                if _matches(node.name.split("/")[-1], patterns, matcher)]

    def find_nodes_by_path(self, path: str | Iterable[str]) -> list[Any]:
        """The nodes whose full name is ``path`` or wholly matches it as a regular expression (or any of a list)."""
        patterns = _search_terms(path, "find_nodes_by_path")
        matcher = _matcher(patterns, "find_nodes_by_path")
        return [node for node in self._internal_graphdef.node if _matches(node.name, patterns, matcher)]

    def _node_arg(self, node: Any, what: str) -> Any:
        name = _messages.node_name_of(node, what)
        if name not in self.node_map:
            raise not_found("node", name, self.node_map, hint="")
        return self.node_map[name] if isinstance(node, str) else node

    def _input_node(self, consumer: Any, inp: str) -> Any:
        name = node_name(inp)
        if name not in self.node_map:
            raise not_found(f"input '{inp}' of node '{consumer.name}': node", name, self.node_map, hint="")
        return self.node_map[name]

    def find_node_inputs(self, node: Any) -> list[Any]:
        """The nodes feeding ``node`` (data and control inputs), in input order."""
        node = self._node_arg(node, "find_node_inputs")
        return [self._input_node(node, inp) for inp in node.input]

    def find_node_inputs_by_name(self, node: Any, name: str | Iterable[str]) -> list[Any]:
        """The nodes feeding ``node`` whose last path component is ``name`` or wholly matches it as a regex."""
        node = self._node_arg(node, "find_node_inputs_by_name")
        patterns = _search_terms(name, "find_node_inputs_by_name")
        matcher = _matcher(patterns, "find_node_inputs_by_name")
        return [self._input_node(node, inp) for inp in node.input
                if _matches(node_name(inp).split("/")[-1], patterns, matcher)]

    def find_node_inputs_by_op(self, node: Any, op: str | Iterable[str]) -> list[Any]:
        """The nodes feeding ``node`` whose op is ``op`` (or any of a list of ops)."""
        node = self._node_arg(node, "find_node_inputs_by_op")
        ops = set(_search_terms(op, "find_node_inputs_by_op"))
        return [n for n in (self._input_node(node, inp) for inp in node.input) if n.op in ops]

    def find_node_chains_by_op(self, chain: list[str]) -> list[list[Any]]:
        """Every run of nodes whose ops are ``chain`` (first = the run's input end, last = its output
        end), each following the previous one's inputs; one list per last node, inputs first."""
        ops = _search_terms(chain, "find_node_chains_by_op")
        if not ops:
            raise UsageError("find_node_chains_by_op: the chain of ops is empty")

        def match(node: Any, depth: int) -> list[Any]:
            # The nodes of every matching chain that ends at ``node`` with ops[:depth + 1].
            if node.op != ops[depth]:
                return []
            if depth == 0:
                return [node]
            found: list[Any] = []
            for inp in node.input:
                source = self.node_map.get(node_name(inp))
                if source is not None:
                    found.extend(match(source, depth - 1))
            return [*found, node] if found else []

        chains = []
        for end in self.find_nodes_by_op(ops[-1]):
            nodes = match(end, len(ops) - 1)
            if nodes:
                chains.append(nodes)
        return chains
