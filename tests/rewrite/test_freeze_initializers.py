"""Variables that are not in the checkpoint but that TensorFlow's session would initialize: local
variables set by --initializer_nodes, and a TF1 SavedModel's resource variable set by its
legacy_init_op. gs computes the value without TensorFlow (TF-made fixtures under parity/)."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from graphsurgeon.errors import MismatchError, UnsupportedError
from graphsurgeon.formats.tensors import tensor_to_array
from graphsurgeon.graph.check import check_graph
from graphsurgeon.rewrite.freeze import freeze

PARITY = pathlib.Path(__file__).parent.parent / "fixtures" / "parity"
LOCAL = PARITY / "local_variables"
LEGACY = PARITY / "saved_model_legacy_init"


def _const(graph_def, name: str) -> np.ndarray:
    node = next(n for n in graph_def.node if n.name == name)
    assert node.op == "Const", f"{name} is {node.op}"
    return tensor_to_array(node.attr["value"].tensor)


def _freeze_local(outputs=("out",), **kwargs):
    return freeze(LOCAL / "graph.pb", LOCAL / "model.ckpt", list(outputs), initializer_nodes=["init_locals"],
                  **kwargs)


def test_local_variables_frozen_with_their_initial_values():
    result = _freeze_local()
    graph = result.graph_def
    # scale = fill([3], 2.0) * (range(3.0) + 1.0); shift = [1, 2, 3] - 0.5: exact in float32
    np.testing.assert_array_equal(_const(graph, "scale"), np.array([2, 4, 6], np.float32))
    np.testing.assert_array_equal(_const(graph, "shift"), np.array([0.5, 1.5, 2.5], np.float32))
    assert {"scale", "shift", "w"} <= set(result.converted)
    # noise is set by the same initializer but the outputs do not need it: it stays a variable
    assert result.kept_variables == ["noise"]
    assert any("'scale'" in n and "init_locals" in n for n in result.notes), result.notes
    check_graph(graph, allow_variables=["noise"])


def test_random_initializer_refused_naming_variable_op_and_fix():
    with pytest.raises(UnsupportedError) as err:
        _freeze_local(["out_noise"])
    message = str(err.value)
    assert "variable 'noise'" in message and "RandomUniform 'random_uniform/RandomUniform'" in message
    assert "--variable_names_blacklist noise" in message and "checkpoint" in message
    # with it blacklisted, the variable stays and is initialized by init_locals
    result = _freeze_local(["out_noise"], blacklist=["noise"])
    assert "noise" in result.kept_variables


def test_without_initializer_nodes_still_not_in_checkpoint():
    with pytest.raises(MismatchError, match="variable 'scale'.* is not in checkpoint"):
        freeze(LOCAL / "graph.pb", LOCAL / "model.ckpt", ["out"])


def test_saved_model_legacy_init_op_sets_resource_variable():
    result = freeze(LEGACY / "saved_model", None, ["y", "z"], initializer_nodes=["init_all_tables"])
    np.testing.assert_array_equal(_const(result.graph_def, "offset"), np.arange(4, dtype=np.float32) * 0.25)
    assert any("'offset'" in n and "SavedModel's init op 'legacy_init'" in n for n in result.notes), result.notes
    ops = {n.op for n in result.graph_def.node}
    assert "HashTableV2" in ops and "LookupTableImportV2" in ops  # tables stay nodes


def _run_tf(graph_def, inits, feeds, fetches):
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        tf.import_graph_def(tf.compat.v1.GraphDef.FromString(graph_def.SerializeToString()), name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        for init in inits:
            sess.run(init)
        return sess.run(fetches, feeds)


@pytest.mark.tf
def test_local_variables_give_tensorflows_outputs():
    expected = np.load(LOCAL / "expected.npz")
    spec = json.loads((LOCAL / "spec.json").read_text())
    (got,) = _run_tf(_freeze_local().graph_def, spec["initializer_nodes"], {"x:0": expected["in:x:0"]}, ["out:0"])
    np.testing.assert_array_equal(got, expected["out:out:0"])


@pytest.mark.tf
def test_saved_model_legacy_init_gives_tensorflows_outputs():
    expected = np.load(LEGACY / "expected.npz", allow_pickle=True)
    result = freeze(LEGACY / "saved_model", None, ["y", "z"], initializer_nodes=["init_all_tables"])
    feeds = {"x:0": expected["in:x:0"], "words:0": expected["in:words:0"]}
    y, z = _run_tf(result.graph_def, ["init_all_tables"], feeds, ["y:0", "z:0"])
    np.testing.assert_allclose(y, expected["out:y:0"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(z, expected["out:z:0"], rtol=1e-6, atol=1e-6)


@pytest.mark.tf
def test_local_variable_constants_equal_tensorflows_freeze_graph(tmp_path):
    """TensorFlow's own freeze_graph (which runs --initializer_nodes in its session) makes the same constants."""
    import tensorflow as tf
    from tensorflow.python.tools import freeze_graph

    out = tmp_path / "tf.pb"
    with tf.Graph().as_default():  # freeze_graph builds in the default graph
        freeze_graph.freeze_graph(input_graph=str(LOCAL / "graph.pb"), input_saver="", input_binary=True,
                                  input_checkpoint=str(LOCAL / "model.ckpt"), output_node_names="out",
                                  restore_op_name="", filename_tensor_name="", output_graph=str(out),
                                  clear_devices=True, initializer_nodes="init_locals")
    theirs = tf.compat.v1.GraphDef.FromString(out.read_bytes())
    ours = _freeze_local().graph_def
    for name in ("scale", "shift"):
        node = next(n for n in theirs.node if n.name == name)
        assert _const(ours, name).tobytes() == tf.make_ndarray(node.attr["value"].tensor).tobytes(), name


@pytest.mark.tf
def test_saved_model_constant_equals_tensorflows_freeze_graph(tmp_path):
    """TensorFlow's freeze_graph --input_saved_model_dir (its loader runs legacy_init_op) freezes the same offset."""
    import tensorflow as tf
    from tensorflow.python.tools import freeze_graph

    out = tmp_path / "tf.pb"
    with tf.Graph().as_default():  # freeze_graph builds in the default graph
        freeze_graph.freeze_graph(input_graph="", input_saver="", input_binary=True, input_checkpoint="",
                                  output_node_names="y", restore_op_name="", filename_tensor_name="",
                                  output_graph=str(out), clear_devices=True, initializer_nodes="",
                                  input_saved_model_dir=str(LEGACY / "saved_model"), saved_model_tags="serve")
    theirs = next(n for n in tf.compat.v1.GraphDef.FromString(out.read_bytes()).node if n.name == "offset")
    ours = freeze(LEGACY / "saved_model", None, ["y"]).graph_def
    assert _const(ours, "offset").tobytes() == tf.make_ndarray(theirs.attr["value"].tensor).tobytes()
