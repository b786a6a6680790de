"""bind_placeholders: chosen placeholders become Consts holding a value (``is_training=False``,
``keep_prob=1.0``), checked against the placeholder's dtype and known dimensions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from graphsurgeon._proto import graph_pb2, node_def_pb2, types_pb2
from graphsurgeon.errors import GraphSurgeonError, MismatchError, not_found
from graphsurgeon.formats.tensors import array_to_tensor, dtype_name, to_numpy_dtype
from graphsurgeon.graph.names import parse_input

DT = types_pb2.DataType

_PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})


def _coerce(value: Any, dtype: int, shape: tuple[int, ...] | None, name: str) -> np.ndarray:
    what = f"placeholder '{name}' ({dtype_name(dtype)}{'' if shape is None else list(shape)})"
    try:
        np_dtype = to_numpy_dtype(dtype, what)
    except GraphSurgeonError as err:
        raise MismatchError(f"cannot bind {what}: {err}") from None
    if dtype == DT.DT_STRING:
        array = np.asarray(value, dtype=object)
        array = np.vectorize(lambda v: v if isinstance(v, bytes) else str(v).encode("utf-8"), otypes=[object])(array) \
            if array.size else array
    else:
        raw = np.asarray(value)
        if raw.dtype.kind in "OSU":
            raise MismatchError(f"cannot bind {what} to {value!r}: not a {dtype_name(dtype)} value")
        if dtype == DT.DT_BOOL and raw.dtype.kind not in "b":
            if raw.dtype.kind in "iu" and np.isin(raw, (0, 1)).all():
                raw = raw.astype(bool)
            else:
                raise MismatchError(f"cannot bind {what} to {value!r}: expected true or false")
        if np.dtype(np_dtype).kind in "iub" and raw.dtype.kind == "f" and not np.array_equal(raw, np.round(raw)):
            raise MismatchError(f"cannot bind {what} to {value!r}: not an integer")
        if np.dtype(np_dtype).kind in "iu" and raw.dtype.kind in "iu" and raw.size:
            info = np.iinfo(np_dtype)
            if raw.min() < info.min or raw.max() > info.max:
                raise MismatchError(f"cannot bind {what} to {value!r}: out of range for {dtype_name(dtype)}")
        array = raw.astype(np_dtype)
    if shape is not None:
        if len(shape) != array.ndim or any(want >= 0 and want != have for want, have in zip(shape, array.shape)):
            raise MismatchError(f"cannot bind {what} to a value of shape {list(array.shape)}")
    return array


def _placeholder_shape(node: node_def_pb2.NodeDef) -> tuple[int, ...] | None:
    if "shape" not in node.attr or node.attr["shape"].shape.unknown_rank:
        return None
    return tuple(int(d.size) for d in node.attr["shape"].shape.dim)


def bind_placeholders(graph_def: graph_pb2.GraphDef, bind: Mapping[str, Any]
                      ) -> tuple[graph_pb2.GraphDef, dict[str, Any]]:
    """Returns a new GraphDef where each named placeholder is a Const holding its value, and the values used.

    A placeholder keeps its name, device and control inputs (a PlaceholderWithDefault loses its default
    input). The value must fit the placeholder's dtype and known dimensions, else ``MismatchError``.
    """
    out = graph_pb2.GraphDef()
    out.CopyFrom(graph_def)
    nodes = {n.name: n for n in out.node}
    placeholders = [n.name for n in out.node if n.op in _PLACEHOLDER_OPS]
    values: dict[str, np.ndarray] = {}
    for given, value in bind.items():
        name = parse_input(given).node
        node = nodes.get(name)
        if node is None or node.op not in _PLACEHOLDER_OPS:
            if node is not None:
                raise MismatchError(f"cannot bind '{name}': it is a {node.op}, not a placeholder")
            raise not_found("placeholder", name, placeholders, hint="")
        dtype = node.attr["dtype"].type
        values[name] = _coerce(value, dtype, _placeholder_shape(node), name)
    used: dict[str, Any] = {}
    for node in out.node:
        if node.name not in values:
            continue
        value = values[node.name]
        dtype = node.attr["dtype"].type
        controls = [i for i in node.input if i.startswith("^")]
        keep = {k: v for k, v in node.attr.items() if k in ("_class", "_output_shapes")}
        node.op = "Const"
        del node.input[:]
        node.input.extend(controls)
        node.ClearField("attr")
        for key, attr in keep.items():
            node.attr[key].CopyFrom(attr)
        node.attr["dtype"].type = dtype
        node.attr["value"].tensor.CopyFrom(array_to_tensor(value, dtype))
        used[node.name] = value.tolist() if value.dtype != object else [v.decode("utf-8", "replace")
                                                                         for v in value.ravel()]
    return out, used
