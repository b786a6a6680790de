"""summarize() on small hand-made graphs: switches, outputs, variables, devices, functions."""

from __future__ import annotations

import numpy as np

from graphsurgeon._proto import graph_pb2, node_def_pb2, types_pb2
from graphsurgeon.formats.tensors import array_to_tensor, shape_to_proto
from graphsurgeon.summary import summarize

F, B, I32, S = types_pb2.DT_FLOAT, types_pb2.DT_BOOL, types_pb2.DT_INT32, types_pb2.DT_STRING


def _node(graph: graph_pb2.GraphDef, name: str, op: str, inputs: tuple[str, ...] = (), **attrs: object
          ) -> node_def_pb2.NodeDef:
    node = graph.node.add(name=name, op=op, input=list(inputs))
    for key, value in attrs.items():
        if key == "shape":
            node.attr["shape"].shape.CopyFrom(shape_to_proto(value))  # type: ignore[arg-type]
        elif key == "value":
            node.attr["value"].tensor.CopyFrom(array_to_tensor(value))
        elif key == "device":
            node.device = str(value)
        else:
            node.attr[key].type = int(value)  # type: ignore[call-overload]
    return node


def _graph() -> graph_pb2.GraphDef:
    g = graph_pb2.GraphDef()
    g.versions.producer = 27
    _node(g, "x", "Placeholder", dtype=F, shape=[None, 3])
    _node(g, "phase/default", "Const", dtype=B, value=np.array(False))
    _node(g, "keras_learning_phase", "PlaceholderWithDefault", ("phase/default",), dtype=B, shape=[])
    _node(g, "drop_rate", "Placeholder", dtype=F, shape=[])
    _node(g, "learning_rate", "Placeholder", dtype=F, shape=[])
    _node(g, "steps", "Placeholder", dtype=I32, shape=[])
    _node(g, "anything", "Placeholder", dtype=F)  # unknown rank
    _node(g, "w", "VariableV2", dtype=F, shape=[3, 2], device="/job:ps/task:0")
    _node(g, "w/read", "Identity", ("w",), T=F)
    _node(g, "emb", "VarHandleOp", dtype=F, shape=[None, 4])
    _node(g, "vocab", "VariableV2", dtype=S, shape=[10])
    _node(g, "mm", "MatMul", ("x", "w/read"), T=F, device="/device:CPU:0")
    _node(g, "drop", "Mul", ("mm", "drop_rate"), T=F)
    _node(g, "out", "Switch", ("drop", "keras_learning_phase"), T=F)
    _node(g, "count", "Add", ("steps", "steps"), T=I32)
    _node(g, "is_big", "Greater", ("count", "steps"), T=I32)
    _node(g, "sgd", "ApplyGradientDescent", ("w", "learning_rate", "mm"), T=F)
    _node(g, "init", "NoOp", ("^w",))
    _node(g, "use_anything", "Identity", ("anything",), T=F)
    g.library.function.add().signature.name = "my_fn"
    return g


def test_switches_need_a_reader_among_the_outputs() -> None:
    data = summarize(_graph())
    switches = {s["name"]: s for s in data["switches"]}
    assert set(switches) == {"keras_learning_phase", "drop_rate"}, "learning_rate feeds only the optimizer"
    phase = switches["keras_learning_phase"]
    assert (phase["dtype"], phase["has_default"], phase["default"], phase["feed"]) == ("bool", True, False, False)
    assert (switches["drop_rate"]["feed"], switches["drop_rate"]["has_default"]) == (0.0, False)


def test_inputs_outputs_and_dtypes() -> None:
    data = summarize(_graph())
    inputs = {i["name"]: i for i in data["inputs"]}
    assert inputs["x"]["shape"] == [-1, 3] and inputs["anything"]["shape"] is None
    assert set(inputs) == {"x", "keras_learning_phase", "drop_rate", "learning_rate", "steps", "anything"}
    outputs = {o["name"]: o for o in data["outputs"]}
    assert set(outputs) == {"out", "is_big", "use_anything"}
    assert outputs["is_big"]["dtype"] == "bool", "comparison ops output bool whatever T says"
    assert outputs["out"]["feeds"] == ["drop_rate", "keras_learning_phase", "x"]
    assert data["ignored_sinks"] == {"initializer": ["init"], "training": ["sgd"], "variable": ["emb", "vocab"]}


def test_variables_with_unknown_sizes() -> None:
    data = summarize(_graph())
    variables = {v["name"]: v for v in data["variables"]}
    assert (variables["w"]["elements"], variables["w"]["bytes"], variables["w"]["trainable"]) == (6, 24, None)
    assert (variables["emb"]["elements"], variables["emb"]["bytes"]) == (None, None)
    assert (variables["vocab"]["dtype"], variables["vocab"]["elements"], variables["vocab"]["bytes"]) == (
        "string", 10, None)
    assert data["variable_totals"] == {"count": 3, "elements": 16, "bytes": 24, "unknown_size": 2,
                                       "trainable_count": None}


def test_devices_functions_versions() -> None:
    data = summarize(_graph())
    assert data["devices"] == {"/device:CPU:0": 1, "/job:ps/task:0": 1}
    assert data["functions"] == {"count": 1, "gradients": 0, "names": ["my_fn"]}
    assert (data["producer"], data["min_consumer"], data["node_count"]) == (27, 0, len(_graph().node))
    assert next(iter(data["op_types"])) == "Placeholder"


def test_input_graph_is_not_modified() -> None:
    graph = _graph()
    before = graph.SerializeToString()
    summarize(graph)
    assert graph.SerializeToString() == before
