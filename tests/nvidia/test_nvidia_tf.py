"""NVIDIA graphsurgeon's API with TensorFlow objects in and out: the kind that comes in is the kind
that comes back, and our classes and TensorFlow's mix freely (through their bytes)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import graphsurgeon as gs
from graphsurgeon._proto import graph_pb2, node_def_pb2, types_pb2

pytestmark = pytest.mark.tf

ROOT = pathlib.Path(__file__).resolve().parents[2]
SSD = ROOT / "tests" / "fixtures" / "nvidia" / "ssd_like.pb"


@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow


def test_tensorflow_graph_def_in_and_out(tf):
    tf_graph_def = tf.compat.v1.GraphDef.FromString(SSD.read_bytes())
    graph = gs.DynamicGraph(tf_graph_def)
    assert graph.as_graph_def() is tf_graph_def
    assert all(isinstance(node, tf.compat.v1.NodeDef) for node in graph.find_nodes_by_op("Identity"))
    nms = gs.create_plugin_node("NMS", op="NMS_TRT", dtype=tf.float32, topK=10)
    assert isinstance(nms, tf.compat.v1.NodeDef)  # TensorFlow is loaded: NVIDIA's type
    ours = node_def_pb2.NodeDef(name="extra", op="NoOp")  # one of ours, made elsewhere
    graph.append(ours)
    graph.collapse_namespaces({"Postprocessor": nms})
    # The edits are in the caller's GraphDef itself, as with NVIDIA's package.
    names = [n.name for n in tf_graph_def.node]
    assert "extra" in names and names[-1] == "NMS" and not [n for n in names if n.startswith("Postprocessor/")]
    assert list(nms.input) == list(graph["NMS"].input)
    with tf.Graph().as_default():  # TensorFlow accepts it (the plugin op aside): strip the plugin and import
        graph.remove(graph.graph_outputs)  # the detection_* Identities, which read NMS
        graph.remove(graph["NMS"])
        tf.import_graph_def(graph.as_graph_def(), name="")


def test_our_graph_def_stays_ours_with_tensorflow_plugins(tf):
    ours = gs.load_graph(SSD).graph_def
    graph = gs.DynamicGraph(ours)
    nms = gs.create_plugin_node("NMS", op="NMS_TRT")
    anchors = node_def_pb2.NodeDef(name="GridAnchor", op="GridAnchor_TRT")
    graph.collapse_namespaces({"Postprocessor": nms, "MultipleGridAnchorGenerator": anchors})
    assert graph.as_graph_def() is ours and isinstance(ours, graph_pb2.GraphDef)
    assert all(type(n) is node_def_pb2.NodeDef for n in graph)
    # Each caller's plugin object, of either kind, got its inputs.
    assert isinstance(nms, tf.compat.v1.NodeDef) and list(nms.input) == list(graph["NMS"].input)
    assert list(anchors.input) == ["FeatureExtractor/conv1/Relu", "FeatureExtractor/conv2/Relu"]


def test_tf_graph_and_tf_types(tf):
    with tf.Graph().as_default() as tf_graph:
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        tf.identity(x * 2.0, name="y")
    graph = gs.StaticGraph(tf_graph)
    assert isinstance(graph.as_graph_def(), tf.compat.v1.GraphDef)
    assert [n.name for n in graph.graph_inputs] == ["x"] and [n.name for n in graph.graph_outputs] == ["y"]
    node = gs.create_node("p", op="Placeholder", dtype=tf.int32, shape=tf.TensorShape([None, 3]), T=tf.half,
                          inputs=[graph["x"]])
    assert node.attr["dtype"].type == types_pb2.DT_INT32 and node.attr["T"].type == types_pb2.DT_HALF
    assert gs.shape(node) == (-1, 3) and list(node.input) == ["x"]
    unknown = gs.create_node("u", op="Placeholder", shape=tf.TensorShape(None))
    assert unknown.attr["shape"].shape.unknown_rank


def test_const_node_is_what_tf_constant_writes(tf):
    value = np.arange(12, dtype=np.float32).reshape(3, 4)
    node = gs.create_node("k", op="Const", value=value, dtype=tf.float32)
    with tf.Graph().as_default():
        reference = tf.constant(value, name="k").op.node_def
    assert node.attr["value"] == reference.attr["value"] and node.attr["dtype"] == reference.attr["dtype"]
    graph_def = tf.compat.v1.GraphDef()
    graph_def.node.append(node)
    with tf.Graph().as_default() as g:
        tf.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=g) as sess:
            np.testing.assert_array_equal(sess.run("k:0"), value)
    np.testing.assert_array_equal(gs.extract_numpy_array(reference), value.reshape(-1))


def test_write_tensorboard_matches_tensorflows_file_writer(tf, tmp_path):
    graph = gs.DynamicGraph(str(SSD))
    graph.collapse_namespaces({"Postprocessor": gs.create_plugin_node("NMS", op="NMS_TRT")})
    ours = graph.write_tensorboard(tmp_path / "ours")
    with tf.Graph().as_default():  # FileWriter is TF1 API
        writer = tf.compat.v1.summary.FileWriter(str(tmp_path / "theirs"), graph_def=graph.as_graph_def())
        writer.close()
    theirs = next((tmp_path / "theirs").glob("events.out.tfevents.*"))
    # TensorFlow's own reader (which checks every crc) reads ours; the events carry the same graph.
    our_events = list(tf.compat.v1.train.summary_iterator(str(ours)))
    their_events = list(tf.compat.v1.train.summary_iterator(str(theirs)))
    # TensorFlow also tries to add a MetaGraphDef; the graph event is what TensorBoard draws.
    assert [e.WhichOneof("what") for e in our_events] == [e.WhichOneof("what") for e in their_events][:2] == [
        "file_version", "graph_def"]
    assert our_events[0].file_version == their_events[0].file_version == "brain.Event:2"
    assert tf.compat.v1.GraphDef.FromString(our_events[1].graph_def) == \
        tf.compat.v1.GraphDef.FromString(their_events[1].graph_def) == graph.as_graph_def()
