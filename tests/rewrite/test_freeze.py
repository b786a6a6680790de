"""freeze on the TF-made fixtures: node sets vs TensorFlow's convert_variables_to_constants, outputs in TF.

Float outputs must match the original graph (run by the fixture generator in a fresh session with its
checkpoint restored) within the fixture's ``tolerance`` (1e-6 absolute/relative for plain float32 models,
1e-5 for convolutions, batch norm and LSTMs, 1e-4 for InceptionV3); ints, bools, strings and every
``dtypes`` output exactly.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from graphsurgeon._proto import graph_pb2
from graphsurgeon.errors import (
    FileFormatError,
    InvalidGraphError,
    MismatchError,
    NodeNotFoundError,
    OutputError,
    UnsupportedError,
)
from graphsurgeon.formats.checkpoint import load_checkpoint
from graphsurgeon.formats.model import load_graph, save_graph
from graphsurgeon.graph import variables as var_lib
from graphsurgeon.graph.check import check_graph
from graphsurgeon.rewrite.bind import bind_placeholders
from graphsurgeon.rewrite.freeze import freeze
from graphsurgeon.rewrite.saved_model_v2 import SignatureFreezeResult, freeze_signature
from graphsurgeon.values import parse_bind_value

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures"
MODELS = sorted(p.parent.name for p in (FIXTURES / "freeze").glob("*/spec.json"))
STATE_OPS = var_lib.VARIABLE_OPS | var_lib.SAVER_OPS


def case(name: str) -> tuple[pathlib.Path, dict]:
    base = FIXTURES / "freeze" / name
    return base, json.loads((base / "spec.json").read_text())


def freeze_case(name: str, **kwargs):
    base, spec = case(name)
    checkpoint = base / spec["checkpoint"] if spec["checkpoint"] else None
    kwargs.setdefault("initializer_nodes", spec.get("initializer_nodes", ()))
    return freeze(base / spec["graph"], checkpoint, spec["outputs"], **kwargs)


def run_in_tf(graph_def: graph_pb2.GraphDef, fetches, feeds, initializers=(), before=None):
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        tf.import_graph_def(tf.compat.v1.GraphDef.FromString(graph_def.SerializeToString()), name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        if before is not None:
            before(tf, sess)
        for name in initializers:
            sess.run(name)
        return sess.run(list(fetches), dict(feeds))


def assert_match(spec: dict, values, expected) -> None:
    for name, value in zip(spec["outputs"], values):
        want = expected[f"out:{name}"]
        value = np.asarray(value)
        if want.dtype == object or want.dtype.kind in "biuSU" or spec["tolerance"] == 0:
            got = value.astype(want.dtype) if value.dtype != want.dtype else value
            np.testing.assert_array_equal(got, want, err_msg=f"{name} differs")
        else:
            np.testing.assert_allclose(value, want, rtol=spec["tolerance"], atol=spec["tolerance"],
                                       err_msg=f"{name} differs")


@pytest.mark.parametrize("name", MODELS)
def test_frozen_graphs_hold_no_state_and_match_tensorflows_node_set(name):
    base, spec = case(name)
    original = load_graph(base / spec["graph"]).graph_def
    before = original.SerializeToString()
    result = freeze_case(name)
    assert original.SerializeToString() == before
    ops = {n.op for n in result.graph_def.node}
    assert not ops & STATE_OPS, f"state left: {ops & STATE_OPS}"
    assert not any(var_lib.is_writer_op(op) or op.startswith("Ref") for op in ops), ops
    body_ops = {n.op for f in result.graph_def.library.function for n in f.node_def}
    assert not body_ops & {"ReadVariableOp", "ResourceGather", "AssignVariableOp"}, f"function bodies: {body_ops}"
    check_graph(result.graph_def)
    assert result.nodes_before == len(original.node) and result.nodes_after == len(result.graph_def.node)
    assert result.converted, "no variable converted"
    if spec["tf_frozen_nodes"] is not None:
        ours = sorted(n.name for n in result.graph_def.node)
        assert ours == spec["tf_frozen_nodes"], (
            f"ours-TF {sorted(set(ours) - set(spec['tf_frozen_nodes']))}, "
            f"TF-ours {sorted(set(spec['tf_frozen_nodes']) - set(ours))}")


def feeds_of(expected, skip=()) -> dict:
    """The feeds stored with a reference run (``in:<tensor>`` entries), minus bound placeholders."""
    return {k[3:]: expected[k] for k in expected.files if k.startswith("in:") and k[3:].split(":")[0] not in skip}


@pytest.mark.tf
@pytest.mark.parametrize("name", MODELS)
def test_frozen_graphs_give_the_original_outputs_in_tensorflow(name):
    base, spec = case(name)
    result = freeze_case(name, clear_devices=True)  # sharded uses /device:CPU:1, which a plain session lacks
    for file in spec["expected"]:  # the default feeds, then variants (cond flag False, BN in training mode)
        expected = np.load(base / file, allow_pickle=True)
        values = run_in_tf(result.graph_def, spec["outputs"], feeds_of(expected), spec.get("initializer_nodes", ()))
        assert_match(spec, values, expected)


@pytest.mark.tf
def test_keras_learning_phase_bound_to_false():
    base, spec = case("keras_bn")
    result = freeze_case("keras_bn", bind=spec["bind"])
    assert result.bound == {"keras_learning_phase": False}
    assert next(n for n in result.graph_def.node if n.name == "keras_learning_phase").op == "Const"
    expected = np.load(base / "expected.npz")
    assert_match(spec, run_in_tf(result.graph_def, spec["outputs"], feeds_of(expected, spec["bind"])), expected)


def test_what_freeze_reports():
    result = freeze_case("mlp")
    assert result.converted == {"hidden/weights": "hidden/weights", "hidden/biases": "hidden/biases",
                                "head/weights": "head/weights", "head/biases": "head/biases"}  # no Adam slots
    renamed = freeze_case("renamed")
    assert renamed.converted == {"a": "new/name_for_a", "b": "b_renamed", "r": "a"}
    parts = freeze_case("partitioned")
    assert parts.converted["emb/part_1"] == "emb[4:7,0:2]"
    bn = freeze_case("batchnorm_inplace")
    assert any("AssignMovingAvg" in n for n in bn.notes) and bn.dropped
    table = freeze_case("table")
    assert table.initializer_nodes == ["init_all_tables"] and any("init_all_tables" in n for n in table.notes)
    names = {n.name for n in table.graph_def.node}
    assert {"init_all_tables", "key_value_init/LookupTableImportV2", "hash_table"} <= names


def test_devices_are_kept_or_cleared():
    kept = freeze_case("multi")
    assert {n.device for n in kept.graph_def.node if n.name in ("w", "first")} == {"/device:CPU:0"}
    cleared = freeze_case("multi", clear_devices=True)
    assert {n.device for n in cleared.graph_def.node} == {""}
    controls = {i for n in cleared.graph_def.node for i in n.input if i.startswith("^")}
    assert {"^second", "^check"} <= controls, f"control dependencies between outputs stay: {controls}"


def test_bad_cases_are_clear_errors():
    base, spec = case("mlp")
    with pytest.raises(NodeNotFoundError, match="output 'prob' not found.*did you mean 'probs'"):
        freeze(base / "graph.pb", base / "model.ckpt", "prob")
    with pytest.raises(MismatchError, match="variable 'head/biases' .* is not in checkpoint '.*bad/missing"):
        freeze(base / "graph.pb", FIXTURES / "freeze" / "bad" / "missing" / "model.ckpt", "probs")
    with pytest.raises(MismatchError, match=r"head/biases.*shape \[3\] .* has shape \[5\]"):
        freeze(base / "graph.pb", FIXTURES / "freeze" / "bad" / "shape" / "model.ckpt", "probs")
    with pytest.raises(NodeNotFoundError, match="initializer node 'init_all_table'"):
        freeze(base / "graph.pb", base / "model.ckpt", "probs", initializer_nodes="init_all_table")
    with pytest.raises(NodeNotFoundError, match="variable 'head/bias' not found.*did you mean 'head/biases'"):
        freeze(base / "graph.pb", base / "model.ckpt", "probs", blacklist="head/bias")
    with pytest.raises(FileFormatError, match="no checkpoint given"):
        freeze(base / "graph.pb", None, "probs")
    with pytest.raises(Exception, match="at least one output"):
        freeze(base / "graph.pb", base / "model.ckpt", "")


def test_blacklist_and_whitelist():
    result = freeze_case("mlp", blacklist="head/biases")
    assert result.kept_variables == ["head/biases"] and "head/biases" not in result.converted
    nodes = {n.name: n for n in result.graph_def.node}
    assert nodes["head/biases"].op == "VariableV2" and nodes["head/weights"].op == "Const"
    only = freeze_case("mlp", whitelist=["hidden/weights"])
    assert list(only.converted) == ["hidden/weights"]
    assert sorted(only.kept_variables) == ["head/biases", "head/weights", "hidden/biases"]


@pytest.mark.tf
def test_blacklisted_variable_still_runs_in_tensorflow():
    base, spec = case("mlp")
    result = freeze_case("mlp", blacklist="head/biases")
    expected = np.load(base / "expected.npz")
    value = load_checkpoint(base / "model.ckpt")["head/biases"]

    def restore(tf, sess):
        sess.run(tf.compat.v1.assign(sess.graph.get_tensor_by_name("head/biases:0"), value))

    values = run_in_tf(result.graph_def, spec["outputs"], feeds_of(expected), before=restore)
    assert_match(spec, values, expected)


def test_bind_placeholders():
    base, _ = case("batchnorm_inplace")
    graph_def = load_graph(base / "graph.pb").graph_def
    bound, used = bind_placeholders(graph_def, {"is_training:0": False})
    node = next(n for n in bound.node if n.name == "is_training")
    assert node.op == "Const" and not node.input and used == {"is_training": False}
    assert next(n for n in graph_def.node if n.name == "is_training").op == "PlaceholderWithDefault"
    with pytest.raises(MismatchError, match="placeholder 'is_training' \\(bool\\[\\]\\) to 'maybe'"):
        bind_placeholders(graph_def, {"is_training": "maybe"})
    with pytest.raises(MismatchError, match="expected true or false"):
        bind_placeholders(graph_def, {"is_training": 2})
    with pytest.raises(MismatchError, match=r"of shape \[2\]"):
        bind_placeholders(graph_def, {"is_training": [True, False]})
    with pytest.raises(MismatchError, match=r"x' \(float\[-1, 8, 8, 3\]\) to a value of shape \[8, 8, 3\]"):
        bind_placeholders(graph_def, {"x": np.zeros((8, 8, 3))})
    with pytest.raises(MismatchError, match="cannot bind 'BatchNorm/beta': it is a VariableV2, not a placeholder"):
        bind_placeholders(graph_def, {"BatchNorm/beta": 1.0})
    with pytest.raises(NodeNotFoundError, match="placeholder 'is_trainin' not found.*'is_training'"):
        bind_placeholders(graph_def, {"is_trainin": False})
    base, _ = case("resource")
    ids = load_graph(base / "graph.pb").graph_def
    with pytest.raises(MismatchError, match="not an integer"):
        bind_placeholders(ids, {"ids": [1.5]})
    bound, used = bind_placeholders(ids, {"ids": [1, 2]})
    assert used == {"ids": [1, 2]}
    assert parse_bind_value("false") is False and parse_bind_value("TRUE") is True
    assert parse_bind_value("1.0") == 1.0 and parse_bind_value("[1, 2]") == [1, 2]
    assert parse_bind_value("hello") == "hello"
    # the same reader as gs run --input: special floats and Python-style booleans, in lists too
    assert parse_bind_value("[True, False]") == [True, False] and parse_bind_value("-inf") == -np.inf
    assert np.isnan(parse_bind_value("nan")) and parse_bind_value('["nan", "inf"]') == ["nan", "inf"]


@pytest.mark.tf
def test_bound_training_switch_runs_in_tensorflow():
    base, spec = case("batchnorm_inplace")
    result = freeze_case("batchnorm_inplace", bind={"is_training": False})
    assert "is_training" in result.bound
    expected = np.load(base / "expected.npz")
    values = run_in_tf(result.graph_def, spec["outputs"], feeds_of(expected, ["is_training"]))
    assert_match(spec, values, expected)


def test_already_frozen_graph_and_tf2_saved_model():
    frozen = freeze_case("mlp").graph_def
    again = freeze(frozen, {}, ["probs"])
    assert any("already frozen" in n for n in again.notes)
    assert sorted(n.name for n in again.graph_def.node) == sorted(n.name for n in frozen.node if n.name != "topk"
                                                                   and n.name != "topk/k")
    tf2 = FIXTURES / "tf2" / "module"
    # freeze owns TF1 and TF2 alike: a TF2 SavedModel is frozen through its signature
    result = freeze(tf2, None, ["total"], clear_devices=True)
    want = freeze_signature(tf2, outputs=["total"])
    assert isinstance(result, SignatureFreezeResult) and result.outputs == want.outputs
    assert all(not n.device for n in result.graph_def.node)
    for node in want.graph_def.node:
        node.device = ""
    assert result.graph_def.SerializeToString(deterministic=True) == \
        want.graph_def.SerializeToString(deterministic=True)
    with pytest.raises(UnsupportedError, match="TF2 SavedModel: bind apply only to TF1"):
        freeze(tf2, None, ["total"], bind={"x": 1.0})


@pytest.fixture(scope="module")
def inception(tmp_path_factory):
    """Made by the generator in a subprocess: building it switches TensorFlow to v1 behaviour process-wide."""
    # TF-Slim builds the model; .ci/run installs it (tf-slim, tf-keras --no-deps), plain `pip install .[test,tf]` not.
    for package in ("tf_slim", "tf_keras"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed (see .ci/run)")
    out = tmp_path_factory.mktemp("fixtures")
    done = subprocess.run([sys.executable, str(FIXTURES / "make_freeze_fixtures.py"), "--only", "inception_v3",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out / "inception_v3"


@pytest.mark.tf
@pytest.mark.parametrize("bind", [False, True])
def test_inception_v3_classic_workflow(inception, bind):
    spec = json.loads((inception / "spec.json").read_text())
    binds = spec["bind"] if bind else None
    result = freeze(inception / "model.ckpt-10000.meta", None, spec["outputs"], bind=binds)
    assert not {n.op for n in result.graph_def.node} & STATE_OPS
    assert len(result.converted) > 300 and result.nodes_after < result.nodes_before / 2
    expected = np.load(inception / "expected.npz")
    assert_match(spec, run_in_tf(result.graph_def, spec["outputs"], feeds_of(expected, binds or ())), expected)
    if bind:
        assert {"keep_prob", "is_training"} <= {n.name for n in result.graph_def.node if n.op == "Const"}


def test_a_table_read_from_a_file_is_noted():
    graph_def = graph_pb2.GraphDef()
    graph_def.node.add(name="table", op="HashTableV2")
    path = graph_def.node.add(name="vocab", op="Const")
    path.attr["value"].tensor.string_val.append(b"/abs/vocab.txt")
    graph_def.node.add(name="init", op="InitializeTableFromTextFileV2", input=["table", "vocab"])
    graph_def.node.add(name="words", op="Placeholder")
    graph_def.node.add(name="default", op="Const")
    graph_def.node.add(name="ids", op="LookupTableFindV2", input=["table", "words", "default"])
    result = freeze(graph_def, {}, ["ids"], initializer_nodes=["init"])
    assert any("'init' reads '/abs/vocab.txt' when run" in note for note in result.notes), result.notes


def test_hollow_constants_only_reach_a_file_through_the_streaming_writer(tmp_path):
    deferred = freeze_case("mlp", defer_values=True)
    whole = freeze_case("mlp")
    assert deferred.deferred, "the mlp's weights can be streamed"
    hollow = [n.name for n in deferred.graph_def.node if n.name in deferred.deferred]
    with pytest.raises(OutputError, match="hollow constants from freeze.*defer_values=True.*streaming writer"):
        save_graph(deferred.graph_def, tmp_path / "bad.pb")
    with pytest.raises(OutputError, match="only the binary streaming writer"):
        deferred.write(tmp_path / "bad.pbtxt", text=True)
    assert not list(tmp_path.iterdir()), "nothing may be written"
    with pytest.raises(InvalidGraphError, match=f"'{hollow[0]}'.*shape but no values"):
        check_graph(deferred.graph_def)
    check_graph(deferred.graph_def, allow_hollow=hollow)
    assert deferred.write(tmp_path / "f.pb") == whole.write(tmp_path / "g.pb")
    assert (tmp_path / "f.pb").read_bytes() == (tmp_path / "g.pb").read_bytes() == \
        whole.graph_def.SerializeToString(deterministic=True)
    whole.write(tmp_path / "g.pbtxt", text=True)
    assert load_graph(tmp_path / "g.pbtxt").graph_def == whole.graph_def
