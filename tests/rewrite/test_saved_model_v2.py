"""freeze_signature: TF2 SavedModel signatures frozen from the protos, checked against TensorFlow."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from graphsurgeon._proto import saved_model_pb2, types_pb2
from graphsurgeon.errors import CheckpointError, FileFormatError, MismatchError, NodeNotFoundError, UnsupportedError
from graphsurgeon.formats.checkpoint import load_checkpoint
from graphsurgeon.formats.model import load_graph
from graphsurgeon.graph import functions as fn
from graphsurgeon.graph import object_graph
from graphsurgeon.rewrite import inline, specialize
from graphsurgeon.rewrite import saved_model_v2 as v2

TF2 = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "tf2"
MODELS = ["module", "stateful", "keras3_cnn", "keras3_export", "lstm", "variable_ops"]
RESOURCE_OPS = {"VarHandleOp", "ReadVariableOp", "ResourceGather", "ResourceGatherNd", "VariableShape",
                "VarIsInitializedOp", "AssignVariableOp", "AssignAddVariableOp"}


def _all_nodes(graph_def):  # noqa: ANN001, ANN202
    yield from (("<graph>", n) for n in graph_def.node)
    for fdef in graph_def.library.function:
        yield from ((fdef.signature.name, n) for n in fdef.node_def)


def _assert_frozen(result: v2.SignatureFreezeResult) -> None:
    graph = result.graph_def
    leftover = [(where, n.name, n.op) for where, n in _all_nodes(graph) if n.op in RESOURCE_OPS]
    assert not leftover, f"resource ops left: {leftover[:5]}"
    for fdef in graph.library.function:
        bad = [a.name for a in list(fdef.signature.input_arg) + list(fdef.signature.output_arg)
               if a.type == types_pb2.DT_RESOURCE]
        assert not bad, f"{fdef.signature.name} still has resource args {bad}"
    library = fn.function_library(graph)
    assert set(fn.reachable_functions(graph.node, library)) == set(library), "library holds unreachable functions"
    assert not fn.missing_functions(graph)
    names = {n.name for n in graph.node}
    for tensor in list(result.inputs.values()) + list(result.outputs.values()):
        assert tensor.split(":")[0] in names, f"signature tensor {tensor} missing from the frozen graph"


@pytest.mark.parametrize("model", MODELS)
def test_freeze_structure(model: str) -> None:
    before = (TF2 / model / "saved_model.pb").read_bytes()
    loaded = load_graph(TF2 / model)
    assert v2.is_tf2_saved_model(loaded)
    meta_before = loaded.meta_graph_def.SerializeToString(deterministic=True)
    result = v2.freeze_signature(loaded)
    assert loaded.meta_graph_def.SerializeToString(deterministic=True) == meta_before, "input was modified"
    _assert_frozen(result)
    assert result.variables, "no variables frozen"
    assert (TF2 / model / "saved_model.pb").read_bytes() == before
    # The signature's own tensor names are kept.
    meta = loaded.meta_graph_def
    sig = meta.signature_def["serving_default"]
    assert result.inputs == {k: v.name for k, v in sig.inputs.items()}
    assert result.outputs == {k: v.name for k, v in sig.outputs.items()}
    assert all(name.startswith("serving_default_") for name in result.inputs.values())
    # Originals are untouched in the input; rewritten functions carry new names.
    originals = set(fn.function_library(meta.graph_def))
    rewritten = [f for f in fn.function_library(result.graph_def) if f not in originals]
    assert rewritten and all(specialize.FROZEN_SUFFIX in f for f in rewritten), rewritten


@pytest.mark.parametrize("model", [m for m in MODELS if m != "keras3_export"])
def test_routes_agree(model: str) -> None:
    """Route A (object graphs) and route B (restore function) give the same key for every variable."""
    loaded = load_graph(TF2 / model)
    meta = loaded.meta_graph_def
    ckpt = load_checkpoint(TF2 / model / "variables" / "variables")
    captured = object_graph._captured_object_ids(meta, meta.graph_def.node)
    route_a = object_graph._route_a(meta, captured, ckpt.object_graph())
    route_b = object_graph._route_b(meta)
    assert route_a, "route A found nothing"
    common = set(route_a) & set(route_b)
    assert common == set(route_a), f"route B misses {set(route_a) - set(route_b)}"
    assert {k: route_a[k] for k in common} == {k: route_b[k] for k in common}
    assert all(route_a[k] in ckpt for k in route_a)


def test_keras3_export_routes_differ_but_values_agree(caplog: pytest.LogCaptureFixture) -> None:
    """model.export tracks each variable twice; the two routes name different keys with equal values.
    That is nothing a user can act on: it is logged at debug level, not printed as a note."""
    import logging

    with caplog.at_level(logging.DEBUG, logger="graphsurgeon.rewrite.saved_model_v2"):
        result = v2.freeze_signature(TF2 / "keras3_export")
    assert not any("two checkpoint keys" in n for n in result.notes), result.notes
    assert any("two checkpoint keys with equal values" in r.getMessage() and r.levelno == logging.DEBUG
               for r in caplog.records), caplog.text
    ckpt = load_checkpoint(TF2 / "keras3_export" / "variables" / "variables")
    bad = {k: ckpt[k] for k in ckpt}
    bad["_all_variables/0/.ATTRIBUTES/VARIABLE_VALUE"] = bad["_all_variables/0/.ATTRIBUTES/VARIABLE_VALUE"] + 1
    with pytest.raises(MismatchError, match="the restore function restores it from '_all_variables/0/"):
        v2.freeze_signature(TF2 / "keras3_export", checkpoint=bad)


def test_variables_listing() -> None:
    listing = object_graph.saved_model_variables(TF2 / "keras3_cnn")
    by_node = {v["node"]: v for v in listing}
    assert by_node["conv/kernel"]["key"] == "_operations/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE"
    assert by_node["conv/kernel"]["shape"] == (3, 3, 3, 4)
    assert by_node["conv/kernel"]["signatures"] == ["serving_default"]
    functions = object_graph.saved_model_functions(TF2 / "keras3_cnn")
    used = [f["name"] for f in functions if "serving_default" in f["signatures"]]
    assert len(used) == 2 and any("signature_wrapper" in f for f in used), used


def test_dropped_assignment_is_noted() -> None:
    result = v2.freeze_signature(TF2 / "stateful")
    assert any("AssignAddVariableOp" in n and "'calls'" in n for n in result.notes), result.notes
    _assert_frozen(result)


def test_read_after_assignment_is_refused() -> None:
    with pytest.raises(UnsupportedError, match=r"uses variable 'calls' after 'AssignAddVariableOp' assigns it"):
        v2.freeze_signature(TF2 / "stateful", signature="count")


def test_output_subset() -> None:
    result = v2.freeze_signature(TF2 / "module", outputs=["total"])
    assert result.outputs == {"total": "StatefulPartitionedCall:0"}
    with pytest.raises(NodeNotFoundError, match="output 'totl' not found.*did you mean 'total'"):
        v2.freeze_signature(TF2 / "module", outputs="totl")


def test_unknown_signature_lists_available() -> None:
    with pytest.raises(NodeNotFoundError, match=r"signature 'predict' not found.*available signatures: count, "
                                                r"serving_default"):
        v2.freeze_signature(TF2 / "stateful", signature="predict")


def test_unknown_tags_list_available() -> None:
    with pytest.raises(FileFormatError, match="no meta graph with tags 'gpu,serve'.*available tag sets: serve"):
        v2.freeze_signature(TF2 / "module", tags="serve,gpu")


def test_missing_variable() -> None:
    ckpt = load_checkpoint(TF2 / "module" / "variables" / "variables")
    partial = {k: ckpt[k] for k in ckpt if not k.startswith("w/")}
    with pytest.raises(CheckpointError, match=r"variable 'w' \(checkpoint key 'w/.ATTRIBUTES/VARIABLE_VALUE'\) "
                                              "is missing"):
        v2.freeze_signature(TF2 / "module", checkpoint=partial)


def test_lookup_table_refused() -> None:
    with pytest.raises(UnsupportedError, match=r"lookup table 'hash_table' \(HashTableV2\).*vocab.txt"):
        v2.freeze_signature(TF2 / "lookup")


def _copy_with_restore_keys_swapped(tmp_path: pathlib.Path) -> pathlib.Path:
    target = tmp_path / "swapped"
    shutil.copytree(TF2 / "module", target)
    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString((target / "saved_model.pb").read_bytes())
    for fdef in sm.meta_graphs[0].graph_def.library.function:
        for node in fdef.node_def:
            if node.name == "RestoreV2/tensor_names":
                vals = node.attr["value"].tensor.string_val
                vals[0], vals[1] = vals[1], vals[0]
    (target / "saved_model.pb").write_bytes(sm.SerializeToString())
    return target


def test_routes_disagree_is_an_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(MismatchError, match="object graph maps it to checkpoint key .* but the restore function"):
        v2.freeze_signature(_copy_with_restore_keys_swapped(tmp_path))


def test_wrong_shape_in_checkpoint() -> None:
    ckpt = load_checkpoint(TF2 / "module" / "variables" / "variables")
    bad = {k: ckpt[k] for k in ckpt}
    bad["b/.ATTRIBUTES/VARIABLE_VALUE"] = np.zeros([5], np.float32)
    with pytest.raises(MismatchError, match=r"variable 'b' has shape \[4\]"):
        v2.freeze_signature(TF2 / "module", checkpoint=bad)


def test_freeze_does_not_import_tensorflow() -> None:
    """No TensorFlow (and so no convert_variables_to_constants_v2) is needed to freeze."""
    code = textwrap.dedent(f"""
        import sys
        from graphsurgeon.rewrite.saved_model_v2 import freeze_signature
        r = freeze_signature({str(TF2 / 'lstm')!r})
        assert r.variables
        bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))
        print('LOADED', bad)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert "LOADED []" in out.stdout, out.stdout + out.stderr


# --- against TensorFlow -----------------------------------------------------------------------------

def _run_frozen(result: v2.SignatureFreezeResult, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(result.graph_def.SerializeToString())
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return sess.run(dict(result.outputs), {result.inputs[k]: v for k, v in feeds.items()})


def _run_eager(saved_model_dir: pathlib.Path, signature: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(saved_model_dir))
    out = loaded.signatures[signature](**{k: tf.constant(v) for k, v in feeds.items()})
    return {k: v.numpy() for k, v in out.items()}


def _compare(saved_model_dir: pathlib.Path, feeds: dict[str, np.ndarray], signature: str = "serving_default",
             atol: float = 1e-5, inline: bool = False) -> v2.SignatureFreezeResult:
    result = v2.freeze_signature(saved_model_dir, signature=signature, inline=inline)
    got = _run_frozen(result, feeds)
    want = _run_eager(saved_model_dir, signature, feeds)
    assert set(got) == set(want)
    for key in want:
        have, expected = np.asarray(got[key]), np.asarray(want[key])
        assert have.shape == expected.shape, key
        if expected.dtype.kind in "OSU":
            assert have.tolist() == expected.tolist(), key
        else:
            np.testing.assert_allclose(have, expected, rtol=1e-5, atol=atol, err_msg=key)
    return result


RNG = np.random.default_rng(0)


@pytest.mark.tf
def test_module_while_cond_two_outputs() -> None:
    # Both branches of the cond: positive and negative totals.
    for sign in (1.0, -1.0):
        x = (sign * np.abs(RNG.normal(size=(3, 4)))).astype(np.float32)
        _compare(TF2 / "module", {"x": x})


@pytest.mark.tf
def test_stateful_module() -> None:
    _compare(TF2 / "stateful", {"x": RNG.normal(size=(2, 2)).astype(np.float32)})


@pytest.mark.tf
def test_keras3_cnn() -> None:
    _compare(TF2 / "keras3_cnn", {"inputs": RNG.normal(size=(2, 8, 8, 3)).astype(np.float32)})


@pytest.mark.tf
def test_string_and_float16_variables_two_inputs() -> None:
    result = _compare(TF2 / "mixed", {"x": np.array([1.0, -2.0], np.float32), "n": np.array(3, np.int32)})
    assert {v.node for v in result.variables} == {"words", "half"}
    _assert_frozen(result)


@pytest.mark.tf
def test_model_without_variables() -> None:
    result = _compare(TF2 / "no_variables", {"x": np.array([[1.0, -2.0]], np.float32)})
    assert not result.variables and not result.notes


@pytest.mark.tf
def test_keras3_model_export() -> None:
    _compare(TF2 / "keras3_export", {"image": RNG.normal(size=(2, 6, 6, 2)).astype(np.float32)})


@pytest.mark.tf
def test_tf_keras_embedding_lstm() -> None:
    result = _compare(TF2 / "lstm", {"tokens": RNG.integers(0, 20, size=(3, 5)).astype(np.int32)})
    ops = {n.op for _, n in _all_nodes(result.graph_def)}
    # ResourceGather (the embedding lookup) became GatherV2; the LSTM loop is a functional While.
    assert "GatherV2" in ops and {"While", "StatelessWhile"} & ops, sorted(ops)


@pytest.mark.tf
def test_keras3_mobilenet_v2(tmp_path: pathlib.Path) -> None:
    sys.path.insert(0, str(TF2.parent))
    try:
        import make_tf2_fixtures
    finally:
        sys.path.remove(str(TF2.parent))
    make_tf2_fixtures.make_mobilenet(tmp_path / "mobilenet", size=32, alpha=0.35)
    feeds = {"inputs": RNG.random((2, 32, 32, 3), dtype=np.float32)}
    result = _compare(tmp_path / "mobilenet", feeds)
    assert len(result.variables) > 200
    _assert_frozen(result)
    flat = _compare(tmp_path / "mobilenet", feeds, inline=True)
    assert not flat.graph_def.library.function, "a model without control flow inlines to a function-free graph"
    assert "Conv2D" in {n.op for n in flat.graph_def.node}


@pytest.mark.tf
def test_variable_read_ops() -> None:
    """ResourceGather, ResourceGatherNd, VariableShape and VarIsInitializedOp on a frozen variable."""
    loaded = load_graph(TF2 / "variable_ops")
    ops_before = {n.op for _, n in _all_nodes(loaded.graph_def)}
    assert {"ResourceGather", "ResourceGatherNd", "VariableShape", "VarIsInitializedOp"} <= ops_before
    result = _compare(TF2 / "variable_ops", {"idx": np.array([[1, 0], [0, 2]], np.int32)})
    _assert_frozen(result)


INLINE_FEEDS = {
    "module": {"x": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)},
    "stateful": {"x": np.ones((2, 2), np.float32)},
    "keras3_cnn": {"inputs": np.linspace(-1, 1, 2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 8, 8, 3)},
    "keras3_export": {"image": np.linspace(-1, 1, 2 * 6 * 6 * 2, dtype=np.float32).reshape(2, 6, 6, 2)},
    "lstm": {"tokens": np.arange(10, dtype=np.int32).reshape(2, 5)},
    "variable_ops": {"idx": np.array([[1, 0], [0, 2]], np.int32)},
}


@pytest.mark.tf
@pytest.mark.parametrize("model", sorted(INLINE_FEEDS))
def test_inline(model: str) -> None:
    result = _compare(TF2 / model, INLINE_FEEDS[model], inline=True)
    calls = [n.name for n in result.graph_def.node if n.op in fn.CALL_OPS]
    assert not calls, f"calls left after inlining: {calls}"
    # Output names survive: each call became an Identity (one result) or IdentityN of the same name.
    producers = {n.name: n.op for n in result.graph_def.node}
    assert all(producers[t.split(":")[0]] in ("Identity", "IdentityN") for t in result.outputs.values())
    _assert_frozen(result)


def test_inline_is_pure() -> None:
    result = v2.freeze_signature(TF2 / "keras3_cnn")
    before = result.graph_def.SerializeToString()
    flat = inline.inline_calls(result.graph_def)
    assert result.graph_def.SerializeToString() == before
    assert not flat.library.function and len(flat.node) > len(result.graph_def.node)


def test_other_resource_refused_by_name() -> None:
    loaded = load_graph(TF2 / "module")
    node = next(n for n in loaded.meta_graph_def.graph_def.node if n.name == "steps")
    node.op = "MutableHashTableOfTensorsV2"  # any resource that is not a variable
    with pytest.raises(UnsupportedError, match=r"takes resource 'steps' \(MutableHashTableOfTensorsV2\), which is "
                                               "not a variable"):
        v2.freeze_signature(loaded)
