"""Compare two GraphDefs node by node: what was added, removed or changed, and by how much.

``diff_graphs(a, b)`` matches nodes by name. A node present in both is changed when its op, its
inputs (order included: it is the op's argument order), its device or any attr differs; the attrs
that differ are listed by key. For constants in both graphs whose value changed, the dtype and
shape before and after are reported, and when those agree, the largest absolute difference of the
values. The op histograms of both graphs are kept.

Large graphs stay fast: every node pair is first compared whole (one C-level protobuf
comparison), and only the pairs that differ are looked at field by field. Constant values are
decoded only for constants whose bytes differ; equal tensors are never turned into arrays.

Typical use::

    result = diff_graphs(load_graph("frozen.pb").graph_def, load_graph("optimized.pb").graph_def)
    print(result.format())          # or result.to_dict() for JSON; result.equal
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from graphsurgeon._proto import graph_pb2, node_def_pb2, tensor_pb2
from graphsurgeon.errors import GraphSurgeonError, InvalidGraphError
from graphsurgeon.formats.tensors import tensor_to_array
from graphsurgeon.graph.view import GraphView
from graphsurgeon.summary import dtype_str  # numpy names (float32), as gs inspect prints them

CONST_OPS = frozenset({"Const", "HostConst"})


@dataclasses.dataclass
class NodeChange:
    """A node in both graphs whose NodeDef differs. ``fields`` lists what: op, inputs, device, attrs."""

    name: str
    fields: list[str]
    op: tuple[str, str]
    inputs: tuple[list[str], list[str]] | None = None
    device: tuple[str, str] | None = None
    attrs: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "fields": self.fields, "op": list(self.op)}
        if self.inputs is not None:
            out["inputs"] = [self.inputs[0], self.inputs[1]]
        if self.device is not None:
            out["device"] = list(self.device)
        out["attrs"] = self.attrs
        return out


@dataclasses.dataclass
class ConstantChange:
    """A constant in both graphs whose value changed."""

    name: str
    dtype: tuple[str, str]
    shape: tuple[list[int] | None, list[int] | None]
    max_abs_diff: float | None = None    # when dtype and shape agree and the values are numbers
    differing: int | None = None         # how many elements differ (same dtype and shape)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": list(self.dtype), "shape": list(self.shape),
                "max_abs_diff": self.max_abs_diff, "differing_elements": self.differing}


@dataclasses.dataclass
class GraphDiff:
    """What ``diff_graphs`` found. ``equal`` when nothing differs."""

    nodes_before: int
    nodes_after: int
    added: list[tuple[str, str]]          # (name, op), in the second graph's order
    removed: list[tuple[str, str]]        # (name, op), in the first graph's order
    changed: list[NodeChange]
    constants: list[ConstantChange]
    ops_before: Counter[str]
    ops_after: Counter[str]
    other: list[str]                      # differences outside the nodes (function library, versions)

    @property
    def equal(self) -> bool:
        return not (self.added or self.removed or self.changed or self.other)

    def states(self) -> dict[str, str]:
        """Node name -> ``added``, ``removed`` or ``changed`` (unchanged nodes are absent)."""
        out = {name: "added" for name, _ in self.added}
        out.update((name, "removed") for name, _ in self.removed)
        out.update((change.name, "changed") for change in self.changed)
        return out

    def op_rows(self) -> list[tuple[str, int, int]]:
        """(op, count before, count after) for every op in either graph, most frequent first."""
        ops = sorted(set(self.ops_before) | set(self.ops_after),
                     key=lambda op: (-max(self.ops_before[op], self.ops_after[op]), op))
        return [(op, self.ops_before[op], self.ops_after[op]) for op in ops]

    def to_dict(self) -> dict[str, Any]:
        return {
            "equal": self.equal,
            "nodes": [self.nodes_before, self.nodes_after],
            "added": [{"name": n, "op": op} for n, op in self.added],
            "removed": [{"name": n, "op": op} for n, op in self.removed],
            "changed": [c.to_dict() for c in self.changed],
            "constants": [c.to_dict() for c in self.constants],
            "ops": {op: [before, after] for op, before, after in self.op_rows()},
            "other": list(self.other),
        }

    def format(self, all_ops: bool = False) -> str:
        """One fact a line, each starting with its kind (``added``, ``removed``, ``changed``, ...).

        The op lines list the ops whose counts differ (every op with ``all_ops``).
        """
        lines = [f"nodes     {self.nodes_before} -> {self.nodes_after}: {len(self.added)} added, "
                 f"{len(self.removed)} removed, {len(self.changed)} changed"]
        lines += [f"added     {name} ({op})" for name, op in self.added]
        lines += [f"removed   {name} ({op})" for name, op in self.removed]
        for change in self.changed:
            parts = []
            if "op" in change.fields:
                parts.append(f"op {change.op[0]} -> {change.op[1]}")
            if change.inputs is not None:
                parts.append(f"inputs [{', '.join(change.inputs[0])}] -> [{', '.join(change.inputs[1])}]")
            if change.device is not None:
                parts.append(f"device '{change.device[0]}' -> '{change.device[1]}'")
            if change.attrs:
                parts.append("attrs " + ", ".join(change.attrs))
            lines.append(f"changed   {change.name} ({change.op[1]}): " + "; ".join(parts))
        for const in self.constants:
            parts = []
            if const.dtype[0] != const.dtype[1]:
                parts.append(f"dtype {const.dtype[0]} -> {const.dtype[1]}")
            if const.shape[0] != const.shape[1]:
                parts.append(f"shape {_shape(const.shape[0])} -> {_shape(const.shape[1])}")
            if const.differing is not None:
                parts.append(f"{const.differing} element{'s' if const.differing != 1 else ''} differ")
            if const.max_abs_diff is not None:
                parts.append(f"max abs diff {const.max_abs_diff:.6g}")
            lines.append(f"constant  {const.name}: " + "; ".join(parts or ["value encoding differs, values equal"]))
        for op, before, after in self.op_rows():
            if all_ops or before != after:
                lines.append(f"op        {op:<24} {before:>6} -> {after:<6}" + (f" ({after - before:+d})"
                                                                               if before != after else ""))
        lines += [f"other     {text}" for text in self.other]
        lines.append("equal" if self.equal else "different")
        return "\n".join(lines) + "\n"


def _shape(shape: list[int] | None) -> str:
    return "<unknown>" if shape is None else "[" + ",".join("?" if d < 0 else str(d) for d in shape) + "]"


def _restrict(graph_def: graph_pb2.GraphDef, outputs: list[str], which: str) -> list[node_def_pb2.NodeDef]:
    view = GraphView(graph_def, allow_dangling=True)
    try:
        wanted = view.ancestors(outputs)
    except GraphSurgeonError as err:
        raise type(err)(f"in the {which} graph: {err}") from err
    return [n for n in graph_def.node if n.name in wanted]


def diff_graphs(a: graph_pb2.GraphDef, b: graph_pb2.GraphDef, outputs: Iterable[str] = ()) -> GraphDiff:
    """Compares ``a`` (before) with ``b`` (after); with ``outputs``, only what those nodes need in each."""
    outputs = list(outputs)
    if outputs:
        nodes_a, nodes_b = _restrict(a, outputs, "first"), _restrict(b, outputs, "second")
    else:
        nodes_a, nodes_b = list(a.node), list(b.node)
    by_name_a = _by_name(nodes_a, "first")
    by_name_b = _by_name(nodes_b, "second")
    added = [(n.name, n.op) for n in nodes_b if n.name not in by_name_a]
    removed = [(n.name, n.op) for n in nodes_a if n.name not in by_name_b]
    changed: list[NodeChange] = []
    constants: list[ConstantChange] = []
    for node_b in nodes_b:
        node_a = by_name_a.get(node_b.name)
        if node_a is None or node_a == node_b:
            continue
        change = _node_change(node_a, node_b)
        if change is None:
            continue
        changed.append(change)
        if (node_a.op in CONST_OPS and node_b.op in CONST_OPS and "value" in change.attrs
                and "value" in node_a.attr and "value" in node_b.attr):
            constants.append(_constant_change(node_b.name, node_a.attr["value"].tensor, node_b.attr["value"].tensor))
    other = []
    if not outputs:
        if a.library != b.library:
            names_a = {f.signature.name for f in a.library.function}
            names_b = {f.signature.name for f in b.library.function}
            other.append(f"function library differs ({len(names_a)} -> {len(names_b)} functions; "
                         f"{len(names_b - names_a)} added, {len(names_a - names_b)} removed)")
        if a.versions != b.versions:
            other.append(f"versions differ (producer {a.versions.producer} -> {b.versions.producer}, "
                         f"min_consumer {a.versions.min_consumer} -> {b.versions.min_consumer})")
    return GraphDiff(nodes_before=len(nodes_a), nodes_after=len(nodes_b), added=added, removed=removed,
                     changed=changed, constants=constants, ops_before=Counter(n.op for n in nodes_a),
                     ops_after=Counter(n.op for n in nodes_b), other=other)


def _by_name(nodes: list[node_def_pb2.NodeDef], which: str) -> dict[str, node_def_pb2.NodeDef]:
    out = {n.name: n for n in nodes}
    if len(out) != len(nodes):
        dup = next(name for name, count in Counter(n.name for n in nodes).items() if count > 1)
        raise InvalidGraphError(f"the {which} graph has duplicate node names (e.g. '{dup}'); "
                                "names must be unique to compare graphs node by node")
    return out


def _node_change(a: node_def_pb2.NodeDef, b: node_def_pb2.NodeDef) -> NodeChange | None:
    fields = []
    inputs = device = None
    if a.op != b.op:
        fields.append("op")
    if list(a.input) != list(b.input):
        fields.append("inputs")
        inputs = (list(a.input), list(b.input))
    if a.device != b.device:
        fields.append("device")
        device = (a.device, b.device)
    attrs = sorted(key for key in set(a.attr) | set(b.attr)
                   if key not in a.attr or key not in b.attr or a.attr[key] != b.attr[key])
    if attrs:
        fields.append("attrs")
    if not fields:
        # Other NodeDef fields (experimental_debug_info, experimental_type).
        fields.append("other")
    return NodeChange(name=b.name, fields=fields, op=(a.op, b.op), inputs=inputs, device=device, attrs=attrs)


def _dims(tensor: tensor_pb2.TensorProto) -> list[int] | None:
    if tensor.tensor_shape.unknown_rank:
        return None
    return [d.size for d in tensor.tensor_shape.dim]


def _constant_change(name: str, a: tensor_pb2.TensorProto, b: tensor_pb2.TensorProto) -> ConstantChange:
    change = ConstantChange(name=name, dtype=(str(dtype_str(a.dtype)), str(dtype_str(b.dtype))),
                            shape=(_dims(a), _dims(b)))
    if a.dtype != b.dtype or change.shape[0] != change.shape[1]:
        return change
    try:
        x, y = tensor_to_array(a, name), tensor_to_array(b, name)
    except GraphSurgeonError:
        return change  # a dtype numpy cannot hold (variant, resource): dtype and shape are all we say
    if x.dtype.kind == "O" or y.dtype.kind == "O":
        change.differing = int(np.count_nonzero(x != y))
        return change
    if x.dtype.kind in "iub" and x.dtype != np.uint64:
        delta = np.abs(x.astype(np.int64) - y.astype(np.int64)).astype(np.float64)
    else:
        wide = np.complex128 if x.dtype.kind == "c" else np.float64
        fx, fy = x.astype(wide), y.astype(wide)
        delta = np.abs(fx - fy)
        # NaN in the same place is no difference; NaN against a number is an infinite one.
        delta = np.where(np.isnan(fx) & np.isnan(fy), 0.0, np.where(np.isnan(delta), np.inf, delta))
    change.differing = int(np.count_nonzero(delta))
    change.max_abs_diff = float(delta.max()) if delta.size else 0.0
    return change
