"""optimize(): passes by name, prune and check; on the TF-Slim MobileNet and InceptionV3 fixtures the
outputs are unchanged in TensorFlow."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from rewrite_graphs import DT, F32, build, const, graph_def_of, placeholder, run_tf, v1_graph

import graphsurgeon as gs
from graphsurgeon.errors import GraphSurgeonError, NodeNotFoundError
from graphsurgeon.graph.check import check_graph
from graphsurgeon.rewrite.optimize import DEFAULT_PASSES, PASSES, optimize, optimize_graph, parse_passes

SURGERY = pathlib.Path(__file__).parents[1] / "fixtures" / "surgery"


def test_parse_passes():
    assert parse_passes(None) == list(DEFAULT_PASSES)
    assert parse_passes("strip-training, fold_constants") == ["strip_training", "fold_constants"]
    assert set(DEFAULT_PASSES) <= set(PASSES)
    with pytest.raises(GraphSurgeonError, match="unknown pass 'fold_batchnorm'; did you mean 'fold_batch_norm'"):
        parse_passes("fold_batchnorm")


def test_tiny_graph_default_passes_and_bind():
    g = build(placeholder("x"), placeholder("flag", DT.DT_BOOL, []),
              ("sw", "Switch", ["x", "flag"], F32), ("t", "Identity", ["sw:1"], F32), ("f", "Identity", ["sw"], F32),
              const("two", np.float32(2)), const("three", np.float32(3)), ("tt", "Mul", ["two", "three"], F32),
              ("a", "Mul", ["t", "tt"], F32), ("m", "Merge", ["f", "a"], {"T": DT.DT_FLOAT, "N": 2}),
              ("out", "Identity", ["m"], F32), ("unused", "Relu", ["x"], F32))
    before = g.SerializeToString()
    result = optimize_graph(g, ["out"], bind={"flag": True})
    assert g.SerializeToString() == before
    ops = {n.name: n.op for n in result.graph_def.node}
    assert ops == {"x": "Placeholder", "tt": "Const", "a": "Mul", "out": "Identity"}, ops
    assert list(result.graph_def.node[-1].input) == ["a"]
    assert [s[0] for s in result.steps] == list(DEFAULT_PASSES)
    assert result.bound == {"flag": True}
    with pytest.raises(NodeNotFoundError, match="did you mean 'out'"):
        optimize(g, ["outt"])


def test_remove_import_prefix_maps_outputs():
    g = build(placeholder("import/x"), ("import/y", "Identity", ["import/x"], F32),
              ("import/z", "Relu", ["import/y"], F32))
    result = optimize_graph(g, ["import/z:0"], passes="remove_import_prefix,strip_training")
    assert result.outputs == ["z:0"]
    assert [n.name for n in result.graph_def.node] == ["x", "z"]


def _mobilenet_frozen():
    spec = json.loads((SURGERY / "mobilenet" / "spec.json").read_text())
    d = SURGERY / "mobilenet"
    return spec, gs.freeze(d / spec["graph"], d / spec["checkpoint"], spec["outputs"], bind=spec["bind"]).graph_def


@pytest.mark.tf
def test_mobilenet_frozen_and_optimized_match_tensorflow():
    spec, frozen = _mobilenet_frozen()
    optimized = optimize(frozen, spec["outputs"])
    check_graph(optimized, source="optimized MobileNet")  # still a valid frozen graph
    ops = [n.op for n in optimized.node]
    for op in ("Switch", "Merge", "FusedBatchNormV3", "Rsqrt", "RandomUniform", "StopGradient"):
        assert op not in ops, f"{op} left after optimize: {sorted(set(ops))}"
    out = next(n for n in optimized.node if n.name == "output")
    assert out.op == "Identity", "the requested output (an Identity) must stay"
    assert ops.count("BiasAdd") == 9, "8 batch norms folded + the logits' bias"
    assert len(optimized.node) < len(frozen.node) / 4
    expected = np.load(SURGERY / "mobilenet" / "expected.npz")
    got = run_tf(optimized, {"input": expected["in:input:0"]}, ["output:0"])["output:0"]
    np.testing.assert_allclose(got, expected["out:output:0"], rtol=1e-5, atol=1e-6)


@pytest.mark.tf
def test_inception_v3_optimized_matches_tensorflow():
    spec = json.loads((SURGERY / "inception_v3" / "spec.json").read_text())
    frozen = gs.load_graph(SURGERY / "inception_v3" / "frozen.pb").graph_def
    (output,) = spec["outputs"]
    optimized = optimize(frozen, [output])
    ops = [n.op for n in optimized.node]
    assert "FusedBatchNormV3" not in ops and "Identity" not in ops
    assert ops.count("Conv2D") == 95 and ops.count("BiasAdd") == 95
    expected = np.load(SURGERY / "inception_v3" / "expected.npz")
    got = run_tf(optimized, {"input": expected["in:input:0"]}, [output + ":0"])[output + ":0"]
    np.testing.assert_allclose(got, expected[f"out:{output}:0"], rtol=1e-5, atol=1e-6)


@pytest.mark.tf
def test_cond_while_constants_with_control_inputs():
    import tensorflow as tf

    with v1_graph() as graph:
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        training = tf.compat.v1.placeholder_with_default(True, [], name="is_training")
        y = tf.compat.v1.cond(training, lambda: x + tf.constant([1.0, 2.0, 3.0]) * tf.constant(2.0),
                              lambda: x * tf.constant(0.5) + tf.cast(tf.shape(x)[1], tf.float32))
        _, acc = tf.compat.v1.while_loop(lambda i, a: i < tf.constant(3) + tf.constant(1),
                                         lambda i, a: (i + 1, tf.identity(a * tf.constant(1.5)) + tf.constant(2.0)),
                                         [tf.constant(0), y])
        tf.identity(acc, name="out")
        gd = graph_def_of(graph)
    optimized = optimize(gd, ["out"], bind={"is_training": False})
    assert not any(n.op == "Switch" and not n.name.startswith("while") for n in optimized.node)
    assert any(n.op == "Const" and any(i.startswith("^") for i in n.input) for n in optimized.node), \
        "the while loop's constants keep their control inputs"
    xv = np.array([[1.0, -2.0, 3.0]], np.float32)
    want = run_tf(gd, {"x": xv, "is_training": False}, ["out:0"])["out:0"]
    np.testing.assert_array_equal(run_tf(optimized, {"x": xv}, ["out:0"])["out:0"], want)


def test_surgery_and_optimize_do_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys, graphsurgeon, graphsurgeon.surgery, graphsurgeon.rewrite.optimize, graphsurgeon.cli.optimize; "
            "sys.exit(1 if any(m == 'tensorflow' or m.startswith('tensorflow.') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0, "tensorflow was imported"
