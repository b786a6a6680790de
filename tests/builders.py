"""Tiny GraphDefs made in code, no TensorFlow needed, shared by the graph and rewrite tests."""

from __future__ import annotations

import numpy as np

from graphsurgeon._proto import graph_pb2, node_def_pb2, types_pb2
from graphsurgeon.formats.tensors import array_to_tensor, shape_to_proto, to_numpy_dtype

# Ops whose "N" attr counts their data inputs (all of them, or all but the last: ConcatV2's axis).
_N_FROM_INPUTS = {"Merge": 0, "RefMerge": 0, "AddN": 0, "Pack": 0, "ShapeN": 0, "ConcatV2": 1}


def complete(node: node_def_pb2.NodeDef) -> node_def_pb2.NodeDef:
    """Fills what a tiny test node leaves out but every real one has, so it passes the op-registry
    check: a Const's ``value`` (a zero scalar of its ``dtype``, float32 without one) and the ``N``
    of Merge / AddN / Pack / ConcatV2 ... (from its data inputs). Returns ``node``."""
    if node.op == "Const":
        if "dtype" not in node.attr:
            node.attr["dtype"].type = types_pb2.DT_FLOAT
        value = node.attr["value"] if "value" in node.attr else None
        if value is None or value.WhichOneof("value") != "tensor":
            dtype = node.attr["dtype"].type
            given = 0 if value is None else (value.f if value.WhichOneof("value") == "f" else value.i)
            node.attr["value"].tensor.CopyFrom(array_to_tensor(np.asarray(given, to_numpy_dtype(dtype)), dtype))
    elif node.op in _N_FROM_INPUTS and "N" not in node.attr:
        node.attr["N"].i = sum(1 for i in node.input if not i.startswith("^")) - _N_FROM_INPUTS[node.op]
    return node


def make_graph(*nodes: tuple) -> graph_pb2.GraphDef:
    """(name, op, [inputs], {attr: value}) -> GraphDef. Attr values: int = type, list[str] for
    _class, list[int] = list(type), tuple of shapes for _output_shapes, str = func name,
    ("i", 3) / ("b", True) / ("f", 0.5) / ("s", b"NHWC") = that field of the AttrValue."""
    graph_def = graph_pb2.GraphDef()
    graph_def.versions.producer = 1234
    graph_def.versions.min_consumer = 12
    for spec in nodes:
        name, op, inputs = spec[:3]
        node = graph_def.node.add(name=name, op=op, input=inputs)
        for key, value in (spec[3] if len(spec) > 3 else {}).items():
            if key == "_class":
                node.attr["_class"].list.s.extend(f"loc:@{v}".encode() for v in value)
            elif key == "_output_shapes":
                node.attr[key].list.shape.extend(shape_to_proto(s) for s in value)
            elif key == "shape":
                node.attr[key].shape.CopyFrom(shape_to_proto(value))
            elif isinstance(value, tuple) and len(value) == 2 and value[0] in ("i", "b", "f", "s"):
                setattr(node.attr[key], value[0], value[1])
            elif isinstance(value, str):
                node.attr[key].func.name = value
            elif isinstance(value, list):
                node.attr[key].list.type.extend(value)
            else:
                node.attr[key].type = value
        complete(node)
    return graph_def


def while_loop() -> graph_pb2.GraphDef:
    # A v1 while loop as TensorFlow writes it; the Merge comes before the NextIteration feeding it.
    return make_graph(
        ("i0", "Const", []),
        ("loop/Enter", "Enter", ["i0"]),
        ("loop/Merge", "Merge", ["loop/Enter", "loop/NextIteration"]),
        ("loop/Less/y", "Const", ["^loop/Merge"]),
        ("loop/Less", "Less", ["loop/Merge", "loop/Less/y"]),
        ("loop/LoopCond", "LoopCond", ["loop/Less"]),
        ("loop/Switch", "Switch", ["loop/Merge", "loop/LoopCond"]),
        ("loop/Identity", "Identity", ["loop/Switch:1"]),
        ("loop/add", "AddV2", ["loop/Identity", "loop/Less/y"]),
        ("loop/NextIteration", "NextIteration", ["loop/add"]),
        ("loop/Exit", "Exit", ["loop/Switch"]),
    )
