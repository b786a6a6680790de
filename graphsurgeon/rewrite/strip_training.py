"""strip_training(graph_def, outputs): remove Identity(N) chains, CheckNumerics, StopGradient and PreventGradient.

Each removed node's consumers read its input instead; its control inputs move onto its consumers
(see ``graphsurgeon.surgery.bypass_nodes``); an IdentityN's consumers of ``node:k`` read its input
``k`` (inlining functions leaves them). Unlike TensorFlow's ``remove_training_nodes``, a node
is kept, with the reason logged, when removing it is not provably safe:

* it is a requested output, or it has no consumers at all (it may be an output nobody named);
* another node is colocated with it (``_class: loc:@node``), or any ``_class`` entry names it
  without the ``loc:@`` prefix (TensorFlow's ``remove_training_nodes`` keeps such a node too, and
  removing it would leave an entry naming a node that is gone);
* it reads an output of a Switch: such Identities are a ``tf.cond`` branch's pivot
  (``cond/switch_t``) or a loop's ``while/Identity``, and the control edges hung on them decide
  which branch or iteration runs (run ``fold_constant_switches`` first to resolve constant
  conditions); or it reads another control-flow op (Merge, Enter, Exit, NextIteration) and
  carries control consumers;
* it forwards a reference (ref dtype) or (other than an IdentityN) has more than one data input.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from graphsurgeon._proto import graph_pb2
from graphsurgeon.formats.tensors import is_ref_dtype
from graphsurgeon.graph.bypass import bypass_nodes
from graphsurgeon.graph.names import TensorRef, parse_input, split_names
from graphsurgeon.graph.view import GraphView

log = logging.getLogger(__name__)

#: Ops removed by this pass: they pass their one input through unchanged at inference time.
STRIP_OPS = frozenset({"Identity", "IdentityN", "CheckNumerics", "StopGradient", "PreventGradient", "Snapshot"})
#: Ops whose outputs carry control flow; an Identity reading one is kept.
CONTROL_FLOW_OPS = frozenset({"Switch", "RefSwitch", "Merge", "RefMerge", "Enter", "RefEnter", "Exit", "RefExit",
                              "NextIteration", "RefNextIteration", "LoopCond", "_SwitchN"})
#: Ops with outputs that are dead in the branch not taken.
SWITCH_OPS = frozenset({"Switch", "RefSwitch", "_SwitchN"})


def strip_training(graph_def: graph_pb2.GraphDef, outputs: str | Iterable[str] = ()) -> graph_pb2.GraphDef:
    """Returns a new GraphDef without the pass-through nodes it can prove safe to remove.

    ``graph_def`` is not modified; node order is kept. ``outputs`` (node or tensor names) are never
    removed. See the module docstring for what is kept and why.
    """
    protected = {parse_input(o).node for o in split_names(outputs)}
    view = GraphView(graph_def, allow_dangling=True)
    colocated_with: set[str] = set()
    for name in view.names:
        colocated_with.update(view.colocated_with(name))
    named_by_class: set[str] = set()
    for node in graph_def.node:
        if "_class" in node.attr:
            named_by_class.update(e.decode("utf-8", "replace") for e in node.attr["_class"].list.s
                                  if not e.startswith(b"loc:@"))
    nodes = {n.name: n for n in graph_def.node}
    plan: dict[str, dict[int, TensorRef | None]] = {}
    for node in graph_def.node:
        if node.op not in STRIP_OPS:
            continue
        reason = _keep_reason(node, nodes, protected, colocated_with, view)
        if reason is None and node.name in named_by_class:
            reason = "a _class entry (without loc:@) names it"
        if reason:
            log.info("strip_training: keeping '%s' (%s): %s", node.name, node.op, reason)
            continue
        data = [r for r in map(parse_input, node.input) if not r.is_control]
        plan[node.name] = dict(enumerate(data)) if node.op == "IdentityN" else {0: data[0]}
    if not plan:
        out = graph_pb2.GraphDef()
        out.CopyFrom(graph_def)
        return out
    log.info("strip_training: removing %d node(s)", len(plan))
    return bypass_nodes(graph_def, plan, what="strip")


def _keep_reason(node, nodes, protected: set[str], colocated_with: set[str], view: GraphView) -> str | None:
    if node.name in protected:
        return "it is a requested output"
    if node.name in colocated_with:
        return "other nodes are colocated with it (_class loc:@)"
    data = [r for r in map(parse_input, node.input) if not r.is_control]
    if len(data) != 1 and (node.op != "IdentityN" or not data):
        return f"it has {len(data)} data inputs"
    for ref in data:
        producer = nodes.get(ref.node)
        if producer is None:
            return f"its input '{ref.node}' is not in the graph"
        if producer.op in SWITCH_OPS:
            return (f"it reads {producer.op} '{producer.name}' (a cond branch pivot or loop variable whose deadness "
                    "decides what runs; run fold_constant_switches first)")
        if producer.op in CONTROL_FLOW_OPS and view.consumers(node.name, ("control",)):
            return f"it reads {producer.op} '{producer.name}' and other nodes hang control inputs on it"
    for key in ("T", "dtype"):
        if key in node.attr and is_ref_dtype(node.attr[key].type):
            return "it forwards a reference (ref dtype)"
    if not view.consumers(node.name, ("data", "control")):
        return "nothing consumes it (it may be an output; name it in outputs)"
    return None
