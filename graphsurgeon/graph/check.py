"""check_graph(graph_def): the structural check every result passes before it is written.

It catches what makes ``tf.import_graph_def`` (or a C++ loader) reject a graph, and what a frozen
graph must not contain (pain points 2, 3, 14, 15, 24 and 29):

* unique, non-empty node names and ops;
* every input names an existing node, and an output index the producer has (checked for ops whose
  output count is known: single-output ops, Switch, Merge, Split, Unpack, TopKV2, FusedBatchNorm*,
  RestoreV2 ...; ops with no outputs such as NoOp, SaveV2 and AssignVariableOp cannot feed data);
* control inputs come after data inputs (TensorFlow's rule), and the same control input is not
  repeated;
* no ``Const``, ``Placeholder`` or variable node has a data input;
* ``_class: loc:@x`` colocation targets exist;
* while-loop structure: every ``Enter`` names its frame, and a ``NextIteration`` feeds only ``Merge``;
* with ``frozen=True`` (the default): no variable node, state update (Assign*, Apply*, Scatter*...),
  Ref* op, ref-typed attr or saver op is left, except those belonging to ``allow_variables``
  (variables kept on purpose by a whitelist / blacklist) and saver ops when ``allow_saver``; no
  resource-typed forwarder or resource read is fed by a Const.

A failure raises ``InvalidGraphError`` naming the node and what is wrong with it. The check is
general: any rewrite (freeze, prune, surgery) can run it with ``frozen=False``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from graphsurgeon._proto import graph_pb2, node_def_pb2, types_pb2
from graphsurgeon.errors import InvalidGraphError, close_matches
from graphsurgeon.formats.model import hollow_constants
from graphsurgeon.formats.tensors import is_ref_dtype
from graphsurgeon.graph import variables as var_lib
from graphsurgeon.graph.names import colocation_target, parse_input

DT = types_pb2.DataType

#: Ops with no outputs at all: nothing may take data from them.
NO_OUTPUT_OPS = frozenset({
    "NoOp", "SaveV2", "SaveSlices", "Save", "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
    "Assert", "ResourceScatterAdd", "ResourceScatterUpdate", "DestroyResourceOp", "InitializeTableV2",
    "InitializeTableFromTextFileV2", "LookupTableImportV2", "LookupTableInsertV2", "ControlTrigger",
    "ResourceApplyGradientDescent", "ResourceApplyAdam", "ResourceApplyMomentum", "DisableCopyOnRead",
    "MergeV2Checkpoints", "WriteSummary", "PrintV2",
})
#: Ops with exactly this many outputs.
FIXED_OUTPUTS = {
    "Switch": 2, "RefSwitch": 2, "Merge": 2, "RefMerge": 2, "TopKV2": 2, "TopK": 2, "Unique": 2, "UniqueV2": 2,
    "ListDiff": 2, "UniqueWithCounts": 3, "FusedBatchNorm": 5, "FusedBatchNormV2": 5, "FusedBatchNormV3": 6,
    "TensorArrayV3": 2, "TensorArrayGradV3": 2, "TensorArrayConcatV3": 2, "BroadcastGradientArgs": 2,
    "QueueDequeue": 1, "Const": 1, "Placeholder": 1, "PlaceholderV2": 1, "PlaceholderWithDefault": 1,
    "Identity": 1, "RefIdentity": 1, "Enter": 1, "RefEnter": 1, "Exit": 1, "RefExit": 1, "NextIteration": 1,
    "RefNextIteration": 1, "LoopCond": 1, "VariableV2": 1, "Variable": 1, "VarHandleOp": 1, "ReadVariableOp": 1,
    "MatMul": 1, "BiasAdd": 1, "Conv2D": 1, "Relu": 1, "Add": 1, "AddV2": 1, "Sub": 1, "Mul": 1, "Shape": 1,
    "Reshape": 1, "ConcatV2": 1, "GatherV2": 1, "GatherNd": 1, "Cast": 1, "Softmax": 1, "Mean": 1, "Sum": 1,
    "Assign": 1, "AssignAdd": 1, "AssignSub": 1, "HashTableV2": 1, "LookupTableFindV2": 1, "StridedSlice": 1,
}
#: Attr naming the output count of list-output ops.
_COUNT_ATTRS = {"Split": "num_split", "SplitV": "num_split", "Unpack": "num", "ShapeN": "N",
                "DynamicPartition": "num_partitions", "IdentityN": "T", "RestoreV2": "dtypes",
                "Unstage": "dtypes", "QueueDequeueV2": "component_types"}
#: Ops that must not take data inputs.
SOURCE_OPS = frozenset({"Const", "Placeholder", "PlaceholderV2"}) | var_lib.VARIABLE_OPS


def output_count(node: node_def_pb2.NodeDef) -> int | None:
    """How many outputs ``node`` has, when that can be known from its op and attrs; else ``None``."""
    if node.op in NO_OUTPUT_OPS:
        return 0
    if node.op in FIXED_OUTPUTS:
        return FIXED_OUTPUTS[node.op]
    attr = _COUNT_ATTRS.get(node.op)
    if attr and attr in node.attr:
        value = node.attr[attr]
        if value.HasField("list"):
            return len(value.list.type)
        return int(value.i)
    return None


def _fail(node: str, message: str, source: str) -> InvalidGraphError:
    return InvalidGraphError(f"{source}: node '{node}' {message}")


def check_graph(graph_def: graph_pb2.GraphDef, *, frozen: bool = True, allow_variables: Iterable[str] = (),
                allow_saver: bool = False, allow_hollow: Iterable[str] = (), source: str = "graph") -> None:
    """Raises ``InvalidGraphError`` naming the first broken node; returns ``None`` for a sound graph.

    Args:
        graph_def: the graph to check (not modified).
        frozen: also require that no variable state is left (see the module docstring).
        allow_variables: variable nodes that may stay (with their reads, assigns and ref edges).
        allow_saver: let save/restore ops stay (``gs constify`` keeps the Saver).
        allow_hollow: hollow Consts (a shape, no values) that may stay: ``freeze(..., defer_values=True)``'s,
            which only the streaming writer fills.
        source: how to name the graph in messages (a file name, ``"frozen graph"``).
    """
    nodes: dict[str, node_def_pb2.NodeDef] = {}
    for node in graph_def.node:
        if not node.name:
            raise InvalidGraphError(f"{source}: a node of op '{node.op}' has an empty name")
        if not node.op:
            raise _fail(node.name, "has no op", source)
        if node.name in nodes:
            raise _fail(node.name, "appears twice; node names must be unique", source)
        nodes[node.name] = node
    for node in graph_def.node:
        _check_inputs(node, nodes, source)
        _check_colocation(node, nodes, source)
    _check_loops(graph_def, nodes, source)
    allowed_hollow = set(allow_hollow)
    for name in hollow_constants(graph_def):
        if name not in allowed_hollow:
            raise _fail(name, "is a constant with a shape but no values (a hollow constant of "
                        "freeze(..., defer_values=True), which only the streaming writer can fill)", source)
    if frozen:
        _check_frozen(graph_def, nodes, set(allow_variables), allow_saver, source)


def _check_inputs(node: node_def_pb2.NodeDef, nodes: Mapping[str, node_def_pb2.NodeDef], source: str) -> None:
    seen_control = False
    controls: set[str] = set()
    for inp in node.input:
        ref = parse_input(inp)
        if ref.is_control:
            seen_control = True
            if ref.node in controls:
                raise _fail(node.name, f"lists control input '{inp}' twice", source)
            controls.add(ref.node)
        elif seen_control:
            raise _fail(node.name, f"has data input '{inp}' after a control input; control inputs ('^name') "
                        "must come last", source)
        producer = nodes.get(ref.node)
        if producer is None:
            hints = close_matches(ref.node, nodes)
            hint = ("; did you mean " + ", ".join(f"'{h}'" for h in hints) + "?") if hints else ""
            raise _fail(node.name, f"input '{inp}' names node '{ref.node}', which is not in the graph{hint}", source)
        if ref.is_control:
            continue
        if node.op in SOURCE_OPS:
            raise _fail(node.name, f"is a {node.op} but has data input '{inp}'; a {node.op} takes no data inputs "
                        "(only '^control' inputs)", source)
        count = output_count(producer)
        if count is not None and ref.index >= count:
            has = "no outputs" if count == 0 else f"{count} output{'s' if count != 1 else ''}"
            raise _fail(node.name, f"input '{inp}' asks for output {ref.index} of '{producer.name}' "
                        f"({producer.op}), which has {has}", source)


def _check_loops(graph_def: graph_pb2.GraphDef, nodes: Mapping[str, node_def_pb2.NodeDef], source: str) -> None:
    """v1 while loops: every Enter names its frame; a NextIteration feeds only Merges (the back edge)."""
    for node in graph_def.node:
        if node.op in ("Enter", "RefEnter"):
            frame = node.attr["frame_name"].s if "frame_name" in node.attr else b""
            if not frame:
                raise _fail(node.name, f"({node.op}) has no frame_name; a while-loop Enter must name its frame", source)
        for inp in node.input:
            ref = parse_input(inp)
            producer = nodes.get(ref.node)
            if (not ref.is_control and producer is not None and producer.op in ("NextIteration", "RefNextIteration")
                    and node.op not in ("Merge", "RefMerge")):
                raise _fail(node.name, f"({node.op}) takes '{inp}' from {producer.op} '{producer.name}'; a "
                            "NextIteration may only feed the Merge of its loop", source)


def _check_colocation(node: node_def_pb2.NodeDef, nodes: Mapping[str, node_def_pb2.NodeDef], source: str) -> None:
    if "_class" not in node.attr:
        return
    for entry in node.attr["_class"].list.s:
        target = colocation_target(entry)
        if target is not None:
            if target not in nodes:
                raise _fail(node.name, f"is colocated with '{target}' (_class loc:@{target}), which is not in the "
                            "graph", source)


def _root(inp: str, nodes: Mapping[str, node_def_pb2.NodeDef]) -> node_def_pb2.NodeDef | None:
    """The node at the start of a chain of forwarders (Identity, Switch, Enter, Ref* ...)."""
    ref = parse_input(inp)
    for _ in range(64):
        node = nodes.get(ref.node)
        if node is None:
            return None
        if node.op in var_lib.FORWARD_OPS or node.op in var_lib.REF_FORWARD_OPS:
            data = [i for i in node.input if not i.startswith("^")]
            if not data:
                return node
            ref = parse_input(data[0])
            continue
        return node
    return None


def _check_frozen(graph_def: graph_pb2.GraphDef, nodes: Mapping[str, node_def_pb2.NodeDef], allowed: set[str],
                  allow_saver: bool, source: str) -> None:
    hint = " (a frozen graph must not hold variable state; was the variable converted?)"
    for node in graph_def.node:
        if node.op in var_lib.VARIABLE_OPS:
            if node.name not in allowed:
                raise _fail(node.name, f"is a variable ({node.op}) left in the frozen graph", source)
            continue
        if node.op in var_lib.SAVER_OPS:
            if not allow_saver:
                raise _fail(node.name, f"is a save/restore op ({node.op}) left in the frozen graph", source)
            continue
        data = [i for i in node.input if not i.startswith("^")]
        target = _root(data[0], nodes) if data else None
        target_ok = target is not None and target.name in allowed
        if var_lib.is_writer_op(node.op) and not target_ok:
            raise _fail(node.name, f"({node.op}) updates '{target.name if target else data[:1]}', which is not a "
                        f"variable kept on purpose{hint}", source)
        if node.op in var_lib.REF_FORWARD_OPS and not target_ok:
            raise _fail(node.name, f"({node.op}) passes a ref that does not come from a kept variable{hint}", source)
        for key in ("T", "dtype"):
            if key in node.attr and is_ref_dtype(node.attr[key].type) and not target_ok:
                raise _fail(node.name, f"has a ref-typed attr {key}{hint}", source)
        handle = node.op in ("ReadVariableOp", "ResourceGather", "ResourceGatherNd", "VariableShape",
                             "VarIsInitializedOp") or (
            node.op in var_lib.FORWARD_OPS and "T" in node.attr and node.attr["T"].type == DT.DT_RESOURCE)
        if handle and target is not None and target.op in ("Const", "Placeholder", "PlaceholderWithDefault"):
            dtype = target.attr["dtype"].type if "dtype" in target.attr else DT.DT_INVALID
            if dtype != DT.DT_RESOURCE:
                raise _fail(node.name, f"({node.op}) expects a resource handle but is fed by {target.op} "
                            f"'{target.name}' (a value); the consumer was not rewritten", source)
