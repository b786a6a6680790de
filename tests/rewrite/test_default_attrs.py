"""strip_default_attrs / fill_default_attrs on every fixture, the CLI flags, and a stripped graph in TensorFlow."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from graphsurgeon.cli import main
from graphsurgeon.formats.model import load_graph
from graphsurgeon.graph import op_registry
from graphsurgeon.graph.check import check_graph
from graphsurgeon.rewrite.default_attrs import fill_default_attrs, strip_default_attrs

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
FREEZE = FIXTURES / "freeze"
GRAPHS = sorted([*FIXTURES.glob("prune/*.pb"), *FREEZE.glob("*/graph.pb"), *FIXTURES.glob("tf2/*/saved_model.pb")])


def defaulted(graph_def) -> int:
    """How many attrs of the top-level nodes equal their op's default."""
    count = 0
    for node in graph_def.node:
        op_def = op_registry.op_registry().get(node.op)
        for attr in op_def.attr if op_def else ():
            count += attr.HasField("default_value") and node.attr.get(attr.name) == attr.default_value
    return count


@pytest.mark.parametrize("path", GRAPHS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_strip_and_fill_round_trip(path):
    loaded = load_graph(path.parent if path.name == "saved_model.pb" else path)
    graph_def = loaded.graph_def
    before = graph_def.SerializeToString()
    stripped, filled = strip_default_attrs(loaded), fill_default_attrs(graph_def)
    assert graph_def.SerializeToString() == before, "the input is not modified"
    assert defaulted(stripped) == 0
    assert fill_default_attrs(stripped) == filled and strip_default_attrs(filled) == stripped
    if loaded.meta_graph_def is None or not loaded.meta_graph_def.meta_info_def.stripped_default_attrs:
        assert filled == graph_def, "TensorFlow writes every attr out unless it strips them"
    else:  # a SavedModel, saved with strip_default_attrs=True
        assert stripped == graph_def
    for function in filled.library.function:
        for node in function.node_def:
            op_def = op_registry.op_registry().get(node.op)
            if op_def is not None:
                assert all(a.name in node.attr for a in op_def.attr if a.HasField("default_value")), node.name
    check_graph(stripped, frozen=False)
    check_graph(filled, frozen=False)
    assert len(stripped.SerializeToString()) <= len(graph_def.SerializeToString()) <= len(filled.SerializeToString())


def test_custom_ops_calls_and_private_attrs_are_left_alone():
    graph_def = load_graph(FREEZE / "mlp" / "graph.pb").graph_def
    plugin = graph_def.node.add(name="plugin", op="MyPlugin_test_only")
    plugin.attr["transpose_a"].b = False
    matmul = next(n for n in graph_def.node if n.op == "MatMul")
    matmul.attr["_private"].b = False
    stripped = strip_default_attrs(graph_def)
    by_name = {n.name: n for n in stripped.node}
    assert "transpose_a" in by_name["plugin"].attr and "_private" in by_name[matmul.name].attr
    assert "transpose_a" not in by_name[matmul.name].attr and "T" in by_name[matmul.name].attr


def gs(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out + err


def test_cli_optimize_and_freeze_strip_or_fill(tmp_path, capsys):
    def run(command: str, source: pathlib.Path, *flags: str) -> object:
        out_path = tmp_path / f"{command}{len(list(tmp_path.iterdir()))}.pb"
        if command == "freeze":
            argv = ["freeze", "--input_checkpoint", source, "--output_node_names", "probs,topk", "--output_graph",
                    out_path]
        else:
            argv = ["optimize", source, "--outputs", "probs,topk", "-o", out_path]
        code, out = gs(capsys, *argv, *flags)
        assert code == 0, out
        return load_graph(out_path).graph_def

    frozen = run("freeze", FREEZE / "mlp" / "model.ckpt")
    stripped = run("freeze", FREEZE / "mlp" / "model.ckpt", "--strip-default-attrs")
    assert defaulted(frozen) > 0 and defaulted(stripped) == 0 and stripped == strip_default_attrs(frozen)
    assert run("freeze", FREEZE / "mlp" / "model.ckpt", "--fill_default_attrs") == frozen
    path = tmp_path / "stripped.pb"
    path.write_bytes(stripped.SerializeToString())
    optimized = run("optimize", path)
    filled = run("optimize", path, "--fill-default-attrs")
    assert defaulted(optimized) == 0 and filled == fill_default_attrs(optimized)
    assert run("optimize", path, "--strip_default_attrs") == optimized
    code, out = gs(capsys, "optimize", path, "--outputs", "probs", "-o", tmp_path / "x.pb",
                   "--strip-default-attrs", "--fill-default-attrs")
    assert code == 2 and "not allowed with argument" in out


def test_cli_convert_strip_or_fill(tmp_path, capsys):
    """gs convert --strip-default-attrs / --fill-default-attrs, to GraphDefs and MetaGraphDefs."""
    source = FREEZE / "mlp" / "graph.pb"
    graph_def = load_graph(source).graph_def
    assert defaulted(graph_def) > 0
    code, out = gs(capsys, "convert", source, tmp_path / "stripped.pbtxt", "--strip-default-attrs")
    assert code == 0, out
    stripped = load_graph(tmp_path / "stripped.pbtxt")
    assert stripped.text and stripped.graph_def == strip_default_attrs(graph_def)
    code, out = gs(capsys, "convert", tmp_path / "stripped.pbtxt", tmp_path / "filled.pb", "--fill_default_attrs")
    assert code == 0, out
    assert load_graph(tmp_path / "filled.pb").graph_def == graph_def, "strip then fill round-trips"
    meta_source = FREEZE / "mlp" / "model.ckpt.meta"
    code, out = gs(capsys, "convert", meta_source, tmp_path / "stripped.meta", "--strip-default-attrs")
    assert code == 0, out
    meta = load_graph(tmp_path / "stripped.meta").meta_graph_def
    original = load_graph(meta_source).meta_graph_def
    assert meta.meta_info_def.stripped_default_attrs and defaulted(meta.graph_def) == 0
    meta.graph_def.Clear()
    meta.meta_info_def.stripped_default_attrs = False
    expected = type(original)()
    expected.CopyFrom(original)
    expected.graph_def.Clear()
    assert meta.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True), \
        "everything but the graph is kept"
    code, out = gs(capsys, "convert", meta_source, tmp_path / "plain.meta")
    assert code == 0 and load_graph(tmp_path / "plain.meta").meta_graph_def == original


@pytest.mark.tf
def test_a_stripped_frozen_graph_imports_in_tensorflow_and_gives_the_same_outputs(tmp_path, capsys):
    import tensorflow as tf

    model = FREEZE / "lstm_resource"
    outputs = ["final_h:0", "loop_out:0"]
    paths = {}
    for flag in ("--strip-default-attrs", "--fill-default-attrs"):
        paths[flag] = tmp_path / f"{flag[2:]}.pb"
        code, out = gs(capsys, "freeze", "--input_graph", model / "graph.pb", "--input_checkpoint",
                       model / "model.ckpt", "--output_node_names", "final_h,loop_out", "--output_graph",
                       paths[flag], flag)
        assert code == 0, out
    stripped = load_graph(paths["--strip-default-attrs"]).graph_def
    assert defaulted(stripped) == 0 and len(stripped.node) > 20
    expected = np.load(model / "expected.npz")
    feeds = {"x:0": expected["in:x:0"], "lens:0": expected["in:lens:0"]}
    results = {}
    for flag, path in paths.items():
        with tf.Graph().as_default() as graph:
            tf.import_graph_def(tf.compat.v1.GraphDef.FromString(path.read_bytes()), name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            results[flag] = sess.run(outputs, feeds)
    for ours, filled, name in zip(results["--strip-default-attrs"], results["--fill-default-attrs"], outputs):
        np.testing.assert_array_equal(ours, filled)
        np.testing.assert_allclose(ours, expected[f"out:{name}"], rtol=1e-5, atol=1e-5)
