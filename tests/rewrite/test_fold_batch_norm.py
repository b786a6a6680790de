"""fold_batch_norm on tiny GraphDefs (values checked against the batch-norm formula) and in TensorFlow."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from rewrite_graphs import (
    DT,
    F32,
    build,
    const,
    graph_def_of,
    inputs_of,
    ops_of,
    placeholder,
    run_tf,
    v1_graph,
    value_of,
)

from graphsurgeon.graph.check import check_graph
from graphsurgeon.rewrite.fold_batch_norm import fold_batch_norm
from graphsurgeon.rewrite.prune import prune

RNG = np.random.default_rng(5)
EPS = 0.001


def stats(c: int) -> dict[str, np.ndarray]:
    return {"scale": RNG.uniform(0.5, 2, c).astype(np.float32), "offset": RNG.normal(size=c).astype(np.float32),
            "mean": RNG.normal(size=c).astype(np.float32), "var": RNG.uniform(0.2, 3, c).astype(np.float32)}


def fused_graph(op: str, weights: np.ndarray, s: dict, training: bool = False, extra_consumer: bool = False,
                bias: np.ndarray | None = None):
    conv_attrs = {"T": DT.DT_FLOAT, "strides": [1, 1, 1, 1], "padding": "SAME", "data_format": "NHWC"}
    x_in = "conv"
    specs = [placeholder("x"), const("w", weights), (("conv", op, ["x", "w"], conv_attrs))]
    if bias is not None:
        specs += [const("b", bias), ("bias", "BiasAdd", ["conv", "b"], F32)]
        x_in = "bias"
    specs += [const("scale", s["scale"]), const("offset", s["offset"]), const("mean", s["mean"]),
              const("var", s["var"]),
              ("bn", "FusedBatchNormV3", [x_in, "scale", "offset", "mean", "var"],
               {"T": DT.DT_FLOAT, "U": DT.DT_FLOAT, "epsilon": EPS, "is_training": training,
                "data_format": "NHWC"}),
              ("out", "Relu", ["bn"], F32)]
    if extra_consumer:
        specs.append(("peek", "Relu", ["conv"], F32))
    return build(*specs)


def test_fused_conv2d_with_bias_exact_values():
    c = 4
    w = RNG.normal(size=(3, 3, 2, c)).astype(np.float32)
    b = RNG.normal(size=c).astype(np.float32)
    s = stats(c)
    g = fused_graph("Conv2D", w, s, bias=b)
    before = g.SerializeToString()
    out = prune(fold_batch_norm(g, ["out"]), ["out"])
    assert g.SerializeToString() == before
    assert ops_of(out) == {"x": "Placeholder", "conv/folded_weights": "Const", "conv": "Conv2D",
                           "bn/folded_bias": "Const", "bn": "BiasAdd", "out": "Relu"}
    assert inputs_of(out)["conv"] == ["x", "conv/folded_weights"] and inputs_of(out)["bn"] == ["conv", "bn/folded_bias"]
    factor = s["scale"].astype(np.float64) / np.sqrt(s["var"].astype(np.float64) + EPS)
    np.testing.assert_array_equal(value_of(out, "conv/folded_weights"), (w * factor).astype(np.float32))
    np.testing.assert_array_equal(value_of(out, "bn/folded_bias"),
                                  ((b - s["mean"].astype(np.float64)) * factor + s["offset"]).astype(np.float32))
    check_graph(out, frozen=False)


def test_depthwise_channels_are_input_times_multiplier():
    w = RNG.normal(size=(3, 3, 3, 2)).astype(np.float32)
    s = stats(6)
    out = fold_batch_norm(fused_graph("DepthwiseConv2dNative", w, s), ["out"])
    factor = s["scale"].astype(np.float64) / np.sqrt(s["var"].astype(np.float64) + EPS)
    np.testing.assert_array_equal(value_of(out, "conv/folded_weights"), (w * factor.reshape(3, 2)).astype(np.float32))


def test_skips_training_extra_consumer_protected_output(caplog):
    w = RNG.normal(size=(1, 1, 2, 3)).astype(np.float32)
    s = stats(3)
    with caplog.at_level(logging.INFO, logger="graphsurgeon.rewrite.fold_batch_norm"):
        for g, outputs, why in [
            (fused_graph("Conv2D", w, s, training=True), ["out"], "is_training is true"),
            (fused_graph("Conv2D", w, s, extra_consumer=True), ["out", "peek"], "'conv' is also used by 'peek'"),
            (fused_graph("Conv2D", w, s), ["out", "conv"], "'conv' is a requested output"),
            (fused_graph("Conv2D", w, stats(4)), ["out"], "scale has shape [4], expected [3]"),
        ]:
            caplog.clear()
            assert fold_batch_norm(g, outputs) == g
            assert why in caplog.text, caplog.text


def test_unfused_matmul_mul_add_from_constant_arithmetic():
    """tf.nn.batch_normalization's arithmetic: x * (gamma * rsqrt(var + eps)) + (beta - mean * that)."""
    s = stats(3)
    w = RNG.normal(size=(4, 3)).astype(np.float32)
    g = build(placeholder("x"), const("w", w), ("mm", "MatMul", ["x", "w"], F32),
              const("gamma", s["scale"]), const("beta", s["offset"]), const("mean", s["mean"]), const("var", s["var"]),
              const("eps", np.float32(EPS)), ("bn/add", "AddV2", ["var", "eps"], F32),
              ("bn/Rsqrt", "Rsqrt", ["bn/add"], F32), ("bn/mul", "Mul", ["bn/Rsqrt", "gamma"], F32),
              ("bn/mul_1", "Mul", ["mm", "bn/mul"], F32), ("bn/mul_2", "Mul", ["mean", "bn/mul"], F32),
              ("bn/sub", "Sub", ["beta", "bn/mul_2"], F32), ("bn/add_1", "AddV2", ["bn/mul_1", "bn/sub"], F32),
              ("out", "Identity", ["bn/add_1"], F32))
    out = prune(fold_batch_norm(g, ["out"]), ["out"])
    assert ops_of(out) == {"x": "Placeholder", "mm/folded_weights": "Const", "mm": "MatMul",
                           "bn/add_1/folded_bias": "Const", "bn/add_1": "BiasAdd", "out": "Identity"}
    xv = RNG.normal(size=(5, 4))
    inv = s["scale"].astype(np.float64) / np.sqrt(s["var"].astype(np.float64) + EPS)
    want = (xv @ w) * inv + (s["offset"] - s["mean"] * inv)
    got = xv @ value_of(out, "mm/folded_weights") + value_of(out, "bn/add_1/folded_bias")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.tf
def test_tf_fused_and_unfused_batch_norm_outputs_match():
    import tensorflow as tf

    with v1_graph() as graph:
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
        w = tf.constant(RNG.normal(size=(3, 3, 3, 4)).astype(np.float32))
        dw = tf.constant(RNG.normal(size=(3, 3, 4, 2)).astype(np.float32))
        s1, s2, s3 = stats(4), stats(8), stats(8)
        y = tf.nn.conv2d(x, w, 1, "SAME")
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(y, s1["scale"], s1["offset"], s1["mean"], s1["var"],
                                                   epsilon=EPS, is_training=False)
        y = tf.nn.relu6(y)
        y = tf.nn.depthwise_conv2d(y, dw, [1, 1, 1, 1], "SAME")
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(y, s2["scale"], s2["offset"], s2["mean"], s2["var"],
                                                   epsilon=EPS, is_training=False)
        y = tf.nn.conv2d(tf.nn.relu(y), tf.constant(RNG.normal(size=(1, 1, 8, 8)).astype(np.float32)), 1, "VALID")
        y = tf.nn.batch_normalization(y, s3["mean"], s3["var"], s3["offset"], s3["scale"], EPS)
        tf.identity(y, name="out")
        gd = graph_def_of(graph)
    folded = prune(fold_batch_norm(gd, ["out"]), ["out"])
    ops = [n.op for n in folded.node]
    assert "FusedBatchNormV3" not in ops and "Rsqrt" not in ops and ops.count("BiasAdd") == 3
    xv = RNG.normal(size=(2, 8, 8, 3)).astype(np.float32)
    want = run_tf(gd, {"x": xv}, ["out:0"])["out:0"]
    got = run_tf(folded, {"x": xv}, ["out:0"])["out:0"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_nchw_folds_with_nchw_bias_and_mismatch_is_skipped(caplog):
    w = RNG.normal(size=(1, 1, 2, 3)).astype(np.float32)
    s = stats(3)
    g = fused_graph("Conv2D", w, s)
    for node in g.node:
        if "data_format" in node.attr:
            node.attr["data_format"].s = b"NCHW"
    out = fold_batch_norm(g, ["out"])
    bias_add = next(n for n in out.node if n.name == "bn")
    assert bias_add.op == "BiasAdd" and bias_add.attr["data_format"].s == b"NCHW"
    next(n for n in g.node if n.name == "conv").attr["data_format"].s = b"NHWC"
    with caplog.at_level(logging.INFO, logger="graphsurgeon.rewrite.fold_batch_norm"):
        assert fold_batch_norm(g, ["out"]) == g
    assert "the batch norm and the convolution use different data formats" in caplog.text


PARITY = __import__("pathlib").Path(__file__).parent.parent / "fixtures" / "parity"


def test_legacy_batch_norm_with_global_normalization_is_folded():
    """A TF-made graph (producer 8) with both BatchNormWithGlobalNormalization forms: folded into the
    convolutions, as TensorFlow's optimize_for_inference does; values checked against the formula."""
    import json

    from graphsurgeon.formats.model import load_graph

    g = load_graph(PARITY / "legacy_batch_norm" / "graph.pb").graph_def
    spec = json.loads((PARITY / "legacy_batch_norm" / "spec.json").read_text())
    nodes = {n.name: n for n in g.node}
    out = prune(fold_batch_norm(g, ["out"]), ["out"])
    ops = sorted({n.op for n in out.node})
    assert ops == spec["tf_optimized_ops"]  # what TensorFlow's optimize_for_inference leaves
    bn1 = nodes["bn1"]
    m, v, beta, gamma = (value_of(g, i) for i in bn1.input[1:])
    eps = bn1.attr["variance_epsilon"].f
    factor = gamma.astype(np.float64) / np.sqrt(v.astype(np.float64) + eps)
    w = value_of(g, nodes["conv1"].input[1])
    np.testing.assert_allclose(value_of(out, "conv1/folded_weights"), w * factor, rtol=1e-6)
    np.testing.assert_allclose(value_of(out, "bn1/folded_bias"), beta - m * factor, rtol=1e-5, atol=1e-6)
    # scale_after_normalization false: gamma is not used
    bn2 = nodes["bn2"]
    assert not bn2.attr["scale_after_normalization"].b
    m, v, beta, _ = (value_of(g, i) for i in bn2.input[1:])
    factor = 1 / np.sqrt(v.astype(np.float64) + bn2.attr["variance_epsilon"].f)
    bias = value_of(g, nodes["conv2/bias"].input[1])
    np.testing.assert_allclose(value_of(out, "bn2/folded_bias"), (bias - m) * factor + beta, rtol=1e-5, atol=1e-6)
    check_graph(out, frozen=False)


@pytest.mark.tf
def test_legacy_batch_norm_folded_gives_tensorflows_outputs():
    from graphsurgeon.formats.model import load_graph

    g = load_graph(PARITY / "legacy_batch_norm" / "graph.pb").graph_def
    expected = np.load(PARITY / "legacy_batch_norm" / "expected.npz")
    got = run_tf(prune(fold_batch_norm(g, ["out"]), ["out"]), {"x": expected["in:x:0"]}, ["out:0"])["out:0"]
    np.testing.assert_allclose(got, expected["out:out:0"], rtol=1e-4, atol=1e-4)


def test_unfused_batchnorm_mul_that_does_not_fit_says_why(caplog):
    """A ``batchnorm/mul`` (tf.nn.batch_normalization's name) on a non-linear input is skipped with a
    logged reason; other Muls are skipped silently."""
    g = build(placeholder("x"), ("r", "Relu", ["x"], F32), const("m", np.ones(3, np.float32)),
              ("bn/batchnorm/mul", "Mul", ["r", "m"], F32), ("other", "Mul", ["r", "m"], F32),
              ("out", "AddN", ["bn/batchnorm/mul", "other"], {"T": DT.DT_FLOAT, "N": 2}))
    with caplog.at_level(logging.INFO, logger="graphsurgeon.rewrite.fold_batch_norm"):
        assert fold_batch_norm(g, ["out"]) == g
    assert "not folding 'bn/batchnorm/mul' (Mul): its input comes from Relu 'r'" in caplog.text
    assert "'other'" not in caplog.text
