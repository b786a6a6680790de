"""fold_constant_switches(graph_def, outputs): resolve Switch/Merge whose predicate is a constant.

Run it after binding the training flags (``freeze(..., bind={"is_training": False})`` or
``gs optimize --bind is_training=false``). For each ``Switch(data, pred)`` whose ``pred`` is a
scalar bool constant (a ``Const``, or what ``fold_constants`` computes exactly from constants such
as ``LogicalNot(is_training)``; through Identity nodes and the Switches that carry a nested cond's
predicate into the outer branch):

* the live output's consumers read ``data`` directly; ``^switch`` control inputs wait on the
  Switch's own inputs instead;
* every node that only the dead output reaches is removed, as TensorFlow's executor would never
  run it: a node is dead when one of its data or control inputs is dead, a Merge when all its data
  inputs are; a Merge left with one live input becomes an ``Identity`` of it (its ``value_index``
  output, when used, becomes a ``Const``); one left with several keeps only those.

A Switch that reads another Switch's output and has control consumers is left alone (a control
edge on the outer Switch could not say which branch ran). Nothing is changed, with the reason
logged, when a requested output would be dead, when a dead
branch holds part of a while loop (a Merge fed by a live NextIteration and a dead Enter), when a
Merge has a dead control input, or when a Merge keeps several live inputs and its ``value_index``
is used.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np

from graphsurgeon._proto import graph_pb2, node_def_pb2
from graphsurgeon.graph.bypass import bypass_nodes
from graphsurgeon.graph.names import TensorRef, format_input, parse_input, split_names, unique_name
from graphsurgeon.graph.nodes import const_node, graph_like
from graphsurgeon.graph.view import GraphView
from graphsurgeon.rewrite.fold_constants import ConstantEvaluator

log = logging.getLogger(__name__)

_SWITCH_OPS = frozenset({"Switch"})
_MERGE_OPS = frozenset({"Merge"})


def fold_constant_switches(graph_def: graph_pb2.GraphDef, outputs: str | Iterable[str] = ()) -> graph_pb2.GraphDef:
    """Returns a new GraphDef with constant-predicate Switches and the dead branches they guard removed.

    ``graph_def`` is not modified. See the module docstring for the rules and what is skipped.
    """
    nodes = {n.name: n for n in graph_def.node}
    protected = {parse_input(o).node for o in split_names(outputs)}
    live_port: dict[str, int] = {}
    evaluator = ConstantEvaluator(graph_def)
    for node in graph_def.node:
        if node.op not in _SWITCH_OPS or len(node.input) < 2:
            continue
        pred = _predicate(nodes, node.input[1], evaluator)
        if pred is None or pred.dtype != np.bool_ or pred.size != 1:
            continue
        live_port[node.name] = 1 if bool(pred.reshape(-1)[0]) else 0
    if not live_port:
        return _copy(graph_def)

    view = GraphView(graph_def, allow_dangling=True)
    refs = {n.name: [parse_input(i) for i in n.input] for n in graph_def.node}
    for name in list(live_port):
        # A nested cond's Switch reads the outer Switch's output; '^name' on it carries the outer branch,
        # which a control input on what it reads could not (see surgery.bypass_nodes).
        outer = [r for r in refs[name] if not r.is_control and r.node in nodes and nodes[r.node].op in _SWITCH_OPS
                 and r.node not in live_port]
        if outer and view.consumers(name, ("control",)):
            log.info("fold_constant_switches: not folding '%s': it reads Switch output '%s' and nodes wait on it "
                     "by control edges", name, format_input(outer[0]))
            del live_port[name]
    if not live_port:
        return _copy(graph_def)

    def is_dead_ref(ref: TensorRef, dead: set[str]) -> bool:
        if ref.node in dead:
            return True
        return not ref.is_control and ref.node in live_port and ref.index != live_port[ref.node]

    dead: set[str] = set()
    queue = [c for s in live_port for c in view.consumers(s, ("data",))]
    while queue:
        name = queue.pop()
        if name in dead:
            continue
        node = nodes[name]
        node_refs = refs[name]
        if node.op in _MERGE_OPS:
            data = [r for r in node_refs if not r.is_control]
            now_dead = bool(data) and all(is_dead_ref(r, dead) for r in data)
        else:
            now_dead = any(is_dead_ref(r, dead) for r in node_refs)
        if now_dead:
            dead.add(name)
            queue.extend(view.consumers(name))

    reason = _unsafe(dead, protected, nodes, refs, live_port, is_dead_ref)
    if reason:
        log.info("fold_constant_switches: not folding %d constant Switch(es): %s", len(live_port), reason)
        return _copy(graph_def)

    # Merges that lose inputs.
    replaced: dict[str, node_def_pb2.NodeDef] = {}
    value_consts: dict[str, node_def_pb2.NodeDef] = {}
    taken = set(nodes)
    for name, node in nodes.items():
        if node.op not in _MERGE_OPS or name in dead:
            continue
        data = [r for r in refs[name] if not r.is_control]
        live = [(i, r) for i, r in enumerate(data) if not is_dead_ref(r, dead)]
        if len(live) == len(data):
            continue
        controls = [format_input(r) for r in refs[name] if r.is_control]
        new = node_def_pb2.NodeDef(name=name, device=node.device)
        if len(live) == 1:
            new.op = "Identity"
            new.input.extend([format_input(_follow_live(live[0][1], live_port, nodes))] + controls)
            new.attr["T"].CopyFrom(node.attr["T"])
            if view.consumers(f"{name}:1"):
                const_name = unique_name(f"{name}/value_index", taken)
                taken.add(const_name)
                value_consts[name] = const_node(const_name, np.int32(live[0][0]),
                                                controls=[live[0][1].node])
        else:
            new.CopyFrom(node)
            del new.input[:]
            new.input.extend([format_input(r) for _, r in live] + controls)
            new.attr["N"].i = len(live)
        if "_class" in node.attr:
            new.attr["_class"].CopyFrom(node.attr["_class"])
        replaced[name] = new

    staged = graph_like(graph_def)
    for node in graph_def.node:
        if node.name in replaced:
            staged.node.append(replaced[node.name])
        elif value_consts and any(parse_input(i).node in value_consts and parse_input(i).index == 1
                                  for i in node.input):
            new = node_def_pb2.NodeDef()
            new.CopyFrom(node)
            for k, raw in enumerate(node.input):
                ref = parse_input(raw)
                if not ref.is_control and ref.node in value_consts and ref.index == 1:
                    new.input[k] = value_consts[ref.node].name
            staged.node.append(new)
        else:
            staged.node.append(node)
        if node.name in value_consts:
            staged.node.append(value_consts[node.name])

    plan: dict[str, dict[int, TensorRef | None]] = {name: {} for name in dead}
    for name, port in live_port.items():
        data = [r for r in refs[name] if not r.is_control]
        plan[name] = {port: data[0]}
    log.info("fold_constant_switches: %d Switch(es) resolved, %d dead node(s) removed, %d Merge(s) rewritten",
             len(live_port), len(dead), len(replaced))
    return bypass_nodes(staged, plan, what="fold the constant Switch of")


def _predicate(nodes: dict, tensor: str, evaluator: ConstantEvaluator) -> np.ndarray | None:
    """The constant a predicate input holds, through Identity nodes and through Switches: a Switch passes
    its data on unchanged (a nested cond's predicate enters the outer branch through one), and where
    its output is dead nothing that reads it runs, so the value only matters where it is the constant."""
    ref = parse_input(tensor)
    for _ in range(64):
        node = nodes.get(ref.node)
        if node is None or ref.is_control:
            return None
        if node.op in _SWITCH_OPS:
            data = [r for r in map(parse_input, node.input) if not r.is_control]
            if not data:  # a damaged Switch: no value to follow
                return None
            ref = data[0]
            continue
        if node.op == "Identity":
            data = [r for r in map(parse_input, node.input) if not r.is_control]
            if len(data) != 1:
                return None
            ref = data[0]
            continue
        return evaluator.value(ref)
    return None


def _follow_live(ref: TensorRef, live_port: dict[str, int], nodes: dict) -> TensorRef:
    """A Merge input coming straight from a constant Switch's live output reads the Switch's data."""
    if ref.node in live_port and not ref.is_control:
        data = [r for r in map(parse_input, nodes[ref.node].input) if not r.is_control]
        return data[0]
    return ref


def _unsafe(dead: set[str], protected: set[str], nodes: dict, refs: dict, live_port: dict[str, int],
            is_dead_ref) -> str | None:
    hit = sorted(dead & protected)
    if hit:
        return f"requested output '{hit[0]}' lies in a branch that never runs"
    for name, node in nodes.items():
        if node.op not in _MERGE_OPS or name in dead:
            continue
        node_refs = refs[name]
        if any(r.is_control and is_dead_ref(r, dead) for r in node_refs):
            return f"Merge '{name}' has a control input from a branch that never runs"
        data = [r for r in node_refs if not r.is_control]
        if any(is_dead_ref(r, dead) for r in data) and any(
                nodes.get(r.node) is not None and nodes[r.node].op in ("NextIteration", "RefNextIteration")
                for r in data if not is_dead_ref(r, dead)):
            return f"a while loop (Merge '{name}') lies in a branch that never runs"
        live = [r for r in data if not is_dead_ref(r, dead)]
        if 1 < len(live) < len(data) and any(
                parse_input(i).node == name and parse_input(i).index == 1 and not i.startswith("^")
                for other in nodes.values() for i in other.input):
            return f"Merge '{name}' keeps several inputs and its value_index output is used"
    return None


def _copy(graph_def: graph_pb2.GraphDef) -> graph_pb2.GraphDef:
    out = graph_pb2.GraphDef()
    out.CopyFrom(graph_def)
    return out
