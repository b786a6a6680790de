"""Variable -> checkpoint key mapping from the graph's Saver, on TF-made fixtures and tiny graphs."""

from __future__ import annotations

import numpy as np
import pytest

from graphsurgeon._proto import graph_pb2, types_pb2
from graphsurgeon.errors import MismatchError
from graphsurgeon.formats.checkpoint import load_checkpoint
from graphsurgeon.formats.model import load_graph
from graphsurgeon.formats.tensors import array_to_tensor, shape_to_proto
from graphsurgeon.graph.variables import (
    SliceSpec,
    is_writer_op,
    map_variables,
    parse_slice_spec,
    read_value,
    resolve_keys,
    trace_to_variable,
)

DT = types_pb2.DataType


def _fixture(fixtures_dir, name, graph="graph.pb"):
    base = fixtures_dir / "freeze" / name
    return load_graph(base / graph), load_checkpoint(base / "model.ckpt")


def _variable(graph_def, name, op="VariableV2", dtype=DT.DT_FLOAT, shape=(2,), shared_name=None):
    node = graph_def.node.add(name=name, op=op)
    node.attr["dtype"].type = dtype
    node.attr["shape"].shape.CopyFrom(shape_to_proto(shape))
    if shared_name is not None:
        node.attr["shared_name"].s = shared_name.encode()
    return node


def test_parse_slice_spec():
    spec = parse_slice_spec("10 2 4,3:0,2")
    assert spec == SliceSpec((10, 2), ((4, 3), (0, 2)))
    assert spec.shape == (3, 2)
    assert np.arange(20).reshape(10, 2)[spec.index()].tolist() == [[8, 9], [10, 11], [12, 13]]
    whole = parse_slice_spec("6 3 -:1,2")
    assert whole.shape == (6, 2) and whole.index() == (slice(0, 6), slice(1, 3))
    assert parse_slice_spec("") is None and parse_slice_spec("  ") is None
    with pytest.raises(MismatchError, match="start,length"):
        parse_slice_spec("10 2 x,y:0,2")
    with pytest.raises(MismatchError, match="rank-2"):
        parse_slice_spec("10 2 0,3")


def test_renamed_saver_maps_by_saver_not_by_name(fixtures_dir):
    loaded, ckpt = _fixture(fixtures_dir, "renamed")
    infos = map_variables(loaded.graph_def)
    # Saver({"new/name_for_a": a, "b_renamed": b, "a": r}): the key "a" holds r's value, not a's.
    assert {n: i.key for n, i in infos.items()} == {"a": "new/name_for_a", "b": "b_renamed", "r": "a"}
    assert all(i.source == "save/SaveV2" for i in infos.values())
    resolved = resolve_keys(infos, ckpt, loaded.graph_def)
    np.testing.assert_array_equal(read_value(resolved["r"], ckpt), ckpt["a"])
    assert infos["r"].is_resource and not infos["a"].is_resource


def test_partitioned_variables_get_their_slices(fixtures_dir):
    loaded, ckpt = _fixture(fixtures_dir, "partitioned")
    infos = resolve_keys(map_variables(loaded.graph_def), ckpt, loaded.graph_def)
    assert sorted(infos) == ["dense/kernel/part_0", "dense/kernel/part_1", "emb/part_0", "emb/part_1", "emb/part_2"]
    full = ckpt["emb"]
    assert full.shape == (10, 2)
    parts = [read_value(infos[f"emb/part_{i}"], ckpt) for i in range(3)]
    assert [p.shape for p in parts] == [(4, 2), (3, 2), (3, 2)]  # fixed_size_partitioner(3) over 10 rows
    np.testing.assert_array_equal(np.concatenate(parts), full)
    assert infos["emb/part_1"].slice == SliceSpec((10, 2), ((4, 3), (0, 2)))


def test_sharded_saver_and_savedmodel(fixtures_dir):
    loaded, ckpt = _fixture(fixtures_dir, "sharded")
    infos = map_variables(loaded.graph_def)
    assert {n: (i.key, i.source) for n, i in infos.items()} == {
        "a": ("a", "save/SaveV2"), "b": ("b", "save/SaveV2_1"), "c": ("c", "save/SaveV2_1")}
    resolve_keys(infos, ckpt, loaded.graph_def)
    saved = load_graph(fixtures_dir / "freeze" / "saved_model_v1" / "saved_model")
    infos = map_variables(saved.graph_def, saved.meta_graph_def.saver_def)
    assert {n: i.op for n, i in infos.items()} == {"w": "VariableV2", "v": "VarHandleOp"}


def test_restore_ops_are_a_second_source(fixtures_dir):
    loaded, ckpt = _fixture(fixtures_dir, "renamed")
    graph_def = graph_pb2.GraphDef()
    graph_def.CopyFrom(loaded.graph_def)
    kept = [n for n in graph_def.node if n.op != "SaveV2"]
    del graph_def.node[:]
    graph_def.node.extend(kept)
    infos = map_variables(graph_def)
    assert {n: (i.key, i.source) for n, i in infos.items()} == {
        "a": ("new/name_for_a", "save/RestoreV2"), "b": ("b_renamed", "save/RestoreV2"), "r": ("a", "save/RestoreV2")}


def test_fallback_to_node_name_then_shared_name():
    graph_def = graph_pb2.GraphDef()
    _variable(graph_def, "w")
    _variable(graph_def, "h", op="VarHandleOp", shape=(3,), shared_name="shared/h")
    infos = map_variables(graph_def)
    assert infos["w"].key == "w" and infos["w"].source == "node name"
    ckpt = {"w": np.zeros(2, np.float32), "shared/h": np.ones(3, np.float32)}
    resolved = resolve_keys(infos, ckpt, graph_def)
    assert resolved["h"].key == "shared/h" and resolved["h"].source == "shared_name"
    np.testing.assert_array_equal(read_value(resolved["h"], ckpt), np.ones(3))


def test_mismatches_name_both_sides(fixtures_dir):
    loaded, _ = _fixture(fixtures_dir, "mlp")
    infos = map_variables(loaded.graph_def, names=["head/biases", "head/weights"])
    missing = load_checkpoint(fixtures_dir / "freeze" / "bad" / "missing" / "model.ckpt")
    with pytest.raises(MismatchError) as err:
        resolve_keys(infos, missing, loaded.graph_def)
    msg = str(err.value)
    assert "variable 'head/biases' (VariableV2 float[3])" in msg and missing.prefix in msg, msg
    assert "closest keys" in msg and "'head/weights'" in msg and "'hidden/biases'" in msg, msg
    assert "(same shape/dtype)" not in msg, "hidden/biases is [8], head/weights [8, 3]: neither fits [3]"
    renamed = {"dense_1/kernel": np.zeros((2, 3), np.float32)}
    graph_def = graph_pb2.GraphDef()
    _variable(graph_def, "dense/kernel", shape=(2, 3))
    with pytest.raises(MismatchError, match=r"closest keys: 'dense_1/kernel' \(same shape/dtype\)"):
        resolve_keys(map_variables(graph_def), renamed, graph_def)
    shape = load_checkpoint(fixtures_dir / "freeze" / "bad" / "shape" / "model.ckpt")
    with pytest.raises(MismatchError, match=r"shape \[3\] but key 'head/biases' in checkpoint .* has shape \[5\]"):
        resolve_keys(infos, shape, loaded.graph_def)


def test_several_problems_are_listed_together():
    graph_def = graph_pb2.GraphDef()
    _variable(graph_def, "a", shape=(2,))
    _variable(graph_def, "b", dtype=DT.DT_INT32, shape=(2,))
    _variable(graph_def, "c", shape=(2, 2))
    ckpt = {"b": np.zeros(2, np.float32), "c": np.zeros((2, 3), np.float32)}
    with pytest.raises(MismatchError) as err:
        resolve_keys(map_variables(graph_def), ckpt, graph_def)
    msg = str(err.value)
    assert "(1) variable 'a'" in msg and "dtype int32 but key 'b'" in msg and "shape [2, 2]" in msg, msg


def test_trace_through_reads_and_forwarders():
    graph_def = graph_pb2.GraphDef()
    _variable(graph_def, "v", op="VarHandleOp")
    graph_def.node.add(name="sw", op="Switch", input=["v", "p"])
    graph_def.node.add(name="en", op="Enter", input=["sw:1"])
    graph_def.node.add(name="rd", op="ReadVariableOp", input=["en", "^x"])
    graph_def.node.add(name="x", op="Const")
    graph_def.node.add(name="mm", op="MatMul", input=["rd", "x"])
    nodes = {n.name: n for n in graph_def.node}
    assert trace_to_variable("rd", nodes) == "v"
    assert trace_to_variable("mm", nodes) is None
    assert trace_to_variable("missing", nodes) is None


def test_writer_ops():
    for op in ("Assign", "AssignSub", "AssignVariableOp", "AssignAddVariableOp", "ApplyAdam", "ResourceApplyAdam",
               "ScatterUpdate", "ResourceScatterAdd", "CountUpTo", "DisableCopyOnRead"):
        assert is_writer_op(op), op
    for op in ("Identity", "ScatterNd", "ReadVariableOp", "Add", "ResourceGather"):
        assert not is_writer_op(op), op


def test_string_and_half_values_read_as_the_variable_dtype():
    graph_def = graph_pb2.GraphDef()
    _variable(graph_def, "s", dtype=DT.DT_STRING, shape=(2,))
    _variable(graph_def, "h", dtype=DT.DT_HALF, shape=(2,))
    ckpt = {"s": np.array([b"a", b""], dtype=object), "h": np.array([1.5, 2], np.float16)}
    infos = resolve_keys(map_variables(graph_def), ckpt, graph_def)
    assert read_value(infos["s"], ckpt).tolist() == [b"a", b""]
    assert read_value(infos["h"], ckpt).dtype == np.float16
    assert array_to_tensor(read_value(infos["h"], ckpt), DT.DT_HALF).dtype == DT.DT_HALF


def _without_saver(graph_def):
    stripped = graph_pb2.GraphDef()
    stripped.CopyFrom(graph_def)
    kept = [n for n in stripped.node if not n.name.startswith("save/")]
    del stripped.node[:]
    stripped.node.extend(kept)
    return stripped


def test_partitions_from_the_variables_collection(fixtures_dir):
    loaded = load_graph(fixtures_dir / "freeze" / "partitioned" / "model.ckpt.meta")
    ckpt = load_checkpoint(fixtures_dir / "freeze" / "partitioned" / "model.ckpt")
    graph_def = _without_saver(loaded.graph_def)
    infos = map_variables(graph_def, meta_graph_def=loaded.meta_graph_def)
    assert infos["emb/part_2"].key == "emb" and infos["emb/part_2"].source == "collection 'variables'"
    assert infos["emb/part_2"].slice == SliceSpec((10, 2), ((7, 3), (0, 2)))
    resolved = resolve_keys(infos, ckpt, graph_def)
    np.testing.assert_array_equal(read_value(resolved["emb/part_2"], ckpt), ckpt["emb"][7:])
    with pytest.raises(MismatchError, match="looks like a part of partitioned variable 'emb'.*pass the .meta file"):
        resolve_keys(map_variables(graph_def), ckpt, graph_def)
