"""Making nodes and typed attr values: ``make_node``, ``const_node``, ``attr_value``
(bool/int/float/str/bytes/ndarray/dtype/shape/list), ``dtype_attr``, ``shape_attr``,
``tensor_attr``, ``list_attr``, ``func_attr``."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from graphsurgeon._proto import attr_value_pb2, graph_pb2, node_def_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from graphsurgeon.errors import GraphSurgeonError
from graphsurgeon.formats.tensors import array_to_tensor, from_numpy_dtype, parse_dtype, shape_to_proto
from graphsurgeon.graph.names import parse_input, split_names

log = logging.getLogger(__name__)

DT = types_pb2.DataType


# ------------------------------------------------------------------------------------------ attrs


def dtype_attr(dtype: object) -> attr_value_pb2.AttrValue:
    """An AttrValue of type ``type``: ``"float32"``, ``"DT_FLOAT"``, ``np.float32``, a numpy dtype or a
    DataType number."""
    return attr_value_pb2.AttrValue(type=parse_dtype(dtype, "dtype attr"))  # type: ignore[arg-type]


def shape_attr(shape: Sequence[int | None] | tensor_shape_pb2.TensorShapeProto | None) -> attr_value_pb2.AttrValue:
    """An AttrValue of type ``shape``: ``[None, 224, 224, 3]`` (None or -1 = unknown size); ``None`` = unknown rank."""
    proto = shape if isinstance(shape, tensor_shape_pb2.TensorShapeProto) else shape_to_proto(shape)
    return attr_value_pb2.AttrValue(shape=proto)


def tensor_attr(value: object, dtype: object = None) -> attr_value_pb2.AttrValue:
    """An AttrValue holding a TensorProto (numpy array, nested list or scalar; written as ``tf.make_tensor_proto``
    writes it). ``dtype`` forces the element type (``"float32"``, a DataType ...)."""
    if isinstance(value, tensor_pb2.TensorProto):
        return attr_value_pb2.AttrValue(tensor=value)
    return attr_value_pb2.AttrValue(tensor=array_to_tensor(value, None if dtype is None else parse_dtype(dtype)))


def func_attr(name: str, attrs: Mapping[str, Any] | None = None) -> attr_value_pb2.AttrValue:
    """An AttrValue naming a function (``func``), with its own attrs (converted by ``attr_value``)."""
    value = attr_value_pb2.AttrValue()
    value.func.name = name
    for key, item in (attrs or {}).items():
        value.func.attr[key].CopyFrom(attr_value(item))
    return value


def _is_dtype_like(value: object) -> bool:
    return isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic))


def list_attr(values: Iterable[Any], kind: str | None = None) -> attr_value_pb2.AttrValue:
    """An AttrValue of type ``list(...)``.

    ``kind`` is one of ``s``, ``i``, ``f``, ``b``, ``type``, ``shape``, ``tensor``, ``func``; without it the
    kind is taken from the items (bools -> b, ints -> i, numbers -> f, str/bytes -> s, numpy dtypes -> type,
    TensorShapeProto -> shape, arrays/TensorProto -> tensor). An empty list is an empty ``list {}``.
    """
    items = list(values)
    value = attr_value_pb2.AttrValue()
    value.list.SetInParent()
    if not items:
        return value
    if kind is None:
        kind = _list_kind(items)
    target = value.list
    if kind == "s":
        target.s.extend(v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in items)
    elif kind == "i":
        target.i.extend(int(v) for v in items)
    elif kind == "f":
        target.f.extend(float(v) for v in items)
    elif kind == "b":
        target.b.extend(bool(v) for v in items)
    elif kind == "type":
        target.type.extend(dtype_attr(v).type for v in items)
    elif kind == "shape":
        target.shape.extend(shape_attr(v).shape for v in items)
    elif kind == "tensor":
        target.tensor.extend(tensor_attr(v).tensor for v in items)
    elif kind == "func":
        for v in items:
            target.func.add().CopyFrom(v if isinstance(v, attr_value_pb2.NameAttrList) else func_attr(v).func)
    else:
        raise GraphSurgeonError(f"unknown list attr kind '{kind}'; use s, i, f, b, type, shape, tensor or func")
    return value


def _list_kind(items: list[Any]) -> str:
    if all(isinstance(v, (bool, np.bool_)) for v in items):
        return "b"
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in items):
        return "i"
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in items):
        return "f"
    if all(isinstance(v, (str, bytes)) for v in items):
        return "s"
    if all(_is_dtype_like(v) for v in items):
        return "type"
    if all(isinstance(v, tensor_shape_pb2.TensorShapeProto) for v in items):
        return "shape"
    if all(isinstance(v, (np.ndarray, tensor_pb2.TensorProto)) for v in items):
        return "tensor"
    if all(isinstance(v, attr_value_pb2.NameAttrList) for v in items):
        return "func"
    kinds = sorted({type(v).__name__ for v in items})
    raise GraphSurgeonError(f"cannot tell the kind of list attr from items of type(s) {', '.join(kinds)}; use "
                            "list_attr(values, kind=...) (kind: s, i, f, b, type, shape, tensor, func)")


def attr_value(value: Any) -> attr_value_pb2.AttrValue:
    """A Python value -> AttrValue.

    bool -> ``b``; int -> ``i``; float -> ``f``; str/bytes -> ``s``; numpy array or TensorProto -> ``tensor``;
    numpy dtype or scalar type (``np.float32``) -> ``type``; TensorShapeProto -> ``shape``; NameAttrList ->
    ``func``; list/tuple -> ``list(...)`` (see ``list_attr``); an AttrValue is copied. A DataType number is
    an int here: use ``dtype_attr`` for it, and ``shape_attr`` for a shape given as a list.
    """
    if isinstance(value, attr_value_pb2.AttrValue):
        out = attr_value_pb2.AttrValue()
        out.CopyFrom(value)
        return out
    if isinstance(value, (bool, np.bool_)):
        return attr_value_pb2.AttrValue(b=bool(value))
    if isinstance(value, (int, np.integer)):
        return attr_value_pb2.AttrValue(i=int(value))
    if isinstance(value, (float, np.floating)):
        return attr_value_pb2.AttrValue(f=float(value))
    if isinstance(value, str):
        return attr_value_pb2.AttrValue(s=value.encode("utf-8"))
    if isinstance(value, bytes):
        return attr_value_pb2.AttrValue(s=value)
    if isinstance(value, (np.ndarray, tensor_pb2.TensorProto)):
        return tensor_attr(value)
    if _is_dtype_like(value):
        return attr_value_pb2.AttrValue(type=from_numpy_dtype(np.dtype(value)))  # type: ignore[arg-type]
    if isinstance(value, tensor_shape_pb2.TensorShapeProto):
        return attr_value_pb2.AttrValue(shape=value)
    if isinstance(value, attr_value_pb2.NameAttrList):
        out = attr_value_pb2.AttrValue()
        out.func.CopyFrom(value)
        return out
    if isinstance(value, (list, tuple)):
        return list_attr(value)
    raise GraphSurgeonError(f"cannot make an attr value from {type(value).__name__} {value!r}; use dtype_attr, "
                            "shape_attr, tensor_attr, list_attr or func_attr")


def make_node(name: str, op: str, inputs: str | Iterable[str] = (), attrs: Mapping[str, Any] | None = None, *,
              device: str = "") -> node_def_pb2.NodeDef:
    """A new NodeDef. ``inputs`` are input strings (``a``, ``a:1``, ``^a``; control inputs are moved last);
    ``attrs`` values go through ``attr_value``."""
    if not name or not op:
        raise GraphSurgeonError(f"a node needs a name and an op (got name={name!r}, op={op!r})")
    given = split_names(inputs) if isinstance(inputs, str) else list(inputs)
    data = [i for i in given if not i.startswith("^")]
    control = list(dict.fromkeys(i for i in given if i.startswith("^")))
    node = node_def_pb2.NodeDef(name=name, op=op, input=data + control, device=device)
    for key, value in (attrs or {}).items():
        node.attr[key].CopyFrom(attr_value(value))
    return node


def const_node(name: str, value: object, dtype: object = None, *, controls: Iterable[str] = ()) -> node_def_pb2.NodeDef:
    """A ``Const`` node holding ``value`` (array, list or scalar), optionally with control inputs."""
    tensor = tensor_attr(value, dtype).tensor
    node = node_def_pb2.NodeDef(name=name, op="Const")
    node.input.extend("^" + parse_input(c).node for c in controls)
    node.attr["dtype"].type = tensor.dtype
    node.attr["value"].tensor.CopyFrom(tensor)
    return node


def graph_like(graph_def: graph_pb2.GraphDef) -> graph_pb2.GraphDef:
    """A new GraphDef with ``graph_def``'s versions and function library and no nodes: where every
    rewrite that rebuilds the node list starts."""
    out = graph_pb2.GraphDef()
    if graph_def.HasField("versions"):
        out.versions.CopyFrom(graph_def.versions)
    if graph_def.HasField("library"):
        out.library.CopyFrom(graph_def.library)
    return out
