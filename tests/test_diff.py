"""gs diff: exactly what changed between two graphs, checked against the protobufs themselves."""

from __future__ import annotations

import json
import pathlib
from collections import Counter

import numpy as np
import pytest

from graphsurgeon import diff as diff_module
from graphsurgeon._proto import graph_pb2
from graphsurgeon.cli import main
from graphsurgeon.diff import diff_graphs
from graphsurgeon.draw import DIFF_COLOURS
from graphsurgeon.formats.model import load_graph
from graphsurgeon.formats.tensors import array_to_tensor, tensor_to_array

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "classifier"
GRAPHS = ROOT / "tests" / "fixtures" / "graphs"


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    """The shipped example frozen by gs freeze, and that optimized by gs optimize."""
    work = tmp_path_factory.mktemp("diff")
    frozen, optimized = work / "frozen.pb", work / "optimized.pb"
    assert main(["freeze", "--input_meta_graph", str(EXAMPLE / "model.ckpt-100.meta"), "--input_checkpoint",
                 str(EXAMPLE / "model.ckpt-100"), "--output_node_names", "probs", "--output_graph", str(frozen)]) == 0
    assert main(["optimize", str(frozen), "--outputs", "probs", "--bind", "is_training=false",
                 "-o", str(optimized)]) == 0
    return frozen, optimized


def canonical(message) -> bytes:  # noqa: ANN001
    return message.SerializeToString(deterministic=True)


def test_reports_exactly_what_gs_optimize_changed(example, capsys):
    frozen, optimized = example
    a, b = load_graph(frozen).graph_def, load_graph(optimized).graph_def
    before, after = {n.name: n for n in a.node}, {n.name: n for n in b.node}
    capsys.readouterr()
    assert main(["diff", str(frozen), str(optimized), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["equal"] is False and report["nodes"] == [len(a.node), len(b.node)]
    assert [d["name"] for d in report["added"]] == [n.name for n in b.node if n.name not in before]
    assert [d["name"] for d in report["removed"]] == [n.name for n in a.node if n.name not in after]
    changed = [n for n in after if n in before and canonical(before[n]) != canonical(after[n])]
    assert [d["name"] for d in report["changed"]] == changed
    for entry in report["changed"]:
        x, y = before[entry["name"]], after[entry["name"]]
        attrs = sorted(k for k in set(x.attr) | set(y.attr)
                       if k not in x.attr or k not in y.attr or canonical(x.attr[k]) != canonical(y.attr[k]))
        assert entry["attrs"] == attrs
        assert ("op" in entry["fields"]) == (x.op != y.op)
        assert ("inputs" in entry["fields"]) == (list(x.input) != list(y.input))
        if "inputs" in entry["fields"]:
            assert entry["inputs"] == [list(x.input), list(y.input)]
    ops = {op: [c, Counter(n.op for n in b.node)[op]] for op, c in Counter(n.op for n in a.node).items()}
    ops.update({op: [0, c] for op, c in Counter(n.op for n in b.node).items() if op not in ops})
    assert report["ops"] == ops
    # what optimize does here: batch norm folded into the convolution, Switch/Merge and Identity gone
    assert {"conv1/Conv2D/folded_weights"} <= {d["name"] for d in report["added"]}
    folded = next(d for d in report["changed"] if d["name"] == "conv1/bn/cond/FusedBatchNormV3_1")
    assert folded["op"] == ["FusedBatchNormV3", "BiasAdd"] and "epsilon" in folded["attrs"]
    assert ops["Switch"][1] == 0 and ops["Identity"][1] == 0
    # the text report says the same, one fact a line
    assert main(["diff", str(frozen), str(optimized)]) == 1
    text = capsys.readouterr().out.splitlines()
    assert text[0] == (f"nodes     {len(a.node)} -> {len(b.node)}: {len(report['added'])} added, "
                       f"{len(report['removed'])} removed, {len(changed)} changed")
    assert sum(line.startswith("changed ") for line in text) == len(changed) and text[-1] == "different"
    assert "changed   conv1/bn/cond/FusedBatchNormV3_1 (BiasAdd): op FusedBatchNormV3 -> BiasAdd;" in "\n".join(text)


@pytest.mark.parametrize("a, b", [("cnn_bn.pb", "cnn_bn.pbtxt"), ("while_loop.pb", "while_loop.pbtxt"),
                                  ("mlp.meta", "mlp_text.meta"), ("cnn_bn.meta", "cnn_bn_text.meta")])
def test_binary_and_text_files_of_one_graph_are_equal(a, b, capsys):
    assert main(["diff", str(GRAPHS / a), str(GRAPHS / b)]) == 0
    out = capsys.readouterr().out
    assert out.endswith("equal\n") and "0 added, 0 removed, 0 changed" in out


def test_constants_devices_attrs_and_inputs(capsys, tmp_path):
    a = load_graph(GRAPHS / "mlp.pb").graph_def
    b = graph_pb2.GraphDef()
    b.CopyFrom(a)
    by_name = {n.name: n for n in b.node}
    consts = [n for n in b.node if n.op == "Const" and tensor_to_array(n.attr["value"].tensor).size > 1
              and tensor_to_array(n.attr["value"].tensor).dtype.kind == "f"]
    scaled, reshaped = consts[0], consts[1]
    old = tensor_to_array(scaled.attr["value"].tensor)
    scaled.attr["value"].tensor.CopyFrom(array_to_tensor(old * 1.5))
    old_shape = tensor_to_array(reshaped.attr["value"].tensor).shape
    reshaped.attr["value"].tensor.CopyFrom(array_to_tensor(np.zeros((7,), np.float64)))
    matmul = next(n for n in b.node if n.op == "MatMul")
    matmul.device = "/device:CPU:0"
    matmul.attr["transpose_a"].b = not matmul.attr["transpose_a"].b
    relu = next(n for n in b.node if n.op == "Relu")
    relu.input.append("^" + scaled.name)
    result = diff_graphs(a, b)
    assert not result.added and not result.removed and not result.equal
    changes = {c.name: c for c in result.changed}
    assert set(changes) == {scaled.name, reshaped.name, matmul.name, relu.name}
    assert changes[matmul.name].fields == ["device", "attrs"] and changes[matmul.name].attrs == ["transpose_a"]
    assert changes[matmul.name].device == ("", "/device:CPU:0")
    assert changes[relu.name].inputs[1] == list(by_name[relu.name].input)
    constants = {c.name: c for c in result.constants}
    assert constants[scaled.name].max_abs_diff == pytest.approx(float(np.max(np.abs(old * 0.5))), rel=1e-6)
    assert constants[scaled.name].differing == int(np.count_nonzero(old))
    assert constants[reshaped.name].dtype == ("float32", "float64")
    assert constants[reshaped.name].shape == (list(old_shape), [7])
    assert constants[reshaped.name].max_abs_diff is None
    text = result.format()
    assert f"constant  {scaled.name}: {np.count_nonzero(old)} elements differ; max abs diff" in text
    assert f"constant  {reshaped.name}: dtype float32 -> float64; shape [" in text


def test_function_library_and_versions_against_graphs_without_them():
    """A graph with a function library against one without: protobuf 4.21.1-4.21.2 crashed comparing them."""
    a = load_graph(GRAPHS / "mlp.pb").graph_def
    b = graph_pb2.GraphDef()
    b.CopyFrom(a)
    b.ClearField("library")
    b.ClearField("versions")
    with_library = graph_pb2.GraphDef()
    with_library.CopyFrom(b)
    with_library.library.function.add().signature.name = "f"
    with_library.versions.producer = 2100
    result = diff_graphs(b, with_library)
    assert not result.added and not result.removed and not result.changed and not result.equal
    assert result.other == ["function library differs (0 -> 1 functions; 1 added, 0 removed)",
                            "versions differ (producer 0 -> 2100, min_consumer 0 -> 0)"]
    assert diff_graphs(with_library, b).other[0] == "function library differs (1 -> 0 functions; 0 added, 1 removed)"
    assert diff_graphs(b, b).equal


def test_equal_constants_are_never_decoded(monkeypatch):
    g = load_graph(GRAPHS / "cnn_bn.pb").graph_def
    copy = graph_pb2.GraphDef()
    copy.CopyFrom(g)

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("an equal constant was decoded")

    monkeypatch.setattr(diff_module, "tensor_to_array", refuse)
    assert diff_graphs(g, copy).equal


def test_outputs_compare_only_what_they_need(example, capsys):
    frozen, _ = example
    pruned = frozen.parent / "pruned_logits.pb"
    assert main(["prune", str(frozen), "--outputs", "fc2/BiasAdd", "-o", str(pruned)]) == 0
    capsys.readouterr()
    assert main(["diff", str(frozen), str(pruned)]) == 1
    assert main(["diff", str(frozen), str(pruned), "--outputs", "fc2/BiasAdd"]) == 0
    assert main(["diff", str(frozen), str(pruned), "--outputs", "probs"]) == 1
    assert "output 'probs' not found" in capsys.readouterr().err


def test_draw_colours_the_diff(example, capsys, tmp_path):
    frozen, optimized = example
    out = tmp_path / "diff.dot"
    capsys.readouterr()
    assert main(["diff", str(frozen), str(optimized), "--draw", str(out), "--depth", "all"]) == 1
    dot = out.read_text()
    a, b = load_graph(frozen).graph_def, load_graph(optimized).graph_def
    result = diff_graphs(a, b)
    union = {n.name for n in a.node} | {n.name for n in b.node}
    assert dot.count(" [label=") == len(union)
    for state, names in (("added", result.added), ("removed", result.removed)):
        for name, _ in names:
            line = next(line for line in dot.splitlines() if f'label="{name}\\n' in line)
            assert f'fillcolor="{DIFF_COLOURS[state]}"' in line and f" {state}" in line


def test_event_files_are_read_as_graphs(example, capsys, tmp_path):
    """gs diff and gs draw read the TensorBoard event files gs convert (and TensorFlow) write."""
    frozen, optimized = example
    logs = tmp_path / "logs"
    logs.mkdir()
    assert main(["convert", str(frozen), str(logs / "events.out.tfevents.1.test")]) == 0
    capsys.readouterr()
    assert main(["diff", str(logs / "events.out.tfevents.1.test"), str(frozen)]) == 0
    capsys.readouterr()
    assert main(["diff", str(logs / "events.out.tfevents.1.test"), str(optimized), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    expected = diff_graphs(load_graph(frozen).graph_def, load_graph(optimized).graph_def)
    assert [d["name"] for d in report["removed"]] == [name for name, _ in expected.removed] != []
    out = tmp_path / "events.dot"
    assert main(["draw", str(logs / "events.out.tfevents.1.test"), "-o", str(out), "--depth", "all"]) == 0
    assert out.read_text().count(" [label=") == len(load_graph(frozen).graph_def.node)


def test_usage_and_errors(tmp_path, capsys):
    assert main(["diff", str(GRAPHS / "mlp.pb")]) == 2
    capsys.readouterr()
    assert main(["diff", str(GRAPHS / "mlp.pb"), str(tmp_path / "missing.pb")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gs: error: graph file") and "does not exist" in err and err.count("\n") == 1
    assert main(["diff", str(GRAPHS / "mlp.pb"), str(GRAPHS / "cnn_bn.pb"), "--draw", str(tmp_path / "x.png")]) == 1
    assert "cannot tell the drawing format" in capsys.readouterr().err
