"""gs freeze with TensorFlow freeze_graph's flags, and gs constify (in-process)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from graphsurgeon.cli import main
from graphsurgeon.formats.model import load_graph
from graphsurgeon.graph import variables as var_lib

FREEZE = pathlib.Path(__file__).parent.parent / "fixtures" / "freeze"
MLP = FREEZE / "mlp"
STATE_OPS = var_lib.VARIABLE_OPS | var_lib.SAVER_OPS


def gs(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def frozen_ops(path: pathlib.Path) -> set[str]:
    return {n.op for n in load_graph(path).graph_def.node}


def test_checkpoint_alone_uses_its_meta(tmp_path, capsys):
    out_path = tmp_path / "frozen.pb"
    code, out, err = gs(capsys, "freeze", "--input_checkpoint", FREEZE / "meta_only" / "model.ckpt-5",
                        "--output_node_names", "out", "--output_graph", out_path)
    assert code == 0, err
    assert "model.ckpt-5.meta (MetaGraphDef)" in out and "converted:  2 variable(s)" in out, out
    assert "nodes:      44 -> 10" in out and f"wrote:      {out_path}" in out, out
    assert not frozen_ops(out_path) & STATE_OPS


def test_snake_and_kebab_spellings_and_freeze_graph_values(tmp_path, capsys):
    snake, kebab = tmp_path / "snake.pb", tmp_path / "kebab.pb"
    code, _, err = gs(capsys, "freeze", "--input_graph=" + str(MLP / "graph.pbtxt"), "--input_binary=false",
                      "--input_checkpoint=" + str(MLP / "model.ckpt"), "--output_node_names=probs,topk",
                      "--output_graph=" + str(snake), "--restore_op_name=save/restore_all",
                      "--filename_tensor_name=save/Const:0", "--checkpoint_version=2", "--clear_devices=true")
    assert code == 0, err
    for flag in ("input_binary", "restore_op_name", "filename_tensor_name", "checkpoint_version"):
        assert f"--{flag} is accepted for compatibility and ignored" in err, err
    code, _, err = gs(capsys, "freeze", "--input-graph", MLP / "graph.pb", "--input-binary",
                      "--input-checkpoint", MLP / "model.ckpt", "--output-node-names", "probs",
                      "--output-node-names", "topk", "--output-graph", kebab, "--clear-devices")
    assert code == 0, err
    assert snake.read_bytes() == kebab.read_bytes(), "text and binary inputs, both spellings: the same frozen graph"


@pytest.mark.parametrize("flags, kept", [([], False), (["--clear_devices=false"], True), (["--clear_devices=0"], True),
                                          (["--noclear_devices"], True), (["--clear_devices"], False),
                                          (["--clear-devices", "FALSE"], True)])
def test_clear_devices_defaults_to_true_like_freeze_graph(tmp_path, capsys, flags, kept):
    out_path = tmp_path / "f.pb"
    code, _, err = gs(capsys, "freeze", "--input_graph", FREEZE / "multi" / "graph.pb", "--input_checkpoint",
                      FREEZE / "multi" / "model.ckpt", "--output_node_names", "second,third", "--output_graph",
                      out_path, *flags)
    assert code == 0, err
    devices = {n.device for n in load_graph(out_path).graph_def.node}
    assert ("/device:CPU:0" in devices) == kept, devices


def test_bad_boolean_is_a_usage_error(tmp_path, capsys):
    code, _, err = gs(capsys, "freeze", "--input_graph", MLP / "graph.pb", "--clear_devices=maybe", "-o",
                      tmp_path / "f.pb")
    assert code == 2 and "expected true or false" in err


def test_meta_graph_saved_model_saver_file_and_text_output(tmp_path, capsys):
    code, _, err = gs(capsys, "freeze", "--input_meta_graph", MLP / "model.ckpt.meta", "--input_checkpoint",
                      MLP / "model.ckpt", "--output_node_names", "probs", "--output_graph", tmp_path / "a.pb")
    assert code == 0, err
    text_path = tmp_path / "b.pbtxt"
    code, out, err = gs(capsys, "freeze", "--input_saved_model_dir", FREEZE / "saved_model_v1" / "saved_model",
                        "--saved_model_tags", "serve", "--output_node_names", "y", "--output_graph", text_path,
                        "--output-text")
    assert code == 0, err
    assert "variables/variables" in out and text_path.read_text().startswith("node {")
    saver = tmp_path / "saver.pb"
    saver.write_bytes(load_graph(MLP / "model.ckpt.meta").meta_graph_def.saver_def.SerializeToString())
    code, _, err = gs(capsys, "freeze", "--input_graph", MLP / "graph.pb", "--input_saver", saver,
                      "--input_checkpoint", MLP / "model.ckpt", "--output_node_names", "probs",
                      "--output_graph", tmp_path / "c.pb")
    assert code == 0, err
    from_meta, from_saver = (load_graph(tmp_path / f).graph_def for f in ("a.pb", "c.pb"))
    consts = [{n.name: n.attr["value"].SerializeToString() for n in g.node if n.op == "Const"}
              for g in (from_meta, from_saver)]
    assert consts[0] == consts[1] and [n.name for n in from_meta.node] == [n.name for n in from_saver.node]


def test_initializers_lists_and_bind(tmp_path, capsys):
    code, out, err = gs(capsys, "freeze", "--input_graph", FREEZE / "table" / "graph.pb", "--input_checkpoint",
                        FREEZE / "table" / "model.ckpt", "--output_node_names", "out", "--initializer_nodes",
                        "init_all_tables", "--output_graph", tmp_path / "t.pb")
    assert code == 0, err
    assert "initializers: init_all_tables (run once after import)" in out
    assert "init_all_tables" in {n.name for n in load_graph(tmp_path / "t.pb").graph_def.node}
    code, out, err = gs(capsys, "freeze", "--input_graph", MLP / "graph.pb", "--input_checkpoint", MLP / "model.ckpt",
                        "--output_node_names", "probs", "--variable_names_blacklist", "head/biases",
                        "--output_graph", tmp_path / "b.pb")
    assert code == 0 and "kept:       1 variable(s): head/biases" in out and "converted:  3" in out, out + err
    code, out, err = gs(capsys, "freeze", "--input_graph", MLP / "graph.pb", "--input_checkpoint", MLP / "model.ckpt",
                        "--output_node_names", "probs", "--variable-names-whitelist", "head/biases,head/weights",
                        "--variable_names_denylist", "head/weights", "--output_graph", tmp_path / "w.pb")
    assert code == 0 and "converted:  1 variable(s)" in out and "kept:       3" in out, out + err
    code, out, err = gs(capsys, "freeze", "--input_graph", FREEZE / "batchnorm_inplace" / "graph.pb",
                        "--input_checkpoint", FREEZE / "batchnorm_inplace" / "model.ckpt", "--output_node_names",
                        "out", "--bind", "is_training=false", "--output_graph", tmp_path / "bn.pb")
    assert code == 0 and "bound:      is_training = False" in out, out + err
    assert "note:       dropped 2 node(s) that update frozen variables" in out


@pytest.mark.parametrize("argv, message", [
    (["--output_node_names", "prob"], "output 'prob' not found in the graph; did you mean 'probs'?"),
    (["--output_node_names", "probs", "--input_checkpoint", FREEZE / "bad" / "missing" / "model.ckpt"],
     "variable 'head/biases' (VariableV2 float[3]) (key 'head/biases' from Saver 'save/SaveV2') is not in checkpoint"),
    (["--output_node_names", "probs", "--input_checkpoint", FREEZE / "bad" / "shape" / "model.ckpt"],
     "has shape [5]"),
    (["--output_node_names", "probs", "--bind", "is_training"], "--bind 'is_training': expected NAME=VALUE"),
    (["--output_node_names", "probs", "--bind", "x=1"], "cannot bind placeholder 'x' (float[-1, 4])"),
    ([], "no outputs given"),
])
def test_errors_exit_1_and_write_nothing(tmp_path, capsys, argv, message):
    out_path = tmp_path / "frozen.pb"
    base = ["freeze", "--input_graph", MLP / "graph.pb", "--output_graph", out_path]
    if "--input_checkpoint" not in argv:
        base += ["--input_checkpoint", MLP / "model.ckpt"]
    code, _, err = gs(capsys, *base, *argv)
    assert code == 1 and err.startswith("gs: error: ") and message in err, err
    assert not out_path.exists() and not list(tmp_path.iterdir()), "nothing may be written"


def test_missing_inputs_and_overwriting_the_input(tmp_path, capsys):
    code, _, err = gs(capsys, "freeze", "--output_node_names", "probs", "--output_graph", tmp_path / "f.pb")
    assert code == 1 and "no graph given" in err
    code, _, err = gs(capsys, "freeze", "--input_graph", MLP / "graph.pb", "--input_checkpoint", MLP / "model.ckpt",
                      "--output_node_names", "probs")
    assert code == 1 and "--output_graph" in err
    code, _, err = gs(capsys, "freeze", "--input_graph", MLP / "graph.pb", "--output_node_names", "probs",
                      "--output_graph", tmp_path / "f.pb")
    assert code == 1 and "no checkpoint given" in err
    code, _, err = gs(capsys, "freeze", "--input_checkpoint", MLP / "model.ckpt", "--input_graph", MLP / "graph.pb",
                      "--output_node_names", "probs", "--output_graph", MLP / "graph.pb")
    assert code == 1 and "gs: error:" in err
    assert load_graph(MLP / "graph.pb").graph_def.node, "the input graph is intact"


def test_constify_keeps_the_graph_and_the_saver(tmp_path, capsys):
    out_path = tmp_path / "c.pb"
    code, out, err = gs(capsys, "constify", FREEZE / "resource" / "graph.pb", "--checkpoint",
                        FREEZE / "resource" / "model.ckpt", "-o", out_path)
    assert code == 0, err
    assert "converted:  4 variable(s)" in out and "nodes:      89 -> 81" in out, out
    ops = frozen_ops(out_path)
    assert "SaveV2" in ops and not ops & var_lib.VARIABLE_OPS and "ReadVariableOp" not in ops
    code, out, err = gs(capsys, "constify", MLP / "model.ckpt.meta", "-o", tmp_path / "m.pbtxt", "--text",
                        "--blacklist", "global_step")
    assert code == 0 and "kept:       1 variable(s): global_step" in out, out + err
    code, _, err = gs(capsys, "constify", MLP / "graph.pb", "--checkpoint", FREEZE / "bad" / "shape" / "model.ckpt",
                      "-o", tmp_path / "bad.pb")
    assert code == 1 and "has shape [5]" in err and not (tmp_path / "bad.pb").exists()


@pytest.mark.tf
def test_validate_after_freezing(tmp_path, capsys):
    code, out, err = gs(capsys, "freeze", "--input_checkpoint", MLP / "model.ckpt", "--output_node_names",
                        "probs,topk:1", "--output_graph", tmp_path / "f.pb", "--validate")
    assert code == 0, out + err
    assert "OK: 2 output(s) match" in out, out
    code, out, err = gs(capsys, "freeze", "--input_saved_model_dir", FREEZE / "saved_model_v1" / "saved_model",
                        "--output_node_names", "y", "--output_graph", tmp_path / "s.pb", "--validate")
    assert code == 0 and "OK: 1 output(s) match" in out, out + err
    code, out, err = gs(capsys, "freeze", "--input_checkpoint", FREEZE / "keras_bn" / "model.ckpt",
                        "--output_node_names", "probs/Softmax", "--bind", "keras_learning_phase=false",
                        "--output_graph", tmp_path / "k.pb", "--validate")
    # the binding is reported as gs validate reports it, not as an input the user gave
    assert code == 0 and "keras_learning_phase:0 bool[] (= false, bound in the frozen graph)" in out, out + err
    assert "(given)" not in out and "OK: 1 output(s)" in out, out + err


@pytest.mark.tf
def test_frozen_file_runs_in_tensorflow(tmp_path, capsys):
    import tensorflow as tf

    out_path = tmp_path / "f.pb"
    code, _, err = gs(capsys, "freeze", "--input_graph", FREEZE / "lstm_resource" / "graph.pb", "--input_checkpoint",
                      FREEZE / "lstm_resource" / "model.ckpt", "--output_node_names", "final_h,loop_out",
                      "--output_graph", out_path)
    assert code == 0, err
    expected = np.load(FREEZE / "lstm_resource" / "expected.npz")
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(tf.compat.v1.GraphDef.FromString(out_path.read_bytes()), name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        h, loop = sess.run(["final_h:0", "loop_out:0"], {"x:0": expected["in:x:0"], "lens:0": expected["in:lens:0"]})
    np.testing.assert_allclose(h, expected["out:final_h:0"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loop, expected["out:loop_out:0"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("form", ["model.ckpt", "model.ckpt.index", "model.ckpt.data-00000-of-00001", ".",
                                  "checkpoint"])
def test_checkpoint_path_forms(tmp_path, capsys, form):
    code, out, err = gs(capsys, "freeze", "--input_graph", MLP / "graph.pb", "--input_checkpoint", MLP / form,
                        "--output_node_names", "probs", "--output_graph", tmp_path / "f.pb")
    assert code == 0, err
    assert f"checkpoint: {MLP / 'model.ckpt'}\n" in out, out


def test_an_already_frozen_graph_is_pruned(tmp_path, capsys):
    first, second = tmp_path / "f.pb", tmp_path / "g.pb"
    assert gs(capsys, "freeze", "--input_checkpoint", MLP / "model.ckpt", "--output_node_names", "probs,topk",
              "--output_graph", first)[0] == 0
    code, out, err = gs(capsys, "freeze", "--input_graph", first, "--output_node_names", "probs",
                        "--output_graph", second)
    assert code == 0, err
    assert "already frozen" in out and "converted:  0 variable(s)" in out, out
    assert "topk" not in {n.name for n in load_graph(second).graph_def.node}


def test_bind_reads_values_as_gs_run_does(tmp_path, capsys):
    """--bind and gs run --input share one value reader: nan, inf and Python-style lists work for both."""
    out_path = tmp_path / "frozen.pb"
    code, out, err = gs(capsys, "freeze", "--input_graph", MLP / "graph.pb", "--input_checkpoint", MLP / "model.ckpt",
                        "--output_node_names", "probs", "--output_graph", out_path, "--bind", "x=[[nan, -inf, 1, 2]]")
    assert code == 0, err
    assert "bound:      x = [[nan, -inf, 1.0, 2.0]]" in out
    x = next(n for n in load_graph(out_path).graph_def.node if n.name == "x")
    assert x.op == "Const"
    from graphsurgeon.formats.tensors import tensor_to_array

    value = tensor_to_array(x.attr["value"].tensor)
    assert np.isnan(value[0, 0]) and value[0, 1] == -np.inf and value[0, 2:].tolist() == [1.0, 2.0]


def test_output_flags_are_spelled_alike_and_pbtxt_means_text(tmp_path, capsys):
    """-o/--output, --text (--output-text) and --binary work for every command that writes a graph;
    a .pbtxt name is written as text unless --binary says otherwise."""
    graph, ckpt = MLP / "graph.pb", MLP / "model.ckpt"
    runs = {
        "freeze": ["freeze", "--input_graph", graph, "--input_checkpoint", ckpt, "--outputs", "probs"],
        "constify": ["constify", graph, "--checkpoint", ckpt],
        "prune": ["prune", graph, "--outputs", "probs"],
        "optimize": ["optimize", MLP / "frozen_for_test.pb", "--outputs", "probs"],
    }
    code, _, err = gs(capsys, "freeze", "--input_graph", graph, "--input_checkpoint", ckpt,
                      "--output_node_names", "probs", "--output_graph", tmp_path / "frozen.pb")
    assert code == 0, err
    runs["optimize"][1] = tmp_path / "frozen.pb"
    for command, argv in runs.items():
        for name, extra, text in [("a.pbtxt", [], True), ("b.pb", [], False), ("c.pb", ["--text"], True),
                                  ("d.pb", ["--output-text"], True), ("e.pbtxt", ["--binary"], False)]:
            out = tmp_path / f"{command}-{name}"
            code, _, err = gs(capsys, *argv, "--output", out, *extra)
            assert code == 0, (command, name, err)
            loaded = load_graph(out)
            assert loaded.text is text, (command, name)
        code, _, err = gs(capsys, *argv, "-o", tmp_path / f"{command}-f.pb")
        assert code == 0 and not load_graph(tmp_path / f"{command}-f.pb").text, (command, err)
