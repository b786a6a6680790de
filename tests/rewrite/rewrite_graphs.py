"""Helpers for the rewrite tests: tiny GraphDefs made in code, and TensorFlow runs of GraphDefs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from graphsurgeon._proto import graph_pb2, types_pb2
from graphsurgeon.formats.tensors import tensor_to_array
from graphsurgeon.surgery import const_node, dtype_attr, make_node

DT = types_pb2.DataType
F32 = {"T": DT.DT_FLOAT}


def build(*specs: tuple | object) -> graph_pb2.GraphDef:
    """(name, op, [inputs], {attrs}) or a ready NodeDef -> GraphDef. ``T``/``dtype`` attrs may be DataType
    numbers; ``_class`` lists colocation targets; other attrs go through ``attr_value``."""
    out = graph_pb2.GraphDef()
    out.versions.producer = 1234
    for spec in specs:
        if not isinstance(spec, tuple):
            out.node.append(spec)
            continue
        name, op, inputs = spec[:3]
        attrs = dict(spec[3]) if len(spec) > 3 else {}
        coloc = attrs.pop("_class", None)
        conv = {k: (dtype_attr(v) if _is_type_attr(k) and isinstance(v, int) else v) for k, v in attrs.items()}
        node = make_node(name, op, inputs, conv)
        if coloc:
            node.attr["_class"].list.s.extend(f"loc:@{c}".encode() for c in coloc)
        out.node.append(node)
    return out


def _is_type_attr(key: str) -> bool:
    return key.startswith("T") or key in ("dtype", "DstT", "SrcT", "out_type", "Index", "index_type", "U")


def const(name: str, value: object, dtype: object = None, controls: Iterable[str] = ()):
    return const_node(name, np.asarray(value) if dtype is None else value, dtype, controls=controls)


def placeholder(name: str, dtype: int = DT.DT_FLOAT, shape: object = None) -> tuple:
    attrs: dict = {"dtype": dtype}
    if shape is not None:
        from graphsurgeon.surgery import shape_attr

        attrs["shape"] = shape_attr(shape)
    return (name, "Placeholder", [], attrs)


def inputs_of(graph_def: graph_pb2.GraphDef) -> dict[str, list[str]]:
    return {n.name: list(n.input) for n in graph_def.node}


def ops_of(graph_def: graph_pb2.GraphDef) -> dict[str, str]:
    return {n.name: n.op for n in graph_def.node}


def value_of(graph_def: graph_pb2.GraphDef, name: str) -> np.ndarray:
    node = next(n for n in graph_def.node if n.name == name)
    assert node.op == "Const", f"'{name}' is {node.op}, not Const"
    return tensor_to_array(node.attr["value"].tensor)


def run_tf(graph_def: graph_pb2.GraphDef, feeds: Mapping[str, object], fetches: list[str]) -> dict[str, np.ndarray]:
    """Runs a GraphDef in TensorFlow (graph mode) and returns {fetch: value}."""
    from graphsurgeon.validate import run_graph

    return run_graph(graph_def, dict(feeds), fetches, device="cpu")


@contextlib.contextmanager
def v1_graph() -> Iterator[object]:
    """A fresh tf.Graph with TF 1.x control flow (Switch/Merge/Enter/Exit, not If/While), restored after."""
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_util

    saved = control_flow_util.ENABLE_CONTROL_FLOW_V2
    tf.compat.v1.disable_control_flow_v2()
    try:
        with tf.Graph().as_default() as graph:
            yield graph
    finally:
        control_flow_util.ENABLE_CONTROL_FLOW_V2 = saved


def graph_def_of(graph: object) -> graph_pb2.GraphDef:
    """A TensorFlow graph's GraphDef as graphsurgeon's message."""
    return graph_pb2.GraphDef.FromString(graph.as_graph_def().SerializeToString())  # type: ignore[attr-defined]
