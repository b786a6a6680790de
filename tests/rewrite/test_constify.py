"""constify: variables -> Consts, ref / resource consumers rewritten (tiny graphs, then every TF fixture in TF)."""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import pytest

from graphsurgeon._proto import graph_pb2, types_pb2
from graphsurgeon.errors import NodeNotFoundError, UnsupportedError
from graphsurgeon.formats.model import load_graph
from graphsurgeon.formats.tensors import shape_to_proto, tensor_to_array
from graphsurgeon.graph.check import check_graph
from graphsurgeon.rewrite.constify import constify, convert_variables

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from builders import complete  # noqa: E402  (tests/builders.py)

DT = types_pb2.DataType
FLOAT = DT.DT_FLOAT
RES = DT.DT_RESOURCE
FIXTURE_NAMES = ["mlp", "meta_only", "batchnorm_inplace", "batchnorm_update_ops", "batchnorm_resource", "keras_bn",
                 "keras_rnn",
                 "resource", "lstm_ref", "lstm_resource", "control_flow_v2", "partitioned", "sharded", "renamed",
                 "dtypes", "table", "multi", "saved_model_v1"]


def make(*nodes: tuple) -> graph_pb2.GraphDef:
    """(name, op, [inputs], {attr: value}) -> GraphDef; ints are types, tuples shapes, bools/other ints via i/b."""
    graph_def = graph_pb2.GraphDef()
    for spec in nodes:
        name, op, inputs = spec[:3]
        node = graph_def.node.add(name=name, op=op, input=inputs)
        for key, value in (spec[3] if len(spec) > 3 else {}).items():
            if key == "shape":
                node.attr[key].shape.CopyFrom(shape_to_proto(value))
            elif key == "_output_shapes":
                node.attr[key].list.shape.extend(shape_to_proto(s) for s in value)
            elif key in ("batch_dims",):
                node.attr[key].i = value
            elif key in ("is_constant", "validate_indices", "use_locking"):
                node.attr[key].b = value
            elif key == "frame_name":
                node.attr[key].s = value.encode()
            else:
                node.attr[key].type = value
        complete(node)
    return graph_def


def by_name(graph_def: graph_pb2.GraphDef) -> dict:
    return {n.name: n for n in graph_def.node}


def test_ref_forwarders_become_value_ops():
    graph_def = make(
        ("v", "VariableV2", [], {"dtype": FLOAT, "shape": (2,)}),
        ("p", "Placeholder", [], {"dtype": DT.DT_BOOL}),
        ("rs", "RefSwitch", ["v", "p"], {"T": DT.DT_FLOAT_REF}),
        ("ri", "RefIdentity", ["rs:1"], {"T": DT.DT_FLOAT_REF}),
        ("rm", "RefMerge", ["rs", "ri"], {"T": DT.DT_FLOAT_REF}),
        ("re", "RefEnter", ["v"], {"T": DT.DT_FLOAT_REF, "frame_name": "loop", "is_constant": True}),
        ("rn", "RefNextIteration", ["re"], {"T": DT.DT_FLOAT_REF}),
        ("rx", "RefExit", ["re"], {"T": DT.DT_FLOAT_REF}),
        ("read", "Identity", ["rm"], {"T": FLOAT}),
        ("idx", "Identity", ["rm:1"], {"T": DT.DT_INT32}),
    )
    before = graph_def.SerializeToString()
    result = convert_variables(graph_def, {"v": np.array([1.0, 2.0], np.float32)})
    assert graph_def.SerializeToString() == before, "the input GraphDef was modified"
    nodes = by_name(result.graph_def)
    assert nodes["v"].op == "Const" and tensor_to_array(nodes["v"].attr["value"].tensor).tolist() == [1.0, 2.0]
    expected = {"rs": "Switch", "ri": "Identity", "rm": "Merge", "re": "Enter", "rn": "NextIteration", "rx": "Exit"}
    assert {n: nodes[n].op for n in expected} == expected
    assert all(nodes[n].attr["T"].type == FLOAT for n in expected)
    assert nodes["re"].attr["frame_name"].s == b"loop" and nodes["re"].attr["is_constant"].b
    assert nodes["read"].op == "Identity" and "read" not in result.rewritten
    assert result.converted == {"v": "v"}
    check_graph(result.graph_def)


def resource_graph(batch_dims: int = 0) -> graph_pb2.GraphDef:
    return make(
        ("h", "VarHandleOp", [], {"dtype": FLOAT, "shape": (4, 3), "_output_shapes": [()]}),
        ("ids", "Placeholder", [], {"dtype": DT.DT_INT32}),
        ("p", "Placeholder", [], {"dtype": DT.DT_BOOL}),
        ("g", "ResourceGather", ["h", "ids"], {"dtype": FLOAT, "Tindices": DT.DT_INT32, "batch_dims": batch_dims,
                                              "validate_indices": True}),
        ("gnd", "ResourceGatherNd", ["h", "ids"], {"dtype": FLOAT, "Tindices": DT.DT_INT32}),
        ("shape", "VariableShape", ["h"], {"out_type": DT.DT_INT32}),
        ("ready", "VarIsInitializedOp", ["h"]),
        ("sw", "Switch", ["h", "p"], {"T": RES, "_output_shapes": [(), ()]}),
        ("r", "ReadVariableOp", ["sw:1"], {"dtype": FLOAT}),
        ("en", "Enter", ["h"], {"T": RES, "frame_name": "loop", "is_constant": True}),
        ("r2", "ReadVariableOp", ["en"], {"dtype": FLOAT}),
        ("one", "Const", [], {"dtype": FLOAT}),
        ("assign", "AssignAddVariableOp", ["h", "one"], {"dtype": FLOAT}),
        ("out", "AddV2", ["r", "g", "^assign"], {"T": FLOAT}),
    )


def test_resource_reads_get_value_twins():
    value = np.arange(12, dtype=np.float32).reshape(4, 3)
    result = convert_variables(resource_graph(), {"h": value}, keep=["out"])
    nodes = by_name(result.graph_def)
    assert nodes["h"].op == "Const" and "_output_shapes" not in nodes["h"].attr
    gather = nodes["g"]
    assert gather.op == "GatherV2" and list(gather.input) == ["h", "ids", "g/axis"]
    assert gather.attr["Tparams"].type == FLOAT and gather.attr["Taxis"].type == DT.DT_INT32
    assert "validate_indices" not in gather.attr and "dtype" not in gather.attr
    axis = nodes["g/axis"]
    assert axis.op == "Const" and list(axis.input) == ["^ids"] and tensor_to_array(axis.attr["value"].tensor) == 0
    assert [n.name for n in result.graph_def.node].index("g/axis") < [n.name for n in result.graph_def.node].index("g")
    assert nodes["gnd"].op == "GatherNd" and nodes["gnd"].attr["Tparams"].type == FLOAT
    assert nodes["shape"].op == "Shape" and nodes["shape"].attr["T"].type == FLOAT
    assert nodes["shape"].attr["out_type"].type == DT.DT_INT32
    ready = nodes["ready"]
    assert ready.op == "Const" and list(ready.input) == ["^h"] and bool(tensor_to_array(ready.attr["value"].tensor))
    assert nodes["sw"].op == "Switch" and nodes["sw"].attr["T"].type == FLOAT
    assert [list(s.dim) for s in nodes["sw"].attr["_output_shapes"].list.shape][0][0].size == 4
    assert nodes["r"].op == "Identity" and nodes["r"].attr["T"].type == FLOAT and "dtype" not in nodes["r"].attr
    assert nodes["en"].attr["T"].type == FLOAT and nodes["r2"].op == "Identity"
    assert "assign" not in nodes and list(nodes["out"].input) == ["r", "g"], "the assign and its control edge stay"
    assert result.dropped == ["assign"] and any("assign" in n for n in result.notes)
    check_graph(result.graph_def)


def test_gather_batch_dims_is_the_axis():
    nodes = by_name(constify(resource_graph(batch_dims=1), {"h": np.zeros((4, 3), np.float32)}))
    assert tensor_to_array(nodes["g/axis"].attr["value"].tensor) == 1 and nodes["g"].attr["batch_dims"].i == 1


def assign_graph(op: str = "AssignAdd") -> graph_pb2.GraphDef:
    return make(
        ("v", "VariableV2", [], {"dtype": FLOAT, "shape": ()}),
        ("one", "Const", [], {"dtype": FLOAT}),
        ("upd", op, ["v", "one"], {"T": FLOAT, "use_locking": False}),
        ("out", "Mul", ["upd", "one"], {"T": FLOAT}),
        ("other", "Identity", ["one", "^upd"], {"T": FLOAT}),
    )


def test_an_assign_an_output_needs_becomes_a_value_op():
    for op, new_op, inputs in (("AssignAdd", "AddV2", ["v", "one"]), ("AssignSub", "Sub", ["v", "one"]),
                               ("Assign", "Identity", ["one"])):
        result = convert_variables(assign_graph(op), {"v": np.float32(3)}, keep=["out:0"])
        upd = by_name(result.graph_def)["upd"]
        assert upd.op == new_op and list(upd.input) == inputs and dict(upd.attr).keys() == {"T"}
        assert any("value ops" in n for n in result.notes)
        check_graph(result.graph_def)


def test_updates_nobody_needs_go_with_their_data_consumers():
    result = convert_variables(assign_graph(), {"v": np.float32(3)})
    nodes = by_name(result.graph_def)
    assert "upd" not in nodes and "out" not in nodes, "out only existed to use the update"
    assert list(nodes["other"].input) == ["one"]
    assert result.dropped == ["upd", "out"]


def test_an_output_that_needs_a_training_op_is_refused():
    graph_def = make(
        ("v", "VariableV2", [], {"dtype": FLOAT, "shape": ()}),
        ("lr", "Const", [], {"dtype": FLOAT}),
        ("apply", "ApplyGradientDescent", ["v", "lr", "lr"], {"T": FLOAT}),
        ("out", "Identity", ["apply"], {"T": FLOAT}),
    )
    with pytest.raises(UnsupportedError, match="output 'out' depends on 'apply' .*frozen variable 'v'.*blacklist"):
        convert_variables(graph_def, {"v": np.float32(1)}, keep=["out"])


def test_unknown_resource_consumers_are_refused():
    graph_def = make(("h", "VarHandleOp", [], {"dtype": FLOAT, "shape": ()}),
                     ("custom", "MyResourceOp", ["h"]))
    with pytest.raises(UnsupportedError, match=r"'custom' \(MyResourceOp\) takes variable 'h' as a resource"):
        constify(graph_def, {"h": np.float32(1)})
    call = make(("h", "VarHandleOp", [], {"dtype": FLOAT, "shape": ()}), ("call", "StatefulPartitionedCall", ["h"]))
    call.node[1].attr["f"].func.name = "missing_fn"
    with pytest.raises(UnsupportedError, match="missing_fn"):
        constify(call, {"h": np.float32(1)})


def test_merge_of_frozen_and_live_variables_is_refused():
    graph_def = make(
        ("a", "VarHandleOp", [], {"dtype": FLOAT, "shape": ()}),
        ("b", "VarHandleOp", [], {"dtype": FLOAT, "shape": ()}),
        ("m", "Merge", ["a", "b"], {"T": RES}),
    )
    with pytest.raises(UnsupportedError, match="Merge 'm' joins frozen and unfrozen"):
        constify(graph_def, {"a": np.float32(1)}, whitelist=["a"])


def test_whitelist_and_blacklist():
    graph_def = make(
        ("a", "VariableV2", [], {"dtype": FLOAT, "shape": ()}),
        ("b", "VariableV2", [], {"dtype": FLOAT, "shape": ()}),
        ("s", "AddV2", ["a", "b"], {"T": FLOAT}),
    )
    ckpt = {"a": np.float32(1), "b": np.float32(2)}
    assert by_name(constify(graph_def, ckpt, whitelist="a"))["b"].op == "VariableV2"
    result = convert_variables(graph_def, ckpt, blacklist=["a:0"])
    assert result.kept_variables == ["a"] and list(result.converted) == ["b"]
    assert by_name(constify(graph_def, {"b": np.float32(2)}, blacklist="a"))["a"].op == "VariableV2"
    missing = r"variable 'c' not found in the graph \(given in variable_names_whitelist\).*variables: a, b"
    with pytest.raises(NodeNotFoundError, match=missing):
        constify(graph_def, ckpt, whitelist=["a", "c"])


def test_loaded_graph_and_checkpoint_path(fixtures_dir):
    loaded = load_graph(fixtures_dir / "freeze" / "renamed" / "graph.pb")
    frozen = constify(loaded, str(fixtures_dir / "freeze" / "renamed" / "model.ckpt"))
    assert {n.name for n in frozen.node if n.op == "Const"} >= {"a", "b", "r"}


def _run(tf, graph_def, spec, expected):
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(tf.compat.v1.GraphDef.FromString(graph_def.SerializeToString()), name="")
    config = tf.compat.v1.ConfigProto(device_count={"CPU": 2})
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        for name in spec.get("initializer_nodes", []):
            sess.run(name)
        return sess.run(spec["outputs"], {k[3:]: expected[k] for k in expected.files if k.startswith("in:")})


def assert_outputs_match(spec, values, expected):
    for name, value in zip(spec["outputs"], values):
        want = expected[f"out:{name}"]
        value = np.asarray(value)
        if want.dtype == object or want.dtype.kind in "biuSU" or spec["tolerance"] == 0:
            np.testing.assert_array_equal(value.astype(want.dtype) if value.dtype != want.dtype else value, want,
                                          err_msg=name)
        else:
            np.testing.assert_allclose(value, want, rtol=spec["tolerance"], atol=spec["tolerance"], err_msg=name)


@pytest.mark.tf
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_whole_graph_constify_runs_in_tensorflow(fixtures_dir, name):
    import tensorflow as tf

    base = fixtures_dir / "freeze" / name
    spec = json.loads((base / "spec.json").read_text())
    loaded = load_graph(base / spec["graph"])
    checkpoint = base / (spec["checkpoint"] or "saved_model/variables/variables")
    result = convert_variables(loaded.graph_def, str(checkpoint),
                               keep=[o.split(":")[0] for o in spec["outputs"]])
    check_graph(result.graph_def, allow_saver=True)
    for file in spec["expected"]:
        expected = np.load(base / file, allow_pickle=True)
        assert_outputs_match(spec, _run(tf, result.graph_def, spec, expected), expected)


@pytest.mark.tf
def test_resource_gather_with_batch_dims_matches_tensorflow():
    import tensorflow as tf

    value = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    ids = np.array([[0, 3], [2, 2]], np.int32)
    with tf.Graph().as_default() as graph:
        var = tf.compat.v1.Variable(value, name="v", use_resource=True)
        indices = tf.compat.v1.placeholder(tf.int32, [2, 2], name="ids")
        tf.raw_ops.ResourceGather(resource=var.handle, indices=indices, dtype=tf.float32, batch_dims=1, name="g")
        with tf.compat.v1.Session() as sess:
            sess.run(var.initializer)
            want = sess.run("g:0", {indices: ids})
        graph_def = graph_pb2.GraphDef.FromString(graph.as_graph_def().SerializeToString())
    frozen = constify(graph_def, {"v": value})
    assert by_name(frozen)["g"].op == "GatherV2"
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(tf.compat.v1.GraphDef.FromString(frozen.SerializeToString()), name="")
        with tf.compat.v1.Session() as sess:
            np.testing.assert_array_equal(sess.run("g:0", {"ids:0": ids}), want)


@pytest.mark.tf
def test_resource_reads_inside_cond_and_while_match_tensorflow():
    """ResourceGather / VarIsInitializedOp on handles that reach a cond branch through Switch and a while
    body through Enter: the new axis Consts and true Consts must live in the right frame."""
    import tensorflow as tf

    value = np.arange(10, dtype=np.float32).reshape(5, 2)
    v2 = tf.compat.v1.control_flow_v2_enabled()
    tf.compat.v1.disable_control_flow_v2()  # Switch/Merge/Enter graphs, as TF1 built them
    try:
        graph_def, want = _cond_while_graph(tf, value)
    finally:
        if v2:
            tf.compat.v1.enable_control_flow_v2()
    frozen = constify(graph_def, {"v": value})
    ops = {n.op for n in frozen.node}
    assert not ops & {"VarHandleOp", "ResourceGather", "VarIsInitializedOp", "ReadVariableOp"}, ops
    with tf.Graph().as_default():
        tf.import_graph_def(tf.compat.v1.GraphDef.FromString(frozen.SerializeToString()), name="")
        with tf.compat.v1.Session() as sess:
            for f in (True, False):
                got = sess.run(["y:0", "acc:0"], {"ids:0": [0, 4, 2], "flag:0": f})
                for a, b in zip(got, want[f]):
                    np.testing.assert_array_equal(a, b)


def _cond_while_graph(tf, value):
    with tf.Graph().as_default() as graph:
        var = tf.compat.v1.Variable(value, name="v", use_resource=True)
        ids = tf.compat.v1.placeholder(tf.int32, [3], name="ids")
        flag = tf.compat.v1.placeholder_with_default(True, [], name="flag")

        def ready():
            return tf.cast(tf.raw_ops.VarIsInitializedOp(resource=var.handle), tf.float32)

        def body(i, acc):
            return i + 1, acc + tf.reduce_sum(tf.gather(var, ids)) + ready()

        _, acc = tf.compat.v1.while_loop(lambda i, acc: i < 3, body, [tf.constant(0), tf.constant(0.0)], name="loop")
        cond = tf.compat.v1.cond(flag, lambda: tf.gather(var, ids) * 2.0 + ready(), lambda: tf.zeros([3, 2]),
                                 name="c")
        tf.identity(cond, name="y")
        tf.identity(acc, name="acc")
        with tf.compat.v1.Session() as sess:
            sess.run(var.initializer)
            want = {f: sess.run(["y:0", "acc:0"], {ids: [0, 4, 2], flag: f}) for f in (True, False)}
    ops = {n.op for n in graph.as_graph_def().node}
    assert {"Switch", "Enter", "ResourceGather"} <= ops, ops
    return graph_pb2.GraphDef.FromString(graph.as_graph_def().SerializeToString()), want
