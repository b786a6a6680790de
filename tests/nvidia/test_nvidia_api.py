"""NVIDIA graphsurgeon's API piece by piece, on our classes: node creation, search, and the edit
semantics on small graphs where the documented answer is plain (control inputs, ports, chains)."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

import graphsurgeon as gs
from graphsurgeon._proto import node_def_pb2, types_pb2
from graphsurgeon.errors import (
    FileFormatError,
    InvalidGraphError,
    NodeNotFoundError,
    OutputError,
    UnsupportedError,
    UsageError,
)
from graphsurgeon.formats.events import read_events

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from builders import make_graph  # noqa: E402  (tests/builders.py)

ROOT = pathlib.Path(__file__).resolve().parents[2]
SSD = ROOT / "tests" / "fixtures" / "nvidia" / "ssd_like.pb"
DT = types_pb2.DataType


def structure(graph) -> list[tuple[str, list[str]]]:
    return [(n.name, list(n.input)) for n in graph]


# ----------------------------------------------------------------------------------- nodes


def test_create_node_attribute_kinds():
    const = gs.create_node("c")
    assert (const.name, const.op, list(const.input), dict(const.attr)) == ("c", "c", [], {})  # op defaults to name
    node = gs.create_node(
        "n", op="MyOp", inputs=["a", gs.create_node("b"), "c:1", "^d"], count=3, ratio=0.5, flag=True,
        label="hi", sizes=[1, 2], mixed=[1, 2.5], flags=[True, False], names=["x", "y"], empty=[],
        T=np.float32, out_type=np.dtype("int64"), dtype="DT_HALF", shape=[None, 3],
    )
    assert list(node.input) == ["a", "b", "c:1", "^d"]
    a = node.attr
    assert (a["count"].i, a["ratio"].f, a["flag"].b, a["label"].s) == (3, 0.5, True, b"hi")
    assert list(a["sizes"].list.i) == [1, 2] and list(a["mixed"].list.f) == [1.0, 2.5]
    assert list(a["flags"].list.b) == [True, False] and list(a["names"].list.s) == [b"x", b"y"]
    assert a["empty"].HasField("list") and not a["empty"].list.i
    assert (a["T"].type, a["out_type"].type, a["dtype"].type) == (DT.DT_FLOAT, DT.DT_INT64, DT.DT_HALF)
    assert gs.shape(node) == (-1, 3)
    # Ours, or TensorFlow's when an earlier test in this process imported TensorFlow.
    tf_loaded = "tensorflow.core.framework.node_def_pb2" in sys.modules
    assert (type(node).__module__ == "tensorflow.core.framework.node_def_pb2") == tf_loaded
    assert tf_loaded or type(node) is node_def_pb2.NodeDef
    single = gs.create_node("s", inputs="a")  # one input name is one input, not its letters
    assert list(single.input) == ["a"]


def test_create_plugin_node_uses_the_uff_suffixes():
    node = gs.create_plugin_node("p", op="P_TRT", n=1, x=0.5, on=False, s="v", il=[1, 2], fl=[1, 0.5], bl=[True],
                                 dtype=np.float32, shape=[1, 2], inputs=["a"])
    assert sorted(node.attr) == ["bl_u_ilist", "dtype", "fl_u_flist", "il_u_ilist", "n_u_int", "on_u_bool", "s_u_str",
                                 "shape", "x_u_float"]
    assert list(node.attr["bl_u_ilist"].list.i) == [1] and node.attr["on_u_bool"].b is False
    # TensorRT 5.0's spelling of the switch.
    assert "n_u_int" in gs.create_node("q", _do_suffix=True, n=1).attr


def test_const_from_a_numpy_array_has_its_dtype():
    value = np.arange(6, dtype=np.int32).reshape(2, 3)
    node = gs.create_node("k", op="Const", value=value)
    assert node.attr["dtype"].type == DT.DT_INT32
    np.testing.assert_array_equal(gs.extract_numpy_array(node), value.reshape(-1))  # flat, as NVIDIA's
    small = gs.create_node("one", op="Const", value=np.array([2.5], np.float32))  # stored in float_val
    assert gs.extract_numpy_array(small).tolist() == [2.5]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"bad": {"a": 1}}, UsageError, "attribute bad={'a': 1} has type dict"),
    ({"bad": [1, "a"]}, UsageError, "a list attribute must hold only numbers"),
    ({"dtype": "floot32"}, UsageError, "dtype='floot32' is not a dtype name"),
    ({"shape": "1,2"}, UsageError, "is not a shape"),
    ({"shape": [1, 2.5]}, UsageError, "has a size 2.5 that is not an int"),
    ({"inputs": [3]}, UsageError, "inputs: expected a node name or a NodeDef, got int"),
])
def test_create_node_errors(kwargs, error, message):
    with pytest.raises(error, match=None) as info:
        gs.create_node("n", **kwargs)
    assert message in str(info.value)


def test_plugin_string_lists_are_refused():
    with pytest.raises(UnsupportedError, match="UFF plugin format has no string lists"):
        gs.create_plugin_node("p", names=["a", "b"])
    with pytest.raises(UsageError, match="op must be a string"):
        gs.create_node("n", op=3)
    with pytest.raises(UsageError, match="expected a NodeDef"):
        gs.update_node("n", op="X")


def test_update_node_changes_an_existing_node():
    node = gs.create_node("a", op="Placeholder", shape=[1, 2])
    gs.update_node(node, op="Const", shape=[3], inputs=["x"], sizes=[1, 2])
    gs.update_node(node, sizes=[3])
    assert node.op == "Const" and gs.shape(node) == (3,) and list(node.input) == ["x"]
    assert sorted(node.attr) == ["shape", "sizes"] and list(node.attr["sizes"].list.i) == [3]
    with pytest.raises(UsageError, match="has type dict"):
        gs.update_node(node, op="Other", ok=1, bad={})
    assert node.op == "Const" and "ok" not in node.attr  # a failed call changes nothing


# ----------------------------------------------------------------------------------- search


def test_search_on_the_ssd_fixture():
    graph = gs.StaticGraph(str(SSD))
    assert len(graph) == 154 and len(list(graph)) == 154 and graph[0].name == "image_tensor"
    assert graph["concat"].op == "ConcatV2" and "concat" in graph and graph["concat"] in graph
    assert [n.name for n in graph.find_nodes_by_op({"Placeholder", "Assert"})] == [
        "image_tensor", "Preprocessor/assert_greater_equal/Assert/Assert"]
    assert [n.name for n in graph.find_nodes_by_name("Reshape_2")] == ["Postprocessor/Reshape_2"]
    assert [n.name for n in graph.find_nodes_by_name(r"Reshape_\d")] == [
        "BoxPredictor_0/Reshape_1", "BoxPredictor_1/Reshape_1", "Postprocessor/Reshape_1", "Postprocessor/Reshape_2"]
    # Names match whole: "Reshape" is not "Reshape_1" nor "Reshape/shape"'s "shape".
    assert all(n.name.endswith("/Reshape") for n in graph.find_nodes_by_name("Reshape"))
    assert [n.name for n in graph.find_nodes_by_path(["concat", "concat_1"])] == ["concat", "concat_1"]
    names = [n.name for n in graph]
    assert [n.name for n in graph.find_nodes_by_path("Postprocessor/.*")] == [
        n for n in names if n.startswith("Postprocessor/")]
    assert graph.find_nodes_by_path("Postprocessor") == []
    nms = graph["Postprocessor/non_max_suppression/NonMaxSuppressionV3"]
    assert [n.name for n in graph.find_node_inputs_by_name(nms, ".*_threshold")] == [
        "Postprocessor/non_max_suppression/iou_threshold", "Postprocessor/non_max_suppression/score_threshold"]
    assert [n.name for n in graph.find_node_inputs_by_op(nms.name, "Max")] == ["Postprocessor/Max"]
    checked = graph["Preprocessor/checked"]  # ToFloat and ^Assert
    assert [n.op for n in graph.find_node_inputs(checked)] == ["Cast", "Assert"]
    assert [n.name for n in graph.node_outputs["Preprocessor/assert_greater_equal/Assert/Assert"]] == [
        "Preprocessor/checked"]
    assert graph.node_outputs["detection_boxes"] == []
    chains = graph.find_node_chains_by_op(["Conv2D", "BiasAdd", "Relu"])
    assert len(chains) == 6 and [n.op for n in chains[0]] == ["Conv2D", "BiasAdd", "Relu"]
    assert [n.name for n in chains[0]] == ["FeatureExtractor/conv1/Conv2D", "FeatureExtractor/conv1/BiasAdd",
                                           "FeatureExtractor/conv1/Relu"]
    selected = gs.select_node_namespaces(graph, ["Postprocessor", "MultipleGridAnchorGenerator/Concatenate"])
    assert [n.name for n in selected] == [
        n for n in names if n.startswith(("Postprocessor/", "MultipleGridAnchorGenerator/Concatenate/"))]
    assert [n.name for n in gs.select_node_namespaces(graph, "concat")] == ["concat/axis", "concat"]


def test_graph_sources():
    loaded = gs.load_graph(SSD).graph_def
    graph = gs.StaticGraph(loaded)
    assert graph.as_graph_def() is loaded  # the very object, as NVIDIA's
    assert gs.DynamicGraph(graph).as_graph_def() is loaded
    assert len(gs.StaticGraph()) == 0 and gs.StaticGraph().graph_outputs == []
    assert len(gs.StaticGraph(pathlib.Path(SSD))) == 154
    with pytest.raises(UsageError, match="takes a GraphDef"):
        gs.StaticGraph(42)
    with pytest.raises(FileFormatError):
        gs.StaticGraph(str(SSD) + ".missing")


# ----------------------------------------------------------------------------------- edits


def test_remove_drops_port_and_control_references():
    graph = gs.DynamicGraph(make_graph(
        ("a", "Split", []), ("b", "Add", ["a:1", "a", "^a"]), ("c", "Neg", ["b"]), ("d", "NoOp", ["^c"])))
    graph.remove("a")
    assert structure(graph) == [("b", []), ("c", ["b"]), ("d", ["^c"])]


def test_remove_exclusive_dependencies_counts_every_consumer():
    graph = gs.DynamicGraph(make_graph(
        ("shared", "Const", []), ("own", "Const", []), ("deep", "Const", []), ("mid", "Neg", ["deep"]),
        ("x", "AddN", ["shared", "own", "mid", "own"]),
        ("y", "Neg", ["shared:0"]),          # reads shared through a port
        ("z", "NoOp", ["^mid"]),             # reads mid through a control edge
    ))
    graph.remove(graph["x"], remove_exclusive_dependencies=True)
    assert structure(graph) == [("shared", []), ("deep", []), ("mid", ["deep"]), ("y", ["shared:0"]),
                                ("z", ["^mid"])]
    graph.remove(["y", "z"], remove_exclusive_dependencies=True)
    assert len(graph) == 0


def test_forward_inputs_chains_ports_and_control_consumers():
    graph = gs.DynamicGraph(make_graph(
        ("a", "Const", []), ("b", "Const", []),
        ("i1", "Identity", ["a"]), ("i2", "Identity", ["i1"]),
        ("pair", "Pack", ["b", "i2"]),                    # a two-input node, forwarded below
        ("use", "Add", ["i2:0", "pair", "^i1"]),
        ("after", "NoOp", ["^pair"]),
    ))
    graph.forward_inputs(graph.find_nodes_by_op({"Identity", "Pack"}))
    assert structure(graph) == [("a", []), ("b", []), ("use", ["a", "b", "a", "^a"]), ("after", ["^b", "^a"])]


def test_collapse_nested_namespaces_and_control_edges():
    graph = gs.DynamicGraph(make_graph(
        ("x", "Const", []), ("gate", "NoOp", []),
        ("ns/a", "Neg", ["x", "^gate"]), ("ns/inner/b", "Neg", ["ns/a"]), ("ns/c", "Neg", ["ns/inner/b:0"]),
        ("ns/d", "NoOp", ["^ns/inner/b", "^x"]),
        ("solo/e", "NoOp", ["^ns/a"]),
        ("out", "Add", ["ns/c", "ns/inner/b", "^ns/a"]),
        ("late", "NoOp", ["^ns/c"]),
    ))
    outer, inner = gs.create_plugin_node("Outer", op="O"), gs.create_plugin_node("Inner", op="I")
    graph.collapse_namespaces({"ns": outer, "ns/inner": inner, "solo": gs.create_plugin_node("Solo")})
    assert structure(graph) == [
        ("x", []), ("gate", []),
        ("out", ["Outer", "Inner"]),       # the control edge to ns/a is covered by the data edge
        ("late", ["^Outer"]),
        ("Outer", ["x", "Inner", "^gate"]),  # control inputs last; ^Inner and ^x are covered by data edges
        ("Inner", ["Outer"]),
        ("Solo", ["^Outer"]),               # a control edge stays one
    ]


def test_append_extend_add_connect_disconnect():
    graph = gs.DynamicGraph(make_graph(("a", "Const", []), ("b", "Neg", ["a"])))
    graph.append(gs.create_node("c", op="Neg", inputs=["b"]))
    graph.extend([gs.create_node("d", op="NoOp")])
    graph.add(gs.create_node("e", op="NoOp", inputs=["^d"]))
    assert [n.name for n in graph.graph_outputs] == ["c", "e"]  # analysis is refreshed after each edit
    graph.connect("a", "e")
    assert list(graph["e"].input) == ["a", "^d"]
    graph.connect("a", "e")  # already connected: nothing happens
    graph.disconnect("d", "e")
    assert list(graph["e"].input) == ["a"]
    assert [n.name for n in graph.node_outputs["a"]] == ["b", "e"]
    graph.connect("b", "e")
    graph.connect("c", "e")
    graph.sort("e", ["c", graph["b"]])
    assert list(graph["e"].input) == ["c", "b", "a"]
    with pytest.raises(InvalidGraphError, match="sort: 'd' is not an input of 'e'"):
        graph.sort("e", ["d"])
    graph.sort("e", ["d", "a"], error_if_not_found=False)
    assert list(graph["e"].input) == ["a", "c", "b"]


def test_write_and_write_tensorboard(tmp_path):
    graph = gs.DynamicGraph(str(SSD))
    graph.forward_inputs(graph.find_nodes_by_name("read"))
    graph.write(tmp_path / "out.pb")
    graph_class = type(graph.as_graph_def())  # ours, or TensorFlow's if this process imported it
    assert graph_class.FromString((tmp_path / "out.pb").read_bytes()) == graph.as_graph_def()
    path = graph.write_tensorboard(tmp_path / "logs")
    assert path.parent == tmp_path / "logs" and ".tfevents." in path.name
    events = list(read_events(path))
    assert events[0].file_version == "brain.Event:2"
    assert graph_class.FromString(events[1].graph_def) == graph.as_graph_def()
    with pytest.raises(NodeNotFoundError):
        graph.remove("FeatureExtractor/conv1/weights/read")  # forwarded above
    with pytest.raises(OutputError, match="input"):
        graph.write(SSD)  # the file it was read from
    with pytest.raises(OutputError):
        gs.StaticGraph(graph).write(tmp_path / "missing" / "dir" / "out.pb")
