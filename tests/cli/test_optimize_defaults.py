"""gs optimize's defaults: it keeps the initializer nodes, refuses graphs with variables, and finds the
output when there is only one; errors are one line, exit 1 and leave no output file.

The table model is the freeze fixture (tf.compat.v1.lookup.StaticHashTable + an embedding variable,
made by TensorFlow); the optimized graphs are run in TensorFlow against the fixture's expected outputs.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from graphsurgeon.cli import main
from graphsurgeon.formats.model import load_graph, save_graph
from graphsurgeon.rewrite.optimize import optimize

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
TABLE = ROOT / "tests" / "fixtures" / "freeze" / "table"
MOBILENET = ROOT / "tests" / "fixtures" / "surgery" / "mobilenet"
IMPORT = "key_value_init/LookupTableImportV2"


def _freeze(out: pathlib.Path, initializer: str = "init_all_tables") -> pathlib.Path:
    assert main(["freeze", "--input_meta_graph", str(TABLE / "model.ckpt.meta"), "--input_checkpoint",
                 str(TABLE / "model.ckpt"), "--output_node_names", "out,ids", "--initializer_nodes", initializer,
                 "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def frozen_table(tmp_path_factory) -> pathlib.Path:
    return _freeze(tmp_path_factory.mktemp("optimize_defaults") / "frozen.pb")


def _run_in_tf(path: pathlib.Path, init: list[str]) -> dict[str, np.ndarray]:
    import tensorflow as tf

    expected = np.load(TABLE / "expected.npz", allow_pickle=True)
    graph_def = tf.compat.v1.GraphDef.FromString(path.read_bytes())
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            if init:
                sess.run([graph.get_operation_by_name(n) for n in init])
            out, ids = sess.run(["out:0", "ids:0"], {"words:0": expected["in:words:0"]})
    return {"out": out, "ids": ids}


def _check_matches_fixture(got: dict[str, np.ndarray]) -> None:
    expected = np.load(TABLE / "expected.npz", allow_pickle=True)
    np.testing.assert_array_equal(got["ids"], expected["out:ids:0"])
    np.testing.assert_allclose(got["out"], expected["out:out:0"], rtol=0, atol=0)


@pytest.mark.tf
def test_optimize_keeps_init_all_tables_and_runs_in_tensorflow(frozen_table, tmp_path, capsys):
    out = tmp_path / "opt.pb"
    capsys.readouterr()
    assert main(["optimize", str(frozen_table), "--outputs", "out,ids", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "initializers init_all_tables (kept; run once after import" in text
    names = {n.name: n.op for n in load_graph(out).graph_def.node}
    assert names["init_all_tables"] == "NoOp" and names[IMPORT] == "LookupTableImportV2"
    assert names["emb"] == "Const" and "emb/read" not in names, "the passes still ran"
    _check_matches_fixture(_run_in_tf(out, ["init_all_tables"]))


@pytest.mark.tf
def test_dropping_the_initializer_is_what_breaks_tensorflow(frozen_table, tmp_path):
    """The check above can fail: optimized without initializer nodes, TensorFlow cannot run the table."""
    import tensorflow as tf

    broken = tmp_path / "broken.pb"
    save_graph(optimize(load_graph(frozen_table).graph_def, ["out", "ids"], initializer_nodes=()), broken)
    assert "init_all_tables" not in {n.name for n in load_graph(broken).graph_def.node}
    with pytest.raises(tf.errors.FailedPreconditionError, match="Table not initialized"):
        _run_in_tf(broken, [])


@pytest.mark.tf
def test_optimize_keeps_legacy_table_initializer_ops_and_named_initializers(tmp_path, capsys):
    """A freeze that kept the table's import op (no init_all_tables): optimize keeps it by default;
    --initializer-nodes keeps any other node."""
    frozen = _freeze(tmp_path / "frozen_op.pb", initializer=IMPORT)
    assert "init_all_tables" not in {n.name for n in load_graph(frozen).graph_def.node}
    out = tmp_path / "opt.pb"
    assert main(["optimize", str(frozen), "--outputs", "out,ids", "-o", str(out)]) == 0
    assert f"initializers {IMPORT}" in capsys.readouterr().out
    _check_matches_fixture(_run_in_tf(out, [IMPORT]))

    named = tmp_path / "named.pb"
    assert main(["optimize", str(frozen), "--outputs", "ids", "--initializer-nodes", "Maximum/y", "-o",
                 str(named)]) == 0
    kept = {n.name for n in load_graph(named).graph_def.node}
    assert {"Maximum/y", IMPORT} <= kept and "emb" not in kept, kept
    assert main(["optimize", str(frozen), "--outputs", "ids", "--initializer_nodes", "Maximum/z", "-o",
                 str(tmp_path / "x.pb")]) == 1
    assert "'Maximum/z'" in capsys.readouterr().err and not (tmp_path / "x.pb").exists()


@pytest.mark.parametrize("graph", [TABLE / "model.ckpt.meta", MOBILENET / "model.ckpt.meta"])
def test_optimize_refuses_variables(graph, tmp_path, capsys):
    out = tmp_path / "opt.pb"
    capsys.readouterr()
    assert main(["optimize", str(graph), "--outputs", "out", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gs: error: the graph still holds"), err
    assert "run 'gs freeze' first" in err and "Traceback" not in err
    first = next(n.name for n in load_graph(graph).graph_def.node if n.op in ("VariableV2", "VarHandleOp"))
    assert f"'{first}'" in err
    assert not out.exists() and not list(tmp_path.iterdir()), "nothing is written"


def test_optimize_refuses_variables_without_outputs_too(tmp_path, capsys):
    assert main(["optimize", str(TABLE / "model.ckpt.meta"), "-o", str(tmp_path / "opt.pb")]) == 1
    assert "'emb'" in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_optimize_defaults_to_the_only_candidate_output(tmp_path, capsys):
    frozen = tmp_path / "frozen.pb"
    assert main(["freeze", "--input_meta_graph", str(MOBILENET / "model.ckpt.meta"), "--input_checkpoint",
                 str(MOBILENET / "model.ckpt"), "--output_node_names", "output", "--bind", "keep_prob=1.0",
                 "--bind", "is_training=false", "-o", str(frozen)]) == 0
    capsys.readouterr()
    out, explicit = tmp_path / "opt.pb", tmp_path / "explicit.pb"
    assert main(["optimize", str(frozen), "-o", str(out)]) == 0
    assert "outputs output (the graph's only candidate output" in capsys.readouterr().out
    assert main(["optimize", str(frozen), "--outputs", "output", "-o", str(explicit)]) == 0
    assert out.read_bytes() == explicit.read_bytes()


def test_optimize_without_outputs_lists_several_candidates(frozen_table, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "opt.pb"
    assert main(["optimize", str(frozen_table), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "2 candidate outputs (ids, out)" in err and "--outputs" in err, err
    assert not out.exists()


def test_optimize_without_outputs_and_no_candidate(tmp_path, capsys):
    from graphsurgeon._proto import graph_pb2
    from graphsurgeon.surgery import const_node, make_node

    graph = graph_pb2.GraphDef()
    graph.node.extend([const_node("a", np.float32(1)), make_node("init", "NoOp", ["^a"])])
    save_graph(graph, tmp_path / "g.pb")
    capsys.readouterr()
    assert main(["optimize", str(tmp_path / "g.pb"), "-o", str(tmp_path / "opt.pb")]) == 1
    assert "no candidate output" in capsys.readouterr().err
    assert not (tmp_path / "opt.pb").exists()
