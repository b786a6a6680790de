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
import re
import shlex
import warnings

import numpy as np
import pytest
from keras_graph_mode import build, small_cnn

from graphsurgeon.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
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


def readme_commands() -> list[list[str]]:
    """The gs commands of README's converter section, in order (two a model)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## To ONNX, OpenVINO, OpenCV and TFLite", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    commands = [shlex.split(line, comments=True) for line in block.splitlines()]
    commands = [c for c in commands if c]
    assert all(c[0] == "gs" for c in commands), commands
    assert len(commands) == 2 * len(MODELS), "two commands (freeze, optimize) a model"
    return [c[1:] for c in commands]


def _run_readme(model: str, tmp: pathlib.Path, files: dict[str, pathlib.Path]) -> None:
    """Runs the README's freeze and optimize commands for ``model``, with its files in place of the names."""
    k = list(MODELS).index(model)
    files = {"frozen.pb": tmp / "frozen.pb", "optimized.pb": tmp / "optimized.pb", **files}
    for argv in readme_commands()[2 * k: 2 * k + 2]:
        argv = [str(files.get(a, a)) for a in argv]
        assert main(argv) == 0, " ".join(argv)


def _slim_bn(tmp: pathlib.Path) -> Case:
    _run_readme("slim_bn", tmp, {"model.ckpt": SLIM_BN / "model.ckpt"})
    expected = np.load(SLIM_BN / "expected.npz")
    return Case(tmp / "optimized.pb", "x:0", "out:0", expected["in:x:0"], expected["out:out:0"])


def _tf_keras_if(tmp: pathlib.Path) -> Case:
    case = build(tmp, small_cnn)
    assert case.output_node == "probs/Softmax"
    _run_readme("tf_keras_if", tmp, {"model.ckpt": case.checkpoint})
    return Case(tmp / "optimized.pb", case.input, case.output, case.x, case.expected)


def _keras_export(tmp: pathlib.Path) -> Case:
    import tensorflow as tf

    _run_readme("keras_export", tmp, {"saved_model/": KERAS_EXPORT})
    signature = json.loads((tmp / "frozen.pb.signature.json").read_text())
    (output,) = signature["outputs"].values()
    (input_,) = signature["inputs"].values()
    assert output == "StatefulPartitionedCall:0", "README's command names this output"
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


@pytest.mark.parametrize("converter", CONVERTERS)
def test_frozen_tf_keras_graph_with_if(cases, converter):
    """Before gs optimize, the tf_keras graph holds If nodes (with a constant condition): TFLite, tf2onnx and
    OpenVINO read them, OpenCV cannot (README: what each converter needs)."""
    case = dataclasses.replace(cases["tf_keras_if"])
    case.graph = case.graph.with_name("frozen.pb")
    if converter == "opencv":
        cv2 = pytest.importorskip("cv2", reason="opencv-python-headless is not installed")
        with pytest.raises(cv2.error):  # OpenCV logs "Can't parse layer ... of type 'If'" first
            _opencv(case)
        return
    got = np.asarray(CONVERTERS[converter](case))
    np.testing.assert_allclose(got.reshape(case.expected.shape), case.expected, rtol=1e-4, atol=1e-5)


def test_readme_converter_snippet(cases, tmp_path, monkeypatch):
    """The README's Python lines for the four converters run as written on the TF-Slim graph (x, out) and agree."""
    import tensorflow as tf

    tf2onnx = pytest.importorskip("tf2onnx", reason="tf2onnx is not installed")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    openvino = pytest.importorskip("openvino", reason="openvino is not installed")
    cv2 = pytest.importorskip("cv2", reason="opencv-python-headless is not installed")
    case = cases["slim_bn"]
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## To ONNX, OpenVINO, OpenCV and TFLite", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    (tmp_path / "optimized.pb").write_bytes(case.graph.read_bytes())
    monkeypatch.chdir(tmp_path)
    graph_def = tf.compat.v1.GraphDef.FromString(case.graph.read_bytes())
    scope = {"tf": tf, "tf2onnx": tf2onnx, "openvino": openvino, "cv2": cv2, "graph_def": graph_def}
    exec(compile(code, "README.md", "exec"), scope)
    x = case.x[:1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = tf.lite.Interpreter(model_content=scope["tflite"])
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    scope["net"].setInput(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    results = {
        "tflite": interpreter.get_tensor(interpreter.get_output_details()[0]["index"]),
        "onnx": ort.InferenceSession(scope["onnx_model"].SerializeToString()).run(None, {"x:0": x})[0],
        "openvino": scope["compiled"](x)[0],
        "opencv": scope["net"].forward(),
    }
    for name, got in results.items():
        np.testing.assert_allclose(np.reshape(got, case.expected[:1].shape), case.expected[:1], rtol=1e-4, atol=1e-5,
                                   err_msg=name)


def test_optimized_graphs_hold_no_functions(cases):
    """What makes them readable by every converter above: no function calls, no If, no Identity(N) chains."""
    from graphsurgeon.formats.model import load_graph

    for name, case in cases.items():
        graph_def = load_graph(case.graph).graph_def
        ops = {n.op for n in graph_def.node}
        assert not graph_def.library.function, name
        assert not ops & {"If", "StatelessIf", "PartitionedCall", "StatefulPartitionedCall", "IdentityN"}, (name, ops)
