"""gs optimize on a big GraphDef reads it lazily (formats.lazy_graph) and writes the same bytes as the
in-memory path. The thresholds are lowered so the committed TF-made fixtures take the lazy path."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from graphsurgeon._proto import graph_pb2
from graphsurgeon.cli import main
from graphsurgeon.errors import FileFormatError, OutputError, UnsupportedError
from graphsurgeon.formats import lazy_graph, tensors
from graphsurgeon.formats.model import load_graph, save_graph
from graphsurgeon.surgery import const_node, make_node

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
SURGERY = ROOT / "tests" / "fixtures" / "surgery"
INCEPTION = SURGERY / "inception_v3" / "frozen.pb"


@pytest.fixture
def lazy_everything(monkeypatch):
    """Every binary GraphDef is read lazily and every constant of 256 bytes or more stays in the file;
    yields the LazyGraphs opened."""
    opened: list[lazy_graph.LazyGraph] = []
    real = lazy_graph.open_lazy

    def spy(*args, **kwargs):
        graph = real(*args, **kwargs)
        if graph is not None:
            opened.append(graph)
        return graph

    monkeypatch.setattr(lazy_graph, "MIN_FILE_BYTES", 1)
    monkeypatch.setattr(lazy_graph, "MIN_TENSOR_BYTES", 256)
    monkeypatch.setattr(lazy_graph, "open_lazy", spy)
    return opened


def _in_memory(monkeypatch, args: list[str]) -> None:
    with monkeypatch.context() as m:
        m.setattr(lazy_graph, "open_lazy", lambda *a, **k: None)
        assert main(args) == 0


@pytest.fixture(scope="module")
def mobilenet_frozen(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("lazy") / "mobilenet.pb"
    assert main(["freeze", "--input_meta_graph", str(SURGERY / "mobilenet" / "model.ckpt.meta"),
                 "--input_checkpoint", str(SURGERY / "mobilenet" / "model.ckpt"), "--output_node_names", "output",
                 "--bind", "keep_prob=1.0", "-o", str(path)]) == 0
    return path


@pytest.mark.parametrize("extra", [[], ["--converter-ready"], ["--passes", "strip_training"],
                                   ["--strip-default-attrs"]])
def test_lazy_output_is_byte_identical_inception(lazy_everything, monkeypatch, tmp_path, extra):
    lazy, memory = tmp_path / "lazy.pb", tmp_path / "memory.pb"
    args = ["optimize", str(INCEPTION), "--outputs", "InceptionV3/Predictions/Reshape_1"] + extra
    assert main(args + ["-o", str(lazy)]) == 0
    assert len(lazy_everything) == 1 and lazy_everything[0].lazy_bytes > INCEPTION.stat().st_size // 2
    if not extra:
        assert lazy_everything[0].spilled_bytes > 0, "the folded weights went to the spill file"
    _in_memory(monkeypatch, args + ["-o", str(memory)])
    assert lazy.read_bytes() == memory.read_bytes()


def test_lazy_output_is_byte_identical_with_bind_and_folding(lazy_everything, monkeypatch, mobilenet_frozen,
                                                             tmp_path):
    lazy, memory = tmp_path / "lazy.pb", tmp_path / "memory.pb"
    args = ["optimize", str(mobilenet_frozen), "--bind", "is_training=false"]
    assert main(args + ["-o", str(lazy)]) == 0
    assert lazy_everything and lazy_everything[0].lazy_bytes > 0
    _in_memory(monkeypatch, args + ["-o", str(memory)])
    assert lazy.read_bytes() == memory.read_bytes()
    ops = {n.op for n in load_graph(lazy).graph_def.node}
    assert "FusedBatchNormV3" not in ops and "Switch" not in ops, "the batch norms were folded from lazy weights"


def test_lazy_unchanged_graph_round_trips_and_fold_constants_reads_lazy_values(lazy_everything, monkeypatch,
                                                                               tmp_path):
    """A Reshape of a big constant is folded (its value read from the file); the constant no pass
    changes is copied from the file as it was."""
    rng = np.random.default_rng(0)
    graph = graph_pb2.GraphDef()
    graph.node.extend([
        const_node("big", rng.normal(size=(64, 32)).astype(np.float32)),
        const_node("kept", rng.normal(size=(32, 16)).astype(np.float32)),
        const_node("shape", np.array([32, 64], np.int32)),
        make_node("x", "Placeholder", [], {"dtype": np.float32}),
        make_node("reshaped", "Reshape", ["big", "shape"], {"T": np.float32, "Tshape": np.int32}),
        make_node("mm", "MatMul", ["x", "reshaped"], {"T": np.float32}),
        make_node("out", "MatMul", ["mm", "kept"], {"T": np.float32}),
    ])
    graph.versions.producer = 1234
    source = tmp_path / "g.pb"
    save_graph(graph, source)
    lazy, memory = tmp_path / "lazy.pb", tmp_path / "memory.pb"
    assert main(["optimize", str(source), "-o", str(lazy)]) == 0
    _in_memory(monkeypatch, ["optimize", str(source), "-o", str(memory)])
    assert lazy.read_bytes() == memory.read_bytes()
    nodes = {n.name: n for n in load_graph(lazy).graph_def.node}
    assert nodes["reshaped"].op == "Const"
    np.testing.assert_array_equal(tensors.tensor_to_array(nodes["reshaped"].attr["value"].tensor),
                                  tensors.tensor_to_array(graph.node[0].attr["value"].tensor).reshape(32, 64))
    assert nodes["kept"].SerializeToString(deterministic=True) == graph.node[1].SerializeToString(deterministic=True)
    assert load_graph(lazy).graph_def.versions.producer == 1234


def test_light_graph_holds_tokens_that_fail_loudly_once_closed(tmp_path):
    graph = graph_pb2.GraphDef()
    value = np.arange(4096, dtype=np.float32).reshape(64, 64)
    graph.node.extend([const_node("w", value), make_node("out", "Identity", ["w"], {"T": np.float32})])
    save_graph(graph, tmp_path / "g.pb")
    lazy = lazy_graph.open_lazy(tmp_path / "g.pb", min_file_bytes=1, min_tensor_bytes=256)
    assert lazy is not None and lazy.lazy_bytes == value.nbytes
    tensor = lazy.loaded.graph_def.node[0].attr["value"].tensor
    assert len(tensor.tensor_content) == tensors.LAZY_TOKEN_SIZE, "the light graph does not hold the values"
    got = tensors.tensor_to_array(tensor)
    np.testing.assert_array_equal(got, value)
    got[0, 0] = -1  # a fresh buffer, not the file
    with pytest.raises(OutputError, match="light|lazy"):
        save_graph(lazy.loaded.graph_def, tmp_path / "wrong.pb")
    assert not (tmp_path / "wrong.pb").exists()
    lazy.close()
    with pytest.raises(UnsupportedError, match="closed"):
        tensors.tensor_to_array(tensor)


def test_not_a_graphdef_is_left_to_load_graph(tmp_path):
    meta = SURGERY / "mobilenet" / "model.ckpt.meta"
    assert lazy_graph.open_lazy(meta, min_file_bytes=1) is None
    text = tmp_path / "g.pbtxt"
    text.write_text('node { name: "a" op: "NoOp" }\nnode { name: "b" op: "NoOp" }\n')
    assert lazy_graph.open_lazy(text, min_file_bytes=1) is None
    assert lazy_graph.open_lazy(INCEPTION) is None, "under the default size threshold"


def test_lazy_output_never_overwrites_the_input(lazy_everything, tmp_path, capsys):
    copy = tmp_path / "in.pb"
    copy.write_bytes(INCEPTION.read_bytes())
    assert main(["optimize", str(copy), "--outputs", "InceptionV3/Predictions/Reshape_1", "-o", str(copy)]) == 1
    assert copy.read_bytes() == INCEPTION.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["in.pb"]


@pytest.mark.tf
def test_lazy_optimized_inception_matches_tensorflow(lazy_everything, tmp_path):
    from graphsurgeon.validate import run_graph

    out = tmp_path / "lazy.pb"
    output = "InceptionV3/Predictions/Reshape_1"
    assert main(["optimize", str(INCEPTION), "--outputs", output, "-o", str(out)]) == 0
    expected = np.load(SURGERY / "inception_v3" / "expected.npz")
    got = run_graph(out, {"input": expected["in:input:0"]}, [f"{output}:0"])[f"{output}:0"]
    np.testing.assert_allclose(got, expected[f"out:{output}:0"], rtol=1e-5, atol=1e-6)


def test_lazy_errors_leave_nothing_behind(lazy_everything, tmp_path, capsys):
    out = tmp_path / "opt.pb"
    assert main(["optimize", str(INCEPTION), "--outputs", "InceptionV3/Predictions/Reshape_2", "-o", str(out)]) == 1
    assert "did you mean" in capsys.readouterr().err
    assert lazy_everything and not list(tmp_path.iterdir()), "no output, no spill file"


def test_lazy_write_refuses_a_changed_input(tmp_path):
    source = tmp_path / "in.pb"
    source.write_bytes(INCEPTION.read_bytes())
    lazy = lazy_graph.open_lazy(source, min_file_bytes=1, min_tensor_bytes=256)
    assert lazy is not None
    with lazy:
        source.write_bytes(INCEPTION.read_bytes()[:-1])
        with pytest.raises(FileFormatError, match="changed"):
            lazy.write(lazy.loaded.graph_def, tmp_path / "out.pb")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pb"]


def test_lazy_write_of_a_changed_token_node_and_of_a_foreign_token(tmp_path):
    value = np.arange(4096, dtype=np.float32).reshape(64, 64)
    graph = graph_pb2.GraphDef()
    graph.node.extend([const_node("w", value), make_node("out", "Identity", ["w"], {"T": np.float32})])
    save_graph(graph, tmp_path / "g.pb")
    save_graph(graph, tmp_path / "h.pb")
    with lazy_graph.open_lazy(tmp_path / "g.pb", min_file_bytes=1, min_tensor_bytes=256) as lazy, \
            lazy_graph.open_lazy(tmp_path / "h.pb", min_file_bytes=1, min_tensor_bytes=256) as other:
        light = lazy.loaded.graph_def
        light.node[0].attr["value"].tensor.version_number = 3  # a layout the streamed record does not cover
        graph.node[0].attr["value"].tensor.version_number = 3
        lazy.write(light, tmp_path / "lazy.pb")
        save_graph(graph, tmp_path / "memory.pb")
        assert (tmp_path / "lazy.pb").read_bytes() == (tmp_path / "memory.pb").read_bytes()
        with pytest.raises(OutputError, match="another lazily read graph"):
            other.write(light, tmp_path / "mixed.pb")
    assert not (tmp_path / "mixed.pb").exists()
