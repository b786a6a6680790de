"""Our GraphDef/NodeDef classes and TensorFlow's, side by side, without importing TensorFlow.

The two sets of classes have the same fields and numbers, so a message of one converts to the
other through its bytes. TensorFlow's classes are used only when the calling process has already
imported TensorFlow (``sys.modules``); this module never imports it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from google.protobuf import message as _message
from google.protobuf import message_factory

from graphsurgeon._proto import graph_pb2, node_def_pb2
from graphsurgeon.errors import UsageError

_GRAPH_DEF_NAMES = frozenset({"tensorflow.GraphDef", "graphsurgeon.tf.GraphDef"})
_NODE_DEF_NAMES = frozenset({"tensorflow.NodeDef", "graphsurgeon.tf.NodeDef"})
_TF_GRAPH_MODULE = "tensorflow.core.framework.graph_pb2"
_TF_NODE_MODULE = "tensorflow.core.framework.node_def_pb2"


def _full_name(obj: object) -> str | None:
    if not isinstance(obj, _message.Message):
        return None
    return obj.DESCRIPTOR.full_name


def is_graph_def(obj: object) -> bool:
    """Our GraphDef or TensorFlow's."""
    return _full_name(obj) in _GRAPH_DEF_NAMES


def is_node_def(obj: object) -> bool:
    """Our NodeDef or TensorFlow's."""
    return _full_name(obj) in _NODE_DEF_NAMES


def tensorflow_loaded() -> bool:
    """True when the process has imported TensorFlow (its proto modules are in ``sys.modules``)."""
    return _TF_GRAPH_MODULE in sys.modules and _TF_NODE_MODULE in sys.modules


def default_graph_class() -> type[Any]:
    """TensorFlow's GraphDef when TensorFlow is loaded in this process, else ours."""
    if tensorflow_loaded():
        return sys.modules[_TF_GRAPH_MODULE].GraphDef  # type: ignore[no-any-return]
    return graph_pb2.GraphDef


def default_node_class() -> type[Any]:
    """TensorFlow's NodeDef when TensorFlow is loaded in this process, else ours."""
    if tensorflow_loaded():
        return sys.modules[_TF_NODE_MODULE].NodeDef  # type: ignore[no-any-return]
    return node_def_pb2.NodeDef


def node_class_of(graph_def: Any) -> type[Any]:
    """The NodeDef class whose messages ``graph_def.node`` holds."""
    if type(graph_def) is graph_pb2.GraphDef:
        return node_def_pb2.NodeDef
    get_class = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.22
    if get_class is not None:
        return get_class(graph_def.DESCRIPTOR.fields_by_name["node"].message_type)  # type: ignore[no-any-return]
    return sys.modules[_TF_NODE_MODULE].NodeDef  # type: ignore[no-any-return]  # a TF GraphDef: TF is loaded


def convert(msg: Any, cls: type[Any]) -> Any:
    """``msg`` itself when it is a ``cls``, else a ``cls`` parsed from its bytes."""
    if type(msg) is cls:
        return msg
    return cls.FromString(msg.SerializeToString())


def assign(dst: Any, src: Any) -> None:
    """``dst.CopyFrom(src)``, also across our classes and TensorFlow's."""
    if type(dst) is type(src):
        dst.CopyFrom(src)
    else:
        dst.Clear()
        dst.MergeFromString(src.SerializeToString())


def node_name_of(item: object, what: str) -> str:
    """The name a node argument stands for: a node name, or a NodeDef (ours or TensorFlow's)."""
    if isinstance(item, str):
        return item
    if is_node_def(item):
        return item.name  # type: ignore[attr-defined,no-any-return]
    raise UsageError(f"{what}: expected a node name or a NodeDef, got {type(item).__name__} {item!r:.80}")


def as_items(value: object) -> list[object]:
    """A single node/name, or an iterable of them, as a list (a string or NodeDef is one item)."""
    if value is None:
        return []
    if isinstance(value, str | bytes) or is_node_def(value) or not isinstance(value, Iterable):
        return [value]
    return list(value)
