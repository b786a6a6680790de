"""fold_constant_conditions(graph_def, outputs): inline the taken branch of an If / Case whose condition is constant.

Control flow v2 (TF 2.x, also tf_keras in TF1 graph mode) builds ``tf.cond`` as an ``If`` or
``StatelessIf`` node that calls one of two functions, and ``tf.switch_case`` as a ``Case``. Once the
condition is constant (bind the training flags first: ``--bind keras_learning_phase=false``), the
node is replaced by the branch that runs, inlined under ``<node>/``: a node of the same name
forwards its results (``Identity`` for one result, else ``IdentityN``, which ``strip_training``
removes), so ``node:k`` names stay valid. Nested conditions whose condition becomes constant after
inlining are folded too.

TensorFlow's rules for the condition: a bool scalar; a numeric scalar is true when non-zero, a
string scalar when non-empty; a tensor of any other shape is true when it is not empty. A ``Case``
index out of range runs the last branch. The condition is constant when it is a ``Const`` or what
``fold_constants`` computes exactly from constants, through Identity nodes.

A node is left as it is, with the reason logged (``gs -v optimize``), when its condition is not
constant (the log names the op that makes it), the branch is not in the library, the branch is
polymorphic, a body node's name would clash with an existing node, or a layout inside is unknown.
``inline_calls`` replaces function calls (``PartitionedCall``, ``StatefulPartitionedCall``) the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from graphsurgeon._proto import graph_pb2, node_def_pb2
from graphsurgeon.errors import UnsupportedError
from graphsurgeon.graph import functions as fn
from graphsurgeon.graph.names import parse_input, split_names
from graphsurgeon.rewrite.fold_constants import ConstantEvaluator
from graphsurgeon.rewrite.inline import OutputLayout, inline_calls, inline_function

log = logging.getLogger(__name__)

#: Functional conditions this pass folds.
CONDITION_OPS = fn.IF_OPS | fn.CASE_OPS

_MAX_ROUNDS = 64


def fold_constant_conditions(graph_def: graph_pb2.GraphDef, outputs: str | Iterable[str] = ()) -> graph_pb2.GraphDef:
    """Returns a new GraphDef with each constant-condition If / Case replaced by its taken branch.

    ``graph_def`` is not modified; functions no node calls any more are dropped from the library.
    ``outputs`` is accepted for the pass signature: a folded node keeps its name (and, with one
    result, an ``Identity`` of it stays), so requested outputs stay valid. See the module docstring.
    """
    split_names(outputs)  # validates the argument as the other passes do
    library = fn.function_library(graph_def)
    layout = OutputLayout({}, library)
    nodes = list(graph_def.node)
    folded = 0
    reasons: dict[str, str] = {}
    for _ in range(_MAX_ROUNDS):  # inlined branches may hold conditions that are constant now
        if not any(n.op in CONDITION_OPS for n in nodes):
            break
        evaluator = ConstantEvaluator(nodes)
        by_name = {n.name: n for n in nodes}
        taken = set(by_name)
        changed = False
        new_nodes: list[node_def_pb2.NodeDef] = []
        for node in nodes:
            if node.op not in CONDITION_OPS:
                new_nodes.append(node)
                continue
            branch, reason = _taken_branch(node, by_name, evaluator)
            replacement = None
            if branch is not None:
                fdef = library.get(branch)
                if fdef is None:
                    reason = f"its branch function '{branch}' is not in the graph's library"
                else:
                    data = [x for x in node.input if not x.startswith("^")]
                    try:
                        replacement = inline_function(node, fdef, layout, taken, arguments=data[1:])
                    except UnsupportedError as err:
                        reason = str(err).removeprefix("cannot inline ")
            if replacement is None:
                reasons[node.name] = reason
                new_nodes.append(node)
                continue
            _keep_output_shapes(node, replacement[-1])
            log.debug("fold_constant_conditions: %s '%s' runs '%s'; inlined", node.op, node.name, branch)
            taken.update(n.name for n in replacement)
            new_nodes.extend(replacement)
            folded += 1
            changed = True
        nodes = new_nodes
        if not changed:
            break
    for node in nodes:
        if node.op in CONDITION_OPS:
            log.info("fold_constant_conditions: keeping %s '%s': %s", node.op, node.name,
                     reasons.get(node.name, f"conditions nest more than {_MAX_ROUNDS} deep"))
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.node.extend(nodes)
    reachable = fn.reachable_functions(out.node, library)
    out.library.function.extend(library[name] for name in sorted(reachable))
    for grad in graph_def.library.gradient:
        if grad.function_name in reachable and grad.gradient_func in reachable:
            out.library.gradient.add().CopyFrom(grad)
    if folded:
        log.info("fold_constant_conditions: %d If/Case node(s) replaced by their taken branch", folded)
    return out


def inline_all_calls(graph_def: graph_pb2.GraphDef, outputs: str | Iterable[str] = ()) -> graph_pb2.GraphDef:
    """The ``inline_calls`` pass: every function call (``PartitionedCall``, ``StatefulPartitionedCall``, a
    call by function name) replaced by its body; each call keeps its name (see ``inline_calls``)."""
    split_names(outputs)
    calls = sum(1 for n in graph_def.node if n.op in fn.CALL_OPS)
    out = inline_calls(graph_def)
    if calls:
        log.info("inline_calls: inlined %d top-level call(s) and the calls inside them", calls)
    return out


def _taken_branch(node: node_def_pb2.NodeDef, nodes: Mapping[str, node_def_pb2.NodeDef],
                  evaluator: ConstantEvaluator) -> tuple[str | None, str]:
    """(the function that runs, "") or (None, why it is not known)."""
    data = [x for x in node.input if not x.startswith("^")]
    if not data:
        return None, "it has no condition input"
    value, reason = _constant(data[0], nodes, evaluator)
    if value is None:
        return None, reason
    if node.op in fn.IF_OPS:
        branch = node.attr["then_branch"] if _truth(value) else node.attr["else_branch"]
        return branch.func.name, ""
    branches = node.attr["branches"].list.func
    if not branches:
        return None, "it has no branches"
    if value.size != 1 or not np.issubdtype(value.dtype, np.integer):
        return None, f"its branch index is not an integer scalar ({value.dtype}, shape {list(value.shape)})"
    index = int(value.reshape(-1)[0])
    return branches[index if 0 <= index < len(branches) else len(branches) - 1].name, ""


def _constant(tensor: str, nodes: Mapping[str, node_def_pb2.NodeDef],
              evaluator: ConstantEvaluator) -> tuple[np.ndarray | None, str]:
    """The constant value of a condition input, through Identity nodes; else (None, why not)."""
    ref = parse_input(tensor)
    producer = nodes.get(ref.node)
    for _ in range(64):
        if producer is None:
            return None, f"its condition '{tensor}' is not in the graph"
        data = [r for r in map(parse_input, producer.input) if not r.is_control]
        if producer.op != "Identity" or len(data) != 1:
            break
        ref = data[0]
        producer = nodes.get(ref.node)
    if producer is None:
        return None, f"its condition '{tensor}' is not in the graph"
    value = evaluator.value(ref)
    if value is None:
        what = f"{producer.op} '{producer.name}'"
        hint = (" (a placeholder: bind it, e.g. --bind " + producer.name + "=false)"
                if producer.op in ("Placeholder", "PlaceholderWithDefault") else "")
        return None, f"its condition is not constant: it comes from {what}{hint}"
    return np.asarray(value), ""


def _truth(value: np.ndarray) -> bool:
    """TensorFlow's If: a scalar bool as is, a numeric scalar non-zero, a string non-empty; else non-empty."""
    if value.ndim != 0:
        return bool(value.size)
    item: Any = value.item()
    if isinstance(item, bytes | str):
        return len(item) > 0
    return bool(item)


def _keep_output_shapes(node: node_def_pb2.NodeDef, forwarder: node_def_pb2.NodeDef) -> None:
    if "_output_shapes" in node.attr and forwarder.op != "NoOp":
        forwarder.attr["_output_shapes"].CopyFrom(node.attr["_output_shapes"])


__all__ = ["CONDITION_OPS", "fold_constant_conditions", "inline_all_calls"]
