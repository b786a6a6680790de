"""remove_import_prefix(graph_def, prefix="import"): drop the scope ``tf.import_graph_def`` put on every name.

A graph exported after ``tf.import_graph_def(graph_def)`` (default ``name="import"``) has every node
under ``import/``; feeding and fetching then needs ``import/x:0``. This renames ``import/a`` to
``a`` and every reference (inputs, control inputs, ``_class: loc:@``) follows. Nodes without the
prefix keep their names. One level is removed a call (``import/import/a`` -> ``import/a``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from graphsurgeon._proto import graph_pb2
from graphsurgeon.errors import GraphSurgeonError
from graphsurgeon.graph.names import split_names
from graphsurgeon.surgery import GraphEditor

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "import"


def remove_import_prefix(graph_def: graph_pb2.GraphDef, outputs: str | Iterable[str] = (),
                         prefix: str = DEFAULT_PREFIX) -> graph_pb2.GraphDef:
    """Returns a new GraphDef with ``prefix/`` removed from the front of node names; the input is not modified.

    ``outputs`` is accepted for a uniform pass signature (``strip_prefix`` maps them). A graph with no
    node under ``prefix/`` comes back unchanged (logged).

    Raises:
        GraphSurgeonError: removing the prefix would give two nodes the same name (both are named).
    """
    split_names(outputs)
    scope = prefix.strip("/")
    if not scope:
        raise GraphSurgeonError("remove_import_prefix needs a non-empty prefix")
    head = scope + "/"
    names = [n.name for n in graph_def.node]
    mapping = {n: n[len(head):] for n in names if n.startswith(head)}
    if not mapping:
        log.info("remove_import_prefix: no node starts with '%s'", head)
        out = graph_pb2.GraphDef()
        out.CopyFrom(graph_def)
        return out
    kept = set(names) - set(mapping)
    clash = sorted(new for new in mapping.values() if new in kept)
    if clash:
        raise GraphSurgeonError(f"cannot remove prefix '{head}': '{head}{clash[0]}' would take the name of existing "
                                f"node '{clash[0]}'")
    editor = GraphEditor(graph_def, check=False)
    editor.rename(mapping)
    log.info("remove_import_prefix: renamed %d node(s)", len(mapping))
    return editor.graph_def


def strip_prefix(names: Iterable[str], prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Node or tensor names with ``prefix/`` removed from the front (``import/x:0`` -> ``x:0``)."""
    head = prefix.strip("/") + "/"
    return [n[len(head):] if n.startswith(head) else n for n in names]
