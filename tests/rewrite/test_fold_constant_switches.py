"""fold_constant_switches on tiny GraphDefs (exact expectations) and on TensorFlow conds and loops."""

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
from graphsurgeon.rewrite.fold_constant_switches import fold_constant_switches
from graphsurgeon.rewrite.prune import prune


def cond_graph(pred: bool, value_index_used: bool = False):
    """A tf.cond as TF 1.x builds it: pred Switch, pivots, branch constants with control inputs, Merge."""
    specs = [
        placeholder("x"), const("pred", pred),
        ("cond/Switch", "Switch", ["pred", "pred"], {"T": DT.DT_BOOL}),
        ("cond/switch_t", "Identity", ["cond/Switch:1"], {"T": DT.DT_BOOL}),
        ("cond/switch_f", "Identity", ["cond/Switch"], {"T": DT.DT_BOOL}),
        ("cond/pred_id", "Identity", ["pred"], {"T": DT.DT_BOOL}),
        ("cond/Switch_1", "Switch", ["x", "cond/pred_id"], F32),
        const("cond/two", np.float32(2), controls=["cond/switch_t"]),
        ("cond/mul", "Mul", ["cond/Switch_1:1", "cond/two"], F32),
        const("cond/one", np.float32(1), controls=["cond/switch_f"]),
        ("cond/sub", "Sub", ["cond/Switch_1", "cond/one"], F32),
        ("cond/Merge", "Merge", ["cond/sub", "cond/mul"], {"T": DT.DT_FLOAT, "N": 2}),
        ("out", "Relu", ["cond/Merge"], F32),
    ]
    if value_index_used:
        specs.append(("which", "Identity", ["cond/Merge:1"], {"T": DT.DT_INT32}))
    return build(*specs)


@pytest.mark.parametrize("pred", [True, False])
def test_resolves_cond_and_removes_dead_branch(pred):
    g = cond_graph(pred)
    before = g.SerializeToString()
    out = prune(fold_constant_switches(g, ["out"]), ["out"])
    assert g.SerializeToString() == before
    ops = ops_of(out)
    assert "Switch" not in ops.values()
    assert ops["cond/Merge"] == "Identity"
    if pred:
        assert inputs_of(out)["cond/Merge"] == ["cond/mul"] and inputs_of(out)["cond/mul"] == ["x", "cond/two"]
        assert "cond/sub" not in ops and "cond/one" not in ops
        assert inputs_of(out)["cond/two"] == ["^cond/switch_t"] and inputs_of(out)["cond/switch_t"] == ["pred"]
    else:
        assert inputs_of(out)["cond/Merge"] == ["cond/sub"] and inputs_of(out)["cond/sub"] == ["x", "cond/one"]
        assert "cond/mul" not in ops and "cond/two" not in ops
    check_graph(out, frozen=False)


def test_predicate_computed_from_constants():
    g = cond_graph(True)
    for node in g.node:
        if node.name == "cond/pred_id":
            node.input[0] = "not_pred"
        if node.name == "cond/Switch":
            node.input[:] = ["not_pred", "not_pred"]
    g.node.insert(2, build(("not_pred", "LogicalNot", ["pred"])).node[0])
    out = prune(fold_constant_switches(g, ["out"]), ["out"])
    assert "Switch" not in ops_of(out).values()
    assert inputs_of(out)["cond/Merge"] == ["cond/sub"], "LogicalNot(True) is False: the false branch runs"


def test_value_index_becomes_const():
    out = fold_constant_switches(cond_graph(False, value_index_used=True), ["out", "which"])
    assert inputs_of(out)["which"] == ["cond/Merge/value_index"]
    assert value_of(out, "cond/Merge/value_index") == 0
    out = fold_constant_switches(cond_graph(True, value_index_used=True), ["out", "which"])
    assert value_of(out, "cond/Merge/value_index") == 1
    check_graph(out, frozen=False)


def test_skips_dead_output_loop_in_dead_branch_and_variable_predicate(caplog):
    g = cond_graph(True)
    with caplog.at_level(logging.INFO, logger="graphsurgeon.rewrite.fold_constant_switches"):
        out = fold_constant_switches(g, ["out", "cond/sub"])
    assert out == g and "requested output 'cond/sub' lies in a branch that never runs" in caplog.text
    loop = build(placeholder("x"), const("p", False),
                 ("sw", "Switch", ["x", "p"], F32),
                 ("enter", "Enter", ["sw:1"], {"T": DT.DT_FLOAT, "frame_name": "w"}),
                 ("merge", "Merge", ["enter", "next"], {"T": DT.DT_FLOAT, "N": 2}),
                 ("body", "Relu", ["merge"], F32), ("next", "NextIteration", ["body"], F32),
                 ("y", "Identity", ["sw"], F32))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="graphsurgeon.rewrite.fold_constant_switches"):
        assert fold_constant_switches(loop, ["y"]) == loop
    assert "a while loop (Merge 'merge') lies in a branch that never runs" in caplog.text
    variable = build(placeholder("x"), placeholder("p", DT.DT_BOOL), ("sw", "Switch", ["x", "p"], F32),
                     ("y", "Identity", ["sw:1"], F32))
    assert fold_constant_switches(variable, ["y"]) == variable


@pytest.mark.tf
def test_tf_cond_and_while_with_bound_flag_match():
    import tensorflow as tf

    from graphsurgeon.rewrite.bind import bind_placeholders

    with v1_graph() as graph:
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        training = tf.compat.v1.placeholder_with_default(True, [], name="is_training")
        # Branch constants carry control inputs on the branch pivots (cond/switch_t, cond/switch_f).
        y = tf.compat.v1.cond(training, lambda: x * tf.constant(3.0) + tf.constant([1.0, 2.0, 3.0, 4.0]),
                              lambda: tf.nn.relu(x) - tf.constant(0.5))
        _, acc = tf.compat.v1.while_loop(
            lambda i, a: i < 4,
            lambda i, a: (i + 1, tf.compat.v1.cond(training, lambda: a * 0.5, lambda: a + tf.constant(1.0))),
            [tf.constant(0), y])
        tf.identity(acc, name="out")
        gd = graph_def_of(graph)
    bound, _ = bind_placeholders(gd, {"is_training": False})
    folded = prune(fold_constant_switches(bound, ["out"]), ["out"])
    switches = [n.name for n in folded.node if n.op == "Switch"]
    assert all(name.startswith("while/") for name in switches), f"cond switches left: {switches}"
    assert sum(n.op == "Switch" for n in folded.node) < sum(n.op == "Switch" for n in bound.node)
    xv = np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4)
    want = run_tf(gd, {"x": xv, "is_training": False}, ["out:0"])["out:0"]
    got = run_tf(folded, {"x": xv}, ["out:0"])["out:0"]
    np.testing.assert_array_equal(got, want)


@pytest.mark.tf
def test_tf_nested_cond_constant_inner_variable_outer():
    import tensorflow as tf

    from graphsurgeon.rewrite.bind import bind_placeholders

    with v1_graph() as graph:
        x = tf.compat.v1.placeholder(tf.float32, [2], name="x")
        outer = tf.compat.v1.placeholder(tf.bool, [], name="outer")
        inner = tf.compat.v1.placeholder_with_default(True, [], name="inner")
        y = tf.compat.v1.cond(
            outer,
            lambda: tf.compat.v1.cond(inner, lambda: x * tf.constant(2.0), lambda: x - tf.constant(5.0)),
            lambda: x + tf.constant(1.0))
        tf.identity(y, name="out")
        gd = graph_def_of(graph)
    bound, _ = bind_placeholders(gd, {"inner": False})
    folded = prune(fold_constant_switches(bound, ["out"]), ["out"])
    check_graph(folded, frozen=False)
    ops = [n.op for n in folded.node]
    assert ops.count("Merge") == 1, "the inner cond (its predicate enters through an outer Switch) is resolved"
    assert "cond/cond/mul" not in {n.name for n in folded.node}, "the inner true branch never runs"
    xv = np.array([1.0, -3.0], np.float32)
    for flag in (True, False):
        want = run_tf(gd, {"x": xv, "outer": flag, "inner": False}, ["out:0"])["out:0"]
        np.testing.assert_array_equal(run_tf(folded, {"x": xv, "outer": flag}, ["out:0"])["out:0"], want)
