"""drop_inert_controls(graph_def, outputs): remove control inputs that cannot change what a graph computes.

Inlined functions leave control edges behind: a function's ``NoOp`` control output waits on its
constants (frozen variables), and each inlined node without inputs waits on the call's control
inputs. They change no value, but converters that read no control edges stop on them (OpenCV:
``nodeIds.find(inpName)``). A control input ``^x`` is inert when ``x`` and everything ``x`` depends on
(data and control inputs) are ops that TensorFlow's registry does not mark stateful: running
``x`` earlier or not at all has no effect. Control flow v1 (Switch, Merge, loop ops) counts as
not inert (its dead tensors travel along control edges), as do functions and unknown ops.

An ``IdentityN`` left with one input becomes an ``Identity`` of the same name (same output, and
converters read Identity). Nodes no output needs any more (a ``NoOp`` nobody waits on) go at the
next prune. ``gs optimize --converter-ready`` runs this pass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from graphsurgeon._proto import graph_pb2
from graphsurgeon.graph.names import parse_input, split_names
from graphsurgeon.graph.op_registry import op_registry

log = logging.getLogger(__name__)

#: Control flow v1: dead tensors travel along control edges from these.
_DEADNESS_OPS = frozenset({"Switch", "RefSwitch", "_SwitchN", "Merge", "RefMerge", "Enter", "RefEnter", "Exit",
                           "RefExit", "NextIteration", "RefNextIteration", "LoopCond"})


def drop_inert_controls(graph_def: graph_pb2.GraphDef, outputs: str | Iterable[str] = ()) -> graph_pb2.GraphDef:
    """Returns a new GraphDef without inert control inputs (see the module docstring); ``graph_def`` is not modified."""
    split_names(outputs)
    nodes = {n.name: n for n in graph_def.node}
    library = {f.signature.name for f in graph_def.library.function}
    registry = op_registry()
    inert: dict[str, bool] = {}

    def own_inert(name: str) -> bool:
        node = nodes.get(name)
        if node is None or node.op in _DEADNESS_OPS or node.op in library:
            return False
        op_def = registry.get(node.op)
        return op_def is not None and not op_def.is_stateful

    for start in nodes:
        if start in inert:
            continue
        stack = [start]
        while stack:  # iterative post-order: a node is inert when it and all its inputs are
            name = stack[-1]
            if name in inert:
                stack.pop()
                continue
            if not own_inert(name):
                inert[name] = False
                stack.pop()
                continue
            pending = [p for p in (parse_input(x).node for x in nodes[name].input) if p not in inert]
            pending = [p for p in pending if p not in stack]  # a cycle (a v2 graph has none): decided below
            if pending:
                stack.extend(pending)
                continue
            inert[name] = all(inert.get(parse_input(x).node, False) for x in nodes[name].input)
            stack.pop()

    out = graph_pb2.GraphDef()
    out.CopyFrom(graph_def)
    dropped = 0
    for node in out.node:
        keep = [x for x in node.input if not (x.startswith("^") and inert.get(x[1:], False))]
        if len(keep) != len(node.input):
            dropped += len(node.input) - len(keep)
            del node.input[:]
            node.input.extend(keep)
        if node.op == "IdentityN" and len(node.input) == 1 and not node.input[0].startswith("^"):
            dtype = node.attr["T"].list.type[0]
            node.op = "Identity"
            node.attr["T"].type = dtype
    if dropped:
        log.info("drop_inert_controls: removed %d control input(s) on side-effect-free nodes", dropped)
    return out
