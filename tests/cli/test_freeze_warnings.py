"""gs freeze warns when the frozen graph will not run for inference without help (training switches
still placeholders, a lookup table whose initializer is not kept), and --inference binds the
switches. TF-made fixtures: TF-Slim MobileNet (is_training, keep_prob), tf_keras (learning phase),
a hash table."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

from graphsurgeon.cli import main
from graphsurgeon.formats.model import load_graph

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
MOBILENET = ROOT / "tests" / "fixtures" / "surgery" / "mobilenet"
KERAS = ROOT / "tests" / "fixtures" / "freeze" / "keras_bn"
TABLE = ROOT / "tests" / "fixtures" / "freeze" / "table"


def _freeze(capsys, base: pathlib.Path, graph: str, output: str, out: pathlib.Path, *extra: str) -> tuple[str, str]:
    capsys.readouterr()
    assert main(["freeze", "--input_graph", str(base / graph), "--input_checkpoint", str(base / "model.ckpt"),
                 "--output_node_names", output, "-o", str(out), *extra]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("gs: warning:")]


def test_switches_warned_in_one_line_with_bind_suggestions(tmp_path, capsys):
    _, err = _freeze(capsys, MOBILENET, "model.ckpt.meta", "output", tmp_path / "f.pb")
    (line,) = _warnings(err)
    assert "is_training, keep_prob" in line
    assert "--bind is_training=false --bind keep_prob=1.0" in line and "--inference" in line
    _, err = _freeze(capsys, KERAS, "model.ckpt.meta", "probs/Softmax", tmp_path / "k.pb")
    (line,) = _warnings(err)
    assert "keras_learning_phase" in line and "--bind keras_learning_phase=false" in line
    # bound: no warning
    _, err = _freeze(capsys, MOBILENET, "model.ckpt.meta", "output", tmp_path / "f.pb",
                     "--bind", "is_training=false", "--bind", "keep_prob=1.0")
    assert not _warnings(err), err


def test_inference_binds_every_switch_and_says_so(tmp_path, capsys):
    out, err = _freeze(capsys, MOBILENET, "model.ckpt.meta", "output", tmp_path / "f.pb", "--inference")
    assert not _warnings(err), err
    assert re.search(r"^bound:\s+is_training = False$", out, re.MULTILINE)
    assert re.search(r"^bound:\s+keep_prob = 1.0$", out, re.MULTILINE)
    assert "--inference bound is_training = False, keep_prob = 1.0" in out
    ops = {n.name: n.op for n in load_graph(tmp_path / "f.pb").graph_def.node}
    assert ops["is_training"] == "Const" and ops["keep_prob"] == "Const"
    # an explicit --bind wins over --inference
    out, _ = _freeze(capsys, MOBILENET, "model.ckpt.meta", "output", tmp_path / "g.pb", "--inference",
                     "--bind", "keep_prob=0.5")
    assert re.search(r"^bound:\s+keep_prob = 0.5$", out, re.MULTILINE) and "--inference bound is_training = False\n" \
        in out
    # and then gs optimize can resolve the conditions
    assert main(["optimize", str(tmp_path / "f.pb"), "--outputs", "output", "-o", str(tmp_path / "o.pb")]) == 0
    assert not {"Switch", "Merge"} & {n.op for n in load_graph(tmp_path / "o.pb").graph_def.node}


def test_table_initializer_not_kept_is_warned(tmp_path, capsys):
    _, err = _freeze(capsys, TABLE, "graph.pb", "out", tmp_path / "t.pb")
    (line,) = _warnings(err)
    assert "lookup table 'hash_table'" in line and "--initializer_nodes init_all_tables" in line
    _, err = _freeze(capsys, TABLE, "graph.pb", "out", tmp_path / "t.pb", "--initializer_nodes", "init_all_tables")
    assert not _warnings(err), err


@pytest.mark.tf
def test_inference_freeze_gives_tensorflows_inference_outputs(tmp_path, capsys):
    from graphsurgeon.validate import run_graph

    _freeze(capsys, MOBILENET, "model.ckpt.meta", "output", tmp_path / "f.pb", "--inference")
    expected = np.load(MOBILENET / "expected.npz")
    got = run_graph(load_graph(tmp_path / "f.pb").graph_def, {"input:0": expected["in:input:0"]}, ["output:0"],
                    device="cpu")["output:0"]
    np.testing.assert_allclose(got, expected["out:output:0"], rtol=1e-5, atol=1e-5)


def test_freeze_optimize_binds_learning_phase_and_does_not_warn(tmp_path, capsys):
    """gs freeze --optimize binds keras_learning_phase as gs optimize does (with a note), so no switch warning."""
    out, err = _freeze(capsys, KERAS, "model.ckpt.meta", "probs/Softmax", tmp_path / "k.pb", "--optimize")
    assert "bound keras_learning_phase to false" in out, out
    assert not _warnings(err), err
    ops = {n.op for n in load_graph(tmp_path / "k.pb").graph_def.node}
    assert "Switch" not in ops and "Merge" not in ops, ops
