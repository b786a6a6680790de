"""gs validate: passes on the fixtures, fails with a clear report (exit 1) on an altered constant."""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import pytest

from graphsurgeon._proto import graph_pb2
from graphsurgeon.cli import main
from graphsurgeon.formats import tensors

VALIDATE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "validate"
MLP = VALIDATE / "mlp"
TABLE = VALIDATE / "table"


def _gs(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _altered(tmp_path: pathlib.Path, const: str = "hidden/biases", delta: float = 0.25) -> pathlib.Path:
    graph_def = graph_pb2.GraphDef.FromString((MLP / "frozen.pb").read_bytes())
    node = next(n for n in graph_def.node if n.name == const)
    value = tensors.tensor_to_array(node.attr["value"].tensor).copy()
    value[:] += delta
    node.attr["value"].tensor.CopyFrom(tensors.array_to_tensor(value))
    assert node.attr["value"].tensor.tensor_content, "the altered constant is stored as tensor_content"
    out = tmp_path / "altered.pb"
    out.write_bytes(graph_def.SerializeToString())
    return out


def test_validate_without_tensorflow_gives_install_hint(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    code, out, err = _gs(capsys, "validate", MLP / "model.ckpt.meta", MLP / "frozen.pb")
    assert code == 1 and out == ""
    assert err.startswith("gs: error:") and 'pip install "tf-graphsurgeon[tf]"' in err, err


def test_validate_bad_input_value_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _gs(capsys, "validate", MLP / "model.ckpt.meta", MLP / "frozen.pb", "--input", "is_training=0.5")
    assert code == 1 and "'is_training:0' (bool, shape [])" in err, err


@pytest.mark.tf
def test_validate_meta_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _gs(capsys, "validate", MLP / "model.ckpt.meta", MLP / "frozen.pb", "--batch", "2")
    assert code == 0, err + out
    lines = out.splitlines()
    assert lines[-1].startswith("OK: 1 output(s) match on CPU:0"), out
    assert any(line.startswith("probs:0") and line.rstrip().endswith("ok") for line in lines), out
    assert "input:    x:0 float32[2,8] (random, seed 0)" in out
    assert err == "", f"TensorFlow noise leaked: {err!r}"


@pytest.mark.tf
def test_validate_graph_and_checkpoint_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _gs(capsys, "validate", MLP / "graph.pb", MLP / "frozen.pb", "--checkpoint", MLP / "model.ckpt",
                         "--input", f"x={MLP / 'inputs.npz'}:x", "--input", "keep_prob=1.0",
                         "--output", "logits,probs", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] is True and data["devices"] == sorted(data["devices"], key=lambda d: not d.startswith("CPU"))
    assert {r["output"] for r in data["rows"]} == {"logits:0", "probs:0"}
    assert data["inputs"]["x:0"] == {"shape": [3, 8], "dtype": "float32", "random": False}
    assert data["inputs"]["keep_prob:0"]["random"] is False


@pytest.mark.tf
def test_validate_saved_model_with_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _gs(capsys, "validate", TABLE / "saved_model", TABLE / "frozen.pb", "--saved_model_tags", "serve",
                         "--output", "ids", "--output", "out", "--batch", "8")
    assert code == 0, err + out
    assert "ids:0" in out and "int64" in out and out.splitlines()[-1].startswith("OK: 2 output(s)")


@pytest.mark.tf
def test_validate_altered_constant_fails_with_report(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: pathlib.Path) -> None:
    altered = _altered(tmp_path)
    code, out, err = _gs(capsys, "validate", MLP / "model.ckpt.meta", altered, "--output", "logits",
                         "--input", f"x={MLP / 'inputs.npz'}:x")
    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith("logits:0"))
    assert "MISMATCH" in row and "of 15 differ" in row, row
    assert out.splitlines()[-1].startswith("MISMATCH: logits:0 on CPU:0"), out
    assert "does not match the original" in err, err
    code, out, _ = _gs(capsys, "validate", MLP / "model.ckpt.meta", altered, "--output", "logits", "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["rows"][0]["max_abs"] > 1e-3


@pytest.mark.tf
def test_validate_tolerance_decides(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    altered = _altered(tmp_path, const="out/biases", delta=1e-3)  # logits shift by exactly 1e-3
    code, out, _ = _gs(capsys, "validate", MLP / "model.ckpt.meta", altered, "--output", "logits")
    assert code == 1, out
    code, out, _ = _gs(capsys, "validate", MLP / "model.ckpt.meta", altered, "--output", "logits", "--atol", "2e-3")
    assert code == 0, out
    max_abs = float(next(line for line in out.splitlines() if line.startswith("logits:0")).split()[4])
    assert max_abs == pytest.approx(1e-3, rel=1e-2)


@pytest.mark.tf
def test_validate_clear_errors(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    code, _, err = _gs(capsys, "validate", MLP / "model.ckpt.meta", MLP / "frozen.pb", "--output", "logit")
    assert code == 1 and "did you mean 'logits'" in err, err
    code, _, err = _gs(capsys, "validate", MLP / "graph.pb", MLP / "frozen.pb")
    assert code == 1 and "uninitialized" in err.lower() and "--checkpoint" in err, err
    code, _, err = _gs(capsys, "validate", MLP / "model.ckpt.meta", MLP / "frozen.pb", "--checkpoint", tmp_path / "x")
    assert code == 1 and "'" + str(tmp_path / "x.index") + "' does not exist" in err, err
    np.save(tmp_path / "wrong.npy", np.zeros((2, 3), np.float32))
    code, _, err = _gs(capsys, "validate", MLP / "model.ckpt.meta", MLP / "frozen.pb",
                       "--input", f"x={tmp_path / 'wrong.npy'}")
    assert code == 1 and "'x:0' (float, shape [?,8]) has shape [2,3]" in err, err
