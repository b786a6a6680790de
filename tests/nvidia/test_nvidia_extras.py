"""``graphsurgeon.extras`` on TF-made graphs: TensorFlow's dilated convolution and TensorFlow 1's
N-d softmax become the single nodes the UFF converter recognized."""

from __future__ import annotations

import pathlib

import graphsurgeon as gs

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "nvidia"


def test_process_dilated_conv():
    graph = gs.DynamicGraph(str(FIXTURES / "dilated_conv.pb"))
    before = {n.name for n in graph}
    gs.extras.process_dilated_conv(graph)
    assert not graph.find_nodes_by_op({"SpaceToBatchND", "BatchToSpaceND"})
    conv = graph["block/convolution"]
    assert list(conv.input) == ["input", "block/convolution/SpaceToBatchND/block_shape",
                                "block/convolution/SpaceToBatchND/paddings", "block/convolution/BatchToSpaceND/crops",
                                "block/filters"]
    assert list(graph["output"].input) == ["block/convolution"]
    # The BatchToSpaceND's block_shape went with it (nothing else read it); the crops moved.
    assert before - {n.name for n in graph} == {"block/convolution/SpaceToBatchND", "block/convolution/BatchToSpaceND",
                                                "block/convolution/BatchToSpaceND/block_shape"}


def test_process_softmax():
    graph = gs.DynamicGraph(str(FIXTURES / "softmax_nd.pb"))
    gs.extras.process_softmax(graph)
    assert [(n.name, n.op, list(n.input)) for n in graph if n.op != "Const"] == [
        ("logits", "Placeholder", []),
        ("Softmax_nd/Softmax", "Softmax", ["logits", "Softmax_nd/concat/axis"]),
        ("probs", "Identity", ["Softmax_nd/Softmax"]),
    ]
    # The shape arithmetic is gone; constants nothing reads any more are left, as NVIDIA's did.
    assert not [n for n in graph if n.name.split("/")[-1] in {"Shape", "Shape_1", "values_0"}]


def test_extras_without_matches_change_nothing():
    graph = gs.DynamicGraph(str(FIXTURES / "softmax_nd.pb"))
    before = graph.as_graph_def().SerializeToString(deterministic=True)
    gs.extras.process_dilated_conv(graph)
    assert graph.as_graph_def().SerializeToString(deterministic=True) == before
