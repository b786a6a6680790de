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
