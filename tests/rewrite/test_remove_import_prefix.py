"""remove_import_prefix on tiny GraphDefs and on a graph exported after tf.import_graph_def."""

from __future__ import annotations

import numpy as np
import pytest
from rewrite_graphs import F32, build, graph_def_of, inputs_of, placeholder, run_tf, v1_graph

from graphsurgeon.errors import GraphSurgeonError
from graphsurgeon.rewrite.remove_import_prefix import remove_import_prefix, strip_prefix


def test_renames_every_reference():
    g = build(placeholder("import/x"), ("import/y", "Relu", ["import/x", "^import/x"], F32),
              ("import/z", "Relu", ["import/y"], {"T": 1, "_class": ["import/y"]}), ("keep", "NoOp", ["^import/z"]))
    out = remove_import_prefix(g)
    assert inputs_of(out) == {"x": [], "y": ["x", "^x"], "z": ["y"], "keep": ["^z"]}
    assert list(out.node[2].attr["_class"].list.s) == [b"loc:@y"]
    assert remove_import_prefix(out) == out
    assert strip_prefix(["import/a:1", "b", "import/c"]) == ["a:1", "b", "c"]


def test_clash_names_both_nodes():
    g = build(placeholder("x"), placeholder("import/x"))
    with pytest.raises(GraphSurgeonError, match="'import/x' would take the name of existing node 'x'"):
        remove_import_prefix(g)


@pytest.mark.tf
def test_tf_imported_graph_runs_without_prefix():
    import tensorflow as tf

    with v1_graph() as inner:
        x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
        tf.identity(tf.nn.softmax(x * 3.0), name="probs")
        inner_def = inner.as_graph_def()
    with v1_graph() as outer:
        tf.compat.v1.import_graph_def(inner_def)  # default name "import"
        gd = graph_def_of(outer)
    assert all(n.name.startswith("import/") for n in gd.node)
    clean = remove_import_prefix(gd)
    xv = np.array([[1.0, 2.0]], np.float32)
    want = run_tf(gd, {"import/x": xv}, ["import/probs:0"])["import/probs:0"]
    np.testing.assert_array_equal(run_tf(clean, {"x": xv}, ["probs:0"])["probs:0"], want)
