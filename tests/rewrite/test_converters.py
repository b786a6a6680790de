"""What converters make of gs freeze + gs optimize: TFLite (converter + interpreter), tf2onnx + onnxruntime,
OpenVINO (convert_model, CPU, f32) and OpenCV 4 (readNetFromTensorflow), on a TF-Slim CNN with batch
norm (TF1), a tf_keras CNN built in TF1 graph mode (batch norm and dropout behind functional If) and a
TF2 Keras export (tf.saved_model.save: function calls); each output is compared with TensorFlow's.

The graphs are made with the CLI commands of README's "To ONNX, OpenVINO, OpenCV and TFLite" section.
Marked ``downstream`` (pip install -e '.[downstream]'); a converter that is not installed is skipped.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import warnings

import numpy as np
import pytest
from keras_graph_mode import build, small_cnn

from graphsurgeon.cli import main

FIXTURES = pathlib.Path(__file__).parents[1] / "fixtures"
SLIM_BN = FIXTURES / "freeze" / "batchnorm_update_ops"
KERAS_EXPORT = FIXTURES / "tf2" / "keras3_cnn"

pytestmark = [pytest.mark.downstream, pytest.mark.tf]


@dataclasses.dataclass
class Case:
    graph: pathlib.Path  # the optimized graph
    input: str  # tensor names
    output: str
    x: np.ndarray  # NHWC
    expected: np.ndarray  # TensorFlow's output on the original model


def _run(*argv: str) -> None:
    assert main(list(argv)) == 0, " ".join(argv)


def _slim_bn(tmp: pathlib.Path) -> Case:
    _run("freeze", "--input_checkpoint", str(SLIM_BN / "model.ckpt"), "--output_node_names", "out",
         "--bind", "is_training=false", "--output_graph", str(tmp / "frozen.pb"))
    _run("optimize", str(tmp / "frozen.pb"), "--outputs", "out", "-o", str(tmp / "optimized.pb"))
    expected = np.load(SLIM_BN / "expected.npz")
    return Case(tmp / "optimized.pb", "x:0", "out:0", expected["in:x:0"], expected["out:out:0"])


def _tf_keras_if(tmp: pathlib.Path) -> Case:
    case = build(tmp, small_cnn)
    _run("freeze", "--input_checkpoint", str(case.checkpoint), "--output_node_names", case.output_node,
         "--bind", "keras_learning_phase=false", "--output_graph", str(tmp / "frozen.pb"))
    _run("optimize", str(tmp / "frozen.pb"), "--outputs", case.output_node, "-o", str(tmp / "optimized.pb"))
    return Case(tmp / "optimized.pb", case.input, case.output, case.x, case.expected)


def _keras_export(tmp: pathlib.Path) -> Case:
    import tensorflow as tf

    _run("freeze", "--input_saved_model_dir", str(KERAS_EXPORT), "--output_graph", str(tmp / "frozen.pb"))
    signature = json.loads((tmp / "frozen.pb.signature.json").read_text())
    (output,) = signature["outputs"].values()
    (input_,) = signature["inputs"].values()
    _run("optimize", str(tmp / "frozen.pb"), "--outputs", output, "--converter-ready", "-o", str(tmp / "optimized.pb"))
    x = np.linspace(-1, 1, 2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 8, 8, 3)
    serve = tf.saved_model.load(str(KERAS_EXPORT)).signatures["serving_default"]
    (key,) = signature["inputs"]
    expected = next(iter(serve(**{key: tf.constant(x)}).values())).numpy()
    return Case(tmp / "optimized.pb", input_, output, x, expected)


MODELS = {"slim_bn": _slim_bn, "tf_keras_if": _tf_keras_if, "keras_export": _keras_export}


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, Case]:
    out = {}
    for name, make in MODELS.items():
        tmp = tmp_path_factory.mktemp(name)
        out[name] = make(tmp)
    return out


def _tflite(case: Case) -> np.ndarray:
    import tensorflow as tf

    name = case.input.split(":")[0]
    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        str(case.graph), [name], [case.output.split(":")[0]], {name: list(case.x.shape)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = tf.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], case.x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def _onnx(case: Case) -> np.ndarray:
    tf2onnx = pytest.importorskip("tf2onnx", reason="tf2onnx is not installed (pip install -e '.[downstream]')")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e '.[downstream]')")
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef.FromString(case.graph.read_bytes())
    model, _ = tf2onnx.convert.from_graph_def(graph_def, input_names=[case.input], output_names=[case.output])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {case.input: case.x})[0]


def _openvino(case: Case) -> np.ndarray:
    ov = pytest.importorskip("openvino", reason="openvino is not installed (pip install -e '.[downstream]')")
    model = ov.convert_model(str(case.graph), input=[(case.input, list(case.x.shape))], output=[case.output])
    # The default picks bf16 on CPUs that have it: ask for f32 to compare with TensorFlow's outputs.
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled(case.x)[0]


def _opencv(case: Case) -> np.ndarray:
    cv2 = pytest.importorskip("cv2", reason="opencv-python-headless is not installed (pip install -e '.[test]')")
    net = cv2.dnn.readNetFromTensorflow(str(case.graph))
    net.setInput(np.ascontiguousarray(case.x.transpose(0, 3, 1, 2)))  # OpenCV takes NCHW blobs
    return net.forward()


CONVERTERS = {"tflite": _tflite, "onnx": _onnx, "openvino": _openvino, "opencv": _opencv}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("converter", CONVERTERS)
def test_converter_matches_tensorflow(cases, converter, model):
    case = cases[model]
    got = np.asarray(CONVERTERS[converter](case))
    assert got.size == case.expected.size, (got.shape, case.expected.shape)
    np.testing.assert_allclose(got.reshape(case.expected.shape), case.expected, rtol=1e-4, atol=1e-5,
                               err_msg=f"{model} through {converter}")


def test_optimized_graphs_hold_no_functions(cases):
    """What makes them readable by every converter above: no function calls, no If, no Identity(N) chains."""
    from graphsurgeon.formats.model import load_graph

    for name, case in cases.items():
        graph_def = load_graph(case.graph).graph_def
        ops = {n.op for n in graph_def.node}
        assert not graph_def.library.function, name
        assert not ops & {"If", "StatelessIf", "PartitionedCall", "StatefulPartitionedCall", "IdentityN"}, (name, ops)
