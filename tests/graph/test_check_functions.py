"""check_graph on function bodies: input references (``node:out_arg:index``, ``arg``, ``^node``) and ``ret``.

Every graph of tests/fixtures (many made by TensorFlow 2 with function libraries) must pass; a real
TF-made function body damaged in one reference must not, and TensorFlow itself must refuse the same
damage when it instantiates the function (the C++ ``InstantiateFunction``, run by a Session), so the
check rejects nothing TensorFlow accepts.
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable

import pytest

from graphsurgeon._proto import function_pb2, graph_pb2, saved_model_pb2
from graphsurgeon.errors import InvalidGraphError
from graphsurgeon.formats.model import load_graph
from graphsurgeon.graph.check import check_graph

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
GRAPH_SUFFIXES = (".pb", ".pbtxt", ".meta")


def _fixture_graphs() -> list[tuple[str, graph_pb2.GraphDef]]:
    """Every GraphDef under tests/fixtures: graph files, MetaGraphs and each meta graph of every SavedModel."""
    out = []
    for path in sorted(FIXTURES.rglob("*")):
        if path.suffix not in GRAPH_SUFFIXES or path.name in ("fingerprint.pb", "saved_model.pb"):
            continue
        out.append((str(path.relative_to(FIXTURES)), load_graph(path).graph_def))
    for path in sorted(FIXTURES.rglob("saved_model.pb")):
        saved = saved_model_pb2.SavedModel.FromString(path.read_bytes())
        for i, meta in enumerate(saved.meta_graphs):
            out.append((f"{path.parent.relative_to(FIXTURES)}[{i}]", meta.graph_def))
    return out


def test_every_fixture_graph_passes():
    graphs = _fixture_graphs()
    functions = sum(len(g.library.function) for _, g in graphs)
    body_nodes = sum(len(f.node_def) for _, g in graphs for f in g.library.function)
    assert functions > 300 and body_nodes > 5000  # the TF2 SavedModels, control_flow_v2, keras If... are here
    for name, graph_def in graphs:
        check_graph(graph_def, frozen=False, source=name)


def test_function_check_is_fast():
    graph_def = load_graph(FIXTURES / "tf2" / "lstm").graph_def  # 80 functions, ~3500 body nodes
    check_graph(graph_def, frozen=False)
    start = time.perf_counter()
    for _ in range(5):
        check_graph(graph_def, frozen=False)
    assert (time.perf_counter() - start) / 5 < 0.5


def _control_flow_v2() -> graph_pb2.GraphDef:
    return load_graph(FIXTURES / "freeze" / "control_flow_v2" / "graph.pb").graph_def


def _body(graph_def: graph_pb2.GraphDef, prefix: str) -> function_pb2.FunctionDef:
    return next(f for f in graph_def.library.function if f.signature.name.startswith(prefix))


def _set_input(node: str, index: int, value: str) -> Callable[[function_pb2.FunctionDef], None]:
    def change(function: function_pb2.FunctionDef) -> None:
        next(n for n in function.node_def if n.name == node).input[index] = value
    return change


def _add_input(node: str, value: str) -> Callable[[function_pb2.FunctionDef], None]:
    def change(function: function_pb2.FunctionDef) -> None:
        next(n for n in function.node_def if n.name == node).input.append(value)
    return change


def _set_ret(key: str, value: str | None) -> Callable[[function_pb2.FunctionDef], None]:
    def change(function: function_pb2.FunctionDef) -> None:
        if value is None:
            del function.ret[key]
        else:
            function.ret[key] = value
    return change


# The while body of control_flow_v2 (made by TF: tf.while_loop under TF2 control flow). Its add_1 is
# AddV2(MatMul:product:0, add_1/ReadVariableOp:value:0); add_0 is AddV2(placeholder, add/y:output:0).
BROKEN = [
    (_set_input("add_1", 0, "MatMull:product:0"), r"node 'add_1' input 'MatMull:product:0' names node 'MatMull', "
     r"which is not a node of the function; did you mean 'MatMul'\?"),
    (_set_input("add_1", 0, "MatMul:prodcut:0"), r"output arg 'prodcut' of 'MatMul' \(MatMul\), which the op does "
     r"not have \(its output args: 'product'\)"),
    (_set_input("add_1", 0, "MatMul:product:1"), r"element 1 of output arg 'product' of 'MatMul' \(MatMul\), which "
     r"has 1 element"),
    (_set_input("add_1", 0, "MatMul"), r"names node 'MatMul' without an output arg"),
    (_set_input("add_0", 0, "placeholderr"), r"names 'placeholderr', which is neither a node of the function nor "
     r"one of its input args; did you mean 'placeholder'"),
    (_set_input("add_0", 0, "placeholder:1"), r"element 1 of input arg 'placeholder', which has 1"),
    (_add_input("add_0", "^Tanhh"), r"input '\^Tanhh' names 'Tanhh'.*did you mean 'Tanh'\?"),
    (_set_ret("tanh", "Tanh:y:1"), r"ret 'tanh' -> 'Tanh:y:1' asks for element 1 of output arg 'y'"),
    (_set_ret("tanh", "Tanhh:y:0"), r"ret 'tanh' -> 'Tanhh:y:0' names node 'Tanhh'.*did you mean 'Tanh'\?"),
    (_set_ret("tanh", None), r"output arg 'tanh' has no entry in the function's ret"),
]
# Forms TensorFlow accepts too: 'arg:0', 'node:out_arg' (no index), '^arg'.
VALID = [
    _set_input("add_0", 0, "placeholder:0"),
    _set_input("add_0", 1, "add/y:output"),
    _add_input("add_0", "^placeholder"),
]


def _damaged(base: graph_pb2.GraphDef, change: Callable[[function_pb2.FunctionDef], None]) -> graph_pb2.GraphDef:
    graph_def = graph_pb2.GraphDef()
    graph_def.CopyFrom(base)
    change(_body(graph_def, "loop_body"))
    return graph_def


@pytest.mark.parametrize("change, message", BROKEN)
def test_damaged_function_body_is_named(change, message):
    base = _control_flow_v2()
    check_graph(base, frozen=False)
    with pytest.raises(InvalidGraphError, match=r"^cf2\.pb, function 'loop_body_\d+': .*" + message):
        check_graph(_damaged(base, change), frozen=False, source="cf2.pb")


@pytest.mark.parametrize("change", VALID)
def test_other_valid_reference_forms_pass(change):
    check_graph(_damaged(_control_flow_v2(), change), frozen=False)


def test_list_outputs_count_their_elements():
    """number_attr (Split's num_split) and type_list_attr (StatelessWhile's T) set how far an index may go."""
    base = load_graph(FIXTURES / "tf2" / "lstm").graph_def
    for op, attr in (("Split", "num_split"), ("StatelessWhile", "T")):
        function = next(f for f in base.library.function if any(n.op == op for n in f.node_def))
        producer = next(n for n in function.node_def if n.op == op)
        value = producer.attr[attr]
        count = value.i if attr == "num_split" else len(value.list.type)
        consumer, position = next((n, k) for n in function.node_def for k, i in enumerate(n.input)
                                  if i.startswith(producer.name + ":output:"))
        for index, ok in ((count - 1, True), (count, False)):
            graph_def = graph_pb2.GraphDef()
            graph_def.CopyFrom(base)
            body = next(f for f in graph_def.library.function if f.signature.name == function.signature.name)
            next(n for n in body.node_def if n.name == consumer.name).input[position] = (
                f"{producer.name}:output:{index}")
            if ok:
                check_graph(graph_def, frozen=False)
            else:
                with pytest.raises(InvalidGraphError, match=f"element {count} of output arg 'output' of "
                                   f"'{producer.name}' \\({op}\\), which has {count} elements"):
                    check_graph(graph_def, frozen=False)


def _tensorflow_instantiates(graph_def: graph_pb2.GraphDef) -> bool:
    """Runs the while loop in a Session: False when TensorFlow cannot instantiate its body (InvalidArgument).

    The fixture's variables are not initialized, so a body TensorFlow accepts fails later, at run
    time, with FailedPrecondition (uninitialized variable).
    """
    import numpy as np
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        tf.import_graph_def(tf.compat.v1.GraphDef.FromString(graph_def.SerializeToString()), name="")
        loop = next(n.name for n in graph_def.node if n.op in ("While", "StatelessWhile"))
        with tf.compat.v1.Session(graph=graph) as session:
            try:
                session.run(graph.get_operation_by_name(loop).outputs[0],
                            {"x:0": np.zeros((1, 3), np.float32)})
            except tf.errors.FailedPreconditionError:
                return True
            except tf.errors.InvalidArgumentError:
                return False
    return True


@pytest.mark.tf
def test_tensorflow_refuses_what_we_refuse():
    base = _control_flow_v2()
    assert _tensorflow_instantiates(base)
    for change, _ in BROKEN:
        assert not _tensorflow_instantiates(_damaged(base, change)), change
    for change in VALID:
        assert _tensorflow_instantiates(_damaged(base, change)), change
