"""check_graph(graph_def): the structural check every result passes before it is written.

It catches what makes ``tf.import_graph_def`` (or a C++ loader) reject a graph, and what a frozen
graph must not contain (pain points 2, 3, 14, 15, 24 and 29):

* unique, non-empty node names and ops;
* every op is a function of the graph's library or an op of TensorFlow's op registry (bundled,
  ``graph.op_registry``); an op that is neither is a custom op (plugin ops are legitimate): it is
  logged as a warning, once per op, and returned, and its node is not checked further;
* for a known op, as TensorFlow's ``ValidateNodeDef`` does: no attr without a default is missing
  (``NodeDef missing attr``), no attr is one the op does not have (``NodeDef mentions attr 'X'
  not in Op``; ``_``-prefixed attrs are free), every attr value has the attr's type and lies in
  its ``allowed_values`` and ``minimum``, and the node has as many data inputs as its OpDef and
  attrs say (``number_attr`` / ``type_list_attr`` args count their tensors);
* every input names an existing node, and an output index the producer has (its output count
  from its OpDef and attrs; ops with no outputs such as NoOp, SaveV2 and AssignVariableOp cannot
  feed data);
* control inputs come after data inputs (TensorFlow's rule), and the same control input is not
  repeated;
* no ``Const``, ``Placeholder`` or variable node has a data input;
* ``_class: loc:@x`` colocation targets exist;
* no hollow constant (a shape, no values) is left, except those named in ``allow_hollow``;
* while-loop structure: every ``Enter`` names its frame, and a ``NextIteration`` feeds only ``Merge``;
* with ``frozen=True`` (the default): no variable node, state update (Assign*, Apply*, Scatter*...),
  Ref* op, ref-typed attr or saver op is left, except those belonging to ``allow_variables``
  (variables kept on purpose by a whitelist / blacklist) and saver ops when ``allow_saver``; no
  resource-typed forwarder or resource read is fed by a Const.

* inside each function of the library, as TensorFlow's ``InstantiateFunction`` resolves them: every
  input is an input arg (``x``, ``x:1``), an output of a body node (``node:out_arg[:index]``, the
  arg named by the producer's OpDef or called function's signature, the index below its length from
  ``number_attr`` / ``type_list_attr``) or ``^name`` of a body node or input arg; ``ret`` maps every
  output arg to such a reference, and ``control_ret`` names body nodes.

A failure raises ``InvalidGraphError`` naming the node (and function) and what is wrong with it. The
nodes of the library's functions get the registry checks too (attrs and input counts). The check is
general: any rewrite (freeze, prune, surgery) can run it with ``frozen=False``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping

from graphsurgeon._proto import attr_value_pb2, function_pb2, graph_pb2, node_def_pb2, op_def_pb2, types_pb2
from graphsurgeon.errors import InvalidGraphError, close_matches
from graphsurgeon.formats.model import hollow_constants
from graphsurgeon.formats.tensors import dtype_name, is_ref_dtype
from graphsurgeon.graph import op_registry
from graphsurgeon.graph import variables as var_lib
from graphsurgeon.graph.functions import parse_function_input
from graphsurgeon.graph.names import colocation_target, parse_input

log = logging.getLogger(__name__)

DT = types_pb2.DataType
_warned_custom_ops: set[str] = set()

#: Ops that must not take data inputs.
SOURCE_OPS = frozenset({"Const", "Placeholder", "PlaceholderV2"}) | var_lib.VARIABLE_OPS


def _fail(node: str, message: str, source: str) -> InvalidGraphError:
    return InvalidGraphError(f"{source}: node '{node}' {message}")


def check_graph(graph_def: graph_pb2.GraphDef, *, frozen: bool = True, allow_variables: Iterable[str] = (),
                allow_saver: bool = False, allow_hollow: Iterable[str] = (), source: str = "graph") -> list[str]:
    """Raises ``InvalidGraphError`` naming the first broken node; for a sound graph, returns its custom ops.

    Args:
        graph_def: the graph to check (not modified).
        frozen: also require that no variable state is left (see the module docstring).
        allow_variables: variable nodes that may stay (with their reads, assigns and ref edges).
        allow_saver: let save/restore ops stay (``gs constify`` keeps the Saver).
        allow_hollow: hollow Consts (a shape, no values) that may stay: ``freeze(..., defer_values=True)``'s,
            which only the streaming writer fills.
        source: how to name the graph in messages (a file name, ``"frozen graph"``).

    Returns:
        The ops, sorted, that are neither in TensorFlow's op registry nor functions of the
        graph's library (each is also logged as a warning, once per process).
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
    functions = op_registry.function_signatures(graph_def.library)
    custom: dict[str, list[str]] = {}
    counts: dict[str, int | None] = {}
    registry = op_registry.op_registry()
    for node in graph_def.node:
        _check_inputs(node, nodes, functions, counts, source)
        op_def = functions.get(node.op) or registry.get(node.op)
        if op_def is None:
            custom.setdefault(node.op, []).append(node.name)
        else:
            _check_node(node, op_def, node.op in functions, functions, source)
        _check_colocation(node, nodes, source)
    out_args: dict[str, tuple[op_def_pb2.OpDef, dict[str, op_def_pb2.OpDef.ArgDef]] | None] = {}
    for function in graph_def.library.function:
        where = f"{source}, function '{function.signature.name}'"
        for node in function.node_def:
            op_def = functions.get(node.op) or registry.get(node.op)
            if op_def is None:
                custom.setdefault(node.op, []).append(f"{function.signature.name}/{node.name}")
            else:
                _check_node(node, op_def, node.op in functions, functions, where)
        _check_function_refs(function, functions, out_args, where)
    _check_loops(graph_def, nodes, source)
    allowed_hollow = set(allow_hollow)
    for name in hollow_constants(graph_def):
        if name not in allowed_hollow:
            raise _fail(name, "is a constant with a shape but no values (a hollow constant of "
                        "freeze(..., defer_values=True), which only the streaming writer can fill)", source)
    if frozen:
        _check_frozen(graph_def, nodes, set(allow_variables), allow_saver, source)
    for op, names in custom.items():
        if op not in _warned_custom_ops:
            _warned_custom_ops.add(op)
            log.warning("%s: op '%s' (%d node(s), e.g. '%s') is not in TensorFlow %s's op registry nor a function "
                        "of the graph: a custom op, so its attrs and inputs are not checked; the runtime that loads "
                        "the graph must register it", source, op, len(names), names[0],
                        op_registry.op_registry().tensorflow_version or "")
    return sorted(custom)


# AttrDef.type -> the AttrValue field that holds it (list(X) -> the ListValue field).
_ATTR_FIELDS = {"string": "s", "int": "i", "float": "f", "bool": "b", "type": "type", "shape": "shape",
                "tensor": "tensor", "func": "func"}


def _describe(value: attr_value_pb2.AttrValue) -> str:
    kind = value.WhichOneof("value")
    if kind == "list":
        used = [f for f in _ATTR_FIELDS.values() if len(getattr(value.list, f))]
        return f"list({', '.join(k for k, f in _ATTR_FIELDS.items() if f in used)})" if used else "an empty list"
    inverse = {f: k for k, f in _ATTR_FIELDS.items()}
    return inverse.get(kind or "", kind or "no value")


_VALID_DTYPES = frozenset(DT.values()) - {DT.DT_INVALID}


@dataclasses.dataclass(frozen=True)
class _AttrSpec:
    """One AttrDef, prepared for checking many nodes."""

    attr: op_def_pb2.OpDef.AttrDef
    is_list: bool
    element: str
    field: str | None  # the AttrValue (or ListValue) field; None: a type this check does not know
    allowed: frozenset | None
    simple: bool  # a scalar attr whose only check is its kind (no minimum, no allowed values, not a type)


@dataclasses.dataclass(frozen=True)
class _OpSpec:
    attrs: dict[str, _AttrSpec]
    required: tuple[str, ...]  # attrs without a default


_op_specs: dict[str, _OpSpec] = {}


def _op_spec(op_def: op_def_pb2.OpDef) -> _OpSpec:
    """The prepared attrs of a registered op (cached by op name: the registry does not change)."""
    spec = _op_specs.get(op_def.name)
    if spec is None:
        attrs = {}
        for attr in op_def.attr:
            is_list = attr.type.startswith("list(")
            element = attr.type[5:-1] if is_list else attr.type
            field = _ATTR_FIELDS.get(element)
            allowed = None
            if attr.HasField("allowed_values") and element in ("type", "string") and field is not None:
                allowed = frozenset(getattr(attr.allowed_values.list, field)) or None
            simple = (not is_list and field is not None and allowed is None and element != "type"
                      and not (element == "int" and attr.has_minimum))
            attrs[attr.name] = _AttrSpec(attr, is_list, element, None if attr.type == "any" else field, allowed,
                                         simple)
        required = tuple(a.name for a in op_def.attr if not a.HasField("default_value"))
        spec = _op_specs[op_def.name] = _OpSpec(attrs, required)
    return spec


def _attr_problem(spec: _AttrSpec, value: attr_value_pb2.AttrValue) -> str | None:
    """What is wrong with ``value`` for the attr (TensorFlow's ValidateAttrValue), or ``None``."""
    field = spec.field
    if field is None:
        return None  # "any", or an attr type this check does not know: TensorFlow's own loader decides
    attr = spec.attr
    kind = value.WhichOneof("value")
    if kind == "placeholder":
        return None
    if spec.is_list:
        if kind not in ("list", None) or any(len(getattr(value.list, f)) for f in _ATTR_FIELDS.values() if f != field):
            return f"is {_describe(value)}, but the op wants {attr.type}"
        items = list(getattr(value.list, field))
        if attr.has_minimum and len(items) < attr.minimum:
            return f"has {len(items)} element(s), but the op wants at least {attr.minimum}"
    else:
        if kind != field:
            return f"is {_describe(value)}, but the op wants {attr.type}"
        if spec.element == "int" and attr.has_minimum and value.i < attr.minimum:
            return f"is {value.i}, but the op wants at least {attr.minimum}"
        if spec.element != "type" and spec.allowed is None:
            return None
        items = [getattr(value, field)]
    if spec.element == "type":
        for dtype in items:
            if dtype not in _VALID_DTYPES:
                return f"holds an invalid dtype ({dtype})"
    if spec.allowed is not None:
        for item in items:
            if item not in spec.allowed:
                allowed = list(getattr(attr.allowed_values.list, field))
                if spec.element == "type":
                    shown = ", ".join(dtype_name(t) for t in allowed)
                    return f"is {dtype_name(item)}, which the op does not allow (allowed: {shown})"
                return (f"is {item.decode('utf-8', 'replace')!r}, which the op does not allow (allowed: "
                        + ", ".join(repr(a.decode("utf-8", "replace")) for a in allowed) + ")")
    return None


def _check_node(node: node_def_pb2.NodeDef, op_def: op_def_pb2.OpDef, is_function: bool,
                functions: op_registry.Signatures, source: str) -> None:
    """Attrs (for registered ops) and the data input count against the node's OpDef."""
    what = f"function '{node.op}'" if is_function else f"op {node.op}"  # (for messages)
    if not is_function:
        spec = _op_spec(op_def)
        node_attrs = node.attr
        spec_attrs = spec.attrs
        for name, value in node_attrs.items():
            attr = spec_attrs.get(name)
            if attr is not None:
                if attr.simple and value.WhichOneof("value") == attr.field:
                    continue
                if attr.element == "type" and not attr.is_list and value.WhichOneof("value") == "type" and (
                        value.type in (attr.allowed or _VALID_DTYPES)):
                    continue
            else:
                if name.startswith("_"):
                    continue
                known = ", ".join(sorted(spec.attrs)) or "none"
                raise _fail(node.name, f"({node.op}) has attr '{name}', which {what} does not have (its attrs: "
                            f"{known}); loaders that validate nodes refuse it (NodeDef mentions attr '{name}' not "
                            "in Op; TensorFlow 2.x only logs it and drops the value). Was the graph written by a "
                            "newer TensorFlow? Re-export it there with default attrs stripped, or remove the attr",
                            source)
            problem = _attr_problem(attr, value)
            if problem is not None:
                raise _fail(node.name, f"({node.op}) attr '{name}' {problem}", source)
        for name in spec.required:
            if name not in node_attrs:
                raise _fail(node.name, f"({node.op}) is missing attr '{name}' ({spec.attrs[name].attr.type}), which "
                            f"has no default; TensorFlow refuses it (NodeDef missing attr '{name}')", source)
    types = op_registry.arg_types(node, op_def, op_def.input_arg)
    if types is not None:
        expected = len(types)
        data = sum(1 for i in node.input if i[:1] != "^")
        if data != expected:
            raise _fail(node.name, f"({node.op}) has {data} data input(s), but {what} takes {expected}"
                        f"{_arity(op_def)}; TensorFlow refuses it (expected {expected} inputs)", source)


def _arity(op_def: op_def_pb2.OpDef) -> str:
    """`` (x, y)`` / `` (values: N, axis)``: the OpDef's input args, for messages."""
    args = [f"{a.name}: {a.number_attr or a.type_list_attr}" if a.number_attr or a.type_list_attr else a.name
            for a in op_def.input_arg]
    return f" ({', '.join(args)})" if args else ""


def _check_inputs(node: node_def_pb2.NodeDef, nodes: Mapping[str, node_def_pb2.NodeDef],
                  functions: op_registry.Signatures, counts: dict[str, int | None], source: str) -> None:
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
        if producer.name not in counts:
            counts[producer.name] = op_registry.output_count(producer, functions)
        count = counts[producer.name]
        if count is not None and ref.index >= count:
            has = "no outputs" if count == 0 else f"{count} output{'s' if count != 1 else ''}"
            raise _fail(node.name, f"input '{inp}' asks for output {ref.index} of '{producer.name}' "
                        f"({producer.op}), which has {has}", source)


_NO_ATTRS = node_def_pb2.NodeDef()


def _check_function_refs(function: function_pb2.FunctionDef, functions: op_registry.Signatures,
                         out_args: dict[str, tuple[op_def_pb2.OpDef, dict[str, op_def_pb2.OpDef.ArgDef]] | None],
                         where: str) -> None:
    """The body's input references and ``ret`` resolve, as TensorFlow's ``InstantiateFunction`` resolves them.

    A data input is an input arg (``x``, ``x:2``) or an output of a body node (``node:out_arg`` or
    ``node:out_arg:index``, the arg named in the producer's OpDef or called function's signature,
    the index below the arg's length); ``^name`` names a body node or an input arg; ``ret`` maps
    every output arg to such a data reference, ``control_ret`` names body nodes.
    """
    signature = function.signature
    args = {arg.name: arg for arg in signature.input_arg}
    body = {node.name: node for node in function.node_def}

    def outputs(op: str) -> tuple[op_def_pb2.OpDef, dict[str, op_def_pb2.OpDef.ArgDef]] | None:
        """The OpDef and output args of ``op`` (cached across the library); ``None`` for a custom op."""
        if op not in out_args:
            op_def = op_registry.lookup(op, functions)
            out_args[op] = None if op_def is None else (op_def, {arg.name: arg for arg in op_def.output_arg})
        return out_args[op]

    def problem(text: str) -> str | None:
        parts = text.split(":")
        if len(parts) == 3:  # the common form, node:out_arg:index, checked first and fast
            node = body.get(parts[0])
            if node is not None:
                known = outputs(node.op)
                if known is None:
                    return None  # a custom op: its OpDef is unknown
                out_arg = known[1].get(parts[1])
                if (out_arg is not None and parts[2] == "0" and not out_arg.number_attr
                        and not out_arg.type_list_attr):
                    return None  # a one-tensor arg
        if text.startswith("^"):
            name = text[1:]
            if name in body or name in args:
                return None
            return f"names '{name}', which is neither a node of the function nor one of its input args" + hint(name)
        if len(parts) == 1:
            if text in args:
                return None
            if text in body:
                return (f"names node '{text}' without an output arg; inside a function a node's output is written "
                        f"'{text}:<output arg>:<index>'")
            return f"names '{text}', which is neither a node of the function nor one of its input args" + hint(text)
        try:
            ref = parse_function_input(text)
        except InvalidGraphError:
            return "is not 'arg', 'arg:index', 'node:output_arg[:index]' or '^node'"
        node = body.get(ref.node)
        if node is None:
            arg = args.get(ref.node)
            if arg is not None and len(parts) == 2 and parts[1].isdigit():
                count = op_registry.arg_count(_NO_ATTRS, signature, arg)
                if count is None or int(parts[1]) < count:
                    return None
                return (f"asks for element {parts[1]} of input arg '{arg.name}', which has {count} "
                        f"element{'s' if count != 1 else ''}")
            return (f"names node '{ref.node}', which is not a node of the function" +
                    hint(ref.node) if arg is None else f"names input arg '{ref.node}' with an output arg; an input "
                    f"arg is written '{ref.node}' or '{ref.node}:<index>'")
        known = outputs(node.op)
        if known is None:
            return None  # a custom op: its OpDef is unknown
        op_def, by_name = known
        out_arg = by_name.get(ref.output or "")
        if out_arg is None:
            has = ("its output args: " + ", ".join(f"'{a}'" for a in by_name)) if by_name else "it has no outputs"
            return (f"asks for output arg '{ref.output}' of '{node.name}' ({node.op}), which the "
                    f"{'function' if node.op in functions else 'op'} does not have ({has})")
        count = op_registry.arg_count(node, op_def, out_arg)
        if len(parts) == 3 and count is not None and ref.index >= count:
            return (f"asks for element {ref.index} of output arg '{out_arg.name}' of '{node.name}' ({node.op}), "
                    f"which has {count} element{'s' if count != 1 else ''}")
        return None

    def hint(name: str) -> str:
        hints = close_matches(name, [*body, *args])
        return ("; did you mean " + ", ".join(f"'{h}'" for h in hints) + "?") if hints else ""

    for node in function.node_def:
        for inp in node.input:
            bad = problem(inp)
            if bad is not None:
                raise _fail(node.name, f"input '{inp}' {bad}; TensorFlow refuses the function when it "
                            "instantiates it", where)
    for out in signature.output_arg:
        if out.name not in function.ret:
            raise InvalidGraphError(f"{where}: output arg '{out.name}' has no entry in the function's ret "
                                    f"(TensorFlow: Return {out.name} missing)")
    for key, value in function.ret.items():
        bad = problem(value) if not value.startswith("^") else "is a control input"
        if bad is not None:
            raise InvalidGraphError(f"{where}: ret '{key}' -> '{value}' {bad}")
    for key, value in function.control_ret.items():
        if value not in body:
            raise InvalidGraphError(f"{where}: control_ret '{key}' -> '{value}' names no node of the function"
                                    + hint(value))


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
