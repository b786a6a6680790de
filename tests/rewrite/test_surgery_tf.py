"""GraphEditor on real TensorFlow models (the surgery fixtures): outputs unchanged in TensorFlow."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from rewrite_graphs import run_tf

import graphsurgeon as gs
from graphsurgeon.graph.check import check_graph
from graphsurgeon.graph.names import parse_input
from graphsurgeon.surgery import GraphEditor, make_node

SURGERY = pathlib.Path(__file__).parents[1] / "fixtures" / "surgery"
INCEPTION_OUT = "InceptionV3/Predictions/Reshape_1"


def _inception() -> tuple[gs.LoadedGraph, np.ndarray, np.ndarray]:
    loaded = gs.load_graph(SURGERY / "inception_v3" / "frozen.pb")
    expected = np.load(SURGERY / "inception_v3" / "expected.npz")
    return loaded.graph_def, expected["in:input:0"], expected[f"out:{INCEPTION_OUT}:0"]


def _mobilenet() -> tuple[object, np.ndarray, np.ndarray]:
    spec = json.loads((SURGERY / "mobilenet" / "spec.json").read_text())
    d = SURGERY / "mobilenet"
    frozen = gs.freeze(d / spec["graph"], d / spec["checkpoint"], spec["outputs"], bind=spec["bind"]).graph_def
    expected = np.load(d / "expected.npz")
    return frozen, expected["in:input:0"], expected["out:output:0"]


@pytest.mark.tf
def test_inception_remove_identities_collapse_predictions_into_softmax():
    graph_def, x, want = _inception()
    editor = GraphEditor(graph_def)
    identities = editor.find(op="Identity")
    assert len(identities) > 300, "TF's frozen InceptionV3 reads every weight through an Identity"
    editor.remove(identities)
    # Predictions = Reshape -> Softmax -> Reshape(Shape(logits)): on 2-D logits that is one Softmax.
    node = editor.collapse("InceptionV3/Predictions", "Softmax", attrs={"T": np.float32},
                           outputs=[INCEPTION_OUT])
    assert list(node.input) == ["InceptionV3/Logits/SpatialSqueeze"]
    check_graph(editor.graph_def, source="edited InceptionV3")
    got = run_tf(editor.graph_def, {"input": x}, ["InceptionV3/Predictions:0"])["InceptionV3/Predictions:0"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.tf
def test_mobilenet_rename_insert_replace_update():
    graph_def, x, want = _mobilenet()
    editor = GraphEditor(gs.optimize(graph_def, ["output"]))
    editor.rename("input", "image")
    editor.rename_namespace("MobilenetV1", "net")
    relu6 = editor.find(op="Relu6", namespace="net/Conv2d_2_pointwise")
    assert relu6 == ["net/Conv2d_2_pointwise/Relu6"]
    # Relu after Relu6 changes nothing; every consumer of the tensor reads the new node.
    editor.insert_after(relu6[0], make_node("net/extra_relu", "Relu", relu6, {"T": np.float32}))
    assert editor.consumers("net/extra_relu") == ["net/Conv2d_3_depthwise/depthwise"]
    # A Relu6 rebuilt as Minimum(Relu(x), 6).
    block = "net/Conv2d_1_pointwise/Relu6"
    source = list(editor.node(block).input)[0]
    editor.add([make_node("net/relu_part", "Relu", [source], {"T": np.float32}),
                gs.surgery.const_node("net/six", np.float32(6))], after=parse_input(source).node)
    editor.replace(block, make_node(block, "Minimum", ["net/relu_part", "net/six"], {"T": np.float32}))
    editor.update("output", attrs={"_note": "edited"})
    check_graph(editor.graph_def, source="edited MobileNet")
    got = run_tf(editor.graph_def, {"image": x}, ["output:0"])["output:0"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
