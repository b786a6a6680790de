"""fold_constant_conditions: an If / StatelessIf / Case whose condition is constant after binding is
replaced by the branch TensorFlow would run, inlined; outputs keep their names and TF's values.
On tf_keras models built in TF1 graph mode (batch norm behind ``If`` on keras_learning_phase) the
optimized graph has no If and no batch norm left; MobileNetV2 here, ResNet50 and EfficientNetB0 in
test_optimize_keras_*.py."""

from __future__ import annotations

import json
import logging
import pathlib

import numpy as np
import pytest
from keras_graph_mode import assert_inference_graph, build, ops_of, run_frozen, small_cnn

import graphsurgeon as gs
from graphsurgeon._proto import graph_pb2
from graphsurgeon.graph.check import check_graph
from graphsurgeon.rewrite.fold_constant_conditions import fold_constant_conditions
from graphsurgeon.rewrite.optimize import optimize_graph

FREEZE = pathlib.Path(__file__).parents[1] / "fixtures" / "freeze"


@pytest.mark.tf
def test_tf_keras_graph_mode_if_is_folded(tmp_path, caplog):
    case = build(tmp_path, small_cnn)
    frozen = case.freeze().graph_def
    before = ops_of(frozen)
    assert before["If"] + before["StatelessIf"] >= 2, before
    with caplog.at_level(logging.INFO, logger="graphsurgeon"):
        result = optimize_graph(frozen, [case.output_node])  # binds keras_learning_phase=False by default
    assert result.default_bound == ["keras_learning_phase"]
    assert "If/Case node(s) replaced by their taken branch" in caplog.text
    assert_inference_graph(result.graph_def, "small tf_keras CNN")
    check_graph(result.graph_def, source="optimized")
    got = run_frozen(result.graph_def, case.output, {case.input: case.x})
    np.testing.assert_allclose(got, case.expected, rtol=1e-5, atol=1e-6)
    # The same graph with the learning phase left a placeholder: every If stays, and -v says why.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="graphsurgeon"):
        kept = optimize_graph(frozen, [case.output_node], bind_learning_phase=False)
    assert kept.remaining.get("If", 0) + kept.remaining.get("StatelessIf", 0) == before["If"] + before["StatelessIf"]
    assert ("keeping If 'bn/cond': its condition is not constant: it comes from PlaceholderWithDefault "
            "'keras_learning_phase' (a placeholder: bind it, e.g. --bind keras_learning_phase=false)") in caplog.text


@pytest.mark.tf
@pytest.mark.parametrize("flag", [True, False])
def test_control_flow_v2_fixture_takes_the_bound_branch(flag):
    """tf.cond (an If reading resource variables) next to a functional While: the If goes, the While stays."""
    d = FREEZE / "control_flow_v2"
    spec = json.loads((d / "spec.json").read_text())
    frozen = gs.freeze(d / spec["graph"], d / spec["checkpoint"], spec["outputs"]).graph_def
    result = optimize_graph(frozen, spec["outputs"], bind={"flag": flag})
    ops = ops_of(result.graph_def)
    assert ops["If"] == 0 and ops["While"] == 1, ops
    assert result.remaining == {"While": 1}
    expected = np.load(d / ("expected.npz" if flag else "expected_flag_false.npz"))
    got = run_frozen(result.graph_def, "out:0", {"x:0": expected["in:x:0"]})
    np.testing.assert_allclose(got, expected["out:out:0"], rtol=1e-5, atol=1e-6)


def _case_graph():
    """tf.switch_case on a placeholder index with a nested tf.cond on a placeholder flag (control flow v2)."""
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        index = tf.compat.v1.placeholder_with_default(0, [], name="index")
        flag = tf.compat.v1.placeholder_with_default(False, [], name="flag")

        def nested():
            return tf.cond(flag, lambda: x * 3.0, lambda: x - 1.0, name="inner")

        out = tf.switch_case(index, [lambda: x + 1.0, lambda: tf.nn.relu(x) * 2.0, nested], name="switch")
        tf.identity(out, name="out")
    return graph


@pytest.mark.tf
@pytest.mark.parametrize(("index", "flag"), [(0, False), (1, False), (2, True), (2, False), (7, True), (-1, False)])
def test_case_and_nested_if(index, flag):
    """A constant Case index picks its branch (out of range: the last one, as TensorFlow does); an If
    inside it whose condition becomes constant after inlining is folded too."""
    import tensorflow as tf

    graph = _case_graph()
    graph_def = graph_pb2.GraphDef.FromString(graph.as_graph_def().SerializeToString())
    assert {"Case", "StatelessCase"} & set(ops_of(graph_def)), ops_of(graph_def)
    x = np.array([[-1.0, 0.5, 2.0]], np.float32)
    with tf.compat.v1.Session(graph=graph) as sess:
        want = sess.run("out:0", {"x:0": x, "index:0": index, "flag:0": flag})
    result = optimize_graph(graph_def, ["out"], bind={"index": index, "flag": flag})
    assert not result.remaining, result.remaining
    assert ops_of(result.graph_def)["Placeholder"] == 1  # index and flag are constants now, x stays
    np.testing.assert_allclose(run_frozen(result.graph_def, "out:0", {"x:0": x}), want, rtol=1e-6)


@pytest.mark.tf
def test_requested_output_keeps_its_name():
    """Asking for the Case node itself: it becomes an Identity of the taken branch's result, same name."""
    graph = _case_graph()
    graph_def = graph_pb2.GraphDef.FromString(graph.as_graph_def().SerializeToString())
    case_node = next(n.name for n in graph_def.node if n.op in ("Case", "StatelessCase"))
    result = optimize_graph(graph_def, [case_node], bind={"index": 1})
    by_name = {n.name: n for n in result.graph_def.node}
    assert by_name[case_node].op == "Identity"
    x = np.array([[-1.0, 0.5, 2.0]], np.float32)
    np.testing.assert_allclose(run_frozen(result.graph_def, case_node + ":0", {"x:0": x}), [[0.0, 1.0, 4.0]])


def test_pure_and_unfoldable_is_unchanged():
    d = FREEZE / "control_flow_v2"
    spec = json.loads((d / "spec.json").read_text())
    frozen = gs.freeze(d / spec["graph"], d / spec["checkpoint"], spec["outputs"]).graph_def
    before = frozen.SerializeToString()
    out = fold_constant_conditions(frozen, spec["outputs"])  # flag is a placeholder: nothing to fold
    assert frozen.SerializeToString() == before
    assert [n.name for n in out.node] == [n.name for n in frozen.node]
    assert len(out.library.function) == len(frozen.library.function)


@pytest.mark.tf
@pytest.mark.slow
def test_tf_keras_mobilenet_v2(tmp_path):
    """tf_keras MobileNetV2 (weights=None, 32x32, alpha 0.35) in TF1 graph mode: 52 If -> none, batch norms folded."""

    def mobilenet(keras):
        return keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10)

    case = build(tmp_path, mobilenet)
    frozen = case.freeze().graph_def
    assert ops_of(frozen)["If"] + ops_of(frozen)["StatelessIf"] == 52
    result = optimize_graph(frozen, [case.output_node])
    assert_inference_graph(result.graph_def, "MobileNetV2")
    assert len(result.graph_def.node) < len(frozen.node) * 0.6, (len(frozen.node), len(result.graph_def.node))
    got = run_frozen(result.graph_def, case.output, {case.input: case.x})
    np.testing.assert_allclose(got, case.expected, rtol=1e-4, atol=1e-6)
