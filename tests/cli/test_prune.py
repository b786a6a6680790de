"""gs prune, in-process (no TensorFlow needed)."""

from __future__ import annotations

import pathlib

import pytest

from graphsurgeon._proto import graph_pb2, types_pb2
from graphsurgeon.cli import main
from graphsurgeon.cli.prune import parse_input_spec
from graphsurgeon.errors import GraphSurgeonError
from graphsurgeon.formats.model import load_graph
from graphsurgeon.formats.tensors import shape_from_proto

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures" / "prune"
DT = types_pb2.DataType


def names(path: pathlib.Path) -> list[str]:
    return [n.name for n in load_graph(path).graph_def.node]


def test_prune_writes_the_subgraph_and_reports(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "probs.pb"
    assert main(["prune", str(FIXTURES / "mlp.pb"), "--outputs", "probs", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    kept = names(out)
    assert kept[-1] == "probs" and "x" in kept and not [n for n in kept if "Adam" in n]
    assert f"nodes  211 -> {len(kept)}" in printed
    assert f"wrote  {out} ({out.stat().st_size} B" in printed or str(out) in printed
    assert load_graph(out).kind == "GraphDef" and not load_graph(out).text


def test_prune_text_and_inputs_with_spec(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "head.pbtxt"
    code = main(["prune", str(FIXTURES / "mlp.pb"), "--outputs", "probs,logits:0", "--inputs", "dense1/Relu:0",
                 "--input-spec", "dense1/Relu:0=float32:?,16", "-o", str(out), "--text"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "input  dense1/Relu:0 -> Placeholder 'dense1/Relu' float [?,16]" in printed
    loaded = load_graph(out)
    assert loaded.text
    relu = next(n for n in loaded.graph_def.node if n.name == "dense1/Relu")
    assert relu.op == "Placeholder" and relu.attr["dtype"].type == DT.DT_FLOAT
    assert shape_from_proto(relu.attr["shape"].shape) == (-1, 16)
    assert "x" not in names(out)


@pytest.mark.parametrize(("args", "message"), [
    (["--outputs", "prbs"], "gs: error: output 'prbs' not found in the graph; did you mean 'probs'"),
    (["--outputs", "probs", "--inputs", "xx:0"], "gs: error: input 'xx:0' not found in the graph; did you mean 'x'"),
    (["--outputs", "probs", "--inputs", "labels"], "gs: error: input(s) 'labels' not needed"),
    (["--outputs", "probs", "--inputs", "x", "--input-spec", "x=floaty"], "gs: error: 'floaty' for 'x' is not a dtype"),
    (["--outputs", "probs", "--inputs", "x", "--input-spec", "x=int32"], "gs: error: input 'x' is float in the graph"),
])
def test_prune_errors_exit_1(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], args: list[str],
                             message: str) -> None:
    out = tmp_path / "out.pb"
    assert main(["prune", str(FIXTURES / "mlp.pb"), *args, "-o", str(out)]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def write_graph(path: pathlib.Path, *nodes: tuple[str, list[str]]) -> pathlib.Path:
    graph_def = graph_pb2.GraphDef()
    for name, inputs in nodes:
        graph_def.node.add(name=name, op="Identity" if inputs else "Const", input=inputs)
    path.write_bytes(graph_def.SerializeToString())
    return path


def test_broken_graphs_exit_1(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    dangling = write_graph(tmp_path / "dangling.pb", ("a", []), ("b", ["a", "gone:1"]))
    assert main(["prune", str(dangling), "--outputs", "b", "-o", str(tmp_path / "o.pb")]) == 1
    assert "gs: error: node 'b' has input 'gone:1', but the graph has no node 'gone'" in capsys.readouterr().err
    dup = write_graph(tmp_path / "dup.pb", ("a", []), ("a", []))
    assert main(["prune", str(dup), "--outputs", "a", "-o", str(tmp_path / "o.pb")]) == 1
    assert "gs: error: graph has duplicate node names: 'a'" in capsys.readouterr().err


def test_never_overwrites_the_input(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph = tmp_path / "g.pb"
    graph.write_bytes((FIXTURES / "mlp.pb").read_bytes())
    assert main(["prune", str(graph), "--outputs", "probs", "-o", str(graph)]) == 1
    assert "gs: error:" in capsys.readouterr().err
    assert graph.read_bytes() == (FIXTURES / "mlp.pb").read_bytes()


def test_usage_error_without_outputs(tmp_path: pathlib.Path) -> None:
    assert main(["prune", str(FIXTURES / "mlp.pb"), "-o", str(tmp_path / "o.pb")]) == 2


def test_parse_input_spec() -> None:
    assert parse_input_spec("x:0=float32:1,224,224,3") == ("x:0", (DT.DT_FLOAT, (1, 224, 224, 3)))
    assert parse_input_spec("ids=int32:?,10") == ("ids", (DT.DT_INT32, (-1, 10)))
    assert parse_input_spec("keep_prob=float32:") == ("keep_prob", (DT.DT_FLOAT, ()))
    assert parse_input_spec("mask=bool") == ("mask", (DT.DT_BOOL, None))
    assert parse_input_spec("a=float:[2,-1]") == ("a", (DT.DT_FLOAT, (2, -1)))
    with pytest.raises(GraphSurgeonError, match="not NAME=DTYPE"):
        parse_input_spec("x:0")
    with pytest.raises(GraphSurgeonError, match="shape 'a,b' is not sizes"):
        parse_input_spec("x=float32:a,b")
