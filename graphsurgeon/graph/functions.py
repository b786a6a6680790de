"""FunctionDef helpers: the function-body input name forms and the call graph of a function library.

Inside a ``FunctionDef`` a node input names a function argument by its bare name (``x``) and
another node's output as ``node:output_arg:index`` (``MatMul:product:0``, ``While:output:3``);
``^node`` is a control input. This module is the only place that parses those forms, as
``graph/names.py`` is for the GraphDef forms (``node``, ``node:1``, ``^node``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

from graphsurgeon._proto import attr_value_pb2, function_pb2, graph_pb2, node_def_pb2
from graphsurgeon.errors import InvalidGraphError
from graphsurgeon.formats.model import CALL_OPS as CALL_OPS  # defined with the file facts that need it

# Attributes through which TensorFlow's own ops call functions (calls, If, While, Case). Any other
# attribute holding a function (e.g. a dataset op's ``f``) is found by ``called_functions`` too.
FUNCTION_ATTRS = ("f", "body", "cond", "then_branch", "else_branch", "branches")

IF_OPS = frozenset({"If", "StatelessIf"})
CASE_OPS = frozenset({"Case", "StatelessCase"})
WHILE_OPS = frozenset({"While", "StatelessWhile"})


class FunctionInput(NamedTuple):
    """One input of a node inside a function body.

    ``output`` is ``None`` for a function argument (``node`` is then the argument's name).
    """

    node: str
    output: str | None = None
    index: int = 0  # type: ignore[assignment]  # as TensorRef.index
    is_control: bool = False

    def __str__(self) -> str:
        return format_function_input(self)

    @property
    def is_arg(self) -> bool:
        """True for a bare name, which refers to a function argument."""
        return self.output is None and not self.is_control


class FunctionInputError(InvalidGraphError, ValueError):
    """A FunctionDef input that is not ``arg``, ``node:output[:index]`` or ``^node`` (a damaged library).

    A ``GraphSurgeonError`` (the CLI reports it in one line) and, for callers that parse speculatively,
    a ``ValueError``.
    """


def parse_function_input(name: str) -> FunctionInput:
    """Parses a node input inside a FunctionDef.

    ``"x"`` -> argument ``x``; ``"a:out:2"`` -> output arg ``out`` of node ``a``, element 2;
    ``"a:out"`` -> element 0; ``"^a"`` -> control input on node ``a``.
    """
    if name.startswith("^"):
        return FunctionInput(name[1:], None, 0, True)
    parts = name.split(":")
    if len(parts) == 1:
        return FunctionInput(name)
    if len(parts) == 2:
        return FunctionInput(parts[0], parts[1], 0)
    if len(parts) == 3 and parts[2].isdigit():
        return FunctionInput(parts[0], parts[1], int(parts[2]))
    raise FunctionInputError(f"'{name}' is not a function-body input (expected 'arg', 'node:output:index' or "
                             "'^node'); the function library is damaged")


def format_function_input(ref: FunctionInput) -> str:
    """The FunctionDef input string: ``^a``, ``x`` (argument) or ``a:out:2``."""
    if ref.is_control:
        return f"^{ref.node}"
    if ref.output is None:
        return ref.node
    return f"{ref.node}:{ref.output}:{ref.index}"


def function_library(graph_def: graph_pb2.GraphDef) -> dict[str, function_pb2.FunctionDef]:
    """The graph's functions by name (the messages themselves, not copies)."""
    return {f.signature.name: f for f in graph_def.library.function}


def attr_functions(attr: attr_value_pb2.AttrValue) -> list[str]:
    """Function names held by one attribute value (``func`` or ``list.func``)."""
    if attr.HasField("func"):
        return [attr.func.name]
    if attr.HasField("list"):
        return [f.name for f in attr.list.func]
    return []


def called_functions(node_def: node_def_pb2.NodeDef) -> list[str]:
    """Names of the functions a node calls through any attribute, in sorted attribute order.

    A node whose op is itself a library function (a direct call, ``op: "my_fn"``) lists that too.
    """
    out: list[str] = []
    for key in sorted(node_def.attr):
        out.extend(attr_functions(node_def.attr[key]))
    return out


def _direct_call(node_def: node_def_pb2.NodeDef, library: Mapping[str, object]) -> list[str]:
    return [node_def.op] if node_def.op in library else []


def call_graph(library: Mapping[str, function_pb2.FunctionDef]) -> dict[str, list[str]]:
    """For each function, the functions its body calls directly (nested calls, branches, loops)."""
    graph: dict[str, list[str]] = {}
    for name, fdef in library.items():
        callees: list[str] = []
        for node in fdef.node_def:
            for callee in _direct_call(node, library) + called_functions(node):
                if callee not in callees:
                    callees.append(callee)
        graph[name] = callees
    return graph


def reachable_functions(nodes: Iterable[node_def_pb2.NodeDef],
                        library: Mapping[str, function_pb2.FunctionDef]) -> list[str]:
    """Library functions reachable from ``nodes`` through calls, in discovery order.

    Names that the library does not hold are skipped (a caller checks for those if it cares).
    """
    graph = call_graph(library)
    seen: list[str] = []
    stack: list[str] = []
    for node in nodes:
        stack.extend(_direct_call(node, library) + called_functions(node))
    seen_set: set[str] = set()
    while stack:
        name = stack.pop(0)
        if name in seen_set or name not in library:
            continue
        seen_set.add(name)
        seen.append(name)
        stack.extend(graph[name])
    return seen


def missing_functions(graph_def: graph_pb2.GraphDef) -> list[tuple[str, str]]:
    """(caller, function) pairs where a node calls a function the library does not hold."""
    library = function_library(graph_def)
    out: list[tuple[str, str]] = []
    for node in graph_def.node:
        out.extend((node.name, f) for f in called_functions(node) if f not in library)
    for name, fdef in library.items():
        for node in fdef.node_def:
            out.extend((f"{name}/{node.name}", f) for f in called_functions(node) if f not in library)
    return out


def body_inputs(fdef: function_pb2.FunctionDef) -> Iterator[tuple[node_def_pb2.NodeDef, FunctionInput]]:
    """Every (node, parsed input) pair of a function body."""
    for node in fdef.node_def:
        for name in node.input:
            yield node, parse_function_input(name)


def arg_index(fdef: function_pb2.FunctionDef) -> dict[str, int]:
    """Argument name -> position in the signature."""
    return {arg.name: i for i, arg in enumerate(fdef.signature.input_arg)}
