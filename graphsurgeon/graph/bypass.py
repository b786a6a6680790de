"""bypass_nodes: remove nodes from a GraphDef, wiring each consumer to what the removed node
forwarded (data and control inputs, colocation constraints)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from graphsurgeon._proto import graph_pb2, node_def_pb2
from graphsurgeon.errors import GraphSurgeonError, InvalidGraphError
from graphsurgeon.graph.names import TensorRef, colocation_target, format_input, parse_input
from graphsurgeon.graph.nodes import graph_like
from graphsurgeon.graph.view import colocation_targets

log = logging.getLogger(__name__)

#: Ops whose outputs are dead in the branch not taken: a control edge on the node is not one on an output.
SWITCH_OPS = frozenset({"Switch", "RefSwitch", "_SwitchN"})


# ---------------------------------------------------------------------------- bulk bypass (remove)


def data_inputs(node: node_def_pb2.NodeDef) -> list[TensorRef]:
    return [r for r in map(parse_input, node.input) if not r.is_control]


def bypass_nodes(graph_def: graph_pb2.GraphDef, forward: Mapping[str, Mapping[int, TensorRef | None]],
                 *, what: str = "remove") -> graph_pb2.GraphDef:
    """Returns a new GraphDef without the nodes in ``forward``, their consumers rewired; the input is not modified.

    ``forward[node][k]`` is the tensor that takes the place of ``node:k`` for its consumers (``None``
    or a missing ``k``: nothing may still use ``node:k``). Chains of removed nodes are followed. The
    removed node's control inputs (and, for a consumer that had ``^node``, the producers of its data
    inputs) become control inputs of each consumer, so nothing runs earlier than before. A control
    input on a node that is also a data input of the same consumer is dropped (it is implied).
    ``_class: loc:@node`` entries naming removed nodes are dropped.

    Raises:
        GraphSurgeonError: a kept node still uses an output that is not forwarded (names both nodes).
    """
    nodes = {n.name: n for n in graph_def.node}
    removed = set(forward)
    controls_of: dict[str, list[str]] = {}
    for name in removed:
        node = nodes[name]
        controls_of[name] = [r.node for r in map(parse_input, node.input) if r.is_control]

    def resolve_tensor(ref: TensorRef, consumer: str, extra: dict[str, None]) -> TensorRef:
        seen = 0
        while ref.node in removed:
            seen += 1
            if seen > len(removed) + 1:
                raise InvalidGraphError(f"removing nodes around '{ref.node}' would leave a cycle of forwarded inputs")
            target = forward[ref.node].get(ref.index)
            if target is None:
                producer = nodes[ref.node]
                raise GraphSurgeonError(
                    f"cannot {what} node '{ref.node}' ({producer.op}): node '{consumer}' uses its output "
                    f"'{format_input(ref)}' and nothing can take its place (forwarding passes the single data "
                    f"input of a pass-through node such as Identity); remove '{consumer}' too, or rewire it first")
            for c in controls_of[ref.node]:
                extra[c] = None
            ref = target
        return ref

    memo: dict[str, list[str]] = {}

    def resolve_control(name: str, consumer: str, depth: int = 0) -> list[str]:
        if name not in removed:
            return [name]
        if name in memo:
            return memo[name]
        if depth > len(removed) + 1:
            raise InvalidGraphError(f"removing nodes around '{name}' would leave a cycle of control inputs")
        out: dict[str, None] = {}
        node = nodes[name]
        for ref in map(parse_input, node.input):
            producer = nodes.get(ref.node)
            if not ref.is_control and ref.node not in removed and producer is not None and producer.op in SWITCH_OPS:
                # A control input on the Switch node fires in both branches; '^name' fired in one only.
                raise GraphSurgeonError(
                    f"cannot {what} node '{name}' ({node.op}): node '{consumer}' waits on it ('^{name}') and it reads "
                    f"{producer.op} output '{format_input(ref)}', so the control edge decides whether '{consumer}' "
                    "runs in that branch; keep the node, or resolve the Switch first (fold_constant_switches)")
            for n in resolve_control(ref.node, consumer, depth + 1):
                out[n] = None
        memo[name] = list(out)
        return memo[name]

    out = graph_like(graph_def)
    kept: list[node_def_pb2.NodeDef] = []
    for node in graph_def.node:
        if node.name in removed:
            continue
        refs = [parse_input(i) for i in node.input]
        touches_inputs = any(r.node in removed for r in refs)
        targets = colocation_targets(node)
        touches_coloc = any(t in removed for t in targets)
        if not touches_inputs and not touches_coloc:
            kept.append(node)
            continue
        new = node_def_pb2.NodeDef()
        new.CopyFrom(node)
        if touches_inputs:
            data: list[str] = []
            control: dict[str, None] = {}
            for ref in refs:
                if ref.is_control:
                    for n in resolve_control(ref.node, node.name):
                        control[n] = None
                else:
                    extra: dict[str, None] = {}
                    data.append(format_input(resolve_tensor(ref, node.name, extra)))
                    for c in extra:
                        for n in resolve_control(c, node.name):
                            control[n] = None
            data_nodes = {parse_input(d).node for d in data}
            del new.input[:]
            new.input.extend(data + ["^" + c for c in control if c not in data_nodes and c != node.name])
        if touches_coloc:
            entries = [e for e in new.attr["_class"].list.s
                       if colocation_target(e) not in removed]
            if entries:
                del new.attr["_class"].list.s[:]
                new.attr["_class"].list.s.extend(entries)
            else:
                del new.attr["_class"]
        kept.append(new)
    out.node.extend(kept)
    return out


