"""Free-standing nodes, as NVIDIA's graphsurgeon makes them: ``create_node``, ``create_plugin_node``,
``update_node``, ``shape``, ``extract_numpy_array`` and ``select_node_namespaces``.

Nodes are TensorFlow's ``NodeDef`` when the calling process has imported TensorFlow, else ours
(the two convert through their bytes wherever they meet; see ``_messages``).

Keyword attributes follow NVIDIA's rules: ``bool``/``int``/``float``/``str`` set ``b``/``i``/``f``/``s``;
a list is a ``list(float)`` when any item is a float, else ``list(int)`` (also lists of ``bool`` and
of ``str``); a numpy array becomes a tensor; a dtype (TensorFlow's, numpy's, or for the ``dtype``
key a name such as ``"float32"``) sets ``type``. For TensorRT plugin nodes (``create_plugin_node``)
the names of scalar and list attributes get the UFF parser's type suffixes (``_u_int``,
``_u_float``, ``_u_bool``, ``_u_str``, ``_u_ilist``, ``_u_flist``), exactly as NVIDIA's package wrote them.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

import graphsurgeon.nvidia._messages as _messages
from graphsurgeon.errors import UnsupportedError, UsageError
from graphsurgeon.formats.tensors import array_to_tensor, from_numpy_dtype, parse_dtype, tensor_to_array

__all__ = ["create_node", "create_plugin_node", "extract_numpy_array", "select_node_namespaces", "shape",
           "update_node"]


def shape(node: Any) -> tuple[int, ...]:
    """The ``shape`` attribute of a node (a Placeholder's), as a tuple of ints (-1 = unknown size)."""
    return tuple(int(dim.size) for dim in node.attr["shape"].shape.dim)


def _dtype_enum(value: object, key: str) -> int | None:
    """The DataType number ``value`` stands for, or None when it is not a dtype."""
    as_enum = getattr(value, "as_datatype_enum", None)  # tf.DType, without importing TensorFlow
    if isinstance(as_enum, int):
        return as_enum
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return from_numpy_dtype(np.dtype(value))
    if key == "dtype" and isinstance(value, str):
        try:
            return parse_dtype(value, "dtype")
        except Exception as err:  # noqa: BLE001 - re-raised as the API's error
            raise UsageError(f"create_node: dtype={value!r} is not a dtype name (use float32, int32, ...)") from err
    return None


def _set_shape(attr: Any, value: object, key: str) -> None:
    attr.Clear()
    proto = attr.shape
    proto.SetInParent()
    if value is None:
        proto.unknown_rank = True
        return
    if hasattr(value, "rank") and hasattr(value, "as_list"):  # a tf.TensorShape
        if value.rank is None:
            proto.unknown_rank = True
            return
        value = value.as_list()
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise UsageError(f"create_node: {key}={value!r} is not a shape; use a list of sizes such as [1, 3, 300, 300]")
    for size in value:
        if size is not None and not isinstance(size, numbers.Integral):
            raise UsageError(f"create_node: {key}={value!r} has a size {size!r} that is not an int (None = unknown)")
        proto.dim.add(size=-1 if size is None else int(size))


def _plugin_key(key: str, suffix: str, trt_plugin: bool) -> str:
    return f"{key}_u_{suffix}" if trt_plugin else key


def _set_list(node: Any, key: str, items: Sequence[object], trt_plugin: bool) -> None:
    for old in {key, _plugin_key(key, "ilist", trt_plugin), _plugin_key(key, "flist", trt_plugin)}:
        if old in node.attr:  # update_node replaces a list, it does not extend it
            del node.attr[old]
    if all(isinstance(v, bool | np.bool_) for v in items) and items:
        if trt_plugin:  # the UFF parser has no bool lists; NVIDIA's package wrote them as ints
            node.attr[_plugin_key(key, "ilist", True)].list.i.extend(int(bool(v)) for v in items)
        else:
            node.attr[key].list.b.extend(bool(v) for v in items)
    elif all(isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_) for v in items):
        if any(not isinstance(v, numbers.Integral) for v in items):
            # NVIDIA's rule: one float makes the whole list floats.
            node.attr[_plugin_key(key, "flist", trt_plugin)].list.f.extend(float(v) for v in items)  # type: ignore[arg-type]
        else:
            attr = node.attr[_plugin_key(key, "ilist", trt_plugin)]
            attr.list.SetInParent()  # an empty list is still a list value
            attr.list.i.extend(int(v) for v in items)  # type: ignore[call-overload]
    elif all(isinstance(v, str | bytes) for v in items):
        if trt_plugin:
            raise UnsupportedError(f"create_plugin_node: {key}={list(items)!r}: the UFF plugin format has no string "
                                   "lists; pass one comma-separated string, or use create_node")
        node.attr[key].list.s.extend(v.encode() if isinstance(v, str) else v for v in items)  # type: ignore[union-attr]
    else:
        kinds = sorted({type(v).__name__ for v in items})
        raise UsageError(f"create_node: {key}={list(items)!r:.120}: a list attribute must hold only numbers, "
                         f"only bools or only strings, not {', '.join(kinds)}")


def _set_attr(node: Any, key: str, value: object, trt_plugin: bool, what: str) -> None:
    dtype = _dtype_enum(value, key)
    if dtype is not None:
        node.attr[key].type = dtype
    elif key == "shape":
        _set_shape(node.attr[key], value, key)
    elif isinstance(value, bool | np.bool_):
        node.attr[_plugin_key(key, "bool", trt_plugin)].b = bool(value)
    elif isinstance(value, numbers.Integral):
        node.attr[_plugin_key(key, "int", trt_plugin)].i = int(value)
    elif isinstance(value, numbers.Real):
        node.attr[_plugin_key(key, "float", trt_plugin)].f = float(value)
    elif isinstance(value, str | bytes):
        node.attr[_plugin_key(key, "str", trt_plugin)].s = value.encode() if isinstance(value, str) else value
    elif isinstance(value, np.ndarray):
        _messages.assign(node.attr[key].tensor, array_to_tensor(value))
        if key == "value" and "dtype" not in node.attr:
            # What tf.constant writes, so that the node imports: a Const needs its dtype attribute.
            node.attr["dtype"].type = from_numpy_dtype(value.dtype)
    elif isinstance(value, list | tuple):
        _set_list(node, key, value, trt_plugin)
    else:
        raise UsageError(f"{what}: attribute {key}={value!r:.80} has type {type(value).__name__}; supported are "
                         "int, float, bool, str, lists of these, numpy arrays and dtypes")


def _add_inputs(node: Any, inputs: object, what: str) -> None:
    for item in _messages.as_items(inputs):
        node.input.append(_messages.node_name_of(item, f"{what}: inputs"))


def update_node(node: Any, name: str | None = None, op: str | None = None, trt_plugin: bool = False,
                **kwargs: object) -> Any:
    """Sets the name, op and attributes of an existing NodeDef (ours or TensorFlow's) and returns it.

    ``op`` defaults to the node's op, or its name. ``inputs`` (names or nodes, or one of either) are
    appended; ``dtype`` and ``shape`` set those attributes; every other keyword sets an attribute.
    """
    if not _messages.is_node_def(node):
        raise UsageError(f"update_node: expected a NodeDef, got {type(node).__name__}")
    what = "create_plugin_node" if trt_plugin else "create_node"
    if name is not None and not isinstance(name, str):
        raise UsageError(f"{what}: name must be a string, got {type(name).__name__}")
    if op is not None and not isinstance(op, str):
        raise UsageError(f"{what}: op must be a string, got {type(op).__name__}")
    work = type(node)()  # edited on a copy, so a bad keyword leaves the node as it was
    work.CopyFrom(node)
    work.name = name or work.name
    if not work.name:
        raise UsageError(f"{what}: a node needs a name")
    work.op = op or work.op or work.name
    for key, value in kwargs.items():
        if key == "inputs":
            _add_inputs(work, value, what)
        else:
            _set_attr(work, key, value, trt_plugin, what)
    node.CopyFrom(work)
    return node


def create_node(name: str, op: str | None = None, trt_plugin: bool = False, **kwargs: object) -> Any:
    """A free-standing NodeDef: ``create_node("Input", op="Placeholder", dtype=tf.float32, shape=[1, 3, 300, 300])``.

    ``op`` defaults to ``name``. See the module docstring for the keyword attributes.
    """
    trt_plugin = bool(kwargs.pop("_do_suffix", trt_plugin))  # the keyword's name in TensorRT 5.0
    node = _messages.default_node_class()()
    return update_node(node, name, op, trt_plugin, **kwargs)


def create_plugin_node(name: str, op: str | None = None, **kwargs: object) -> Any:
    """``create_node`` for a TensorRT plugin node: attribute names get the UFF parser's type suffixes."""
    return create_node(name, op, trt_plugin=True, **kwargs)


def extract_numpy_array(node: Any) -> np.ndarray:
    """The value of a ``Const`` node as a flat (1-D) numpy array, as NVIDIA's package returned it."""
    if not _messages.is_node_def(node):
        raise UsageError(f"extract_numpy_array: expected a NodeDef, got {type(node).__name__}")
    if "value" not in node.attr or not node.attr["value"].HasField("tensor"):
        raise UsageError(f"extract_numpy_array: node '{node.name}' ({node.op}) has no 'value' tensor")
    from graphsurgeon._proto import tensor_pb2

    tensor = _messages.convert(node.attr["value"].tensor, tensor_pb2.TensorProto)
    return tensor_to_array(tensor, f"node '{node.name}'").reshape(-1)


def _in_namespace(name: str, namespace: str) -> bool:
    return name == namespace or name.startswith(namespace + "/")


def select_node_namespaces(dynamic_graph: Any, namespaces: str | Iterable[str]) -> list[Any]:
    """The nodes of a graph that lie in any of ``namespaces`` (a node ``ns`` or any ``ns/...``), in graph order."""
    wanted = [ns.rstrip("/") for ns in _messages.as_items(namespaces) if isinstance(ns, str)]
    if len(wanted) != len(_messages.as_items(namespaces)) or not all(wanted):
        raise UsageError(f"select_node_namespaces: namespaces must be non-empty strings, got {namespaces!r:.120}")
    return [node for node in dynamic_graph if any(_in_namespace(node.name, ns) for ns in wanted)]
