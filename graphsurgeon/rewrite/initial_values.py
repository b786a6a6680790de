"""The values a TensorFlow session would give variables that are not in the checkpoint.

TensorFlow's ``freeze_graph`` runs ``--initializer_nodes`` (and a TF1 SavedModel's loader runs its
``main_op`` / ``legacy_init_op``) before converting variables, so a variable that no checkpoint
holds, such as a local variable set by ``local_variables_initializer``, is frozen with the value
its initializer assigns. This module finds those assignments (``Assign`` / ``AssignVariableOp``
that the initializer nodes run) and computes the assigned value without TensorFlow, with the
constant evaluator of ``fold_constants`` (``Const``, ``Fill``, ``Range``, arithmetic, ``Identity``
...). When the value cannot be computed (a random op, a file read, another variable), it says
which op blocks it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from graphsurgeon._proto import graph_pb2, meta_graph_pb2, node_def_pb2, saver_pb2
from graphsurgeon.errors import UnsupportedError
from graphsurgeon.formats.tensors import dtype_name, to_numpy_dtype
from graphsurgeon.graph import variables as var_lib
from graphsurgeon.graph.names import TensorRef, parse_input
from graphsurgeon.graph.walk import ancestors
from graphsurgeon.rewrite.fold_constants import ConstantEvaluator
from graphsurgeon.rewrite.prune import prune

#: Ops that set a variable: input 0 is the variable (ref) or its handle (resource), input 1 the value.
ASSIGN_OPS = frozenset({"Assign", "AssignVariableOp"})
_FORWARD_OPS = frozenset({"Identity", "RefIdentity"})

#: Where a TF1 SavedModel keeps the op its loader runs after restoring the variables.
SAVED_MODEL_INIT_COLLECTIONS = ("saved_model_main_op", "legacy_init_op")
SAVED_MODEL_INIT_SIGNATURE = "__saved_model_init_op"


@dataclasses.dataclass
class InitialValue:
    """What an initializer assigns to one variable.

    Attributes:
        variable: the variable node.
        assign: the ``Assign`` / ``AssignVariableOp`` node that sets it.
        value: the computed value, or ``None`` when it cannot be computed without running TensorFlow.
        blocker: when ``value`` is None, the node whose value cannot be computed (e.g. a
            ``RandomUniform``), and ``reason`` says why.
        exact: the value is bit-for-bit what TensorFlow computes (else within float tolerance).
    """

    variable: str
    assign: str
    value: np.ndarray | None = None
    blocker: node_def_pb2.NodeDef | None = None
    reason: str = ""
    exact: bool = True


def saved_model_init_ops(meta: meta_graph_pb2.MetaGraphDef | None) -> list[str]:
    """The node names a TF1 SavedModel's loader runs after restoring: its main_op / legacy_init_op."""
    if meta is None:
        return []
    found: list[str] = []
    for key in SAVED_MODEL_INIT_COLLECTIONS:
        if key in meta.collection_def and meta.collection_def[key].WhichOneof("kind") == "node_list":
            found.extend(parse_input(v).node for v in meta.collection_def[key].node_list.value)
    if SAVED_MODEL_INIT_SIGNATURE in meta.signature_def:
        for info in meta.signature_def[SAVED_MODEL_INIT_SIGNATURE].outputs.values():
            if info.name:
                found.append(parse_input(info.name).node)
    return list(dict.fromkeys(found))


def _target(nodes: dict[str, node_def_pb2.NodeDef], ref: TensorRef) -> str | None:
    """The variable an assign's input 0 names, through Identity forwarders."""
    seen = 0
    node = nodes.get(ref.node)
    while node is not None and node.op in _FORWARD_OPS and seen < 64:
        data = [parse_input(i) for i in node.input if not i.startswith("^")]
        node = nodes.get(data[0].node) if data else None
        seen += 1
    return node.name if node is not None else None


def initializer_assigns(graph_def: graph_pb2.GraphDef, roots: Iterable[str]) -> dict[str, list[str]]:
    """variable node -> the assign nodes among what ``roots`` run that set it."""
    nodes = {n.name: n for n in graph_def.node}
    out: dict[str, list[str]] = {}
    for name in ancestors(nodes, roots):
        node = nodes[name]
        if node.op not in ASSIGN_OPS:
            continue
        data = [parse_input(i) for i in node.input if not i.startswith("^")]
        if len(data) != 2:
            continue
        variable = _target(nodes, data[0])
        if variable is not None:
            out.setdefault(variable, []).append(name)
    return out


def _blocker(evaluator: ConstantEvaluator, nodes: dict[str, node_def_pb2.NodeDef],
             ref: TensorRef) -> tuple[node_def_pb2.NodeDef | None, str]:
    """The first node under ``ref`` whose value cannot be computed although its inputs can."""
    seen: set[str] = set()
    while True:
        node = nodes.get(ref.node)
        if node is None:
            return None, f"'{ref.node}' is not in the graph"
        if ref.node in seen:
            return node, "it is part of a cycle"
        seen.add(ref.node)
        if ref.index != 0:
            return node, f"it reads output {ref.index} of {node.op} '{node.name}'"
        data = [parse_input(i) for i in node.input if not i.startswith("^")]
        unknown = [r for r in data if evaluator.value(r) is None]
        if not unknown:
            why = evaluator.reasons.get(node.name)
            return node, why or f"gs cannot compute {node.op} without TensorFlow"
        ref = unknown[0]


def initial_values(graph_def: graph_pb2.GraphDef, variables: Iterable[str],
                   roots: Iterable[str]) -> dict[str, InitialValue]:
    """For each of ``variables`` that an assign run by ``roots`` sets, what it assigns.

    A variable that no assign among ``roots``' ancestry sets is left out. A variable set by two
    assigns gets the value only if both compute the same value (else ``value`` is None and
    ``reason`` says so).
    """
    nodes = {n.name: n for n in graph_def.node}
    assigns = initializer_assigns(graph_def, roots)
    exact = ConstantEvaluator(graph_def, exact=True)
    loose: ConstantEvaluator | None = None
    out: dict[str, InitialValue] = {}
    for variable in variables:
        found = assigns.get(variable)
        if not found:
            continue
        results: list[InitialValue] = []
        for assign in found:
            ref = [parse_input(i) for i in nodes[assign].input if not i.startswith("^")][1]
            result = InitialValue(variable=variable, assign=assign)
            value = exact.value(ref)
            if value is None:
                loose = loose or ConstantEvaluator(graph_def, exact=False)
                value = loose.value(ref)
                result.exact = value is None
            if value is None:
                result.blocker, result.reason = _blocker(loose or exact, nodes, ref)
            else:
                result.value = np.asarray(value)
            results.append(result)
        blocked = [r for r in results if r.value is None]
        first = blocked[0] if blocked else results[0]
        if not blocked:
            for other in results[1:]:
                a, b = first.value, other.value
                assert a is not None and b is not None
                if a.shape != b.shape or not np.array_equal(a, b):
                    first = dataclasses.replace(first, value=None, blocker=nodes[other.assign],
                                                reason=f"'{first.assign}' and '{other.assign}' assign different "
                                                       "values")
                    break
        out[variable] = first
    return out


class WithInitialValues(Mapping[str, np.ndarray]):
    """A checkpoint plus computed initial values under their keys (read-only; the values win)."""

    def __init__(self, base: Mapping[str, np.ndarray], extra: Mapping[str, np.ndarray]) -> None:
        self.base = base
        self.extra = dict(extra)
        self.prefix = getattr(base, "prefix", None)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.extra[key] if key in self.extra else self.base[key]

    def __contains__(self, key: object) -> bool:
        return key in self.extra or key in self.base

    def __iter__(self) -> Iterator[str]:
        yield from self.extra
        yield from (k for k in self.base if k not in self.extra)

    def __len__(self) -> int:
        return len(self.extra) + sum(1 for k in self.base if k not in self.extra)


@dataclasses.dataclass
class Filled:
    """What ``fill_from_initializers`` did: the checkpoint to freeze from, the variables to leave as
    variables (not needed by the outputs, not computable), and notes for the user."""

    checkpoint: Mapping[str, np.ndarray]
    keep: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


def fill_from_initializers(pruned: graph_pb2.GraphDef, graph_def: graph_pb2.GraphDef,
                           checkpoint: Mapping[str, np.ndarray], *, roots: Iterable[str], outputs: Iterable[str],
                           names: Iterable[str], saver_def: saver_pb2.SaverDef | None = None,
                           meta_graph_def: meta_graph_pb2.MetaGraphDef | None = None,
                           labels: Mapping[str, str] | None = None) -> Filled:
    """Gives variables of ``pruned`` (among ``names``) that ``checkpoint`` lacks the value the
    initializer ops ``roots`` would assign in TensorFlow's session.

    ``graph_def`` is the whole graph (the initializers may lie outside ``pruned``); ``outputs``
    tells which variables the outputs need. A variable the outputs need whose value cannot be
    computed raises ``UnsupportedError`` naming it, the op that blocks it and what to do; one only
    the initializer nodes need is left a variable (``keep``). A variable no initializer sets is left
    for the usual "not in checkpoint" error. ``labels`` says how to name a root in messages
    (default ``--initializer_nodes NAME``).
    """

    roots = list(roots)
    infos = var_lib.map_variables(pruned, saver_def, names=list(names), saver_graph_def=graph_def,
                                  meta_graph_def=meta_graph_def)
    nodes = {n.name: n for n in pruned.node}
    missing: dict[str, var_lib.VariableInfo] = {}
    for name, info in infos.items():
        if info.slice is not None or info.key in checkpoint:
            continue
        shared = nodes[name].attr["shared_name"].s.decode("utf-8", "replace") if "shared_name" in nodes[name].attr \
            else ""
        if shared and shared in checkpoint:
            continue
        missing[name] = info
    result = Filled(checkpoint=checkpoint)
    if not missing or not roots:
        return result
    found = initial_values(graph_def, list(missing), roots)
    if not found:
        return result
    needed = {n.name for n in prune(pruned, list(outputs)).node}
    graph_nodes = {n.name: n for n in graph_def.node}
    reach = {r: set(ancestors(graph_nodes, [r])) for r in roots}

    def run_by(assign: str) -> str:
        names = [r for r in roots if assign in reach[r]] or roots
        return ", ".join((labels or {}).get(r, f"--initializer_nodes {r}") for r in names)

    extra: dict[str, np.ndarray] = {}
    for name, initial in found.items():
        info = missing[name]
        value = initial.value
        problem = initial.reason
        if value is not None:
            try:
                want = np.dtype(to_numpy_dtype(info.dtype))
            except Exception:  # noqa: BLE001  (a dtype numpy lacks: say so below)
                want = None
            if want is None or value.dtype != want:
                problem = f"it assigns {value.dtype}, the variable is {dtype_name(info.dtype)}"
                value = None
            elif info.shape is not None and (len(info.shape) != value.ndim or any(
                    d >= 0 and d != s for d, s in zip(info.shape, value.shape))):
                problem = f"it assigns shape {list(value.shape)}, the variable is {list(info.shape)}"
                value = None
        if value is not None:
            extra[info.key] = value
            how = "" if initial.exact else " (computed in float64: equal to TensorFlow's within float tolerance)"
            result.notes.append(f"{info.describe()} is not in the checkpoint: frozen with the value that "
                                f"'{initial.assign}' (run by {run_by(initial.assign)}) assigns{how}")
            continue
        if name not in needed:
            result.keep.append(name)
            result.notes.append(f"{info.describe()} is not in the checkpoint and its initializer cannot be computed "
                                f"without TensorFlow; the outputs do not need it, so it stays a variable (set by "
                                f"{run_by(initial.assign)})")
            continue
        blocker = initial.blocker
        blocked = f"{blocker.op} '{blocker.name}'" if blocker is not None else f"'{initial.assign}'"
        raise UnsupportedError(
            f"{info.describe()} is not in the checkpoint, and gs cannot compute the value that '{initial.assign}' "
            f"(run by {run_by(initial.assign)}) gives it: {blocked} blocks it ({problem}). Save the variable "
            "in the checkpoint (run the initializer in TensorFlow and save), or leave it a variable with "
            f"--variable_names_blacklist {name}")
    if extra:
        result.checkpoint = WithInitialValues(checkpoint, extra)
    return result
