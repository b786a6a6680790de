"""The bundled op registry: what it holds, dtypes and arity from OpDefs (against TensorFlow's own
answers), and check_graph's registry checks on every fixture and on damaged nodes."""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import pathlib
import subprocess
import sys

import pytest

from graphsurgeon._proto import graph_pb2, node_def_pb2, op_def_pb2, types_pb2
from graphsurgeon.errors import InvalidGraphError
from graphsurgeon.formats.model import load_graph
from graphsurgeon.graph import op_registry
from graphsurgeon.graph.check import check_graph

DT = types_pb2.DataType
ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def fixture_graphs() -> list[pathlib.Path]:
    """Every graph file and SavedModel directory under tests/fixtures."""
    found: list[pathlib.Path] = []
    for pattern in ("*.pb", "*.pbtxt", "*.meta"):
        for path in FIXTURES.rglob(pattern):
            if path.name in ("saved_model.pb", "saved_model.pbtxt"):
                found.append(path.parent)
            elif path.name != "fingerprint.pb":
                found.append(path)
    return sorted(set(found))


# --- the bundled file --------------------------------------------------------------------------------

def test_bundled_registry_holds_every_op_with_its_version():
    registry = op_registry.op_registry()
    meta = json.loads((op_registry.DATA_DIR / "tf_ops.json").read_text())
    assert len(registry) == meta["op_count"] > 1800
    assert registry.tensorflow_version == meta["tensorflow_version"]
    for op in ("Const", "MatMul", "FusedBatchNormV3", "StatefulPartitionedCall", "_Arg", "_Retval", "RaggedGather"):
        assert op in registry, op
    assert registry.get("NoSuchOp") is None
    assert registry.names() == sorted(registry.names())


def test_registry_is_read_lazily():
    code = ("import graphsurgeon, graphsurgeon.cli, graphsurgeon.rewrite.prune, graphsurgeon.graph.check\n"
            "from graphsurgeon.graph import op_registry\n"
            "assert op_registry.op_registry.cache_info().currsize == 0\n"
            "op_registry.output_count(graphsurgeon._proto.node_def_pb2.NodeDef(op='NoOp'))\n"
            "assert op_registry.op_registry.cache_info().currsize == 1\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                   env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_a_damaged_registry_file_is_a_clear_error(tmp_path):
    from graphsurgeon.errors import FileFormatError

    bad = tmp_path / "tf_ops.pb.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(FileFormatError, match="op registry .* cannot be read.*dump_op_registry"):
        op_registry.load_op_registry(bad)


@pytest.mark.tf
def test_bundled_registry_equals_installed_tensorflows():
    import tensorflow as tf

    # In a fresh interpreter: what a process has imported before (TFLite's converter, tf2onnx) may
    # register more ops, and the bundled registry is what `import tensorflow` alone registers.
    script = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('d', sys.argv[1]); "
              "d = importlib.util.module_from_spec(spec); spec.loader.exec_module(d); "
              "sys.stdout.buffer.write(d.registered_op_list())")
    dumped = subprocess.run([sys.executable, "-c", script, str(ROOT / "proto" / "dump_op_registry.py")],
                            capture_output=True, check=True).stdout
    installed = op_registry.OpRegistry(op_def_pb2.OpList.FromString(dumped).op, tf.__version__)
    bundled = op_registry.op_registry()
    assert bundled.tensorflow_version == tf.__version__, (
        "the bundled registry is from another TensorFlow; rerun python proto/dump_op_registry.py")
    assert installed.names() == bundled.names()
    differ = [name for name in bundled.names() if installed.get(name) != bundled.get(name)]
    assert not differ, differ[:10]


# --- dtypes and counts ---------------------------------------------------------------------------------

def node(op: str, inputs=(), **attrs) -> node_def_pb2.NodeDef:
    out = node_def_pb2.NodeDef(name="n", op=op, input=list(inputs))
    for key, value in attrs.items():
        if isinstance(value, list):
            out.attr[key].list.type.extend(value)
        elif isinstance(value, tuple):
            out.attr[key].i = value[0]
        else:
            out.attr[key].type = value
    return out


def test_outputs_follow_type_attr_number_attr_type_list_attr_and_fixed_types():
    f, i32, i64 = DT.DT_FLOAT, DT.DT_INT32, DT.DT_INT64
    assert op_registry.output_types(node("Equal", T=f)) == [DT.DT_BOOL]  # fixed type
    assert op_registry.output_types(node("Shape", T=f)) == [i32]  # out_type's default
    assert op_registry.output_types(node("Shape", T=f, out_type=i64)) == [i64]
    assert op_registry.output_types(node("TopKV2", T=f)) == [f, i32]
    assert op_registry.output_types(node("FusedBatchNormV3", T=DT.DT_HALF, U=f)) == [DT.DT_HALF] + [f] * 5
    assert op_registry.output_types(node("Split", T=f, num_split=(3,))) == [f] * 3  # number_attr
    assert op_registry.output_types(node("IdentityN", T=[f, i64])) == [f, i64]  # type_list_attr
    assert op_registry.output_types(node("VariableV2", dtype=f)) == [DT.DT_FLOAT_REF]  # is_ref
    assert op_registry.output_types(node("VarHandleOp", dtype=f)) == [DT.DT_RESOURCE]
    assert op_registry.output_count(node("NoOp")) == 0
    assert op_registry.output_types(node("Split", T=f)) is None, "num_split missing: unknown, not guessed"
    assert op_registry.output_types(node("MyPluginOp")) is None
    assert op_registry.input_count(node("ConcatV2", T=f, N=(4,))) == 5
    assert op_registry.input_count(node("IdentityN", T=[f, f, f])) == 3


def test_function_calls_take_the_signature():
    graph_def = graph_pb2.GraphDef()
    fn = graph_def.library.function.add()
    fn.signature.name = "my_fn"
    fn.signature.input_arg.add(name="x", type=DT.DT_FLOAT)
    fn.signature.output_arg.add(name="y", type=DT.DT_INT64)
    fn.signature.output_arg.add(name="z", type_attr="T")
    fn.signature.attr.add(name="T", type="type")
    signatures = op_registry.function_signatures(graph_def.library)
    call = node("my_fn", ["a"], T=DT.DT_HALF)
    assert op_registry.output_types(call, signatures) == [DT.DT_INT64, DT.DT_HALF]
    assert op_registry.input_count(call, signatures) == 1
    assert op_registry.output_types(call) is None


def _slim():  # the same shims as tests/fixtures/make_freeze_fixtures.py
    import tf_keras  # noqa: F401  (tf_slim 1.1.0 imports the old legacy_tf_layers path)

    sys.modules.setdefault("tf_keras.legacy_tf_layers", importlib.import_module("tf_keras.src.legacy_tf_layers"))
    import tensorflow as tf
    import tf_slim
    from tensorflow.python.framework import ops
    from tensorflow.python.ops import control_flow_ops

    if not hasattr(ops, "Tensor"):
        ops.Tensor = tf.Tensor
    if not hasattr(control_flow_ops, "cond"):
        control_flow_ops.cond = tf.compat.v1.cond
    return tf_slim


def _compare(ours: graph_pb2.GraphDef, tf_ops, functions=None) -> tuple[int, list]:
    """(outputs compared, mismatches) of our output_types against TensorFlow's op.outputs dtypes."""
    count, wrong = 0, []
    for n in ours.node if hasattr(ours, "node") else ours:
        want = [t.dtype.as_datatype_enum for t in tf_ops(n.name).outputs]
        got = op_registry.output_types(n, functions)
        count += len(want)
        if got != want:
            wrong.append((n.name, n.op, got, want))
    return count, wrong


@pytest.mark.tf
@pytest.mark.slow
def test_dtypes_match_tensorflow_on_every_node_of_inception_v3():
    import tensorflow as tf

    slim = _slim()
    from tf_slim.nets import inception_v3

    with tf.Graph().as_default() as graph:
        images = tf.compat.v1.placeholder(tf.float32, [None, 75, 75, 3], name="input")
        is_training = tf.compat.v1.placeholder_with_default(True, [], name="is_training")
        with slim.arg_scope(inception_v3.inception_v3_arg_scope()):
            inception_v3.inception_v3(images, num_classes=5, is_training=is_training, depth_multiplier=0.1,
                                      create_aux_logits=False)
        tf.compat.v1.train.Saver()
        tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(tf.compat.v1.losses.get_total_loss())
    ours = graph_pb2.GraphDef.FromString(graph.as_graph_def().SerializeToString())
    count, wrong = _compare(ours, graph.get_operation_by_name)
    assert not wrong, wrong[:10]
    assert len(ours.node) > 5000 and count > 5000
    assert check_graph(ours, frozen=False) == []


@pytest.mark.tf
@pytest.mark.parametrize("path", fixture_graphs(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_dtypes_match_tensorflow_on_every_node_and_function_of_every_fixture(path):
    """Every fixture graph (the TF2 SavedModels' functions included) imported in TensorFlow."""
    import tensorflow as tf
    from tensorflow.python.framework import function_def_to_graph

    ours = load_graph(path).graph_def
    signatures = op_registry.function_signatures(ours.library)
    theirs = tf.compat.v1.GraphDef.FromString(ours.SerializeToString())
    total = 0
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(theirs, name="")  # makes the library's functions known for nested calls
        count, wrong = _compare(ours, graph.get_operation_by_name, signatures)
        assert not wrong, wrong[:10]
        total += count
        for fdef, function in zip(theirs.library.function, ours.library.function, strict=True):
            func_graph = function_def_to_graph.function_def_to_graph(fdef)
            count, wrong = _compare(function.node_def, func_graph.get_operation_by_name, signatures)
            assert not wrong, (function.signature.name, wrong[:10])
            total += count
    assert total > 0


# --- check_graph ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", fixture_graphs(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_fixture_passes_the_registry_check(path):
    graph_def = load_graph(path).graph_def
    assert check_graph(graph_def, frozen=False, source=path.name) == [], "no custom ops in TensorFlow's own graphs"


def mlp() -> graph_pb2.GraphDef:
    return load_graph(FIXTURES / "freeze" / "mlp" / "graph.pb").graph_def


def _node(graph_def: graph_pb2.GraphDef, name: str) -> node_def_pb2.NodeDef:
    return next(n for n in graph_def.node if n.name == name)


def drop_attr(g):
    del _node(g, "hidden/MatMul").attr["T"]


def extra_attr(g):
    _node(g, "hidden/MatMul").attr["fused_activation"].s = b"Relu"


def drop_input(g):
    del _node(g, "hidden/MatMul").input[1]


def extra_input(g):
    _node(g, "hidden/MatMul").input.insert(2, "x")


def past_outputs(g):
    _node(g, "hidden/add").input[0] = "hidden/MatMul:1"


def wrong_type(g):
    _node(g, "hidden/MatMul").attr["transpose_a"].i = 1


def not_allowed(g):
    _node(g, "hidden/Relu").attr["T"].type = DT.DT_STRING


def list_arity(g):
    node = g.node.add(name="packed", op="Pack", input=["probs", "probs", "probs"])
    node.attr["T"].type = DT.DT_FLOAT
    node.attr["N"].i = 2


DAMAGE = [
    (drop_attr, r"node 'hidden/MatMul' \(MatMul\) is missing attr 'T' \(type\), which has no default; TensorFlow "
     r"refuses it \(NodeDef missing attr 'T'\)"),
    (extra_attr, r"node 'hidden/MatMul' \(MatMul\) has attr 'fused_activation', which op MatMul does not have \(its "
     r"attrs: T, grad_a, grad_b, transpose_a, transpose_b\); loaders that validate nodes refuse it \(NodeDef "
     r"mentions attr 'fused_activation' not in Op"),
    (drop_input, r"node 'hidden/MatMul' \(MatMul\) has 1 data input\(s\), but op MatMul takes 2 \(a, b\); "
     r"TensorFlow refuses it \(expected 2 inputs\)"),
    (extra_input, r"node 'hidden/MatMul' \(MatMul\) has 3 data input\(s\), but op MatMul takes 2"),
    (past_outputs, r"node 'hidden/add' input 'hidden/MatMul:1' asks for output 1 of 'hidden/MatMul' \(MatMul\), "
     r"which has 1 output$"),
    (wrong_type, r"node 'hidden/MatMul' \(MatMul\) attr 'transpose_a' is int, but the op wants bool"),
    (not_allowed, r"node 'hidden/Relu' \(Relu\) attr 'T' is string, which the op does not allow "
     r"\(allowed: float, double, "),
    (list_arity, r"node 'packed' \(Pack\) has 3 data input\(s\), but op Pack takes 2 \(values: N\)"),
]


@pytest.mark.parametrize("damage, message", DAMAGE, ids=[d.__name__ for d, _ in DAMAGE])
def test_a_damaged_node_is_named_with_what_is_wrong(damage, message):
    graph_def = mlp()
    check_graph(graph_def, frozen=False)
    damage(graph_def)
    with pytest.raises(InvalidGraphError, match="^graph.pb: " + message):
        check_graph(graph_def, frozen=False, source="graph.pb")


@pytest.mark.tf
@pytest.mark.parametrize("damage", [d for d, _ in DAMAGE if d is not extra_attr], ids=lambda d: d.__name__)
def test_tensorflow_refuses_the_damaged_nodes_too(damage):
    # (An unknown attr is refused by TensorFlow 1.x and by loaders that validate nodes; TensorFlow 2.21's
    # importer only logs "NodeDef mentions attribute ... not in the op definition" and goes on.)
    import tensorflow as tf

    graph_def = mlp()
    damage(graph_def)
    with tf.Graph().as_default(), pytest.raises((ValueError, tf.errors.InvalidArgumentError)):
        tf.import_graph_def(tf.compat.v1.GraphDef.FromString(graph_def.SerializeToString()), name="")


def test_a_custom_op_is_a_warning_not_an_error(caplog):
    graph_def = mlp()
    plugin = graph_def.node.add(name="nms", op="MyTensorRTPlugin_test_only", input=["probs", "probs"])
    plugin.attr["anything"].i = 3
    graph_def.node.add(name="after", op="Identity", input=["nms:5"]).attr["T"].type = DT.DT_FLOAT
    with caplog.at_level(logging.WARNING, logger="graphsurgeon.graph.check"):
        assert check_graph(graph_def, frozen=False, source="g.pb") == ["MyTensorRTPlugin_test_only"]
        check_graph(graph_def, frozen=False, source="g.pb")
    assert caplog.text.count("op 'MyTensorRTPlugin_test_only' (1 node(s), e.g. 'nms') is not in TensorFlow") == 1


def test_nodes_inside_library_functions_are_checked_too():
    graph_def = load_graph(FIXTURES / "tf2" / "module").graph_def
    check_graph(graph_def, frozen=False)
    function = next(f for f in graph_def.library.function if any(n.op == "MatMul" for n in f.node_def))
    matmul = next(n for n in function.node_def if n.op == "MatMul")
    del matmul.attr["T"]
    with pytest.raises(InvalidGraphError, match=rf"^m, function '{function.signature.name}': node '{matmul.name}' "
                       r"\(MatMul\) is missing attr 'T'"):
        check_graph(graph_def, frozen=False, source="m")
