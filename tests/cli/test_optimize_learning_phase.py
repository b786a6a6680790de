"""gs optimize binds a bool keras_learning_phase placeholder to False by default, as TensorFlow's
optimize_for_inference does, on the TF-made tf_keras fixture (Conv2D, BatchNormalization, Dropout)."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from graphsurgeon.cli import main
from graphsurgeon.formats.model import load_graph

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
KERAS = ROOT / "tests" / "fixtures" / "freeze" / "keras_bn"
SPEC = json.loads((KERAS / "spec.json").read_text())
OUTPUT = SPEC["outputs"][0].split(":")[0]


@pytest.fixture(scope="module")
def frozen(tmp_path_factory) -> pathlib.Path:
    """The Keras model frozen with keras_learning_phase still a placeholder (no --bind)."""
    path = tmp_path_factory.mktemp("learning_phase") / "frozen.pb"
    assert main(["freeze", "--input_meta_graph", str(KERAS / "model.ckpt.meta"), "--input_checkpoint",
                 str(KERAS / "model.ckpt"), "--output_node_names", OUTPUT, "-o", str(path)]) == 0
    return path


def _ops(path: pathlib.Path) -> dict[str, str]:
    return {n.name: n.op for n in load_graph(path).graph_def.node}


def test_learning_phase_bound_by_default_with_a_note(frozen, tmp_path, capsys):
    assert _ops(frozen)["keras_learning_phase"] in ("Placeholder", "PlaceholderWithDefault")
    capsys.readouterr()
    out = tmp_path / "opt.pb"
    assert main(["optimize", str(frozen), "--outputs", OUTPUT, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "bound  keras_learning_phase = False" in text
    assert "note   bound keras_learning_phase to false by default" in text and "--keep-learning-phase" in text
    ops = _ops(out)
    assert ops.get("keras_learning_phase") in (None, "Const")
    assert not {"Switch", "Merge", "FusedBatchNormV3"} & set(ops.values()), sorted(set(ops.values()))


def test_keep_learning_phase_and_explicit_bind(frozen, tmp_path, capsys):
    out = tmp_path / "kept.pb"
    capsys.readouterr()
    assert main(["optimize", str(frozen), "--outputs", OUTPUT, "--keep-learning-phase", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "keras_learning_phase" not in text
    assert _ops(out)["keras_learning_phase"] in ("Placeholder", "PlaceholderWithDefault")
    # an explicit --bind wins, with no note
    assert main(["optimize", str(frozen), "--outputs", OUTPUT, "--bind", "keras_learning_phase=true",
                 "-o", str(tmp_path / "train.pb")]) == 0
    text = capsys.readouterr().out
    assert "bound  keras_learning_phase = True" in text and "note" not in text


@pytest.mark.tf
def test_learning_phase_default_gives_tensorflows_outputs(frozen, tmp_path):
    """The optimized graph gives the original model's inference outputs, as does TensorFlow's own
    optimize_for_inference, which also turns the placeholder into a constant."""
    import tensorflow as tf
    from tensorflow.python.tools import optimize_for_inference_lib

    from graphsurgeon.validate import run_graph

    out = tmp_path / "opt.pb"
    assert main(["optimize", str(frozen), "--outputs", OUTPUT, "-o", str(out)]) == 0
    expected = np.load(KERAS / "expected.npz")
    feeds = {k[3:]: expected[k] for k in expected.files if k.startswith("in:")}
    got = run_graph(load_graph(out).graph_def, feeds, [SPEC["outputs"][0]], device="cpu")[SPEC["outputs"][0]]
    np.testing.assert_allclose(got, expected[f"out:{SPEC['outputs'][0]}"], rtol=1e-5, atol=1e-5)
    graph_def = tf.compat.v1.GraphDef.FromString(frozen.read_bytes())
    tf_opt = optimize_for_inference_lib.optimize_for_inference(
        graph_def, [f.split(":")[0] for f in feeds], [OUTPUT], tf.float32.as_datatype_enum)
    assert {n.name: n.op for n in tf_opt.node}.get("keras_learning_phase") in (None, "Const")
