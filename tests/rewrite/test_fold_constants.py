"""fold_constants on tiny GraphDefs (exact values) and against TensorFlow's own results."""

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
from graphsurgeon.rewrite.fold_constants import evaluate, fold_constants
from graphsurgeon.rewrite.prune import prune

I32 = {"T": DT.DT_INT32}


def test_folds_integer_and_shape_arithmetic_keeping_names():
    g = build(placeholder("x", shape=[2, 3]), placeholder("v", shape=[None, 3]), ("gate", "NoOp", []),
              const("a", np.array([1, 2], np.int32), controls=["gate"]), const("b", np.array([10, 20], np.int32)),
              ("sum", "AddV2", ["a", "b"], I32), ("shape", "Shape", ["x"], {"T": DT.DT_FLOAT, "out_type": DT.DT_INT32}),
              ("vshape", "Shape", ["v"], {"T": DT.DT_FLOAT, "out_type": DT.DT_INT32}),
              const("b0", np.array([1], np.int32)), const("e0", np.array([2], np.int32)),
              const("s1", np.array([1], np.int32)),
              ("dim", "StridedSlice", ["shape", "b0", "e0", "s1"],
               {"T": DT.DT_INT32, "Index": DT.DT_INT32, "shrink_axis_mask": 1}),
              const("minus1", np.int32(-1)),
              ("newshape", "Pack", ["minus1", "dim"], {"T": DT.DT_INT32, "N": 2, "axis": 0}),
              ("r", "Reshape", ["x", "newshape"], {"T": DT.DT_FLOAT, "Tshape": DT.DT_INT32}),
              ("cast", "Cast", ["sum"], {"SrcT": DT.DT_INT32, "DstT": DT.DT_FLOAT}),
              ("out", "Mul", ["r", "cast"], F32))
    before = g.SerializeToString()
    out = fold_constants(g, ["out", "vshape"])
    assert g.SerializeToString() == before
    assert [n.name for n in out.node] == [n.name for n in g.node], "names and order are kept"
    ops = ops_of(out)
    assert value_of(out, "sum").tolist() == [11, 22] and value_of(out, "sum").dtype == np.int32
    assert inputs_of(out)["sum"] == ["^gate"], "a folded node keeps the control inputs its constants carried"
    assert value_of(out, "shape").tolist() == [2, 3]
    assert ops["vshape"] == "Shape", "an unknown dimension is not folded"
    assert value_of(out, "dim") == 3 and value_of(out, "newshape").tolist() == [-1, 3]
    assert value_of(out, "cast").dtype == np.float32 and value_of(out, "cast").tolist() == [11.0, 22.0]
    assert ops["r"] == "Reshape" and ops["out"] == "Mul", "ops on a placeholder stay"
    check_graph(prune(out, ["out"]), frozen=False)


def test_leaves_inexact_and_failing_ops():
    g = build(const("f", np.array([1.0, 2.0, 3.0], np.float32)), const("ax", np.int32(0)),
              ("s", "Sum", ["f", "ax"], {"T": DT.DT_FLOAT, "Tidx": DT.DT_INT32}),
              ("rs", "Rsqrt", ["f"], F32), ("sq", "Sqrt", ["f"], F32),
              const("nan", np.array([np.nan], np.float32)),
              ("c", "Cast", ["nan"], {"SrcT": DT.DT_FLOAT, "DstT": DT.DT_INT32}),
              const("i", np.array([7, 8], np.int32)), const("z", np.array([0, 1], np.int32)),
              ("d", "FloorDiv", ["i", "z"], I32), ("isum", "Sum", ["i", "ax"], {"T": DT.DT_INT32, "Tidx": DT.DT_INT32}))
    out = fold_constants(g)
    ops = ops_of(out)
    assert ops["s"] == "Sum" and ops["rs"] == "Rsqrt" and ops["c"] == "Cast" and ops["d"] == "FloorDiv"
    assert value_of(out, "sq").tolist() == np.sqrt(np.array([1, 2, 3], np.float32)).tolist()
    assert value_of(out, "isum") == 15
    assert evaluate(g, "rs", exact=False).tolist() == pytest.approx([1.0, 2 ** -0.5, 3 ** -0.5])
    assert evaluate(g, "rs") is None


def test_size_limit(caplog):
    g = build(const("dims", np.array([512, 1024], np.int32)), const("one", np.float32(1)),
              ("big", "Fill", ["dims", "one"], {"T": DT.DT_FLOAT, "index_type": DT.DT_INT32}),
              const("w", np.zeros((600, 600), np.float32)), const("flat", np.array([-1], np.int32)),
              ("wr", "Reshape", ["w", "flat"], {"T": DT.DT_FLOAT, "Tshape": DT.DT_INT32}),
              ("big_out", "Identity", ["big"], F32))
    with caplog.at_level(logging.INFO, logger="graphsurgeon.rewrite.fold_constants"):
        out = fold_constants(g, max_growth_bytes=1 << 20)
    assert ops_of(out)["big"] == "Fill"
    assert ops_of(out)["big_out"] == "Identity", "a consumer must not fold in what the limit kept out"
    assert "its 2097152-byte result would grow the graph past the 1048576-byte limit" in caplog.text
    assert value_of(out, "wr").shape == (360000,), "a Reshape adds no bytes, so it folds under any limit"
    out = fold_constants(g, max_growth_bytes=4 << 20)
    assert value_of(out, "big").shape == (512, 1024)
    assert ops_of(fold_constants(g, max_growth_bytes=0))["wr"] == "Const"


@pytest.mark.tf
def test_tf_shape_arithmetic_and_cond_constants_match_tensorflow():
    import tensorflow as tf

    with v1_graph() as graph:
        x = tf.compat.v1.placeholder(tf.float32, [4, 6], name="x")
        flag = tf.compat.v1.placeholder(tf.bool, [], name="flag")
        shape = tf.shape(x)
        half = tf.stack([shape[0] * 3, shape[1] // 4 + 1, tf.size(x) - 22])
        r = tf.reshape(x, tf.concat([[-1], shape[1:] // 2], 0))
        y = tf.compat.v1.cond(flag, lambda: tf.cast(tf.constant([1, 2, 3]) * 2, tf.float32) + 0.5,
                              lambda: tf.cast(tf.range(3) - tf.constant(1), tf.float32))
        tf.identity(tf.cast(half, tf.float32), name="half")
        tf.identity(tf.reduce_sum(r * 2.0) + tf.reduce_sum(y), name="out")
        gd = graph_def_of(graph)
    folded = prune(fold_constants(gd, ["half", "out"]), ["half", "out"])
    assert len(folded.node) < len(gd.node)
    assert not any(n.op in ("Shape", "StridedSlice", "Pack", "Range") for n in folded.node)
    xv = np.arange(24, dtype=np.float32).reshape(4, 6)
    for flag in (True, False):
        want = run_tf(gd, {"x": xv, "flag": flag}, ["half:0", "out:0"])
        got = run_tf(folded, {"x": xv, "flag": flag}, ["half:0", "out:0"])
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])


@pytest.mark.tf
def test_tf_every_folded_op_gives_tensorflows_value():
    import tensorflow as tf

    rng = np.random.default_rng(3)
    with v1_graph() as graph:
        a = tf.constant(rng.normal(size=(3, 4)).astype(np.float32))
        b = tf.constant(rng.normal(size=(4,)).astype(np.float32))
        i = tf.constant(np.array([[7, -3, 5, 0], [-8, 2, 9, 4], [1, -1, 6, -6]], np.int32))
        j = tf.constant(np.array([3, -2, 5, 7], np.int32))
        k = tf.constant(np.array([[1, 2], [3, 4]], np.int64))
        targets = {
            "add": a + b, "sub": a - b, "mul": a * b, "div": a / (tf.abs(b) + 1.0), "neg": -a, "abs": tf.abs(a),
            "square": tf.square(a), "sqrt": tf.sqrt(tf.abs(a)), "max": tf.maximum(a, b), "min": tf.minimum(a, b),
            "floordiv": tf.math.floordiv(i, j), "floormod": tf.math.floormod(i, j), "iadd": i + j * 3,
            "cast_f2i": tf.cast(a * 10.0, tf.int32), "cast_i2f": tf.cast(i, tf.float64), "cast_b": tf.cast(i, tf.bool),
            "reshape": tf.reshape(a, [2, -1]), "transpose": tf.transpose(a), "expand": tf.expand_dims(b, 1),
            "squeeze": tf.squeeze(tf.reshape(b, [1, 4, 1]), [2]), "pack": tf.stack([j, j * 2], axis=1),
            "concat": tf.concat([i, i * 2], 1), "slice": tf.slice(i, [1, 1], [2, -1]),
            "strided": i[1:, ::-2], "strided_shrink": i[-1, 1:3], "strided_masks": a[:2, 1:],
            "gather": tf.gather(a, [2, 0], axis=0), "gather1": tf.gather(i, [3, 1], axis=1),
            "tile": tf.tile(k, [2, 3]), "fill": tf.fill([2, 3], 1.5), "range": tf.range(2, 17, 3),
            "shape": tf.shape(a), "size": tf.size(i), "rank": tf.rank(k), "sum_i": tf.reduce_sum(i, 1),
            "prod_i": tf.reduce_prod(j), "max_f": tf.reduce_max(a, 0, keepdims=True), "min_i": tf.reduce_min(i),
            "eq": tf.equal(i, 0), "less": a < b, "not": tf.logical_not(tf.greater_equal(j, 3)),
            "and": tf.logical_and(i > 0, i < 6), "select": tf.where(a > 0, a, a * 0.5),
            "zeros": tf.zeros_like(i), "ones": tf.ones_like(a),
        }
        for name, tensor in targets.items():
            tf.identity(tensor, name=f"t_{name}")  # TF makes names unique ignoring case ("neg" vs "Neg")
        gd = graph_def_of(graph)
    names = [f"t_{name}" for name in targets]
    folded = fold_constants(gd, names)
    consts = {n.name for n in folded.node if n.op == "Const"}
    not_folded = [n for n in names if n not in consts]
    assert not not_folded, f"not folded: {not_folded}"
    want = run_tf(gd, {}, [f"{n}:0" for n in names])
    for name in names:
        got = value_of(folded, name)
        assert got.dtype == want[f"{name}:0"].dtype, name
        np.testing.assert_array_equal(got, want[f"{name}:0"], err_msg=name)


@pytest.mark.tf
def test_float_range_is_bit_exact_with_tensorflow():
    """Float Range (initializers use it: tf.range(n, dtype=tf.float32) * step) folds to TensorFlow's
    exact values, for float32/64, positive and negative steps."""
    import tensorflow as tf

    rng = np.random.default_rng(21)
    cases = []
    with v1_graph() as graph:
        for k in range(60):
            dtype = (tf.float32, tf.float64)[k % 2]
            start, limit = rng.normal(scale=10, size=2)
            delta = abs(rng.normal()) + 0.01
            delta = -delta if limit < start else delta
            r = tf.range(tf.constant(start, dtype), tf.constant(limit, dtype), tf.constant(delta, dtype))
            cases.append(tf.identity(r, name=f"r{k}").op.name)
        gd = graph_def_of(graph)
    folded = fold_constants(gd, cases)
    want = run_tf(gd, {}, [f"{n}:0" for n in cases])
    for name in cases:
        got = value_of(folded, name)
        assert got.dtype == want[f"{name}:0"].dtype and got.shape == want[f"{name}:0"].shape, name
        assert got.tobytes() == want[f"{name}:0"].tobytes(), name


def test_float_range_values():
    g = build(const("s", np.float32(0.5)), const("l", np.float32(2.0)), const("d", np.float32(0.5)),
              ("r", "Range", ["s", "l", "d"], {"Tidx": DT.DT_FLOAT}))
    np.testing.assert_array_equal(evaluate(g, "r"), np.array([0.5, 1.0, 1.5], np.float32))
    wrong_side = build(const("s", np.float32(3.0)), const("l", np.float32(2.0)), const("d", np.float32(0.5)),
                       ("r", "Range", ["s", "l", "d"], {"Tidx": DT.DT_FLOAT}))
    assert evaluate(wrong_side, "r") is None
