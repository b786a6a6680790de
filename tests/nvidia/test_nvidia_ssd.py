"""A TensorRT-SSD-style ``config.py`` (the README's) on a TF-made detector with TensorFlow's SSD
namespaces: plugin nodes created, namespaces collapsed into them, graph outputs removed, Identity
nodes forwarded; each step's exact result as NVIDIA's documentation defines it. Runs with
TensorFlow's classes (the script imports TensorFlow) and, in a fresh interpreter that cannot import
TensorFlow, with ours; the two results are the same bytes."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import graphsurgeon as gs
from graphsurgeon.errors import GraphSurgeonError, InvalidGraphError, NodeNotFoundError, UsageError

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "nvidia"
SSD = FIXTURES / "ssd_like.pb"
OUTPUTS = ["detection_boxes", "detection_scores", "detection_classes", "num_detections"]

BLOCK_TF = textwrap.dedent('''
    import importlib.abc, sys

    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ImportError(f"imported {name}")
            return None

    sys.meta_path.insert(0, NoTensorFlow())
''')

# The README example's result: FeatureExtractor and BoxPredictors with their weights (read
# Identities forwarded), then the plugin nodes in the map's order, each name once.
CONV_LAYERS = [
    ("FeatureExtractor/conv1", "Input"),
    ("FeatureExtractor/conv2", "FeatureExtractor/conv1/Relu"),
]
PREDICTORS = [("BoxPredictor_0", "FeatureExtractor/conv1/Relu"), ("BoxPredictor_1", "FeatureExtractor/conv2/Relu")]


def _conv(prefix: str, source: str) -> list[tuple[str, str, list[str]]]:
    return [
        (f"{prefix}/weights", "Const", []),
        (f"{prefix}/biases", "Const", []),
        (f"{prefix}/Conv2D", "Conv2D", [source, f"{prefix}/weights"]),
        (f"{prefix}/BiasAdd", "BiasAdd", [f"{prefix}/Conv2D", f"{prefix}/biases"]),
        (f"{prefix}/Relu", "Relu", [f"{prefix}/BiasAdd"]),
    ]


EXPECTED = [row for prefix, source in CONV_LAYERS for row in _conv(prefix, source)]
for _p, _source in PREDICTORS:
    EXPECTED += _conv(f"{_p}/BoxEncodingPredictor", _source) + _conv(f"{_p}/ClassPredictor", _source)
    EXPECTED += [
        (f"{_p}/Reshape/shape", "Const", []),
        (f"{_p}/Reshape", "Reshape", [f"{_p}/BoxEncodingPredictor/Relu", f"{_p}/Reshape/shape"]),
        (f"{_p}/Reshape_1/shape", "Const", []),
        (f"{_p}/Reshape_1", "Reshape", [f"{_p}/ClassPredictor/Relu", f"{_p}/Reshape_1/shape"]),
    ]
EXPECTED += [
    ("GridAnchor", "GridAnchor_TRT", ["FeatureExtractor/conv1/Relu", "FeatureExtractor/conv2/Relu"]),
    ("NMS", "NMS_TRT", ["concat_box_loc", "concat_priorbox", "concat_box_conf"]),
    ("Input", "Placeholder", []),
    ("concat_priorbox", "ConcatV2", ["GridAnchor"]),
    ("concat_box_loc", "FlattenConcat_TRT", ["BoxPredictor_0/Reshape", "BoxPredictor_1/Reshape"]),
    ("concat_box_conf", "FlattenConcat_TRT", ["BoxPredictor_0/Reshape_1", "BoxPredictor_1/Reshape_1"]),
]

# What remove(Assert nodes, remove_exclusive_dependencies=True) takes: the Assert, the check it
# alone consumes, and their constants; Preprocessor/Shape stays (strided_slice_1 still reads it).
ASSERT_CLOSURE = {
    "Preprocessor/assert_greater_equal/Assert/Assert",
    "Preprocessor/assert_greater_equal/All",
    "Preprocessor/assert_greater_equal/GreaterEqual",
    "Preprocessor/assert_greater_equal/y",
    "Preprocessor/assert_greater_equal/range",
    "Preprocessor/assert_greater_equal/range/start",
    "Preprocessor/assert_greater_equal/range/delta",
    "Preprocessor/assert_greater_equal/Rank",
    "Preprocessor/strided_slice",
    "Preprocessor/strided_slice/stack",
    "Preprocessor/strided_slice/stack_1",
    "Preprocessor/strided_slice/stack_2",
    *(f"Preprocessor/assert_greater_equal/Assert/Assert/data_{i}" for i in (0, 1, 2, 4)),
}


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Coming from NVIDIA's graphsurgeon", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the NVIDIA section should have one Python example"
    return blocks[0]


def without_tensorflow(code: str) -> str:
    """The README's no-TensorFlow change: no import, dtype names instead of tf.float32."""
    assert "import tensorflow as tf\n" in code and "tf.float32" in code
    return code.replace("import tensorflow as tf\n", "").replace("tf.float32", '"float32"')


def structure(nodes) -> list[tuple[str, str, list[str]]]:
    return [(n.name, n.op, list(n.input)) for n in nodes]


def plugin_map() -> dict:
    """The README's map, built with dtype names (no TensorFlow needed)."""
    namespace = {}
    code = without_tensorflow(readme_example()).split("dynamic_graph = ", 1)[0]
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace["namespace_plugin_map"]


def check_plugin_attrs(nodes: dict) -> None:
    nms = nodes["NMS"]
    assert nms.attr["topK_u_int"].i == 100 and nms.attr["keepTopK_u_int"].i == 100
    assert nms.attr["nmsThreshold_u_float"].f == pytest.approx(0.6)
    assert list(nms.attr["inputOrder_u_ilist"].list.i) == [0, 2, 1]
    anchor = nodes["GridAnchor"]
    assert list(anchor.attr["featureMapShapes_u_ilist"].list.i) == [19, 10, 5, 3, 2, 1]
    assert list(anchor.attr["variance_u_flist"].list.f) == pytest.approx([0.1, 0.1, 0.2, 0.2])
    assert list(anchor.attr["aspectRatios_u_flist"].list.f) == pytest.approx([1.0, 2.0, 0.5, 3.0, 0.33])
    placeholder = nodes["Input"]
    assert placeholder.attr["dtype"].type == 1 and gs.shape(placeholder) == (1, 3, 300, 300)
    concat = nodes["concat_priorbox"]  # create_node, not a plugin: no suffixes
    assert concat.attr["axis"].i == 2 and concat.attr["dtype"].type == 1 and "axis_u_int" not in concat.attr
    assert nodes["concat_box_loc"].attr["ignoreBatch_u_int"].i == 0


def run_readme(tmp_path: pathlib.Path, code: str) -> dict:
    shutil.copyfile(SSD, tmp_path / "frozen_inference_graph.pb")
    namespace: dict = {}
    cwd = pathlib.Path.cwd()
    try:
        os.chdir(tmp_path)
        exec(compile(code, "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    return namespace


# ----------------------------------------------------------------------------------- the script


def run_without_tensorflow(tmp_path: pathlib.Path) -> pathlib.Path:
    """Runs the README's script, with its no-TensorFlow change, in an interpreter that cannot import
    TensorFlow; returns the .pb it wrote."""
    shutil.copyfile(SSD, tmp_path / "frozen_inference_graph.pb")
    script = BLOCK_TF + without_tensorflow(readme_example()) + textwrap.dedent('''
        assert type(dynamic_graph.as_graph_def()).__module__ == "graphsurgeon._proto.graph_pb2"
        assert not [m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow.")]
        print("ok")
    ''')
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
    return tmp_path / "ssd_plugins.pb"


def test_readme_config_script_without_tensorflow(tmp_path):
    graph = gs.load_graph(run_without_tensorflow(tmp_path)).graph_def
    assert structure(graph.node) == EXPECTED
    check_plugin_attrs({n.name: n for n in graph.node})


@pytest.mark.tf
def test_readme_config_script_with_tensorflow(tmp_path):
    """Unchanged (tf.float32 and all): TensorFlow's classes in and out, the same bytes as without TensorFlow."""
    import tensorflow as tf

    namespace = run_readme(tmp_path, readme_example())
    graph = namespace["dynamic_graph"]
    graph_def = graph.as_graph_def()
    assert isinstance(graph_def, tf.compat.v1.GraphDef)
    assert all(isinstance(node, tf.compat.v1.NodeDef) for node in graph)
    assert isinstance(namespace["NMS"], tf.compat.v1.NodeDef)
    assert structure(graph_def.node) == EXPECTED
    check_plugin_attrs({n.name: n for n in graph_def.node})
    written = (tmp_path / "ssd_plugins.pb").read_bytes()
    assert written == graph_def.SerializeToString(deterministic=True)

    # The script on our classes, in an interpreter without TensorFlow, writes the same bytes.
    (tmp_path / "ours").mkdir()
    assert run_without_tensorflow(tmp_path / "ours").read_bytes() == written


def test_steps_one_by_one():
    """Each step of the script, checked on its own (our classes)."""
    graph = gs.DynamicGraph(str(SSD))
    before = {n.name for n in graph}
    assert [n.name for n in graph.graph_outputs] == OUTPUTS
    assert [n.name for n in graph.graph_inputs] == ["image_tensor"]

    graph.remove(graph.find_nodes_by_op("Assert"), remove_exclusive_dependencies=True)
    assert before - {n.name for n in graph} == ASSERT_CLOSURE
    assert list(graph["Preprocessor/checked"].input) == ["ToFloat"]  # its ^Assert went with the Assert
    assert [n.name for n in graph.node_outputs["Preprocessor/Shape"]] == ["Preprocessor/strided_slice_1"]

    namespace_plugin_map = plugin_map()
    nms = namespace_plugin_map["Postprocessor"]
    graph.collapse_namespaces(namespace_plugin_map)
    assert list(graph["NMS"].input) == ["concat_box_loc", "concat_priorbox", "Input", "concat_box_conf"]
    # NVIDIA's collapse_namespaces gave the caller's plugin nodes their inputs too.
    assert list(nms.input) == ["concat_box_loc", "concat_priorbox", "Input", "concat_box_conf"]
    assert [structure([graph[o]])[0] for o in OUTPUTS] == [(o, "Identity", ["NMS"]) for o in OUTPUTS]
    assert not [n.name for n in graph if n.name.startswith(("Preprocessor", "Postprocessor", "Multiple", "concat/"))]
    assert [n.name for n in graph.graph_outputs] == OUTPUTS

    graph.remove(graph.graph_outputs, remove_exclusive_dependencies=False)
    assert graph.graph_outputs == [graph["NMS"]]

    reads = graph.find_nodes_by_op("Identity")
    assert len(reads) == 12 and all(n.name.endswith("/read") for n in reads)
    graph.forward_inputs(reads)
    assert not graph.find_nodes_by_op("Identity")
    graph.find_nodes_by_op("NMS_TRT")[0].input.remove("Input")
    assert structure(graph) == EXPECTED


def test_remove_without_exclusive_dependencies_leaves_the_check_hanging():
    graph = gs.DynamicGraph(str(SSD))
    graph.remove(graph.find_nodes_by_op("Assert"))
    assert "Preprocessor/assert_greater_equal/Assert/Assert" not in graph.node_map
    assert list(graph["Preprocessor/checked"].input) == ["ToFloat"]
    # The Assert's inputs stay; the All it consumed now hangs, so it counts as a graph output.
    assert "Preprocessor/assert_greater_equal/All" in [n.name for n in graph.graph_outputs]
    assert len(graph) == 154 - 1


def test_forward_inputs_leaves_nodes_with_control_inputs(caplog):
    graph = gs.DynamicGraph(str(SSD))
    graph.forward_inputs(["Preprocessor/checked", "MultipleGridAnchorGenerator/Identity"])
    assert "Preprocessor/checked" in graph.node_map  # it has ^Assert: NVIDIA's documented rule keeps it
    assert "forward_inputs: 'Preprocessor/checked' has control inputs" in caplog.text
    assert "MultipleGridAnchorGenerator/Identity" not in graph.node_map
    assert list(graph["Postprocessor/add"].input) == ["Postprocessor/mul",
                                                      "MultipleGridAnchorGenerator/Concatenate/concat"]


def test_unique_inputs_false_keeps_repeated_inputs():
    graph = gs.DynamicGraph(str(SSD))
    graph.collapse_namespaces(plugin_map(), unique_inputs=False)
    # Concatenate/concat reads both GridAnchor layers: the same plugin, twice.
    assert list(graph["concat_priorbox"].input) == ["GridAnchor", "GridAnchor"]
    assert list(graph["NMS"].input) == ["concat_box_loc", "concat_priorbox", "Input", "concat_box_conf"]

    unique = gs.DynamicGraph(str(SSD))
    unique.collapse_namespaces(plugin_map())
    assert list(unique["concat_priorbox"].input) == ["GridAnchor"]


def test_exclude_nodes_stay_outside_their_plugin():
    graph = gs.DynamicGraph(str(SSD))
    graph.collapse_namespaces(plugin_map(), exclude_nodes=[graph["Preprocessor/true_image_shape"]])
    assert structure([graph["Preprocessor/true_image_shape"]]) == [
        ("Preprocessor/true_image_shape", "Cast", ["Input"])]
    assert list(graph["NMS"].input) == ["concat_box_loc", "concat_priorbox", "Preprocessor/true_image_shape",
                                        "concat_box_conf"]


@pytest.mark.tf
def test_removing_asserts_and_forwarding_identities_keeps_the_answers():
    """remove(exclusive) + forward_inputs keep a runnable graph with TensorFlow's recorded outputs."""
    import tensorflow as tf

    graph = gs.DynamicGraph(str(SSD))
    graph.remove(graph.find_nodes_by_op("Assert"), remove_exclusive_dependencies=True)
    graph.forward_inputs([n for n in graph.find_nodes_by_op("Identity") if n.name not in OUTPUTS])
    assert not [n for n in graph.find_nodes_by_op("Identity") if n.name not in OUTPUTS]
    expected = np.load(FIXTURES / "ssd_like_expected.npz")
    feed = np.load(FIXTURES / "ssd_like_input.npy")
    with tf.Graph().as_default() as tf_graph:
        tf.import_graph_def(graph.as_graph_def(), name="")
        with tf.compat.v1.Session(graph=tf_graph) as sess:
            values = sess.run([f"{o}:0" for o in OUTPUTS], {"image_tensor:0": feed})
    for name, value in zip(OUTPUTS, values):
        np.testing.assert_allclose(value, expected[f"out:{name}"], rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------------- misuse


def _unchanged(graph: gs.DynamicGraph, before: bytes) -> bool:
    return graph.as_graph_def().SerializeToString(deterministic=True) == before


@pytest.mark.parametrize("call, error, message", [
    (lambda g: g.remove("Postprocessor/NonMaxSupression"), NodeNotFoundError,
     "remove: node 'Postprocessor/NonMaxSupression' not found"),
    (lambda g: g.remove([g["concat"], 42]), UsageError, "expected a node name or a NodeDef, got int"),
    (lambda g: g.forward_inputs("detection_box"), NodeNotFoundError, "did you mean 'detection_boxes'"),
    (lambda g: g.collapse_namespaces(["Postprocessor"]), UsageError, "namespace_map must be a dict"),
    (lambda g: g.collapse_namespaces({"Postprocessor": "NMS"}), UsageError, "must be a NodeDef"),
    (lambda g: g.collapse_namespaces({"": gs.create_plugin_node("NMS")}), UsageError, "is not a non-empty string"),
    (lambda g: g.collapse_namespaces({"Postprocessor": gs.create_plugin_node("concat", op="NMS_TRT")}),
     InvalidGraphError, "plugin node 'concat' would have the same name as node 'concat' (ConcatV2)"),
    (lambda g: g.collapse_namespaces({"Postprocessor": gs.create_plugin_node("NMS", op="A"),
                                      "concat": gs.create_plugin_node("NMS", op="B")}),
     UsageError, "two different plugin nodes are named 'NMS'"),
    (lambda g: g.collapse_namespaces({"Postprocessor": gs.create_plugin_node("NMS")}, exclude_nodes=["nope"]),
     NodeNotFoundError, "exclude_nodes: node 'nope' not found"),
    (lambda g: g.append(gs.create_node("concat", op="Const")), InvalidGraphError,
     "append: the graph already has a node named 'concat'"),
    (lambda g: g.append("concat_2"), UsageError, "append: expected a NodeDef"),
    (lambda g: g.extend(gs.create_node("x")), UsageError, "extend: expected a list of NodeDefs"),
    (lambda g: g.find_nodes_by_name("Reshape_(1"), UsageError, "'Reshape_(1' is not a valid regular expression"),
    (lambda g: g.find_nodes_by_op(7), UsageError, "find_nodes_by_op: expected a string or a list of strings"),
    (lambda g: g["Postprocessor/Reshpe"], NodeNotFoundError, "did you mean 'Postprocessor/Reshape'"),
    (lambda g: g.find_node_inputs("nope"), NodeNotFoundError, "node 'nope' not found"),
    (lambda g: g.connect("concat", "nope"), NodeNotFoundError, "connect: node 'nope' not found"),
    (lambda g: g.disconnect("concat_1", "concat", error_if_not_connected=True), InvalidGraphError,
     "'concat_1' is not an input of 'concat'"),
])
def test_misuse_raises_a_clear_error_and_changes_nothing(call, error, message):
    graph = gs.DynamicGraph(str(SSD))
    before = graph.as_graph_def().SerializeToString(deterministic=True)
    with pytest.raises(error) as info:
        call(graph)
    assert message in str(info.value)
    assert isinstance(info.value, GraphSurgeonError) and not isinstance(info.value, AssertionError)
    assert _unchanged(graph, before)


def test_namespaces_that_match_nothing_are_fine(caplog):
    # The SSD map names both ToFloat and Cast (TensorFlow versions differ); only one exists.
    import logging

    caplog.set_level(logging.INFO, logger="graphsurgeon.nvidia.dynamic_graph")
    graph = gs.DynamicGraph(str(SSD))
    graph.collapse_namespaces(plugin_map())
    assert "no node is in namespace(s) Cast" in caplog.text
    assert graph["Input"].op == "Placeholder"


def test_jetson_demo_style_edits():
    """Edits Jetson demo scripts make around the collapse: ops renamed in place with update_node, a
    Const made from a numpy array and appended, a plugin input inserted by hand."""
    graph = gs.DynamicGraph(str(SSD))
    for node in graph.find_nodes_by_op("AddV2"):
        gs.update_node(node, op="Add")
    graph.collapse_namespaces(plugin_map())
    anchor_input = gs.create_node("AnchorInput", "Const", value=np.array([1, 1], dtype=np.float32))
    graph.append(anchor_input)
    graph.find_nodes_by_op("GridAnchor_TRT")[0].input.insert(0, "AnchorInput")
    assert list(graph["GridAnchor"].input) == ["AnchorInput", "FeatureExtractor/conv1/Relu",
                                               "FeatureExtractor/conv2/Relu"]
    assert graph["AnchorInput"].attr["dtype"].type == 1
    assert gs.extract_numpy_array(graph["AnchorInput"]).tolist() == [1.0, 1.0]
    assert not graph.find_nodes_by_op("AddV2") and not graph.find_nodes_by_op("Add")  # collapsed into NMS
