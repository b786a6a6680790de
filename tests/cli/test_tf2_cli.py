"""gs inspect / gs freeze on TF2 SavedModels (signatures, variables with checkpoint keys, functions)."""

from __future__ import annotations

import json
import pathlib

import pytest

from graphsurgeon.cli import main

TF2 = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "tf2"


def test_inspect_lists_signatures_variables_and_functions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(TF2 / "module")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(line.split()[:3] == ["sig_input", "serving_default", "x"] and "serving_default_x:0" in line
               for line in lines), out
    variable = next(line for line in lines if line.startswith("sm_variable") and line.split()[1] == "w")
    assert "w/.ATTRIBUTES/VARIABLE_VALUE" in variable and "[4,4]" in variable and "serving_default" in variable
    functions = [line.split()[1] for line in lines if line.startswith("sm_function")]
    assert any(f.startswith("while_body_") for f in functions), functions
    assert not any("traced_restore" in f for f in functions), "machinery functions are listed without --all"


def test_inspect_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--json", str(TF2 / "keras3_cnn")]) == 0
    data = json.loads(capsys.readouterr().out)
    keys = {v["node"]: v["key"] for v in data["saved_model"]["variables"]}
    assert keys["conv/kernel"] == "_operations/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE"
    assert any("signature_wrapper" in f["name"] for f in data["saved_model"]["functions"])


def _freeze(tmp_path: pathlib.Path, *extra: str, model: str = "module") -> tuple[int, pathlib.Path]:
    out = tmp_path / "frozen.pb"
    code = main(["freeze", "--input_saved_model_dir", str(TF2 / model), "--output_graph", str(out), *extra])
    return code, out


def test_freeze_writes_graph_and_signature_sidecar(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _freeze(tmp_path, "--print-signature")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    sidecar = json.loads(pathlib.Path(str(out) + ".signature.json").read_text())
    assert sidecar["inputs"] == {"x": "serving_default_x:0"}
    assert sidecar["outputs"] == {"total": "StatefulPartitionedCall:0", "y": "StatefulPartitionedCall:1",
                                  "z": "StatefulPartitionedCall:2"}
    assert '"serving_default_x:0"' in captured.out
    from graphsurgeon.formats.model import load_graph

    frozen = load_graph(out).graph_def
    assert not [n.name for n in frozen.node if n.op == "VarHandleOp"]


def test_freeze_output_subset_and_sidecar_path(tmp_path: pathlib.Path) -> None:
    sidecar = tmp_path / "sig.json"
    code, _ = _freeze(tmp_path, "--output_node_names", "StatefulPartitionedCall:1", "--signature-json", str(sidecar))
    assert code == 0
    assert json.loads(sidecar.read_text())["outputs"] == {"y": "StatefulPartitionedCall:1"}


def test_freeze_inline(tmp_path: pathlib.Path) -> None:
    code, out = _freeze(tmp_path, "--inline", model="keras3_cnn")
    assert code == 0
    from graphsurgeon.formats.model import load_graph

    frozen = load_graph(out).graph_def
    assert not frozen.library.function and "Conv2D" in {n.op for n in frozen.node}


@pytest.mark.parametrize(("extra", "model", "message"), [
    (["--signature", "nope"], "stateful", "signature 'nope' not found .*available signatures: count, serving_default"),
    (["--saved_model_tags", "serve,gpu"], "module", "no meta graph with tags 'gpu,serve'; available tag sets: serve"),
    (["--signature", "count"], "stateful", "uses variable 'calls' after 'AssignAddVariableOp' assigns it"),
    ([], "lookup", r"lookup table 'hash_table' \(HashTableV2\)"),
])
def test_freeze_errors(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], extra: list[str], model: str,
                       message: str) -> None:
    code, out = _freeze(tmp_path, *extra, model=model)
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("gs: error: ")
    import re

    assert re.search(message, err), err
    assert not list(tmp_path.iterdir()), "nothing is written on error"


def test_freeze_missing_variable(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A checkpoint without one of the signature's variables (here: another model's)."""
    code, out = _freeze(tmp_path, "--input_checkpoint", str(TF2 / "stateful" / "variables" / "variables"))
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("gs: error: "), err
    assert "variable 'steps' (checkpoint key 'steps/.ATTRIBUTES/VARIABLE_VALUE') is missing" in err, err
    assert not out.exists()
