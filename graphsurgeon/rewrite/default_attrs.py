"""strip_default_attrs / fill_default_attrs: drop or add the attrs whose value is their op's default.

Stripping is TensorFlow's own forward-compatibility mechanism (``strip_default_attrs=True`` when
saving, ``stripped_default_attrs`` in a MetaGraphDef): an attr added to an op in a newer
TensorFlow always has a default, so a graph without default-valued attrs also loads in an older
runtime that does not know them. Filling is the reverse, what TensorFlow's importer does first
(``AddDefaultsToNodeDef``), for converters that expect every attr written out.

Both follow TensorFlow's op registry (``graph.op_registry``), touch the top-level nodes and the
nodes of every library function, leave function calls, custom ops and ``_``-prefixed attrs
alone, and return a new GraphDef (``graph_def`` is not modified). ``fill(strip(g)) == fill(g)``
and ``strip(fill(g)) == strip(g)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from graphsurgeon._proto import graph_pb2, node_def_pb2
from graphsurgeon.formats.model import LoadedGraph, as_loaded
from graphsurgeon.graph import op_registry

log = logging.getLogger(__name__)


def _library_nodes(graph_def: graph_pb2.GraphDef) -> Iterable[node_def_pb2.NodeDef]:
    yield from graph_def.node
    for function in graph_def.library.function:
        yield from function.node_def


def _copy(graph_def: graph_pb2.GraphDef | LoadedGraph) -> tuple[graph_pb2.GraphDef, set[str]]:
    graph_def = as_loaded(graph_def).graph_def
    out = graph_pb2.GraphDef()
    out.CopyFrom(graph_def)
    return out, {f.signature.name for f in graph_def.library.function}


def strip_default_attrs(graph_def: graph_pb2.GraphDef | LoadedGraph) -> graph_pb2.GraphDef:
    """Returns a new GraphDef without the attrs whose value equals their op's default."""
    out, functions = _copy(graph_def)
    registry = op_registry.op_registry()
    stripped = 0
    for node in _library_nodes(out):
        op_def = None if node.op in functions else registry.get(node.op)
        if op_def is None:
            continue
        for attr in op_def.attr:
            if attr.HasField("default_value") and attr.name in node.attr and node.attr[attr.name] == attr.default_value:
                del node.attr[attr.name]
                stripped += 1
    log.info("strip_default_attrs: removed %d default-valued attr(s)", stripped)
    return out


def fill_default_attrs(graph_def: graph_pb2.GraphDef | LoadedGraph) -> graph_pb2.GraphDef:
    """Returns a new GraphDef where every attr with a default that a node leaves out is written out."""
    out, functions = _copy(graph_def)
    registry = op_registry.op_registry()
    filled = 0
    for node in _library_nodes(out):
        op_def = None if node.op in functions else registry.get(node.op)
        if op_def is None:
            continue
        for attr in op_def.attr:
            if attr.HasField("default_value") and attr.name not in node.attr:
                node.attr[attr.name].CopyFrom(attr.default_value)
                filled += 1
    log.info("fill_default_attrs: added %d default-valued attr(s)", filled)
    return out
