"""inline_calls: replace function calls in a GraphDef's top level with the functions' bodies.

``inline_function`` and ``OutputLayout`` are the building blocks, also used to inline the taken
branch of a constant ``If`` / ``Case`` (``fold_constant_conditions``).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Mapping
from typing import Any

from graphsurgeon._proto import (
    function_pb2,
    graph_pb2,
    node_def_pb2,
)
from graphsurgeon.errors import (
    UnsupportedError,
)
from graphsurgeon.graph import functions as fn
from graphsurgeon.graph import names
from graphsurgeon.graph.op_registry import op_registry

logger = logging.getLogger(__name__)

# --- inlining -----------------------------------------------------------------------------------------

# Output args of common ops with more than one output arg, for when the MetaGraphDef's
# stripped_op_list lacks them (TF 2.21 lists the top-level graph's ops, not every function's).
_OUTPUT_ARGS: dict[str, tuple[str, ...]] = {
    "FusedBatchNorm": ("y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"),
    "FusedBatchNormV2": ("y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"),
    "FusedBatchNormV3": ("y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2",
                         "reserve_space_3"),
    "Unique": ("y", "idx"), "UniqueV2": ("y", "idx"), "UniqueWithCounts": ("y", "idx", "count"),
    "TopKV2": ("values", "indices"), "TopK": ("values", "indices"),
    "MaxPoolWithArgmax": ("output", "argmax"), "BroadcastGradientArgs": ("r0", "r1"),
    "SoftmaxCrossEntropyWithLogits": ("loss", "backprop"),
    "SparseSoftmaxCrossEntropyWithLogits": ("loss", "backprop"),
    "QuantizeV2": ("output", "output_min", "output_max"),
}


def _arg_size(arg: Any, node: node_def_pb2.NodeDef, op_def: Any) -> int:
    if arg.number_attr:
        if arg.number_attr in node.attr:
            return int(node.attr[arg.number_attr].i)
        default = next((a.default_value.i for a in op_def.attr if a.name == arg.number_attr), None)
        if default is None:
            raise UnsupportedError(f"cannot inline: node '{node.name}' ({node.op}) lacks attr '{arg.number_attr}'")
        return int(default)
    if arg.type_list_attr:
        return len(node.attr[arg.type_list_attr].list.type) if arg.type_list_attr in node.attr else 0
    return 1


class OutputLayout:
    """Flat output index of ``node:output_arg:index`` references, from OpDefs (given, else TensorFlow's
    registry bundled with graphsurgeon), functions or a table."""

    def __init__(self, op_defs: Mapping[str, Any], library: Mapping[str, function_pb2.FunctionDef]) -> None:
        self.op_defs = op_defs
        self.library = library

    def offsets(self, node: node_def_pb2.NodeDef) -> dict[str, int] | None:
        """Output arg -> first flat index; ``None`` when unknown (then one output arg is assumed)."""
        if node.op in self.library:
            return {a.name: i for i, a in enumerate(self.library[node.op].signature.output_arg)}
        op_def = self.op_defs.get(node.op) or op_registry().get(node.op)
        if op_def is not None:
            out, start = {}, 0
            for arg in op_def.output_arg:
                out[arg.name] = start
                start += _arg_size(arg, node, op_def)
            return out
        if node.op in _OUTPUT_ARGS:
            return {name: i for i, name in enumerate(_OUTPUT_ARGS[node.op])}
        return None


def free_prefix(name: str, body: list[str], taken: set[str]) -> str:
    """``<name>/``, or ``<name>/_inlined_<k>/`` for the first k where no body node's new name is taken."""
    prefix = name + "/"
    for k in range(1, 10000):
        if not any(prefix + n in taken for n in body):
            return prefix
        prefix = f"{name}/_inlined_{k}/"
    raise UnsupportedError(f"cannot inline '{name}': no free name scope for its body")  # pragma: no cover


def inline_function(call: node_def_pb2.NodeDef, fdef: function_pb2.FunctionDef, layout: OutputLayout,
                    taken: set[str], arguments: list[str] | None = None) -> list[node_def_pb2.NodeDef]:
    """The nodes replacing ``call``, a node that runs ``fdef`` (a call, or an ``If`` / ``Case`` whose branch is known).

    The body goes under ``<call>/`` (``<call>/_inlined_<k>/`` where that would clash); a node named
    like ``call`` forwards the results, so ``call:k`` names stay valid: an ``Identity`` when the
    function has one result and no control outputs, else an ``IdentityN`` (a ``NoOp`` when it has no
    results). ``arguments`` are the tensors bound to the function's arguments (default: the call's
    data inputs); ``taken`` holds the graph's node names.

    Raises:
        UnsupportedError: the function is polymorphic, or an output layout inside it is unknown.
    """
    prefix = free_prefix(call.name, [n.name for n in fdef.node_def], taken)
    data = [x for x in call.input if not x.startswith("^")] if arguments is None else list(arguments)
    controls = [x for x in call.input if x.startswith("^")]
    args = {arg.name: data[i] for i, arg in enumerate(fdef.signature.input_arg)}
    by_name = {n.name: n for n in fdef.node_def}
    offsets = {n.name: layout.offsets(n) for n in fdef.node_def}
    used_args: dict[str, set[str]] = collections.defaultdict(set)

    def convert(name: str) -> str:
        ref = fn.parse_function_input(name)
        if ref.is_control:
            if ref.node in args:
                return "^" + names.node_name(args[ref.node])
            return "^" + prefix + ref.node
        if ref.output is None:
            if ref.node not in args:
                raise UnsupportedError(f"cannot inline '{call.name}': function '{fdef.signature.name}' uses "
                                       f"unknown argument '{ref.node}'")
            return args[ref.node]
        table = offsets.get(ref.node)
        if table is None:
            used_args[ref.node].add(ref.output)
            if len(used_args[ref.node]) > 1:
                op = by_name[ref.node].op if ref.node in by_name else "?"
                raise UnsupportedError(f"cannot inline '{call.name}': the output layout of op {op} (node "
                                       f"'{ref.node}' in '{fdef.signature.name}') is unknown")
            flat = ref.index
        elif ref.output in table:
            flat = table[ref.output] + ref.index
        else:
            raise UnsupportedError(f"cannot inline '{call.name}': node '{ref.node}' has no output '{ref.output}'")
        return names.format_input(names.TensorRef(prefix + ref.node, flat))

    out: list[node_def_pb2.NodeDef] = []
    for node in fdef.node_def:
        if any(v.placeholder for v in node.attr.values()):
            raise UnsupportedError(f"cannot inline '{call.name}': function '{fdef.signature.name}' is polymorphic")
        new = node_def_pb2.NodeDef()
        new.CopyFrom(node)
        new.name = prefix + node.name
        del new.input[:]
        new.input.extend(convert(x) for x in node.input)
        if not new.input and controls:
            new.input.extend(controls)  # a body node without inputs still runs after the call's control inputs
        if "_class" in new.attr:
            del new.attr["_class"]
        out.append(new)
    ident = node_def_pb2.NodeDef(name=call.name, op="IdentityN", device=call.device)
    ident.input.extend(convert(fdef.ret[a.name]) for a in fdef.signature.output_arg)
    ident.input.extend("^" + prefix + fdef.control_ret[c] for c in fdef.signature.control_output
                       if c in fdef.control_ret)
    ident.attr["T"].list.type.extend(a.type for a in fdef.signature.output_arg)
    if "_output_shapes" in call.attr:
        ident.attr["_output_shapes"].CopyFrom(call.attr["_output_shapes"])
    if not fdef.signature.output_arg:
        ident.op = "NoOp"
        del ident.attr["T"]
    elif len(ident.input) == 1:
        ident.op = "Identity"
        ident.attr["T"].type = fdef.signature.output_arg[0].type
    out.append(ident)
    return out


def inline_calls(graph_def: graph_pb2.GraphDef, op_defs: Mapping[str, Any] | None = None) -> graph_pb2.GraphDef:
    """Returns a new GraphDef with every top-level ``(Stateful)PartitionedCall`` replaced by its body.

    Bodies go under ``<call>/``; the call itself becomes an ``Identity`` (one result) or ``IdentityN``
    of the same name, so ``call:k`` names stay valid. Nested calls are inlined too. Functional control flow (``If``,
    ``While``, ``Case``) stays, with the functions it needs. ``op_defs`` (op name -> OpDef, e.g. a
    MetaGraphDef's ``stripped_op_list``) gives output layouts; ``graph_def`` is not modified.
    """
    library = fn.function_library(graph_def)
    layout = OutputLayout(op_defs or {}, library)
    nodes = list(graph_def.node)
    for _ in range(1000):
        calls = [i for i, n in enumerate(nodes) if n.op in fn.CALL_OPS or n.op in library]
        if not calls:
            break
        taken = {n.name for n in nodes}
        new_nodes: list[node_def_pb2.NodeDef] = []
        for i, node in enumerate(nodes):
            if i not in calls:
                new_nodes.append(node)
                continue
            name = node.attr["f"].func.name if node.op in fn.CALL_OPS else node.op
            if name not in library:
                raise UnsupportedError(f"cannot inline '{node.name}': function '{name}' is not in the library")
            new_nodes.extend(inline_function(node, library[name], layout, taken))
        nodes = new_nodes
    else:  # pragma: no cover - recursion guard
        raise UnsupportedError("cannot inline: calls nest more than 1000 deep")
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.node.extend(nodes)
    reachable = fn.reachable_functions(out.node, library)
    out.library.function.extend(library[name] for name in sorted(reachable))
    for grad in graph_def.library.gradient:
        if grad.function_name in reachable and grad.gradient_func in reachable:
            out.library.gradient.add().CopyFrom(grad)
    return out


