"""gs optimize and gs freeze --optimize, in-process on the committed MobileNet fixture."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from graphsurgeon.cli import main
from graphsurgeon.formats.model import load_graph

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
MOBILENET = ROOT / "tests" / "fixtures" / "surgery" / "mobilenet"


@pytest.fixture(scope="module")
def frozen(tmp_path_factory) -> pathlib.Path:
    """The MobileNet frozen by gs freeze with is_training still a placeholder (bound later by gs optimize)."""
    path = tmp_path_factory.mktemp("cli_optimize") / "frozen.pb"
    assert main(["freeze", "--input_meta_graph", str(MOBILENET / "model.ckpt.meta"), "--input_checkpoint",
                 str(MOBILENET / "model.ckpt"), "--output_node_names", "output", "-o", str(path),
                 "--bind", "keep_prob=1.0"]) == 0
    return path


def test_gs_optimize_default_passes(frozen, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "opt.pb"
    assert main(["optimize", str(frozen), "--outputs", "output", "--bind", "is_training=false", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "bound  is_training = False" in text
    for name in ("fold_constant_switches", "strip_training", "fold_constants", "fold_batch_norm"):
        assert f"pass   {name}" in text
    before = len(load_graph(frozen).graph_def.node)
    graph = load_graph(out).graph_def
    assert f"nodes  {before} -> {len(graph.node)}" in text
    ops = {n.op for n in graph.node}
    assert not ops & {"Switch", "Merge", "FusedBatchNormV3"}, ops


def test_gs_optimize_passes_text_and_errors(frozen, tmp_path, capsys):
    out = tmp_path / "opt.pbtxt"
    assert main(["optimize", str(frozen), "--outputs", "output", "--passes", "strip_training", "--text",
                 "-o", str(out)]) == 0
    loaded = load_graph(out)
    assert loaded.text and any(n.op == "Switch" for n in loaded.graph_def.node), "only strip_training ran"
    capsys.readouterr()
    assert main(["optimize", str(frozen), "--outputs", "output", "--passes", "fold_switches", "-o",
                 str(tmp_path / "x.pb")]) == 1
    assert "gs: error: unknown pass 'fold_switches'" in capsys.readouterr().err
    assert main(["optimize", str(frozen), "--outputs", "outptu", "-o", str(tmp_path / "x.pb")]) == 1
    assert "did you mean 'output'" in capsys.readouterr().err
    assert main(["optimize", str(frozen), "--outputs", "output", "--bind", "is_trainig=false", "-o",
                 str(tmp_path / "x.pb")]) == 1
    assert "did you mean 'is_training'" in capsys.readouterr().err
    assert main(["optimize", str(frozen), "--outputs", "output", "-o", str(frozen)]) == 1


def test_gs_freeze_optimize(tmp_path, capsys):
    out = tmp_path / "frozen_opt.pb"
    spec = json.loads((MOBILENET / "spec.json").read_text())
    args = ["freeze", "--input_meta_graph", str(MOBILENET / "model.ckpt.meta"), "--input_checkpoint",
            str(MOBILENET / "model.ckpt"), "--output_node_names", "output", "-o", str(out), "--optimize"]
    for name, value in spec["bind"].items():
        args += ["--bind", f"{name}={json.dumps(value)}"]
    capsys.readouterr()
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "optimized for inference: fold_constant_switches" in text
    graph = load_graph(out).graph_def
    ops = [n.op for n in graph.node]
    assert "FusedBatchNormV3" not in ops and "Switch" not in ops and ops.count("BiasAdd") == 9
    assert "nodes:      " in text and f"-> {len(graph.node)}" in text


@pytest.mark.tf
def test_gs_freeze_optimize_output_matches_tensorflow(tmp_path):
    from graphsurgeon.validate import run_graph

    out = tmp_path / "frozen_opt.pb"
    assert main(["freeze", "--input_meta_graph", str(MOBILENET / "model.ckpt.meta"), "--input_checkpoint",
                 str(MOBILENET / "model.ckpt"), "--output_node_names", "output", "-o", str(out), "--optimize",
                 "--bind", "is_training=false", "--bind", "keep_prob=1.0"]) == 0
    expected = np.load(MOBILENET / "expected.npz")
    got = run_graph(out, {"input": expected["in:input:0"]}, ["output:0"])["output:0"]
    np.testing.assert_allclose(got, expected["out:output:0"], rtol=1e-5, atol=1e-6)


def test_gs_optimize_max_growth(tmp_path, capsys):
    from graphsurgeon._proto import graph_pb2
    from graphsurgeon.formats.model import save_graph
    from graphsurgeon.surgery import const_node, make_node

    graph = graph_pb2.GraphDef()
    graph.node.extend([const_node("dims", np.array([256, 256], np.int32)), const_node("one", np.float32(1)),
                       make_node("big", "Fill", ["dims", "one"], {"T": np.float32, "index_type": np.int32}),
                       make_node("out", "Identity", ["big"], {"T": np.float32})])
    save_graph(graph, tmp_path / "g.pb")
    for limit, folded in (("64KiB", False), ("256KiB", True), ("300000", True)):
        out = tmp_path / f"{limit}.pb"
        args = ["optimize", str(tmp_path / "g.pb"), "--outputs", "out", "--max-growth", limit, "-o", str(out)]
        assert main(args) == 0
        ops = {n.name: n.op for n in load_graph(out).graph_def.node}
        assert (ops["out"] == "Const") is folded, (limit, ops)
    capsys.readouterr()
    assert main(["optimize", str(tmp_path / "g.pb"), "--outputs", "out", "--max-growth", "lots", "-o",
                 str(tmp_path / "x.pb")]) == 2
    assert "'lots' is not a size" in capsys.readouterr().err
