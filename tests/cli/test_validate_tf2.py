"""gs validate / gs freeze --validate on TF2 SavedModels: the original is called eagerly through its signature."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from graphsurgeon.cli import main
from graphsurgeon.formats import tensors
from graphsurgeon.formats.model import load_graph, save_graph

TF2 = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "tf2"
# The fixtures the TF2 freezer supports whose random inputs are valid (variable_ops' indices are not:
# it is validated below with given indices).
MODELS = ["keras3_cnn", "keras3_export", "module", "lstm", "mixed"]


def _freeze(tmp_path: pathlib.Path, model: str, *extra: str) -> tuple[int, pathlib.Path]:
    out = tmp_path / f"{model}.pb"
    code = main(["freeze", "--input_saved_model_dir", str(TF2 / model), "--output_graph", str(out), *extra])
    return code, out


def _signature_outputs(model: str) -> set[str]:
    meta = load_graph(TF2 / model).meta_graph_def
    return {info.name for info in meta.signature_def["serving_default"].outputs.values()}


@pytest.mark.tf
@pytest.mark.parametrize("optimize", [False, True], ids=["plain", "optimize"])
@pytest.mark.parametrize("model", MODELS)
def test_freeze_validate_passes(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], model: str,
                                optimize: bool) -> None:
    code, _ = _freeze(tmp_path, model, "--validate", *(["--optimize"] if optimize else []))
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert "signature: serving_default (TF2 SavedModel, run eagerly)" in captured.out
    ok_line = captured.out.strip().splitlines()[-1]
    outputs = _signature_outputs(model)
    assert ok_line.startswith(f"OK: {len(outputs)} output(s) match on CPU:0"), captured.out
    # Every output of the signature was compared, under its graph tensor name.
    rows = {line.split()[0] for line in captured.out.splitlines()
            if line.split()[1:2] == ["CPU:0"] and line.split()[-1] == "ok"}
    assert rows == outputs, captured.out


def _altered(frozen: pathlib.Path, target: pathlib.Path) -> str:
    """Writes ``frozen`` with its largest float constant changed; returns that constant's name."""
    graph_def = load_graph(frozen).graph_def
    consts = [n for n in graph_def.node if n.op == "Const" and n.attr["value"].tensor.dtype == 1]
    node = max(consts, key=lambda n: tensors.tensor_to_array(n.attr["value"].tensor).size)
    value = tensors.tensor_to_array(node.attr["value"].tensor)
    node.attr["value"].tensor.CopyFrom(tensors.array_to_tensor((value * 1.5 + 0.25).astype(value.dtype)))
    save_graph(graph_def, target)
    return node.name


@pytest.mark.tf
def test_validate_reports_an_altered_constant(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, frozen = _freeze(tmp_path, "keras3_cnn")
    assert code == 0
    bad = tmp_path / "bad.pb"
    _altered(frozen, bad)
    capsys.readouterr()
    # The untouched graph passes, the altered one is a mismatch (exit 1) with a report.
    assert main(["validate", str(TF2 / "keras3_cnn"), str(frozen)]) == 0
    capsys.readouterr()
    assert main(["validate", str(TF2 / "keras3_cnn"), str(bad), "--json"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert not report["ok"] and report["signature"] == "serving_default"
    assert [(r["output"], r["ok"]) for r in report["rows"]] == [("StatefulPartitionedCall:0", False)]
    assert report["rows"][0]["max_abs"] > 1e-3
    assert "does not match the original" in captured.err
    assert main(["validate", str(TF2 / "keras3_cnn"), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH: StatefulPartitionedCall:0 on CPU:0" in out


@pytest.mark.tf
def test_validate_inputs_and_outputs_by_key_or_tensor(tmp_path: pathlib.Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, frozen = _freeze(tmp_path, "variable_ops")
    assert code == 0
    capsys.readouterr()
    # The signature key, and the tensor it maps to, name the same input; outputs likewise.
    for given in ("idx=[[1,0],[0,2]]", "serving_default_idx:0=[[1,0],[0,2]]"):
        assert main(["validate", str(TF2 / "variable_ops"), str(frozen), "--input", given, "--json",
                     "--output", "gather,StatefulPartitionedCall:4"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["ok"] and report["inputs"] == {"serving_default_idx:0": {"shape": [2, 2], "dtype": "int32",
                                                                                "random": False}}
        assert [r["output"] for r in report["rows"]] == ["StatefulPartitionedCall:0", "StatefulPartitionedCall:4"]
    # All five outputs (gathers, shape, is-initialized bool) on the given indices.
    assert main(["validate", str(TF2 / "variable_ops"), str(frozen), "--input", "idx=[[1,0],[0,2]]"]) == 0
    assert "OK: 5 output(s) match" in capsys.readouterr().out


@pytest.mark.tf
def test_validate_library_random_inputs_follow_the_signature(tmp_path: pathlib.Path) -> None:
    from graphsurgeon.validate import validate

    code, frozen = _freeze(tmp_path, "mixed")
    assert code == 0
    report = validate(TF2 / "mixed", frozen, batch=3, seed=5)
    assert report.ok, report.format()
    # x: float32 [None] -> batch; n: int32 scalar; both random, fed under the frozen graph's names.
    assert report.inputs == {"serving_default_n:0": ((), "int32"), "serving_default_x:0": ((3,), "float32")}
    assert sorted(report.random) == ["serving_default_n:0", "serving_default_x:0"]
    dtypes = {row.output: row.dtype for row in report.rows}
    assert dtypes == {"StatefulPartitionedCall:0": "string", "StatefulPartitionedCall:1": "float32"}
    given = validate(TF2 / "mixed", frozen, inputs={"x": np.array([1.0, -2.0], np.float32), "n": 2})
    assert given.ok and given.random == [] and given.inputs["serving_default_x:0"] == ((2,), "float32")


@pytest.mark.tf
def test_validate_tf2_errors(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, frozen = _freeze(tmp_path, "module")
    assert code == 0
    capsys.readouterr()
    assert main(["validate", str(TF2 / "stateful"), str(frozen), "--signature", "nope"]) == 1
    err = capsys.readouterr().err
    assert "signature 'nope' not found in the SavedModel" in err
    assert "available signatures: count, serving_default" in err
    # A graph frozen from another model holds none of this signature's outputs.
    assert main(["validate", str(TF2 / "no_variables"), str(frozen)]) == 1
    assert "holds none of the outputs of signature 'serving_default'" in capsys.readouterr().err
    assert main(["validate", str(TF2 / "module"), str(frozen), "--input", "w=[[1,2,3,4]]"]) == 1
    err = capsys.readouterr().err
    assert "input 'w:0' not found in signature 'serving_default'" in err and "x (serving_default_x:0)" in err
    assert main(["validate", str(TF2 / "module"), str(frozen), "--input", "x=[1,2,3]"]) == 1
    assert "does not fit [?,4]" in capsys.readouterr().err


@pytest.mark.tf
def test_run_original_calls_the_signature(capsys: pytest.CaptureFixture[str]) -> None:
    import tensorflow as tf

    from graphsurgeon import validate as gv

    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    want = tf.saved_model.load(str(TF2 / "module")).signatures["serving_default"](x=tf.constant(x))
    got = gv.run_original(TF2 / "module", feeds={"x": x})
    assert sorted(got) == ["StatefulPartitionedCall:0", "StatefulPartitionedCall:1", "StatefulPartitionedCall:2"]
    for key, tensor in (("total", "StatefulPartitionedCall:0"), ("y", "StatefulPartitionedCall:1"),
                        ("z", "StatefulPartitionedCall:2")):
        np.testing.assert_allclose(got[tensor], want[key].numpy(), rtol=1e-6)
    only = gv.run_original(TF2 / "module", feeds={"serving_default_x:0": x}, outputs="y")
    assert list(only) == ["StatefulPartitionedCall:1"]
    # gs run on the SavedModel directory goes the same way; a missing input names its key and tensor.
    assert main(["run", str(TF2 / "module"), "--input", "serving_default_x=[[1,2,3,4]]", "--output", "z"]) == 0
    assert capsys.readouterr().out.startswith("StatefulPartitionedCall:2  float32[4]")
    assert main(["run", str(TF2 / "module")]) == 1
    err = capsys.readouterr().err
    assert "no value for required input 'x' (serving_default_x:0, float, shape [?,4])" in err


def test_original_session_refuses_a_tf2_saved_model() -> None:
    from graphsurgeon import validate as gv
    from graphsurgeon.errors import ValidationError

    with pytest.raises(ValidationError, match="is a TF2 SavedModel: the TF1 loader cannot restore"), \
            gv.original_session(TF2 / "keras3_cnn"):
        pass
