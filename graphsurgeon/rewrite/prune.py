"""prune(graph_def, outputs, inputs=None): keep exactly what the outputs need.

Pruning keeps the nodes the outputs reach through data and control inputs (what TensorFlow's
``graph_util.extract_sub_graph`` keeps, except that a colocation constraint alone does not keep
a node: ``_class: loc:@x`` entries naming removed nodes are dropped instead). With ``inputs`` the
graph is also cut: each input tensor becomes a ``Placeholder`` of that tensor's own dtype and
shape, and what lies only above it is not kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress

from graphsurgeon._proto import attr_value_pb2, function_pb2, graph_pb2, node_def_pb2, types_pb2
from graphsurgeon.errors import (
    GraphSurgeonError,
    InvalidGraphError,
    MismatchError,
    close_matches,
    not_found,
)
from graphsurgeon.formats.model import LoadedGraph
from graphsurgeon.formats.tensors import (
    base_dtype,
    dtype_name,
    parse_dtype,
    shape_from_proto,
    shape_to_proto,
)
from graphsurgeon.graph.names import (
    TensorRef,
    colocation_entry,
    format_input,
    parse_input,
    split_names,
    unique_name,
)
from graphsurgeon.graph.op_registry import Signatures, function_signatures, output_count, output_dtype
from graphsurgeon.graph.view import GraphView, colocation_targets, gc_paused

log = logging.getLogger(__name__)

DT = types_pb2.DataType

#: A user-given spec for a cut input: a dtype, or (dtype, shape). dtype: "float32", "DT_FLOAT",
#: a DataType number or a numpy dtype; shape: a sequence with None/-1 for unknown sizes, or None.
InputSpec = object

# Ops whose output 0 has the shape in their "shape" attr.
_SHAPE_ATTR_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault", "VariableV2",
                             "Variable"})


@dataclass
class PruneResult:
    """What ``prune_graph`` did: the new graph and the placeholder made for each cut input."""

    graph_def: graph_pb2.GraphDef
    placeholders: dict[str, str] = field(default_factory=dict)
    """Cut tensor name (``x:1``) -> name of the Placeholder node that replaces it."""
    nodes_before: int = 0


def prune(graph_def: graph_pb2.GraphDef | LoadedGraph, outputs: str | Iterable[str],
          inputs: str | Iterable[str] | None = None,
          input_specs: Mapping[str, InputSpec] | None = None) -> graph_pb2.GraphDef:
    """Returns a new GraphDef with exactly what ``outputs`` need; ``graph_def`` is not modified.

    ``graph_def`` may also be what ``load_graph`` returned (its ``graph_def`` is used).

    Kept are the outputs and every node they reach through data and control inputs, in their
    original order, with the graph's ``versions`` and only the library functions still used
    (by op type, by ``func``/``list(func)`` attrs such as ``f``, ``body``, ``cond``,
    ``then_branch``, ``else_branch``, ``branches``, and through other functions).

    With ``inputs`` (tensor or node names; a node name means output 0), the graph is cut at
    those tensors: each becomes a ``Placeholder`` with the tensor's own dtype and shape and
    nothing only above it is kept. The placeholder for ``x:0`` is named ``x`` (when node ``x``
    itself is not kept), the one for ``x:k`` is named ``x_k``; consumers are rewired to its
    output 0, and control inputs ``^x`` of a cut node ``x`` go to its placeholder. The dtype
    comes from the producer's OpDef (TensorFlow's op registry, or the library function's
    signature) and attrs, the shape from ``_output_shapes`` and the like; ``input_specs``
    (``{name: dtype}`` or ``{name: (dtype, shape)}``; shape None means "from the graph, else
    unknown") gives them where the graph does not.

    ``_class: loc:@x`` colocation entries naming nodes that are not kept are dropped.

    Raises:
        NodeNotFoundError: an output or input is not in the graph (with close matches).
        GraphSurgeonError: no outputs, an input the outputs do not depend on, an output that is
            also an input, or an input whose dtype cannot be found (pass ``input_specs``).
        InvalidGraphError: duplicate node names, or a kept node has a dangling input.
        MismatchError: an ``input_specs`` dtype contradicts the graph.
    """
    return prune_graph(graph_def, outputs, inputs, input_specs).graph_def


def prune_graph(graph_def: graph_pb2.GraphDef | LoadedGraph, outputs: str | Iterable[str],
                inputs: str | Iterable[str] | None = None,
                input_specs: Mapping[str, InputSpec] | None = None,
                view: GraphView | None = None) -> PruneResult:
    """``prune`` that also reports the placeholder made for each cut input (see ``prune``).

    ``view`` may be a GraphView of ``graph_def`` built with ``allow_dangling=True``.
    """
    if isinstance(graph_def, LoadedGraph):
        graph_def = graph_def.graph_def
    with gc_paused():
        return _prune(graph_def, outputs, inputs, input_specs, view)


def _prune(graph_def: graph_pb2.GraphDef, outputs: str | Iterable[str], inputs: str | Iterable[str] | None,
           input_specs: Mapping[str, InputSpec] | None, view: GraphView | None) -> PruneResult:
    output_names = split_names(outputs)
    if not output_names:
        raise GraphSurgeonError("prune needs at least one output (run 'gs inspect' to list candidate outputs)")
    if view is None:
        view = GraphView(graph_def, allow_dangling=True)
    nodes = graph_def.node
    index = view.positions

    functions = function_signatures(graph_def.library) if graph_def.library.function else None
    targets: dict[str, None] = {}
    output_refs: set[tuple[str, int]] = set()
    for name in output_names:
        ref = _resolve(view, name, "output")
        _check_port(nodes[index[ref.node]], ref, name, "output", functions)
        targets[ref.node] = None
        output_refs.add((ref.node, ref.index))

    cuts: dict[str, dict[int, str]] = {}  # node -> {output index: name as given}
    for name in split_names(inputs):
        ref = _resolve(view, name, "input")
        _check_port(nodes[index[ref.node]], ref, name, "input", functions)
        if (ref.node, ref.index) in output_refs:
            raise GraphSurgeonError(f"'{name}' is both an output and an input; an input is cut away, so it "
                                    "cannot also be kept as an output")
        cuts.setdefault(ref.node, {})[ref.index] = name
    specs = _normalize_specs(input_specs, cuts)

    mark, used_cuts, rewired = _reach(view, [index[t] for t in targets], cuts)

    unused = [given for node, by_index in cuts.items() for i, given in by_index.items()
              if (node, i) not in used_cuts]
    if unused:
        shown = ", ".join(f"'{o}'" for o in output_names[:5])
        raise GraphSurgeonError(
            f"input(s) {', '.join(repr(u) for u in unused)} not needed: none of the outputs {shown} depends on "
            "them; drop them from the inputs (run 'gs inspect' to see the graph's inputs)")

    # Placeholders for the cut tensors, named and placed where their producer was.
    placeholders: dict[str, str] = {}       # tensor name -> placeholder node name
    placeholder_of: dict[tuple[str, int], str] = {}
    new_nodes: dict[int, list[node_def_pb2.NodeDef]] = {}
    for src, i in sorted(used_cuts, key=lambda c: (index[c[0]], c[1])):
        producer = nodes[index[src]]
        if i == 0 and mark[index[src]] != 1:
            name = src
        else:
            name = unique_name(f"{src}_{i}", index, placeholders.values())
        given = cuts[src][i]
        dtype, shape = _placeholder_type(producer, i, given, specs.get((src, i)), functions)
        placeholder_of[(src, i)] = name
        placeholders[f"{src}:{i}"] = name
        new_nodes.setdefault(index[src], []).append(_placeholder(name, dtype, shape))
        log.info("input %s becomes Placeholder '%s' (%s, shape %s)", given, name, dtype_name(dtype),
                 "unknown" if shape is None else list(shape))
    placeholder_names = set(placeholder_of.values())

    def is_kept(name: str) -> bool:
        """Whether ``name`` is a node of the result."""
        j = index.get(name)
        return (j is not None and mark[j] == 1) or name in placeholder_names

    changed = set(rewired)
    for name, targets_of in view.colocations.items():
        if mark[index[name]] and not all(map(is_kept, targets_of)):
            changed.add(index[name])

    out = graph_pb2.GraphDef()
    if graph_def.HasField("versions"):
        out.versions.CopyFrom(graph_def.versions)
    if not changed and not new_nodes:
        out.node.extend(compress(nodes, mark))  # the common case: copy the kept nodes as they are
    else:
        batch: list[node_def_pb2.NodeDef] = []
        for i in compress(range(len(mark)), mark):
            if mark[i] == 1:
                node = nodes[i]
                batch.append(_rewrite(node, i in rewired, cuts, is_kept, placeholder_of) if i in changed else node)
            if i in new_nodes:
                batch.extend(new_nodes[i])
        out.node.extend(batch)

    library = graph_def.library
    if library.function or library.gradient or library.registered_gradients:
        used = _prune_library(library, (node for node, m in zip(nodes, mark) if m == 1))
        if used is not None:
            out.library.CopyFrom(used)
    log.info("pruned %d nodes to %d", len(nodes), len(out.node))
    return PruneResult(graph_def=out, placeholders=placeholders, nodes_before=len(nodes))


def _reach(view: GraphView, start: list[int], cuts: dict[str, dict[int, str]],
           ) -> tuple[bytearray, set[tuple[str, int]], set[int]]:
    """Marks what ``start`` needs through data and control inputs, stopping at ``cuts``.

    Returns (mark, used_cuts, rewired): mark[i] is 1 for a kept node and 2 for a node whose
    outputs are only reached through cut tensors (it is replaced by placeholders, not kept);
    used_cuts are the (node, index) cuts some kept node reads; rewired are the positions of kept
    nodes that read a cut tensor (or control-depend on a cut node). Raises ``InvalidGraphError``
    for a kept node's dangling input.
    """
    index, sources = view.positions, view.sources
    mark = bytearray(len(sources))
    stack: list[int] = []
    for i in start:
        if not mark[i]:
            mark[i] = 1
            stack.append(i)
    pop, push, get = stack.pop, stack.append, index.get
    used_cuts: set[tuple[str, int]] = set()
    rewired: set[int] = set()
    cut_nodes = cuts.keys()
    # Depth-first over the view's per-node producer lists; no protobuf access, one dict lookup an edge.
    while stack:
        i = pop()
        srcs = sources[i]
        if cut_nodes and not cut_nodes.isdisjoint(srcs):
            srcs = _inputs_past_cuts(view, i, cuts, used_cuts, rewired)
        for src in srcs:
            j = get(src)
            if j is None:
                raise _dangling(view, i, src)
            if not mark[j]:
                mark[j] = 1
                push(j)
    for src, _ in used_cuts:
        j = index[src]
        if not mark[j]:
            mark[j] = 2
    return mark, used_cuts, rewired


def _inputs_past_cuts(view: GraphView, i: int, cuts: dict[str, dict[int, str]], used_cuts: set[tuple[str, int]],
                      rewired: set[int]) -> list[str]:
    """The producers node ``i`` still needs when some of its inputs are cut tensors."""
    keep = []
    for ref in view.input_refs(i):
        node_cuts = cuts.get(ref.node)
        if node_cuts is not None:
            if ref.is_control:
                used_cuts.add((ref.node, min(node_cuts)))
                rewired.add(i)
                continue
            if ref.index in node_cuts:
                used_cuts.add((ref.node, ref.index))
                rewired.add(i)
                continue
        keep.append(ref.node)
    return keep


# --- names ---------------------------------------------------------------------------------------

def _resolve(view: GraphView, name: str, kind: str) -> TensorRef:
    ref = parse_input(name)
    if ref.is_control:
        raise GraphSurgeonError(f"{kind} '{name}' is a control input; give a node or tensor name ('{ref.node}')")
    view.resolve(name, kind)
    return ref


def _check_port(node: node_def_pb2.NodeDef, ref: TensorRef, given: str, kind: str,
                functions: Signatures | None) -> None:
    """Refuses ``x:3`` when the graph records that ``x`` has fewer outputs (``_output_shapes``), or its
    op's output count is known from TensorFlow's op registry (Softmax has one, TopKV2 two, ...)."""
    if ref.index == 0:
        return
    if "_output_shapes" in node.attr:
        count = len(node.attr["_output_shapes"].list.shape)
    else:
        count = output_count(node, functions) or 0  # 0 outputs, or unknown: not refused here
    if count and ref.index >= count:
        raise not_found(kind, given, [f"{ref.node}:{i}" for i in range(count)],
                        hint=f"node '{ref.node}' ({node.op}) has {count} output(s)")


def _dangling(view: GraphView, i: int, missing: str) -> InvalidGraphError:
    consumer = view.names[i]
    raw = next((r for r, src in zip(view.raw_inputs[i], view.sources[i]) if src == missing), missing)
    matches = close_matches(missing, view.names)
    msg = f"node '{consumer}' has input '{raw}', but the graph has no node '{missing}'"
    if matches:
        msg += " (did you mean " + ", ".join(f"'{m}'" for m in matches) + "?)"
    return InvalidGraphError(msg + "; restore the node, or cut the graph above it with inputs")


# --- rewriting kept nodes ------------------------------------------------------------------------

def _rewrite(node: node_def_pb2.NodeDef, rewire: bool, cuts: dict[str, dict[int, str]],
             is_kept: Callable[[str], bool], placeholder_of: dict[tuple[str, int], str]) -> node_def_pb2.NodeDef:
    """A copy of a kept node with inputs moved to placeholders and dead colocations dropped."""
    new = node_def_pb2.NodeDef()
    new.CopyFrom(node)
    if rewire:
        new_inputs: list[str] = []
        for raw in node.input:
            ref = parse_input(raw)
            if ref.node in cuts:
                if ref.is_control and not is_kept(ref.node):
                    raw = format_input(TensorRef(placeholder_of[(ref.node, min(cuts[ref.node]))], 0, True))
                elif not ref.is_control and ref.index in cuts[ref.node]:
                    raw = placeholder_of[(ref.node, ref.index)]
            if raw not in new_inputs or not raw.startswith("^"):
                new_inputs.append(raw)
        del new.input[:]
        new.input.extend(new_inputs)
    targets = colocation_targets(new)
    if targets:
        dead = {colocation_entry(t) for t in targets if not is_kept(t)}
        entries = [e for e in new.attr["_class"].list.s if e not in dead]
        if entries:
            del new.attr["_class"].list.s[:]
            new.attr["_class"].list.s.extend(entries)
        else:
            del new.attr["_class"]
    return new


# --- placeholders --------------------------------------------------------------------------------

def _placeholder(name: str, dtype: int, shape: Sequence[int] | None) -> node_def_pb2.NodeDef:
    node = node_def_pb2.NodeDef(name=name, op="Placeholder")
    node.attr["dtype"].type = dtype
    node.attr["shape"].shape.CopyFrom(shape_to_proto(shape))
    return node


def _placeholder_type(producer: node_def_pb2.NodeDef, index: int, given: str,
                      spec: tuple[int | None, Sequence[int] | None] | None,
                      functions: Signatures | None) -> tuple[int, Sequence[int] | None]:
    inferred = output_dtype(producer, index, functions)
    shape: Sequence[int] | None = output_shape(producer, index)
    if spec is not None:
        spec_dtype, spec_shape = spec
        if spec_dtype is not None and inferred is not None and base_dtype(inferred) != base_dtype(spec_dtype):
            raise MismatchError(
                f"input '{given}' is {dtype_name(base_dtype(inferred))} in the graph (node '{producer.name}', "
                f"op {producer.op}), but its spec says {dtype_name(spec_dtype)}; fix or drop the spec")
        if spec_dtype is not None:
            inferred = spec_dtype
        if spec_shape is not None:
            shape = spec_shape
    if inferred is None:
        raise GraphSurgeonError(
            f"cannot tell the dtype of input '{given}' (output {index} of node '{producer.name}', op "
            f"{producer.op}) from the graph; give it explicitly, e.g. --input-spec {given}=float32:?,224,224,3 "
            f"(library: input_specs={{'{given}': ('float32', [None, 224, 224, 3])}})")
    return base_dtype(inferred), shape


def output_shape(node: node_def_pb2.NodeDef, index: int) -> tuple[int, ...] | None:
    """The shape of ``node``'s output ``index`` from ``_output_shapes``, ``output_shapes``,
    a placeholder's/variable's ``shape`` or a Const's value; None when unknown."""
    attr = node.attr
    for key in ("_output_shapes", "output_shapes"):
        if key in attr and index < len(attr[key].list.shape):
            return shape_from_proto(attr[key].list.shape[index])
    if index == 0 and node.op in _SHAPE_ATTR_OPS and "shape" in attr:
        return shape_from_proto(attr["shape"].shape)
    if index == 0 and node.op == "Const" and "value" in attr:
        return tuple(int(d.size) for d in attr["value"].tensor.tensor_shape.dim)
    return None


def _normalize_specs(input_specs: Mapping[str, InputSpec] | None,
                     cuts: dict[str, dict[int, str]]) -> dict[tuple[str, int], tuple[int | None, Sequence[int] | None]]:
    out: dict[tuple[str, int], tuple[int | None, Sequence[int] | None]] = {}
    for key, value in (input_specs or {}).items():
        ref = parse_input(key)
        if ref.node not in cuts or ref.index not in cuts[ref.node]:
            given = [g for by_index in cuts.values() for g in by_index.values()]
            raise GraphSurgeonError(f"input spec for '{key}', which is not one of the inputs "
                                    f"({', '.join(given) or 'none given'}); add it to the inputs or drop the spec")
        if isinstance(value, tuple | list) and len(value) == 2:
            dtype, shape = value
        else:
            dtype, shape = value, None
        out[(ref.node, ref.index)] = (None if dtype is None else parse_dtype(dtype, key),
                                      None if shape is None else _parse_shape(shape, key))
    return out


def _parse_shape(shape: object, what: str) -> tuple[int, ...]:
    try:
        return tuple(-1 if d is None else int(d) for d in shape)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise GraphSurgeonError(f"shape {shape!r} for '{what}' is not a list of sizes (None or -1 = unknown)") from None


# --- library -------------------------------------------------------------------------------------

def _attr_functions(attrs: Mapping[str, attr_value_pb2.AttrValue]) -> Iterator[str]:
    """Function names in ``func`` and ``list(func)`` attr values (and in their own attrs)."""
    for value in attrs.values():
        kind = value.WhichOneof("value")
        if kind == "func":
            yield value.func.name
            yield from _attr_functions(value.func.attr)
        elif kind == "list":
            for func in value.list.func:
                yield func.name
                yield from _attr_functions(func.attr)


def _prune_library(library: function_pb2.FunctionDefLibrary,
                   kept_nodes: Iterable[node_def_pb2.NodeDef]) -> function_pb2.FunctionDefLibrary | None:
    """The library entries the kept nodes use, directly or through other functions; None if none."""
    functions = {f.signature.name: f for f in library.function}
    gradients: dict[str, list[function_pb2.GradientDef]] = {}
    for grad in library.gradient:
        gradients.setdefault(grad.function_name, []).append(grad)
    registered: dict[str, list[function_pb2.RegisteredGradient]] = {}
    for reg in library.registered_gradients:
        registered.setdefault(reg.registered_op_type, []).append(reg)

    used_funcs: dict[str, None] = {}
    used_ops: set[str] = set()
    pending: list[str] = []

    def visit(node: node_def_pb2.NodeDef) -> None:
        used_ops.add(node.op)
        if node.op in functions:
            pending.append(node.op)
        if node.attr:
            pending.extend(name for name in _attr_functions(node.attr) if name in functions)

    for node in kept_nodes:
        visit(node)
    done_ops: set[str] = set()
    while pending:
        while pending:
            name = pending.pop()
            if name in used_funcs:
                continue
            used_funcs[name] = None
            for node in functions[name].node_def:
                visit(node)
            # A kept function's gradient function stays with it.
            pending.extend(g.gradient_func for g in gradients.get(name, ()) if g.gradient_func in functions)
        # Gradient functions registered for op types that are still used stay too.
        for op in used_ops - done_ops:
            pending.extend(r.gradient_func for r in registered.get(op, ()) if r.gradient_func in functions)
        done_ops |= used_ops

    if not used_funcs and not any(op in registered for op in used_ops):
        return None
    out = function_pb2.FunctionDefLibrary()
    out.function.extend(f for f in library.function if f.signature.name in used_funcs)
    out.gradient.extend(g for g in library.gradient if g.function_name in used_funcs)
    out.registered_gradients.extend(r for r in library.registered_gradients if r.registered_op_type in used_ops)
    return out
