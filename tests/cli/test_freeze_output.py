"""What gs freeze prints: one summary line for the converted variables (the list with -v), and no
note a user cannot act on."""

from __future__ import annotations

import json
import pathlib
import re

import pytest

from graphsurgeon.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def _freeze_keras(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    base = FIXTURES / "freeze" / "keras_bn"
    spec = json.loads((base / "spec.json").read_text())
    capsys.readouterr()
    assert main([*extra, "freeze", "--input_meta_graph", str(base / "model.ckpt.meta"), "--input_checkpoint",
                 str(base / "model.ckpt"), "--output_node_names", spec["outputs"][0].split(":")[0],
                 "--bind", "keras_learning_phase=false", "-o", str(tmp_path / "frozen.pb")]) == 0
    return capsys.readouterr().out


def test_converted_variables_listed_only_with_verbose(tmp_path, capsys):
    out = _freeze_keras(tmp_path, capsys)
    converted = re.search(r"^converted:\s+(\d+) variable\(s\) to constants \(gs -v freeze \.\.\. lists them\)$",
                          out, re.MULTILINE)
    assert converted and int(converted.group(1)) >= 6, out
    assert not re.search(r"^  \S", out, re.MULTILINE), out  # no per-variable lines
    verbose = _freeze_keras(tmp_path, capsys, "-v")
    listed = re.findall(r"^  (\S+)", verbose, re.MULTILINE)
    assert len(listed) == int(converted.group(1)) and "conv/kernel" in listed, verbose


def test_keras3_export_freeze_has_no_duplicate_key_note(tmp_path, capsys):
    capsys.readouterr()
    assert main(["freeze", "--input_saved_model_dir", str(FIXTURES / "tf2" / "keras3_export"),
                 "--output_graph", str(tmp_path / "frozen.pb")]) == 0
    out = capsys.readouterr().out
    assert "two checkpoint keys" not in out and re.search(r"^converted:\s+\d+ variable", out, re.MULTILINE), out
