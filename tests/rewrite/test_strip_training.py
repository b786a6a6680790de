"""strip_training on tiny GraphDefs (exact expectations) and on a TensorFlow graph with cond/while."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from rewrite_graphs import DT, F32, build, graph_def_of, inputs_of, placeholder, run_tf, v1_graph

from graphsurgeon.graph.check import check_graph
from graphsurgeon.rewrite.strip_training import strip_training


def test_removes_chains_checknumerics_stopgradient_keeps_outputs():
    g = build(placeholder("x"), ("dep", "NoOp", []),
              ("i1", "Identity", ["x", "^dep"], F32), ("i2", "Identity", ["i1"], F32),
              ("cn", "CheckNumerics", ["i2"], {"T": DT.DT_FLOAT, "message": "nan"}),
              ("sg", "StopGradient", ["cn"], F32), ("relu", "Relu", ["sg"], F32),
              ("waits", "NoOp", ["^i2"]), ("out", "Identity", ["relu", "^waits"], F32))
    before = g.SerializeToString()
    out = strip_training(g, ["out"])
    assert g.SerializeToString() == before, "input modified"
    assert inputs_of(out) == {"x": [], "dep": [], "relu": ["x", "^dep"], "waits": ["^x", "^dep"],
                              "out": ["relu", "^waits"]}
    check_graph(out, frozen=False)


def test_keeps_what_it_cannot_prove_safe(caplog):
    g = build(placeholder("x"), placeholder("p", DT.DT_BOOL),
              ("sw", "Switch", ["x", "p"], F32),
              ("pivot", "Identity", ["sw:1"], F32),                       # cond branch pivot
              ("c", "Const", ["^pivot"], {"dtype": DT.DT_FLOAT, "value": np.float32(1)}),
              ("target", "Identity", ["x"], F32),                         # others colocated with it
              ("near", "Relu", ["target"], {"T": DT.DT_FLOAT, "_class": ["target"]}),
              ("two", "IdentityN", ["x", "x"], {"T": [np.float32, np.float32]}),
              ("sink", "Identity", ["near"], F32),                        # no consumers: maybe an output
              ("add", "Add", ["pivot", "c"], F32), ("m", "Merge", ["add", "sw"], {"T": DT.DT_FLOAT, "N": 2}),
              ("y", "Identity", ["m"], F32), ("z", "Relu", ["y"], F32))
    with caplog.at_level(logging.INFO, logger="graphsurgeon.rewrite.strip_training"):
        out = strip_training(g, ["z", "y"])
    assert [n.name for n in out.node] == [n.name for n in g.node], "nothing should be removed"
    text = caplog.text
    assert "keeping 'pivot' (Identity): it reads Switch 'sw'" in text
    assert "keeping 'target' (Identity): other nodes are colocated with it" in text
    assert "keeping 'sink' (Identity): nothing consumes it" in text
    assert "keeping 'y' (Identity): it is a requested output" in text


@pytest.mark.tf
def test_tf_cond_while_graph_outputs_unchanged():
    import tensorflow as tf


    with v1_graph() as graph:
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        flag = tf.compat.v1.placeholder(tf.bool, [], name="flag")
        y = tf.compat.v1.cond(flag, lambda: tf.identity(x * 2.0) + 1.0, lambda: tf.identity(x) - 1.0)
        y = tf.debugging.check_numerics(tf.stop_gradient(y), "bad")
        i0 = tf.constant(0)
        _, acc = tf.compat.v1.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, tf.identity(a * 1.5 + 0.5)),
                                         [i0, y])
        tf.identity(tf.identity(acc), name="out")
        gd = graph_def_of(graph)
    stripped = strip_training(gd, ["out"])
    assert len(stripped.node) < len(gd.node)
    assert not any(n.op in ("CheckNumerics", "StopGradient") for n in stripped.node)
    xv = np.arange(6, dtype=np.float32).reshape(2, 3)
    for flag in (True, False):
        want = run_tf(gd, {"x": xv, "flag": flag}, ["out:0"])["out:0"]
        got = run_tf(stripped, {"x": xv, "flag": flag}, ["out:0"])["out:0"]
        np.testing.assert_array_equal(got, want)


PARITY = __import__("pathlib").Path(__file__).parent.parent / "fixtures" / "parity"


def _class_entries(graph_def):
    return {n.name: [e.decode() for e in n.attr["_class"].list.s] for n in graph_def.node if "_class" in n.attr}


def test_class_entry_without_loc_prefix_keeps_its_node_as_tensorflow_does(caplog):
    """A TF-made graph whose ``_class`` entries name Identities with and without ``loc:@``: the same
    nodes are kept as by TensorFlow's remove_training_nodes, and no entry names a missing node."""
    import json

    from graphsurgeon.formats.model import load_graph

    spec = json.loads((PARITY / "class_ref" / "spec.json").read_text())
    g = load_graph(PARITY / "class_ref" / "graph.pb").graph_def
    with caplog.at_level(logging.INFO, logger="graphsurgeon.rewrite.strip_training"):
        out = strip_training(g, ["out"])
    names = {n.name for n in out.node}
    assert sorted(names) == spec["tf_stripped_nodes"]
    assert "keeping 'features' (Identity): a _class entry (without loc:@) names it" in caplog.text
    for node, entries in _class_entries(out).items():
        for entry in entries:
            assert entry.removeprefix("loc:@") in names, f"{node}: _class {entry} names a removed node"
    check_graph(out, frozen=False)


@pytest.mark.tf
def test_class_entry_fixture_runs_in_tensorflow_after_strip():
    from graphsurgeon.formats.model import load_graph

    g = load_graph(PARITY / "class_ref" / "graph.pb").graph_def
    expected = np.load(PARITY / "class_ref" / "expected.npz")
    got = run_tf(strip_training(g, ["out"]), {"x": expected["in:x:0"]}, ["out:0"])["out:0"]
    np.testing.assert_allclose(got, expected["out:out:0"], rtol=1e-6, atol=1e-6)
