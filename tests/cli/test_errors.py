"""Every user error reaches the CLI as one line `gs: error: ...` naming the file and the problem, exit 1."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

from graphsurgeon._proto import saved_model_pb2
from graphsurgeon.cli import main

GRAPHS = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "graphs"


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 1, f"exit {code}; stderr: {captured.err}"
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gs: error: "), captured.err
    assert captured.out == ""
    return lines[0]


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    msg = _error(capsys, "inspect", str(tmp_path / "frozen_model.pb"))
    assert f"'{tmp_path / 'frozen_model.pb'}' does not exist" in msg


def test_directory_without_a_model(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    (tmp_path / "README.md").write_text("hi")
    msg = _error(capsys, "inspect", str(tmp_path))
    assert f"directory '{tmp_path}' holds no saved_model.pb or saved_model.pbtxt" in msg
    assert "README.md" in msg


def test_empty_file(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    path = tmp_path / "model.pb"
    path.write_bytes(b"")
    msg = _error(capsys, "inspect", str(path))
    assert f"'{path}' is empty" in msg


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x08\x02",
                                     bytes(range(255, -1, -1)) * 8])
def test_file_that_is_not_a_protobuf(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path,
                                     content: bytes) -> None:
    path = tmp_path / "model.pb"
    path.write_bytes(content)
    msg = _error(capsys, "inspect", str(path))
    assert f"'{path}' is not a GraphDef, MetaGraphDef or SavedModel protobuf" in msg


def test_text_file_that_is_not_a_graph(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    notes = tmp_path / "notes.pbtxt"
    notes.write_text("These are my notes about the model.\nOutputs: probs\n")
    assert f"'{notes}' is a text file, not a TensorFlow graph" in _error(capsys, "inspect", str(notes))
    state = tmp_path / "state.pbtxt"
    state.write_text('model_checkpoint_path: "model.ckpt-5"\n')
    msg = _error(capsys, "inspect", str(state))
    assert f"'{state}' is a protobuf text file but not a GraphDef" in msg and "model_checkpoint_path" in msg


def test_text_graph_with_a_typo(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    path = tmp_path / "graph.pbtxt"
    path.write_text('node {\n  name: "a"\n  opp: "Const"\n}\n')
    msg = _error(capsys, "inspect", str(path))
    assert str(path) in msg and "opp" in msg and "3:" in msg


def test_saved_model_without_the_asked_tags(capsys: pytest.CaptureFixture[str]) -> None:
    msg = _error(capsys, "inspect", str(GRAPHS / "saved_model_tf1"), "--tags", "tpu")
    assert str(GRAPHS / "saved_model_tf1") in msg
    assert "no meta graph with tags 'tpu'" in msg and "available tag sets: serve; train,gpu" in msg


def test_saved_model_without_meta_graphs(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    (tmp_path / "saved_model.pb").write_bytes(saved_model_pb2.SavedModel(saved_model_schema_version=1)
                                              .SerializeToString())
    msg = _error(capsys, "inspect", str(tmp_path))
    assert f"'{tmp_path}' holds no meta graphs" in msg


def test_chunked_saved_model(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    (tmp_path / "saved_model.cpb").write_bytes(b"\x00")
    msg = _error(capsys, "inspect", str(tmp_path))
    assert "chunked SavedModel" in msg and str(tmp_path) in msg


def test_truncated_graph(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    path = tmp_path / "cut.pb"
    data = (GRAPHS / "cnn_bn.pb").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    msg = _error(capsys, "inspect", str(path))
    assert f"'{path}'" in msg


def test_unknown_node(capsys: pytest.CaptureFixture[str]) -> None:
    msg = _error(capsys, "inspect", str(GRAPHS / "mlp.pb"), "--tensor", "logit")
    assert "node 'logit' not found" in msg and "did you mean 'head/logits'" in msg
    msg = _error(capsys, "inspect", str(GRAPHS / "mlp.pb"), "--outputs", "probs", "--why", "hiden/weights")
    assert "'hiden/weights'" in msg and "hidden/weights" in msg


def test_why_needs_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    msg = _error(capsys, "inspect", str(GRAPHS / "mlp.pb"), "--why", "hidden/weights")
    assert "--why NODE and --outputs A,B go together" in msg


@pytest.mark.parametrize("argv", [[], ["inspect"], ["inspect", "a.pb", "--bogus"], ["nosuchcommand"]])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err


def test_real_process_has_no_traceback(tmp_path: pathlib.Path) -> None:
    shutil.copyfile(GRAPHS / "mlp.pbtxt", tmp_path / "g.pbtxt")
    (tmp_path / "g.pbtxt").write_text("garbage: [\n")
    result = subprocess.run([sys.executable, "-m", "graphsurgeon", "inspect", str(tmp_path / "g.pbtxt")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result
    assert result.stderr.startswith("gs: error: ") and "Traceback" not in result.stderr
    assert str(tmp_path / "g.pbtxt") in result.stderr
