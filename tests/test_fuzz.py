"""Property-based fuzzing of real fixture files: loading, inspecting and freezing either succeed or raise
``GraphSurgeonError`` (never another exception, a hang, an output left behind after a failure, or a changed
input).

The targets and mutations live in tests/fuzz_campaign.py, which also runs long campaigns
(``python tests/fuzz_campaign.py --examples 100000``). Here hypothesis drives them with a bounded
number of examples (``GS_FUZZ_EXAMPLES``, default 60 a target) so the whole file stays well under a
minute in CI; every example also runs under a time limit (``Hang``), and hypothesis' own deadline
reports slow examples.
"""

from __future__ import annotations

import logging
import os
import pathlib
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import fuzz_campaign as fc  # noqa: E402

EXAMPLES = int(os.environ.get("GS_FUZZ_EXAMPLES", "60"))

mutation = st.tuples(st.sampled_from(fc.KINDS), st.integers(0, 2**32 - 1), st.binary(min_size=1, max_size=16))
FUZZ = settings(max_examples=EXAMPLES, deadline=5000, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _quiet_logs():  # noqa: ANN202
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, fc.Workdir]:
    root = tmp_path_factory.mktemp("fuzz")
    return {name: fc.Workdir(target, root) for name, target in fc.TARGETS.items()}


def _check(workdirs: dict[str, fc.Workdir], name: str, ops: list[tuple[str, int, bytes]]) -> None:
    target = fc.TARGETS[name]
    work = workdirs[name]
    path = work.reset()
    data = target.original(path)
    apply = fc.mutate_text if target.text else fc.mutate
    for kind, pos, payload in ops:
        data = apply(data, kind, pos, payload)
    fc.run_example(target, path, data)  # returns, or raises GraphSurgeonError; anything else fails the test


BYTE_TARGETS = [n for n, t in fc.TARGETS.items() if not n.endswith("-structure")]
STRUCTURE_TARGETS = [n for n in fc.TARGETS if n.endswith("-structure")]


@pytest.mark.parametrize("name", BYTE_TARGETS)
@FUZZ
@given(ops=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_bytes(workdirs: dict[str, fc.Workdir], name: str, ops: list[tuple[str, int, bytes]]) -> None:
    try:
        _check(workdirs, name, ops)
    except fc.GraphSurgeonError:
        pass


@pytest.mark.parametrize("name", STRUCTURE_TARGETS)
@FUZZ
@given(seed=st.binary(min_size=8, max_size=8))
def test_structural_graph_edits(workdirs: dict[str, fc.Workdir], name: str, seed: bytes) -> None:
    try:
        fc.run_example(fc.TARGETS[name], workdirs[name].reset(), seed)
    except fc.GraphSurgeonError:
        pass


def test_pristine_fixtures_pass_every_target(workdirs: dict[str, fc.Workdir]) -> None:
    """Unmutated, every target succeeds: the errors above come from the mutations."""
    for name, target in fc.TARGETS.items():
        path = workdirs[name].reset()
        data = target.original(path) if not name.endswith("-structure") else None
        if data is None:
            continue  # a structure target always edits something
        assert fc.run_example(target, path, data) is None, name


def test_mutations_are_deterministic_and_change_the_data() -> None:
    data = bytes(range(200))
    for kind in fc.KINDS:
        once = fc.mutate(data, kind, 1234, b"\x05\x01\x02")
        assert once == fc.mutate(data, kind, 1234, b"\x05\x01\x02"), kind
    assert fc.mutate(data, "flip", 3, b"\x00") != data
    assert fc.mutate(data, "truncate", 50, b"\x00") == data[:50]


def test_a_hang_is_reported(tmp_path: pathlib.Path) -> None:
    """The time limit turns an endless loop into ``Hang`` (which no library code can swallow)."""
    with pytest.raises(fc.Hang):
        with fc.time_limit(0.2):
            while True:
                pass


def test_a_crash_is_a_finding(tmp_path: pathlib.Path) -> None:
    """run_example lets a non-GraphSurgeonError through (the oracle can fail)."""
    def boom(work: pathlib.Path) -> None:
        raise IndexError("a bug")
    target = fc.Target("boom", lambda work: (work / "f").write_bytes(b"x"), "f", boom)
    work = fc.Workdir(target, tmp_path)
    with pytest.raises(IndexError):
        fc.run_example(target, work.reset(), b"y")

    def leaves_a_file(work: pathlib.Path) -> None:
        (work / "stray.tmp").write_bytes(b"")
    target = fc.Target("stray", lambda work: (work / "f").write_bytes(b"x"), "f", leaves_a_file)
    with pytest.raises(fc.Finding, match="stray.tmp"):
        fc.run_example(target, fc.Workdir(target, tmp_path).reset(), b"y")


# --- regressions found by tests/fuzz_campaign.py (each crashed with a non-GraphSurgeonError) ----------

def _tf2_copy(tmp_path: pathlib.Path):  # noqa: ANN202
    import shutil

    from graphsurgeon._proto import saved_model_pb2

    saved = tmp_path / "module"
    shutil.copytree(fc.FIXTURES / "tf2" / "module", saved)
    return saved, saved_model_pb2.SavedModel.FromString((saved / "saved_model.pb").read_bytes())


@pytest.mark.parametrize("child_id", [10**6, -1])
def test_object_graph_child_past_the_end(tmp_path: pathlib.Path, child_id: int) -> None:
    """Was IndexError in graph/object_graph._object_paths (gs inspect / freeze of a damaged TF2 SavedModel)."""
    saved, model = _tf2_copy(tmp_path)
    objects = model.meta_graphs[0].object_graph_def.nodes
    objects[0].children.add(node_id=child_id & 0x7FFFFFFF, local_name="broken")
    (saved / "saved_model.pb").write_bytes(model.SerializeToString())
    assert fc._quiet_gs("inspect", saved) == 0
    fc.freeze_signature(saved)  # the variables are still found through the other edges


def test_object_graph_without_nodes(tmp_path: pathlib.Path) -> None:
    saved, model = _tf2_copy(tmp_path)
    del model.meta_graphs[0].object_graph_def.nodes[:]
    (saved / "saved_model.pb").write_bytes(model.SerializeToString())
    assert fc._quiet_gs("inspect", saved) in (0, 1)
    try:
        fc.freeze_signature(saved)
    except fc.GraphSurgeonError:
        pass


def test_damaged_trainable_variables_collection(tmp_path: pathlib.Path) -> None:
    """Was DecodeError in summary._trainable_names (gs inspect of a .meta with a damaged collection)."""
    from graphsurgeon._proto import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef.FromString((fc.MLP / "model.ckpt.meta").read_bytes())
    values = meta.collection_def["trainable_variables"].bytes_list.value
    values[0] = b"\x0a\x02\xff\xfe" + values[0][4:]  # variable_name: bytes that are not UTF-8
    path = tmp_path / "model.ckpt.meta"
    path.write_bytes(meta.SerializeToString())
    assert fc._quiet_gs("inspect", path) == 0
    fc.summarize(fc.load_graph(path))


def test_restore_function_identity_without_input(tmp_path: pathlib.Path) -> None:
    """Was IndexError in graph/object_graph._route_b (an Identity with no input in the restore function)."""
    saved, model = _tf2_copy(tmp_path)
    meta = model.meta_graphs[0]
    restore = next(n for n in meta.graph_def.node if n.name == meta.saver_def.restore_op_name.split(":")[0])
    fdef = next(f for f in meta.graph_def.library.function if f.signature.name == restore.attr["f"].func.name)
    identities = [n for n in fdef.node_def if n.op == "Identity"]
    assert identities, "the restore function reads through Identity nodes"
    for node in identities:
        del node.input[:]
    (saved / "saved_model.pb").write_bytes(model.SerializeToString())
    assert fc._quiet_gs("inspect", saved) in (0, 1)
    try:
        fc.freeze_signature(saved)
    except fc.GraphSurgeonError:
        pass


def test_malformed_function_input_names_the_saved_model(tmp_path: pathlib.Path) -> None:
    """Was a bare ValueError from functions.parse_function_input (a damaged 'ret' of a library function)."""
    from graphsurgeon.errors import InvalidGraphError

    saved, model = _tf2_copy(tmp_path)
    for fdef in model.meta_graphs[0].graph_def.library.function:
        for key in fdef.ret:
            fdef.ret[key] = fdef.ret[key].replace(":output:", "::output:")
    (saved / "saved_model.pb").write_bytes(model.SerializeToString())
    with pytest.raises(InvalidGraphError, match=f"SavedModel '{saved}': .* is not a function-body input"):
        fc.freeze_signature(saved)
    assert fc._quiet_gs("inspect", saved) in (0, 1)


@pytest.mark.parametrize("damage_kind", ["bias-add-one-input", "weights-rank-1"])
def test_optimize_batch_norm_over_a_damaged_convolution(tmp_path: pathlib.Path, damage_kind: str) -> None:
    """Was IndexError in fold_batch_norm._linear (a BiasAdd with one input; weights of the wrong rank)."""
    from graphsurgeon._proto import graph_pb2
    from graphsurgeon.formats.tensors import array_to_tensor

    graph_def = graph_pb2.GraphDef.FromString(fc._frozen_batchnorm())
    nodes = {n.name: n for n in graph_def.node}
    for node in graph_def.node:  # the batch norm reads the convolution directly (no Relu between)
        node.input[:] = ["conv/BiasAdd" if i == "conv/Relu" else i for i in node.input]
    if damage_kind == "bias-add-one-input":
        del nodes["conv/BiasAdd"].input[1]
    else:
        import numpy as np

        nodes["conv/weights"].attr["value"].tensor.CopyFrom(array_to_tensor(np.ones(3, np.float32)))
    path = tmp_path / "frozen.pb"
    path.write_bytes(graph_def.SerializeToString())
    assert fc._quiet_gs("optimize", path, "--outputs", "out", "-o", tmp_path / "o.pb") in (0, 1)


def test_identity_with_a_variable_at_input_1(tmp_path: pathlib.Path) -> None:
    """Was KeyError in FunctionFreezer.rewrite_body (an Identity whose variable input is not input 0)."""
    from graphsurgeon.errors import UnsupportedError

    saved, model = _tf2_copy(tmp_path)
    calls = [n for f in model.meta_graphs[0].graph_def.library.function for n in f.node_def
             if n.op == "StatefulPartitionedCall" and len(n.input) > 1]
    assert calls, "the signature wrapper calls the function with the variables as trailing inputs"
    for node in calls:
        node.op = "Identity"
    (saved / "saved_model.pb").write_bytes(model.SerializeToString())
    with pytest.raises(UnsupportedError, match="in a way graphsurgeon cannot freeze"):
        fc.freeze_signature(saved)


@pytest.mark.parametrize("dims", [[2**40], [2**40, 2**40], [-1, 3]])
def test_constant_with_a_damaged_shape(tmp_path: pathlib.Path, dims: list[int]) -> None:
    """Was a 4 TiB np.empty (MemoryError) in tensors.tensor_to_array when fold_constants read a splat
    Const whose shape was damaged; int64 products of such dims also wrapped around."""
    from graphsurgeon._proto import graph_pb2, tensor_pb2, types_pb2
    from graphsurgeon.errors import UnsupportedError
    from graphsurgeon.formats.tensors import tensor_to_array

    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.0])
    for d in dims:
        proto.tensor_shape.dim.add(size=d)
    with pytest.raises(UnsupportedError, match="Const 'c'"):
        tensor_to_array(proto, "Const 'c'")
    graph_def = graph_pb2.GraphDef.FromString(fc._frozen("mobilenet"))
    const = next(n for n in graph_def.node if n.op == "Const" and n.attr["value"].tensor.tensor_content)
    const.attr["value"].tensor.CopyFrom(proto)
    path = tmp_path / "frozen.pb"
    path.write_bytes(graph_def.SerializeToString())
    assert fc._quiet_gs("optimize", path, "--outputs", "output", "-o", tmp_path / "o.pb") in (0, 1)


def test_switch_without_inputs_on_a_predicate_path(tmp_path: pathlib.Path) -> None:
    """Was IndexError in fold_constant_switches._predicate (a predicate read through an input-less Switch)."""
    from graphsurgeon._proto import graph_pb2

    graph_def = graph_pb2.GraphDef.FromString(fc._frozen("batchnorm"))
    nodes = {n.name: n for n in graph_def.node}
    nodes["BatchNorm/cond/pred_id"].input[:] = ["BatchNorm/cond/Switch"]
    del nodes["BatchNorm/cond/Switch"].input[:]
    path = tmp_path / "frozen.pb"
    path.write_bytes(graph_def.SerializeToString())
    assert fc._quiet_gs("optimize", path, "--outputs", "out", "-o", tmp_path / "o.pb") in (0, 1)


@pytest.mark.parametrize("op", ["Fill", "Tile", "Range"])
def test_optimize_does_not_materialize_huge_constants(tmp_path: pathlib.Path, op: str) -> None:
    """fold_constants computed Fill / Tile / Range before checking their size: a 16 GiB Fill (or a damaged
    shape asking for terabytes) was allocated just to be refused by the growth budget."""
    import tracemalloc

    import numpy as np

    from graphsurgeon._proto import graph_pb2, types_pb2
    from graphsurgeon.formats.tensors import array_to_tensor

    graph_def = graph_pb2.GraphDef()

    def const(name: str, value: np.ndarray) -> None:
        node = graph_def.node.add(name=name, op="Const")
        node.attr["dtype"].type = {np.dtype(np.int32): types_pb2.DT_INT32,
                                   np.dtype(np.float32): types_pb2.DT_FLOAT}[value.dtype]
        node.attr["value"].tensor.CopyFrom(array_to_tensor(value))

    if op == "Fill":
        const("a", np.array([2**30, 4], np.int32))
        const("b", np.array(0.5, np.float32))
    elif op == "Tile":
        const("a", np.ones((4, 4), np.float32))
        const("b", np.array([2**28, 2**4], np.int32))
    else:
        const("a", np.array(0, np.int32))
        const("b", np.array(2**31 - 1, np.int32))
        const("c", np.array(1, np.int32))
    node = graph_def.node.add(name="big", op=op, input=["a", "b"] + (["c"] if op == "Range" else []))
    node.attr["T" if op != "Range" else "Tidx"].type = types_pb2.DT_FLOAT if op != "Range" else types_pb2.DT_INT32
    graph_def.node.add(name="out", op="Identity", input=["big"]).attr["T"].CopyFrom(node.attr[next(iter(node.attr))])
    path = tmp_path / "g.pb"
    path.write_bytes(graph_def.SerializeToString())
    tracemalloc.start()
    try:
        code = fc._quiet_gs("optimize", path, "--outputs", "out", "-o", tmp_path / "o.pb")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0  # not folded: the graph keeps its op
    assert peak < 64 << 20, peak
