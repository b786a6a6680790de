"""Specializing functions for frozen variables: copies of library functions that take values where
they took resources, with reads turned into value ops and writes to frozen variables dropped
(refused when a later read would see them). Used by the TF2 signature freezer and, for the
functional control flow TensorFlow 2 builds, by TF1 ``constify``.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from graphsurgeon._proto import (
    function_pb2,
    node_def_pb2,
    types_pb2,
)
from graphsurgeon.errors import (
    InvalidGraphError,
    UnsupportedError,
)
from graphsurgeon.formats import tensors
from graphsurgeon.graph import functions as fn

logger = logging.getLogger(__name__)

FROZEN_SUFFIX = "_frozen"

# Ops that read a variable, and what they become when the variable is a value.
READ_OPS = frozenset({"ReadVariableOp", "ResourceGather", "ResourceGatherNd", "VariableShape", "VarIsInitializedOp"})
# Output-arg names inside function bodies change with the op (``ReadVariableOp:value:0`` -> ``Identity:output:0``).
READ_OUTPUT_ARGS = {"ReadVariableOp": ("value", "output"), "VarIsInitializedOp": ("is_initialized", "output")}
# Ops on a frozen variable that can simply go (they change no value that a frozen graph can see).
HARMLESS_OPS = frozenset({"DisableCopyOnRead"})
WRITE_OP_PREFIXES = ("Assign", "ResourceScatter", "ResourceApply", "ResourceSparseApply",
                     "ResourceStridedSliceAssign", "DestroyResourceOp")


@dataclasses.dataclass(frozen=True)
class VariableInfo:
    """One frozen variable: its ``VarHandleOp`` node, checkpoint key, dtype and shape."""

    node: str
    key: str
    dtype: int
    shape: tuple[int, ...]



# --- the rewrite ------------------------------------------------------------------------------------

Key = tuple[str, "str | None", int]


@dataclasses.dataclass
class _Spec:
    name: str
    frozen_rets: dict[int, VariableInfo]
    written: set[str]  # variable nodes assigned inside (transitively)


@dataclasses.dataclass
class _BodyResult:
    nodes: list[node_def_pb2.NodeDef]
    frozen: dict[Key, VariableInfo]
    written: set[str]
    dropped: set[str]
    renamed: dict[tuple[str, str], str]  # (node, old output arg) -> new output arg

    def rename(self, name: str) -> str:
        """A function-body input with renamed output args applied."""
        if not self.renamed or name.startswith("^"):
            return name
        ref = fn.parse_function_input(name)
        new_arg = self.renamed.get((ref.node, ref.output or ""))
        return fn.format_function_input(ref._replace(output=new_arg)) if new_arg else name


def _set_type_list(node: node_def_pb2.NodeDef, attr: str, changes: Mapping[int, int]) -> None:
    if attr not in node.attr or not changes:
        return
    types = node.attr[attr].list.type
    for i, dtype in changes.items():
        if i < len(types):
            types[i] = dtype


def _set_shape_list(node: node_def_pb2.NodeDef, attr: str, changes: Mapping[int, tuple[int, ...]]) -> None:
    if attr not in node.attr or not changes:
        return
    shapes = node.attr[attr].list.shape
    for i, shape in changes.items():
        if i < len(shapes):
            shapes[i].CopyFrom(tensors.shape_to_proto(shape))


def _drop_indices(node: node_def_pb2.NodeDef, attr: str, indices: Iterable[int]) -> None:
    if attr not in node.attr:
        return
    gone = set(indices)
    kept = [i for i in node.attr[attr].list.i if i not in gone]
    del node.attr[attr].list.i[:]
    node.attr[attr].list.i.extend(kept)


def _topological(nodes: Sequence[node_def_pb2.NodeDef], parse: Callable[[str], Any]) -> list[int]:
    index = {n.name: i for i, n in enumerate(nodes)}
    deps: list[set[int]] = []
    users: list[list[int]] = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        mine = {index[parse(x).node] for x in node.input if parse(x).node in index}
        mine.discard(i)
        deps.append(mine)
        for d in mine:
            users[d].append(i)
    ready = collections.deque(i for i, d in enumerate(deps) if not d)
    order: list[int] = []
    while ready:
        i = ready.popleft()
        order.append(i)
        for u in users[i]:
            deps[u].discard(i)
            if not deps[u]:
                ready.append(u)
    if len(order) != len(nodes):
        order.extend(i for i in range(len(nodes)) if i not in set(order))
    return order


class FunctionFreezer:
    """Rewrites bodies (the top-level graph or a function) whose inputs now carry variable values."""

    def __init__(self, library: Mapping[str, function_pb2.FunctionDef]) -> None:
        self.library = library
        self.new_functions: dict[str, function_pb2.FunctionDef] = {}
        self.memo: dict[tuple[str, tuple[tuple[int, str], ...]], _Spec] = {}
        self.used_names = set(library)
        self.notes: list[str] = []

    # -- functions --
    def _new_name(self, name: str) -> str:
        candidate = name + FROZEN_SUFFIX
        n = 1
        while candidate in self.used_names:
            n += 1
            candidate = f"{name}{FROZEN_SUFFIX}_{n}"
        self.used_names.add(candidate)
        return candidate

    def specialize(self, name: str, frozen_args: Mapping[int, VariableInfo], where: str) -> _Spec:
        """A copy of function ``name`` taking values at ``frozen_args``; memoized per variable set."""
        memo_key = (name, tuple(sorted((i, v.node) for i, v in frozen_args.items())))
        if memo_key in self.memo:
            return self.memo[memo_key]
        if name not in self.library:
            raise UnsupportedError(f"{where} calls function '{name}', which the graph's library does not hold")
        original = self.library[name]
        fdef = function_pb2.FunctionDef()
        fdef.CopyFrom(original)
        fdef.signature.name = self._new_name(name)
        args = fdef.signature.input_arg
        frozen: dict[Key, VariableInfo] = {}
        for i, var in frozen_args.items():
            if i >= len(args):
                raise UnsupportedError(f"{where} passes {i + 1}+ inputs to function '{name}', which takes {len(args)}")
            arg = args[i]
            if arg.type != types_pb2.DT_RESOURCE:
                raise UnsupportedError(f"{where} passes variable '{var.node}' to argument '{arg.name}' of function "
                                       f"'{name}', which is not a resource argument")
            arg.type = var.dtype
            arg.ClearField("handle_data")
            frozen[(arg.name, None, 0)] = var
            if i in fdef.resource_arg_unique_id:
                del fdef.resource_arg_unique_id[i]
            if i in fdef.arg_attr:
                attrs = fdef.arg_attr[i].attr
                for key in [k for k in attrs if k.startswith("_handle")]:
                    del attrs[key]
                if "_output_shapes" in attrs and attrs["_output_shapes"].list.shape:
                    attrs["_output_shapes"].list.shape[0].CopyFrom(tensors.shape_to_proto(var.shape))
        if "_input_shapes" in fdef.attr:
            shapes = fdef.attr["_input_shapes"].list.shape
            for i, var in frozen_args.items():
                if i < len(shapes):
                    shapes[i].CopyFrom(tensors.shape_to_proto(var.shape))
        body = self.rewrite_body(list(fdef.node_def), frozen, fn.parse_function_input, f"function '{name}'",
                                 in_function=True)
        del fdef.node_def[:]
        fdef.node_def.extend(body.nodes)
        for key in list(fdef.ret):
            fdef.ret[key] = body.rename(fdef.ret[key])
        for key in [k for k, v in fdef.control_ret.items() if v in body.dropped]:
            del fdef.control_ret[key]
        kept_controls = [c for c in fdef.signature.control_output if c in fdef.control_ret]
        del fdef.signature.control_output[:]
        fdef.signature.control_output.extend(kept_controls)
        frozen_rets: dict[int, VariableInfo] = {}
        for k, out in enumerate(fdef.signature.output_arg):
            ref = fn.parse_function_input(fdef.ret[out.name]) if out.name in fdef.ret else None
            if ref is None:
                continue
            ret_var = body.frozen.get((ref.node, ref.output, ref.index))
            if ret_var is not None:
                out.type = ret_var.dtype  # type: ignore[assignment]  # an int is a valid DataType value
                out.ClearField("handle_data")
                frozen_rets[k] = ret_var
        spec = _Spec(fdef.signature.name, frozen_rets, body.written)
        self.memo[memo_key] = spec
        self.new_functions[spec.name] = fdef
        logger.info("rewrote function %s as %s (%d variable arguments)", name, spec.name, len(frozen_args))
        return spec

    # -- bodies --
    def rewrite_body(self, nodes: Sequence[node_def_pb2.NodeDef], frozen: dict[Key, VariableInfo],
                     parse: Callable[[str], Any], where: str, in_function: bool) -> _BodyResult:
        """Rewrites ``nodes`` given which tensors (keys) now hold frozen variable values."""
        frozen = dict(frozen)
        out_nodes: dict[str, node_def_pb2.NodeDef] = {}
        dropped: set[str] = set()
        writers: dict[str, set[str]] = {}
        users: dict[str, set[str]] = collections.defaultdict(set)
        written: set[str] = set()
        existing = {n.name for n in nodes}
        extra: list[node_def_pb2.NodeDef] = []
        renamed: dict[tuple[str, str], str] = {}

        def key_of(ref: Any) -> Key:
            return (ref.node, ref.output, ref.index) if in_function else (ref.node, None, ref.index)

        def out_key(node: str, index: int) -> Key:
            return (node, "output", index) if in_function else (node, None, index)

        def tensor_ref(node: str, output: str) -> str:
            return f"{node}:{output}:0" if in_function else node

        for i in _topological(nodes, parse):
            node = nodes[i]
            data = [(pos, parse(x)) for pos, x in enumerate(node.input) if not x.startswith("^")]
            hit = {pos: frozen[key_of(ref)] for pos, ref in data if key_of(ref) in frozen}
            new = node_def_pb2.NodeDef()
            new.CopyFrom(node)
            if not hit:
                out_nodes[node.name] = new
                continue
            here = f"node '{node.name}' ({node.op}) in {where}"
            for var in hit.values():
                users[node.name].add(var.node)
            op = node.op
            if op in READ_OPS:
                read_var = hit.get(0)
                if read_var is None:
                    raise UnsupportedError(f"{here} takes variable values at an unexpected input")
                new = self._convert_read(node, read_var, in_function, existing, extra, here)
                if op in READ_OUTPUT_ARGS:
                    renamed[(node.name, READ_OUTPUT_ARGS[op][0])] = READ_OUTPUT_ARGS[op][1]
            elif op == "Identity" and 0 in hit:
                new.attr["T"].type = hit[0].dtype
                _set_shape_list(new, "_output_shapes", {0: hit[0].shape})
                frozen[out_key(node.name, 0)] = hit[0]
            elif op in HARMLESS_OPS:
                dropped.add(node.name)
                continue
            elif op.startswith(WRITE_OP_PREFIXES) and 0 in hit:
                dropped.add(node.name)
                writers[node.name] = {hit[0].node}
                written.add(hit[0].node)
                self.notes.append(f"dropped {op} '{node.name}' in {where}: it assigns variable '{hit[0].node}', "
                                  "which is now a constant")
                continue
            elif op in fn.CALL_OPS or op in fn.IF_OPS or op in fn.CASE_OPS or op in fn.WHILE_OPS:
                writes = self._convert_control(new, hit, frozen, out_key, here)
                if writes:
                    writers[node.name] = writes
                    written |= writes
            else:
                names_ = ", ".join(sorted({v.node for v in hit.values()}))
                raise UnsupportedError(f"{here} uses variable {names_} in a way graphsurgeon cannot freeze "
                                       f"(only reads, assignments, calls and control flow are supported)")
            out_nodes[node.name] = new

        self._check_writes(nodes, parse, writers, users, where)
        result: list[node_def_pb2.NodeDef] = []
        outcome = _BodyResult(result, frozen, written, dropped, renamed if in_function else {})
        for node in nodes:
            if node.name in dropped:
                continue
            new = out_nodes[node.name]
            kept = [outcome.rename(x) for x in new.input if not (x.startswith("^") and x[1:] in dropped)]
            if kept != list(new.input):
                del new.input[:]
                new.input.extend(kept)
            result.append(new)
        result.extend(extra)
        return outcome

    def _check_writes(self, nodes: Sequence[node_def_pb2.NodeDef], parse: Callable[[str], Any],
                      writers: Mapping[str, set[str]], users: Mapping[str, set[str]], where: str) -> None:
        """Refuses when a node that uses variable v runs after (depends on) an assignment to v."""
        if not writers:
            return
        consumers: dict[str, list[str]] = collections.defaultdict(list)
        for node in nodes:
            for x in node.input:
                consumers[parse(x).node].append(node.name)
        for writer, variables in writers.items():
            seen: set[str] = set()
            stack = list(consumers.get(writer, []))
            while stack:
                name = stack.pop()
                if name in seen:
                    continue
                seen.add(name)
                clash = variables & users.get(name, set())
                if clash:
                    var = sorted(clash)[0]
                    raise UnsupportedError(
                        f"cannot freeze: in {where}, '{name}' uses variable '{var}' after '{writer}' assigns it, "
                        "so an output depends on the assignment; a frozen graph cannot change a variable "
                        "(export a signature that does not update state)")
                stack.extend(consumers.get(name, []))

    def _convert_read(self, node: node_def_pb2.NodeDef, var: VariableInfo, in_function: bool, existing: set[str],
                      extra: list[node_def_pb2.NodeDef], here: str) -> node_def_pb2.NodeDef:
        new = node_def_pb2.NodeDef(name=node.name, device=node.device)
        new.input.extend(node.input)
        if "_output_shapes" in node.attr:
            new.attr["_output_shapes"].CopyFrom(node.attr["_output_shapes"])
        op = node.op
        if op == "ReadVariableOp":
            new.op = "Identity"
            new.attr["T"].type = var.dtype
        elif op == "ResourceGather":
            batch_dims = node.attr["batch_dims"].i if "batch_dims" in node.attr else 0
            axis_name = node.name + "/axis"
            n = 1
            while axis_name in existing:
                n += 1
                axis_name = f"{node.name}/axis_{n}"
            existing.add(axis_name)
            axis = node_def_pb2.NodeDef(name=axis_name, op="Const", device=node.device)
            axis.attr["dtype"].type = types_pb2.DT_INT32
            axis.attr["value"].tensor.CopyFrom(tensors.array_to_tensor(np.int32(batch_dims)))
            for x in node.input:
                if x.startswith("^"):
                    axis.input.append(x)
            extra.append(axis)
            data = [x for x in node.input if not x.startswith("^")]
            controls = [x for x in node.input if x.startswith("^")]
            del new.input[:]
            new.input.extend(data[:2] + [f"{axis_name}:output:0" if in_function else axis_name] + controls)
            new.op = "GatherV2"
            new.attr["Tparams"].type = var.dtype
            new.attr["Tindices"].CopyFrom(node.attr["Tindices"])
            new.attr["Taxis"].type = types_pb2.DT_INT32
            new.attr["batch_dims"].i = batch_dims
        elif op == "ResourceGatherNd":
            new.op = "GatherNd"
            new.attr["Tparams"].type = var.dtype
            new.attr["Tindices"].CopyFrom(node.attr["Tindices"])
        elif op == "VariableShape":
            new.op = "Shape"
            new.attr["T"].type = var.dtype
            if "out_type" in node.attr:  # absent when stripped as the default (int32)
                new.attr["out_type"].CopyFrom(node.attr["out_type"])
            else:
                new.attr["out_type"].type = types_pb2.DT_INT32
        elif op == "VarIsInitializedOp":
            new.op = "Const"
            new.attr["dtype"].type = types_pb2.DT_BOOL
            new.attr["value"].tensor.CopyFrom(tensors.array_to_tensor(np.bool_(True)))
            # The frozen variable is a Const now: depending on it adds nothing; keep only real controls.
            del new.input[:]
            new.input.extend(x for x in node.input if x.startswith("^"))
        else:  # pragma: no cover - READ_OPS is exhaustive
            raise UnsupportedError(f"{here}: no value form for {op}")
        return new

    def _convert_control(self, new: node_def_pb2.NodeDef, hit: Mapping[int, VariableInfo],
                         frozen: dict[Key, VariableInfo], out_key: Callable[[str, int], Key], here: str) -> set[str]:
        """Calls, If, Case and While: specialize the called functions; returns the variables they assign."""
        op = new.op
        if op in fn.CALL_OPS:
            spec = self.specialize(new.attr["f"].func.name, hit, here)
            new.attr["f"].func.name = spec.name
            _set_type_list(new, "Tin", {i: v.dtype for i, v in hit.items()})
            rets, written = spec.frozen_rets, spec.written
            _set_type_list(new, "Tout", {k: v.dtype for k, v in rets.items()})
        elif op in fn.IF_OPS or op in fn.CASE_OPS:
            if 0 in hit:
                raise UnsupportedError(f"{here} takes a variable as its condition")
            args = {i - 1: v for i, v in hit.items()}
            attrs = ["then_branch", "else_branch"] if op in fn.IF_OPS else ["branches"]
            funcs = [new.attr[a].func for a in attrs] if op in fn.IF_OPS else list(new.attr["branches"].list.func)
            if not funcs:
                raise InvalidGraphError(f"{here}: the {op} has no branches; the SavedModel is damaged")
            specs = [self.specialize(f.name, args, here) for f in funcs]
            for f, spec in zip(funcs, specs):
                f.name = spec.name
            rets = specs[0].frozen_rets
            for spec in specs[1:]:
                if {k: v.node for k, v in spec.frozen_rets.items()} != {k: v.node for k, v in rets.items()}:
                    raise UnsupportedError(f"{here}: its branches return different variables")
            written = set().union(*(s.written for s in specs))
            _set_type_list(new, "Tin", {i: v.dtype for i, v in args.items()})
            _set_type_list(new, "Tout", {k: v.dtype for k, v in rets.items()})
            _set_shape_list(new, "output_shapes", {k: v.shape for k, v in rets.items()})
        else:  # While / StatelessWhile
            cond = self.specialize(new.attr["cond"].func.name, hit, here)
            body = self.specialize(new.attr["body"].func.name, hit, here)
            new.attr["cond"].func.name = cond.name
            new.attr["body"].func.name = body.name
            if {k: v.node for k, v in body.frozen_rets.items()} != {k: v.node for k, v in hit.items()}:
                raise UnsupportedError(f"{here}: its body does not pass the variables through unchanged")
            written = cond.written | body.written
            if written:
                raise UnsupportedError(
                    f"cannot freeze: {here} assigns variable {', '.join(sorted(written))} inside the loop, so later "
                    "iterations would see the change; a frozen graph cannot change a variable")
            rets = dict(hit)
            _set_type_list(new, "T", {i: v.dtype for i, v in hit.items()})
            _set_shape_list(new, "output_shapes", {k: v.shape for k, v in rets.items()})
        _set_shape_list(new, "_output_shapes", {k: v.shape for k, v in rets.items()})
        _drop_indices(new, "_read_only_resource_inputs", hit)
        for k, var in rets.items():
            frozen[out_key(new.name, k)] = var
        return set(written)


