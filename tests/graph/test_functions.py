"""graph/functions.py: function-body input names and the call graph of a library."""

from __future__ import annotations

import pytest

from graphsurgeon._proto import graph_pb2
from graphsurgeon.formats.model import load_graph
from graphsurgeon.graph import functions as fn


@pytest.mark.parametrize(("text", "expected"), [
    ("x", fn.FunctionInput("x", None, 0, False)),
    ("MatMul:product:0", fn.FunctionInput("MatMul", "product", 0, False)),
    ("RestoreV2:tensors:3", fn.FunctionInput("RestoreV2", "tensors", 3, False)),
    ("while/maximum_iterations:output:0", fn.FunctionInput("while/maximum_iterations", "output", 0, False)),
    ("a:out", fn.FunctionInput("a", "out", 0, False)),
    ("^NoOp", fn.FunctionInput("NoOp", None, 0, True)),
])
def test_parse_and_format_round_trip(text: str, expected: fn.FunctionInput) -> None:
    ref = fn.parse_function_input(text)
    assert ref == expected, f"{text!r} parsed as {ref}"
    if text != "a:out":
        assert fn.format_function_input(ref) == text
    assert ref.is_arg == (text == "x")


def test_parse_rejects_malformed() -> None:
    with pytest.raises(ValueError, match="not a function-body input"):
        fn.parse_function_input("a:b:c:d")


def _library(*defs: tuple[str, list[tuple[str, str, dict[str, object]]]]) -> graph_pb2.GraphDef:
    graph = graph_pb2.GraphDef()
    for name, nodes in defs:
        fdef = graph.library.function.add()
        fdef.signature.name = name
        for node_name, op, attrs in nodes:
            node = fdef.node_def.add(name=node_name, op=op)
            for key, value in attrs.items():
                if isinstance(value, list):
                    for v in value:
                        node.attr[key].list.func.add(name=v)
                else:
                    node.attr[key].func.name = str(value)
    return graph


def test_reachable_functions_follows_every_call_form() -> None:
    graph = _library(
        ("top", [("call", "StatefulPartitionedCall", {"f": "mid"})]),
        ("mid", [("if", "If", {"then_branch": "t", "else_branch": "e"}),
                 ("loop", "While", {"cond": "c", "body": "b"}),
                 ("case", "Case", {"branches": ["k0", "k1"]}),
                 ("direct", "leaf", {})]),
        ("t", []), ("e", []), ("c", []), ("b", [("p", "PartitionedCall", {"f": "leaf"})]),
        ("k0", []), ("k1", []), ("leaf", []), ("unused", []),
    )
    caller = graph.node.add(name="sig", op="StatefulPartitionedCall")
    caller.attr["f"].func.name = "top"
    library = fn.function_library(graph)
    reached = fn.reachable_functions([caller], library)
    assert set(reached) == set(library) - {"unused"}, f"reached {reached}"
    assert reached[0] == "top"
    assert set(fn.call_graph(library)["mid"]) == {"leaf", "t", "e", "k0", "k1", "b", "c"}


def test_missing_functions_names_caller() -> None:
    graph = _library(("top", [("call", "PartitionedCall", {"f": "gone"})]))
    assert fn.missing_functions(graph) == [("top/call", "gone")]


def test_real_savedmodel_library(fixtures_dir) -> None:  # noqa: ANN001
    loaded = load_graph(fixtures_dir / "tf2" / "module")
    library = fn.function_library(loaded.graph_def)
    call = next(n for n in loaded.graph_def.node if n.name == "StatefulPartitionedCall")
    reached = fn.reachable_functions([call], library)
    assert any(n.startswith("while_body_") for n in reached) and any(n.startswith("cond_true_") for n in reached)
    assert not any("traced_save" in n or "traced_restore" in n for n in reached), reached
    body = library[next(n for n in reached if n.startswith("__inference___call__"))]
    args = fn.arg_index(body)
    assert args["x"] == 0
    for node, ref in fn.body_inputs(body):
        if not ref.is_control and ref.output is None:
            assert ref.node in args, f"{node.name}: bare input {ref.node} is not an argument"

