"""prune: exact semantics on tiny GraphDefs made in code (no TensorFlow), then TensorFlow's own
answers on real TF-made graphs (tests/fixtures/prune, made by make_prune_fixtures.py)."""

from __future__ import annotations

import functools
import json
import pathlib
import sys

import numpy as np
import pytest

from graphsurgeon._proto import function_pb2, graph_pb2, types_pb2
from graphsurgeon.errors import GraphSurgeonError, InvalidGraphError, MismatchError, NodeNotFoundError
from graphsurgeon.formats.model import load_graph
from graphsurgeon.formats.tensors import parse_dtype, shape_from_proto
from graphsurgeon.graph.names import node_name, tensor_name
from graphsurgeon.graph.view import COLOCATION, CONTROL, DATA, GraphView
from graphsurgeon.rewrite.prune import output_dtype, prune, prune_graph

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from builders import make_graph, while_loop  # noqa: E402  (tests/builders.py)

DT = types_pb2.DataType


def names(graph_def: graph_pb2.GraphDef) -> list[str]:
    return [n.name for n in graph_def.node]


def small() -> graph_pb2.GraphDef:
    return make_graph(
        ("x", "Placeholder", [], {"dtype": DT.DT_FLOAT, "shape": (None, 4)}),
        ("ids", "Placeholder", [], {"dtype": DT.DT_INT32, "shape": (None, 10)}),
        ("init", "NoOp", []),
        ("w", "Const", [], {"dtype": DT.DT_FLOAT}),
        ("mm", "MatMul", ["x", "w"], {"T": DT.DT_FLOAT, "_output_shapes": [(None, 3)]}),
        ("topk", "TopKV2", ["mm", "k"], {"T": DT.DT_FLOAT, "_output_shapes": [(None, 2), (None, 2)]}),
        ("k", "Const", [], {"dtype": DT.DT_INT32}),
        ("idx", "Identity", ["topk:1", "^init"], {"T": DT.DT_INT32}),
        ("vals", "Relu", ["topk"], {"T": DT.DT_FLOAT, "_class": ["mm", "train/op"]}),
        ("out", "Pack", ["vals", "idx"], {"T": DT.DT_FLOAT}),
        ("train/op", "NoOp", ["^mm", "^ids"]),
        ("cast", "Cast", ["ids"], {"SrcT": DT.DT_INT32, "DstT": DT.DT_FLOAT}),
    )


def test_keeps_data_and_control_ancestors_in_order_with_versions() -> None:
    graph_def = small()
    before = graph_def.SerializeToString()
    pruned = prune(graph_def, ["out"])
    assert names(pruned) == ["x", "init", "w", "mm", "topk", "k", "idx", "vals", "out"]
    assert pruned.versions.producer == 1234 and pruned.versions.min_consumer == 12
    assert graph_def.SerializeToString() == before, "prune modified its input"
    # Tensor names and node names give the same result; several outputs are unioned.
    assert names(prune(graph_def, "out:0")) == names(pruned)
    assert names(prune(graph_def, ["topk:1", "cast"])) == ["x", "ids", "w", "mm", "topk", "k", "cast"]


def test_colocation_with_removed_node_is_dropped_and_kept_otherwise() -> None:
    pruned = prune(small(), ["out"])
    vals = pruned.node[names(pruned).index("vals")]
    assert list(vals.attr["_class"].list.s) == [b"loc:@mm"]
    only_vals = make_graph(("a", "Const", []), ("b", "Identity", ["a"], {"_class": ["c"]}), ("c", "Const", []))
    pruned = prune(only_vals, ["b"])
    assert names(pruned) == ["a", "b"], "a colocation target alone must not be kept"
    assert "_class" not in pruned.node[1].attr
    # Nodes without a colocation to fix are copied untouched.
    assert pruned.node[0] == only_vals.node[0]


def test_cut_at_inputs_makes_typed_placeholders_and_rewires_consumers() -> None:
    graph_def = small()
    result = prune_graph(graph_def, ["out"], inputs=["mm", "topk:1"])
    pruned = result.graph_def
    assert result.placeholders == {"mm:0": "mm", "topk:1": "topk_1"}
    assert names(pruned) == ["init", "mm", "topk", "topk_1", "k", "idx", "vals", "out"]
    by_name = {n.name: n for n in pruned.node}
    assert by_name["mm"].op == "Placeholder" and list(by_name["mm"].input) == []
    assert by_name["mm"].attr["dtype"].type == DT.DT_FLOAT
    assert shape_from_proto(by_name["mm"].attr["shape"].shape) == (-1, 3)
    assert by_name["topk_1"].attr["dtype"].type == DT.DT_INT32, "TopKV2:1 is int32, not T"
    assert shape_from_proto(by_name["topk_1"].attr["shape"].shape) == (-1, 2)
    assert list(by_name["idx"].input) == ["topk_1", "^init"]
    assert list(by_name["topk"].input) == ["mm", "k"]
    assert "x" not in by_name and "w" not in by_name, "nothing above a cut is kept"
    assert list(by_name["vals"].attr["_class"].list.s) == [b"loc:@mm"]


def test_each_input_keeps_its_own_dtype() -> None:
    graph_def = make_graph(
        ("src", "IteratorGetNext", [], {"output_types": [DT.DT_INT32, DT.DT_BOOL, DT.DT_FLOAT],
                                        "_output_shapes": [(None, 10), (None, 10), ()]}),
        ("ids", "Identity", ["src"], {"T": DT.DT_INT32}),
        ("mask", "Identity", ["src:1"], {"T": DT.DT_BOOL}),
        ("keep", "Identity", ["src:2"], {"T": DT.DT_FLOAT}),
        ("out", "Pack", ["ids", "mask", "keep"]),
    )
    result = prune_graph(graph_def, ["out"], inputs="src:0,src:1,src:2")
    by_name = {n.name: n for n in result.graph_def.node}
    assert result.placeholders == {"src:0": "src", "src:1": "src_1", "src:2": "src_2"}
    assert [by_name[p].attr["dtype"].type for p in ("src", "src_1", "src_2")] == [DT.DT_INT32, DT.DT_BOOL,
                                                                                   DT.DT_FLOAT]
    assert [shape_from_proto(by_name[p].attr["shape"].shape) for p in ("src", "src_1", "src_2")] == [
        (-1, 10), (-1, 10), ()]
    assert list(by_name["mask"].input) == ["src_1"]


def test_input_specs_fill_in_and_must_agree() -> None:
    graph_def = make_graph(("a", "Mystery", []), ("b", "Neg", ["a"], {"T": DT.DT_FLOAT}))
    with pytest.raises(GraphSurgeonError, match=r"cannot tell the dtype of input 'a'.*--input-spec a="):
        prune(graph_def, ["b"], inputs=["a"])
    pruned = prune(graph_def, ["b"], inputs=["a"], input_specs={"a:0": ("half", [2, None])})
    assert pruned.node[0].attr["dtype"].type == DT.DT_HALF
    assert shape_from_proto(pruned.node[0].attr["shape"].shape) == (2, -1)
    pruned = prune(graph_def, ["b"], inputs=["a"], input_specs={"a": "int64"})
    assert pruned.node[0].attr["dtype"].type == DT.DT_INT64
    assert pruned.node[0].attr["shape"].shape.unknown_rank
    typed = make_graph(("a", "Placeholder", [], {"dtype": DT.DT_INT32}), ("b", "Neg", ["a"]))
    with pytest.raises(MismatchError, match="input 'a' is int32 in the graph.*spec says float"):
        prune(typed, ["b"], inputs=["a"], input_specs={"a": "float32"})
    with pytest.raises(GraphSurgeonError, match="input spec for 'zz'"):
        prune(typed, ["b"], inputs=["a"], input_specs={"zz": "float32"})


def test_control_dependency_on_cut_node_goes_to_placeholder() -> None:
    graph_def = make_graph(("p", "Placeholder", [], {"dtype": DT.DT_FLOAT}),
                           ("a", "Neg", ["p"], {"T": DT.DT_FLOAT}),
                           ("b", "Neg", ["a:0", "^a"], {"T": DT.DT_FLOAT}),
                           ("c", "Identity", ["b", "^a"], {"T": DT.DT_FLOAT}))
    pruned = prune(graph_def, ["c"], inputs=["a"])
    assert names(pruned) == ["a", "b", "c"]
    assert pruned.node[0].op == "Placeholder"
    assert list(pruned.node[1].input) == ["a", "^a"] and list(pruned.node[2].input) == ["b", "^a"]


def test_cut_tensor_of_a_node_still_needed_gets_a_new_name() -> None:
    graph_def = make_graph(("p", "Placeholder", [], {"dtype": DT.DT_FLOAT}),
                           ("s", "Split", ["p"], {"T": DT.DT_FLOAT}),
                           ("out", "Add", ["s:0", "s:1"], {"T": DT.DT_FLOAT}),
                           ("s_0", "Const", []))
    result = prune_graph(graph_def, ["out"], inputs=["s:0"])
    assert result.placeholders == {"s:0": "s_0_1"}, "names already taken are not reused"
    assert names(result.graph_def) == ["p", "s", "s_0_1", "out"]
    assert list(result.graph_def.node[3].input) == ["s_0_1", "s:1"]


def test_errors_name_what_is_wrong() -> None:
    graph_def = small()
    with pytest.raises(NodeNotFoundError, match=r"output 'outt' not found.*did you mean 'out'.*gs inspect"):
        prune(graph_def, ["outt"])
    with pytest.raises(NodeNotFoundError, match=r"input 'topkk:1' not found.*did you mean 'topk'"):
        prune(graph_def, ["out"], inputs=["topkk:1"])
    with pytest.raises(GraphSurgeonError, match=r"input\(s\) 'ids' not needed: none of the outputs 'out'"):
        prune(graph_def, ["out"], inputs=["ids"])
    with pytest.raises(GraphSurgeonError, match="at least one output"):
        prune(graph_def, [])
    with pytest.raises(GraphSurgeonError, match="both an output and an input"):
        prune(graph_def, ["mm"], inputs=["mm:0"])
    with pytest.raises(NodeNotFoundError, match="has 2 output"):
        prune(graph_def, ["topk:2"])
    with pytest.raises(GraphSurgeonError, match="control input"):
        prune(graph_def, ["^out"])
    dup = make_graph(("a", "Const", []), ("a", "Const", []))
    with pytest.raises(InvalidGraphError, match="duplicate node names: 'a'"):
        prune(dup, ["a"])


def test_dangling_inputs_are_an_error_only_when_kept() -> None:
    graph_def = make_graph(("a", "Const", [], {"dtype": DT.DT_FLOAT}), ("b", "Add", ["a", "gone:0"]),
                           ("c", "Neg", ["b"]), ("d", "Neg", ["a"]))
    with pytest.raises(InvalidGraphError, match=r"node 'b' has input 'gone:0', but the graph has no node 'gone'"):
        prune(graph_def, ["c"])
    assert names(prune(graph_def, ["d"])) == ["a", "d"]
    # Cutting above the dangling input makes the graph usable.
    pruned = prune(graph_def, ["c"], inputs=["b"], input_specs={"b": "float32"})
    assert names(pruned) == ["b", "c"]


def add_function(library: function_pb2.FunctionDefLibrary, name: str, *nodes: tuple) -> None:
    func = library.function.add()
    func.signature.name = name
    for fn_node, op, attrs in nodes:
        node = func.node_def.add(name=fn_node, op=op)
        for key, value in attrs.items():
            if isinstance(value, list):
                for v in value:
                    node.attr[key].list.func.add(name=v)
            else:
                node.attr[key].func.name = value


def test_only_referenced_library_functions_are_kept() -> None:
    graph_def = make_graph(
        ("x", "Placeholder", [], {"dtype": DT.DT_FLOAT}),
        ("call", "PartitionedCall", ["x"], {"f": "outer"}),
        ("direct", "helper_op", ["x"]),                        # a function called as an op
        ("loop", "While", ["x"], {"cond": "cond_fn", "body": "body_fn"}),
        ("out", "AddN", ["call", "direct", "loop"]),
        ("other", "PartitionedCall", ["x"], {"f": "unused_fn"}),
    )
    lib = graph_def.library
    add_function(lib, "outer", ("inner_call", "StatefulPartitionedCall", {"f": "inner"}))
    add_function(lib, "inner", ("case", "Case", {"branches": ["br0", "br1"]}))
    add_function(lib, "br0", ("n", "Neg", {}))
    add_function(lib, "br1", ("n", "Neg", {}))
    add_function(lib, "helper_op", ("n", "Neg", {}))
    add_function(lib, "cond_fn", ("n", "Less", {}))
    add_function(lib, "body_fn", ("n", "Neg", {}))
    add_function(lib, "unused_fn", ("n", "uses_unused_too", {}))
    add_function(lib, "uses_unused_too", ("n", "Neg", {}))
    add_function(lib, "outer_grad", ("n", "Neg", {}))
    add_function(lib, "unused_grad", ("n", "Neg", {}))
    lib.gradient.add(function_name="outer", gradient_func="outer_grad")
    lib.gradient.add(function_name="unused_fn", gradient_func="unused_grad")
    before = graph_def.SerializeToString()

    pruned = prune(graph_def, ["out"])
    kept = [f.signature.name for f in pruned.library.function]
    assert kept == ["outer", "inner", "br0", "br1", "helper_op", "cond_fn", "body_fn", "outer_grad"], kept
    assert [(g.function_name, g.gradient_func) for g in pruned.library.gradient] == [("outer", "outer_grad")]
    assert graph_def.SerializeToString() == before
    assert not prune(graph_def, ["x"]).HasField("library"), "no functions used -> no library"
    only_other = prune(graph_def, ["other"])
    assert [f.signature.name for f in only_other.library.function] == ["unused_fn", "uses_unused_too",
                                                                         "unused_grad"]


def test_while_loop_is_kept_whole() -> None:
    graph_def = while_loop()
    graph_def.node.add(name="unrelated", op="Const")
    pruned = prune(graph_def, ["loop/Exit"])
    assert names(pruned) == [n for n in names(graph_def) if n != "unrelated"]


@pytest.mark.parametrize(("value", "expected"), [
    ("float32", DT.DT_FLOAT), ("float", DT.DT_FLOAT), ("DT_FLOAT", DT.DT_FLOAT), ("tf.int64", DT.DT_INT64),
    ("bool", DT.DT_BOOL), ("string", DT.DT_STRING), ("float64", DT.DT_DOUBLE), (DT.DT_HALF, DT.DT_HALF),
])
def test_parse_dtype(value: object, expected: int) -> None:
    assert parse_dtype(value) == expected


def test_parse_dtype_rejects_junk() -> None:
    with pytest.raises(GraphSurgeonError, match="'floaty' for 'x' is not a dtype"):
        parse_dtype("floaty", "x")


def test_output_dtype_rules() -> None:
    graph_def = make_graph(
        ("eq", "Equal", [], {"T": DT.DT_FLOAT}),
        ("shape", "Shape", [], {"T": DT.DT_FLOAT, "out_type": DT.DT_INT64}),
        ("cast", "Cast", [], {"SrcT": DT.DT_FLOAT, "DstT": DT.DT_INT8}),
        ("var", "VariableV2", [], {"dtype": DT.DT_FLOAT_REF}),
        ("bn", "FusedBatchNormV3", [], {"T": DT.DT_HALF, "U": DT.DT_FLOAT}),
        ("merge", "Merge", [], {"T": DT.DT_STRING}),
        ("mystery", "Mystery", []),
        ("handle", "VarHandleOp", [], {"dtype": DT.DT_FLOAT}),
        ("gather", "GatherV2", [], {"Tparams": DT.DT_HALF, "Tindices": DT.DT_INT32, "Taxis": DT.DT_INT32}),
        ("resize", "ResizeBilinear", [], {"T": DT.DT_UINT8}),
        ("sum", "Sum", [], {"T": DT.DT_DOUBLE, "Tidx": DT.DT_INT32}),
    )
    n = {x.name: x for x in graph_def.node}
    assert output_dtype(n["eq"], 0) == DT.DT_BOOL
    assert output_dtype(n["shape"], 0) == DT.DT_INT64
    assert output_dtype(n["cast"], 0) == DT.DT_INT8
    assert output_dtype(n["var"], 0) == DT.DT_FLOAT_REF
    assert [output_dtype(n["bn"], i) for i in range(3)] == [DT.DT_HALF, DT.DT_FLOAT, DT.DT_FLOAT]
    assert [output_dtype(n["merge"], i) for i in range(2)] == [DT.DT_STRING, DT.DT_INT32]
    assert output_dtype(n["mystery"], 0) is None
    assert output_dtype(n["handle"], 0) == DT.DT_RESOURCE
    assert output_dtype(n["gather"], 0) == DT.DT_HALF
    assert output_dtype(n["resize"], 0) == DT.DT_FLOAT
    assert output_dtype(n["sum"], 0) == DT.DT_DOUBLE


# --- real graphs, against TensorFlow ----------------------------------------------------------------

PRUNE_FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures" / "prune"
MANIFEST = json.loads((PRUNE_FIXTURES / "manifest.json").read_text())["fixtures"]
VARIABLE_OPS = {"VariableV2", "VarHandleOp"}


def fixture_graph(name: str) -> graph_pb2.GraphDef:
    return load_graph(PRUNE_FIXTURES / f"{name}.pb").graph_def


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture_prune_keeps_graph_order_and_functions_used(name: str) -> None:
    graph_def = fixture_graph(name)
    outputs = MANIFEST[name]["outputs"]
    pruned = prune(graph_def, outputs)
    kept = names(pruned)
    assert 0 < len(kept) < len(graph_def.node), f"{name}: nothing pruned ({len(kept)} of {len(graph_def.node)})"
    original = names(graph_def)
    assert kept == [n for n in original if n in set(kept)], "order not preserved"
    assert kept == sorted(GraphView(graph_def).ancestors(outputs), key=original.index)
    assert not [n for n in kept if n.endswith("/Assign") or n.startswith("train")], "training nodes kept"
    assert pruned.versions == graph_def.versions
    used = {f.signature.name for f in pruned.library.function}
    assert used <= {f.signature.name for f in graph_def.library.function}
    assert prune(load_graph(PRUNE_FIXTURES / f"{name}.pb"), outputs) == pruned, "LoadedGraph accepted too"


def tf_module():  # noqa: ANN201
    import tensorflow as tf

    return tf


def tf_graph_def(graph_def: graph_pb2.GraphDef):  # noqa: ANN201
    from tensorflow.core.framework import graph_pb2 as tf_graph_pb2

    return tf_graph_pb2.GraphDef.FromString(graph_def.SerializeToString())


@pytest.mark.tf
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture_kept_nodes_equal_extract_sub_graph(name: str) -> None:
    tf = tf_module()
    graph_def = fixture_graph(name)
    outputs = MANIFEST[name]["outputs"]
    dest = list(dict.fromkeys(node_name(o) for o in outputs))  # extract_sub_graph takes node names only
    ours = names(prune(graph_def, outputs))
    theirs = [n.name for n in tf.compat.v1.graph_util.extract_sub_graph(tf_graph_def(graph_def), dest).node]
    # extract_sub_graph also keeps the targets of colocation attrs (_class: loc:@x); prune keeps
    # only data and control ancestors and drops such constraints. Without _class both agree exactly.
    stripped = tf_graph_def(graph_def)
    for node in stripped.node:
        if "_class" in node.attr:
            del node.attr["_class"]
    pure = [n.name for n in tf.compat.v1.graph_util.extract_sub_graph(stripped, dest).node]
    assert ours == pure
    extra = set(theirs) - set(ours)
    assert set(ours) <= set(theirs)
    if name == "control":
        assert extra == {"unrelated"}, extra
    else:
        assert not extra, f"TF kept {sorted(extra)} as well"
        assert ours == theirs


def random_feeds(name: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {}
    for feed in MANIFEST[name]["feeds"]:
        shape = [2 if d == -1 else d for d in feed["shape"]]
        feeds[feed["name"]] = rng.standard_normal(shape).astype(feed["dtype"])
    return feeds


class Runner:
    """Imports a GraphDef into its own tf.Graph and session."""

    def __init__(self, graph_def: graph_pb2.GraphDef) -> None:
        tf = tf_module()
        self.tf = tf
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.compat.v1.import_graph_def(tf_graph_def(graph_def), name="")
        self.session = tf.compat.v1.Session(graph=self.graph)

    def variables(self) -> list:  # noqa: ANN201
        return [op for op in self.graph.get_operations() if op.type in VARIABLE_OPS]

    def read_variables(self) -> dict[str, np.ndarray]:
        tf = self.tf
        with self.graph.as_default():
            reads = {op.name: (op.outputs[0] if op.type == "VariableV2" else
                               tf.raw_ops.ReadVariableOp(resource=op.outputs[0], dtype=op.get_attr("dtype")))
                     for op in self.variables()}
        return self.session.run(reads)

    def write_variables(self, values: dict[str, np.ndarray]) -> None:
        tf = self.tf
        with self.graph.as_default():
            assigns = [tf.compat.v1.assign(op.outputs[0], values[op.name]) if op.type == "VariableV2" else
                       tf.raw_ops.AssignVariableOp(resource=op.outputs[0], value=values[op.name])
                       for op in self.variables()]
        self.session.run(assigns)

    def run(self, fetches: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run([tensor_name(f) for f in fetches], feeds)


@functools.cache
def original_run(name: str) -> dict:
    """The full fixture graph run once in TensorFlow: variable values, feeds, outputs, cut tensors."""
    info = MANIFEST[name]
    full = Runner(fixture_graph(name))
    full.session.run(info["init"])
    feeds = random_feeds(name)
    fetched = full.run(info["outputs"] + info["cuts"], feeds)
    result = {
        "values": full.read_variables(),
        "feeds": feeds,
        "outputs": fetched[:len(info["outputs"])],
        "cuts": dict(zip(info["cuts"], fetched[len(info["outputs"]):])),
        "cut_types": {c: full.graph.get_tensor_by_name(tensor_name(c)) for c in info["cuts"]},
    }
    result["cut_types"] = {c: (t.dtype.base_dtype.as_datatype_enum, t.shape) for c, t in result["cut_types"].items()}
    full.session.close()
    return result


def check_outputs(pruned: graph_pb2.GraphDef, name: str, feeds: dict[str, np.ndarray], what: str) -> None:
    run = original_run(name)
    small = Runner(pruned)
    variables = {op.name for op in small.variables()}
    assert variables <= set(run["values"])
    small.write_variables({k: v for k, v in run["values"].items() if k in variables})
    got = small.run(MANIFEST[name]["outputs"], feeds)
    small.session.close()
    for output, want, have in zip(MANIFEST[name]["outputs"], run["outputs"], got):
        np.testing.assert_allclose(have, want, rtol=1e-6, atol=1e-6, err_msg=f"{name} {what}: {output}")


@pytest.mark.tf
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture_pruned_graph_runs_in_tensorflow_with_the_same_outputs(name: str) -> None:
    pruned = prune(fixture_graph(name), MANIFEST[name]["outputs"])
    check_outputs(pruned, name, original_run(name)["feeds"], "pruned")


@pytest.mark.tf
@pytest.mark.parametrize(("name", "cut"), [(n, c) for n in sorted(MANIFEST) for c in MANIFEST[n]["cuts"]])
def test_fixture_cut_at_inputs_gives_the_same_outputs(name: str, cut: str) -> None:
    info = MANIFEST[name]
    graph_def = fixture_graph(name)
    run = original_run(name)
    result = prune_graph(graph_def, info["outputs"], inputs=[cut])
    pruned = result.graph_def
    placeholder = result.placeholders[tensor_name(cut)]
    node = next(n for n in pruned.node if n.name == placeholder)
    assert node.op == "Placeholder"
    dtype, tf_shape = run["cut_types"][cut]
    assert node.attr["dtype"].type == dtype, "placeholder dtype"
    shape = shape_from_proto(node.attr["shape"].shape)
    if shape is not None:
        assert tf_shape.is_compatible_with([None if d < 0 else d for d in shape])
    # Nothing above the cut is kept: the original inputs (which feed the outputs only through the
    # cut here) are gone.
    kept = set(names(pruned))
    assert not [f for f in run["feeds"] if node_name(f) in kept], "original inputs kept"
    assert len(kept) < len(names(prune(graph_def, info["outputs"])))
    check_outputs(pruned, name, {f"{placeholder}:0": run["cuts"][cut]}, f"cut at {cut}")


def test_control_fixture_functions_colocation_and_control_edges() -> None:
    graph_def = fixture_graph("control")
    pruned = prune(graph_def, ["out"])
    functions = [f.signature.name for f in pruned.library.function]
    assert any(f.startswith("__inference_scale") for f in functions), functions
    assert not any("never_used" in f for f in functions), functions
    assert any(f.startswith("branch_true") for f in functions) and any(f.startswith("loop_body") for f in functions)
    by_name = {n.name: n for n in pruned.node}
    assert "unrelated" not in by_name and "_class" not in by_name["coloc_only"].attr
    assert list(by_name["near_v"].attr["_class"].list.s) == [b"loc:@v"]
    assert "bump" in by_name, "control dependency of 'checked' is kept"
    view = GraphView(graph_def)
    assert view.graph.edges["bump", "checked"]["kind"] == CONTROL
    assert view.graph.edges["unrelated", "coloc_only"]["kind"] == COLOCATION
    assert view.graph.edges["x", "add"]["kind"] == DATA
    assert view.why("bump", ["out"])[:2] == ["bump", "checked"]


@pytest.mark.tf
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_output_dtype_agrees_with_tensorflow_on_every_node(name: str) -> None:
    tf = tf_module()
    graph_def = fixture_graph(name)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(tf_graph_def(graph_def), name="")
    known = total = 0
    wrong = []
    for node in graph_def.node:
        for k, tensor in enumerate(graph.get_operation_by_name(node.name).outputs):
            total += 1
            ours = output_dtype(node, k)
            if ours is None:
                continue
            known += 1
            if ours != tensor.dtype.as_datatype_enum:
                wrong.append((node.name, node.op, k, ours, tensor.dtype.name))
    assert not wrong, wrong[:10]
    assert known >= 0.98 * total, f"dtype known for only {known} of {total} outputs"
