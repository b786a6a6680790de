"""Frozen and optimized graphs load and give the same outputs where frozen graphs are used:
TensorFlow Lite's converter (``TFLiteConverter.from_frozen_graph``) + interpreter, and OpenCV's
``cv2.dnn.readNetFromTensorflow`` (skipped when opencv-python-headless is not installed)."""

from __future__ import annotations

import json
import pathlib
import warnings

import numpy as np
import pytest

import graphsurgeon as gs
from graphsurgeon.rewrite.optimize import optimize

SURGERY = pathlib.Path(__file__).parents[1] / "fixtures" / "surgery"
MODELS = ["mobilenet", "inception_v3"]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory) -> dict[tuple[str, str], tuple[pathlib.Path, str, np.ndarray, np.ndarray]]:
    """(model, "frozen"|"optimized") -> (graph file, output node, input, expected output)."""
    out = {}
    tmp = tmp_path_factory.mktemp("downstream")
    for name in MODELS:
        d = SURGERY / name
        spec = json.loads((d / "spec.json").read_text())
        (output,) = spec["outputs"]
        if "checkpoint" in spec:
            frozen = gs.freeze(d / spec["graph"], d / spec["checkpoint"], [output], bind=spec["bind"]).graph_def
        else:
            frozen = gs.load_graph(d / spec["graph"]).graph_def
        expected = np.load(d / "expected.npz")
        for label, graph_def in (("frozen", frozen), ("optimized", optimize(frozen, [output]))):
            path = tmp / f"{name}_{label}.pb"
            gs.save_graph(graph_def, path)
            out[(name, label)] = (path, output, expected["in:input:0"], expected[f"out:{output}:0"])
    return out


@pytest.mark.tf
@pytest.mark.parametrize("label", ["frozen", "optimized"])
@pytest.mark.parametrize("name", MODELS)
def test_tflite_converter_and_interpreter(graphs, name, label):
    import tensorflow as tf

    path, output, x, want = graphs[(name, label)]
    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(str(path), ["input"], [output],
                                                                    {"input": list(x.shape)})
    model = converter.convert()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = tf.lite.Interpreter(model_content=model)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"{name} {label} in TFLite")


@pytest.mark.parametrize("label", ["frozen", "optimized"])
@pytest.mark.parametrize("name", MODELS)
def test_opencv_dnn(graphs, name, label):
    cv2 = pytest.importorskip("cv2", reason="opencv-python-headless is not installed (pip install -e '.[test]')")
    if not hasattr(cv2.dnn, "readNetFromTensorflow"):
        pytest.fail(f"OpenCV {cv2.__version__} has no TensorFlow importer (cv2.dnn.readNetFromTensorflow, "
                    "removed in OpenCV 5); install the tested range: pip install 'opencv-python-headless>=4.8,<5'")
    path, _, x, want = graphs[(name, label)]
    net = cv2.dnn.readNetFromTensorflow(str(path))
    net.setInput(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # OpenCV takes NCHW blobs
    got = net.forward()
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-4, atol=1e-5,
                               err_msg=f"{name} {label} in OpenCV")
