"""Which checkpoint tensor feeds which variable node, read from the graph's own Saver.

The authoritative source is the Saver (docs/formats.md §4): every ``SaveV2`` / ``SaveSlices`` node
names its checkpoint keys and slice specs in two string Consts, and its tensor inputs lead back
(through ``Identity``, ``.../read`` and ``ReadVariableOp``) to the variable nodes. That handles
Savers built with renamed variables (``Saver({"new/name": a})``) and partitioned variables (each
``part_i`` holds a slice ``"d0 d1 start,len:..."`` of the full checkpoint tensor). ``RestoreV2`` ->
``Assign`` / ``AssignVariableOp`` pairs are a second source; a variable no Saver mentions falls back to
its node name, then to its ``shared_name``.

This module also owns the op tables shared by ``rewrite/constify.py`` and ``graph/check.py``: which
ops are variables, which read them, which pass a handle along, and which write to them.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping

import numpy as np

from graphsurgeon._proto import graph_pb2, meta_graph_pb2, node_def_pb2, saver_pb2, types_pb2, variable_pb2
from graphsurgeon.errors import MismatchError, close_matches
from graphsurgeon.formats.tensors import base_dtype, dtype_name, from_numpy_dtype, tensor_to_array, to_numpy_dtype
from graphsurgeon.graph.names import parse_input

log = logging.getLogger(__name__)

_PARTITION = re.compile(r"^(.*)/part_\d+$")

DT = types_pb2.DataType

#: Ops that hold a variable's state (ref variables and resource handles).
VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp", "TemporaryVariable"})
RESOURCE_VARIABLE_OPS = frozenset({"VarHandleOp"})

#: Ops that forward a ref or resource handle unchanged (Ref* variants and their value twins).
REF_FORWARD_OPS = {"RefIdentity": "Identity", "RefSwitch": "Switch", "RefMerge": "Merge", "RefEnter": "Enter",
                   "RefExit": "Exit", "RefNextIteration": "NextIteration", "RefSelect": "Select"}
FORWARD_OPS = frozenset({"Identity", "Switch", "Merge", "Enter", "Exit", "NextIteration", "Snapshot"})

#: Prefixes of ops that change a variable (their ref / resource input is written to).
_WRITER_PREFIXES = ("Assign", "Apply", "SparseApply", "ResourceApply", "ResourceSparseApply", "_ResourceApply",
                    "Scatter", "ResourceScatter", "ResourceStridedSliceAssign", "StridedSliceAssign",
                    "CountUpTo", "ResourceCountUpTo", "DestroyResourceOp", "DestroyTemporaryVariable",
                    "DisableCopyOnRead")
#: Pure ops that share a writer prefix but take their inputs by value.
_NOT_WRITERS = frozenset({"ScatterNd", "ScatterNdNonAliasingAdd"})
#: Ops that save or restore checkpoints.
SAVER_OPS = frozenset({"SaveV2", "SaveSlices", "Save", "RestoreV2", "Restore", "RestoreSlice",
                       "MergeV2Checkpoints", "ShardedFilename", "ShardedFilespec"})
_SAVE_OPS = frozenset({"SaveV2", "SaveSlices"})
_RESTORE_OPS = frozenset({"RestoreV2"})


def is_writer_op(op: str) -> bool:
    """True for ops that change the variable they get by ref or handle (Assign*, Apply*, Scatter*, ...)."""
    return op not in _NOT_WRITERS and op.startswith(_WRITER_PREFIXES)


@dataclasses.dataclass(frozen=True)
class SliceSpec:
    """A slice of a checkpoint tensor: ``"10 2 4,3:0,2"`` is rows 4-6, all columns, of a [10, 2] tensor."""

    full_shape: tuple[int, ...]
    extents: tuple[tuple[int, int], ...]  # (start, length) per dimension; length -1 = whole dimension

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(full if length < 0 else length for full, (_, length) in zip(self.full_shape, self.extents))

    def index(self) -> tuple[slice, ...]:
        return tuple(slice(0, full) if length < 0 else slice(start, start + length)
                     for full, (start, length) in zip(self.full_shape, self.extents))


def parse_slice_spec(spec: str, what: str = "slice spec") -> SliceSpec | None:
    """Parses a Saver ``shape_and_slices`` string; ``""`` (the whole tensor) gives ``None``."""
    spec = spec.strip()
    if not spec:
        return None
    parts = spec.split(" ")
    try:
        full = tuple(int(p) for p in parts[:-1])
        extents = []
        for dim in parts[-1].split(":"):
            if dim == "-":
                extents.append((0, -1))
            else:
                start, length = dim.split(",")
                extents.append((int(start), int(length)))
    except ValueError:
        raise MismatchError(f"{what} '{spec}' is not 'd0 d1 ... start,length:...'") from None
    if len(extents) != len(full):
        raise MismatchError(f"{what} '{spec}' has {len(extents)} extents for a rank-{len(full)} tensor")
    return SliceSpec(full, tuple(extents))


@dataclasses.dataclass(frozen=True)
class VariableInfo:
    """One variable node and the checkpoint tensor that holds its value.

    Attributes:
        node: the variable node's name (``dense/kernel``, ``emb/part_1``).
        op: ``VariableV2``, ``Variable``, ``VarHandleOp`` or ``TemporaryVariable``.
        dtype: the value's DataType (never a ``_REF`` type).
        shape: the ``shape`` attr (``None`` when unknown; -1 for unknown sizes).
        key: the checkpoint key.
        slice: for a partitioned variable, the part of ``key``'s tensor it holds.
        source: where the mapping came from: the Saver node (``save/SaveV2``), ``"node name"`` or
            ``"shared_name"``.
    """

    node: str
    op: str
    dtype: int
    shape: tuple[int, ...] | None
    key: str
    slice: SliceSpec | None = None
    source: str = "node name"

    @property
    def is_resource(self) -> bool:
        return self.op in RESOURCE_VARIABLE_OPS

    def describe(self) -> str:
        shape = "?" if self.shape is None else list(self.shape)
        return f"variable '{self.node}' ({self.op} {dtype_name(self.dtype)}{shape})"


def variable_nodes(graph_def: graph_pb2.GraphDef) -> list[node_def_pb2.NodeDef]:
    """The variable nodes of ``graph_def`` in graph order."""
    return [n for n in graph_def.node if n.op in VARIABLE_OPS]


def variable_dtype(node: node_def_pb2.NodeDef) -> int:
    """The value DataType of a variable node (``dtype`` attr, ref stripped)."""
    return base_dtype(node.attr["dtype"].type) if "dtype" in node.attr else DT.DT_INVALID


def variable_shape(node: node_def_pb2.NodeDef) -> tuple[int, ...] | None:
    """The ``shape`` attr of a variable node, ``None`` when absent or of unknown rank."""
    if "shape" not in node.attr or node.attr["shape"].shape.unknown_rank:
        return None
    return tuple(int(d.size) for d in node.attr["shape"].shape.dim)


def trace_to_variable(name: str, nodes: Mapping[str, node_def_pb2.NodeDef], limit: int = 64) -> str | None:
    """Follows a tensor back through Identity / ReadVariableOp / Ref* / Switch / Enter to a variable node.

    ``name`` is a NodeDef input string. Returns the variable node's name, or ``None`` when the chain
    reaches anything else (a computed tensor).
    """
    ref = parse_input(name)
    for _ in range(limit):
        node = nodes.get(ref.node)
        if node is None:
            return None
        if node.op in VARIABLE_OPS:
            return node.name
        if node.op in FORWARD_OPS or node.op in REF_FORWARD_OPS or node.op == "ReadVariableOp":
            data = [i for i in node.input if not i.startswith("^")]
            if not data:
                return None
            ref = parse_input(data[0])
            continue
        return None
    return None


def _string_list(node: node_def_pb2.NodeDef | None) -> list[str] | None:
    if node is None or node.op != "Const" or "value" not in node.attr:
        return None
    try:
        values = tensor_to_array(node.attr["value"].tensor, f"Const '{node.name}'")
    except Exception:  # noqa: BLE001 - a malformed Const just means "no Saver information here"
        return None
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in np.ravel(values)]


def _saver_scope(saver_def: saver_pb2.SaverDef | None) -> str | None:
    if saver_def is None:
        return None
    for name in (saver_def.save_tensor_name, saver_def.restore_op_name, saver_def.filename_tensor_name):
        if name and "/" in name:
            return parse_input(name).node.split("/")[0] + "/"
    return None


def saver_mapping(graph_def: graph_pb2.GraphDef, saver_def: saver_pb2.SaverDef | None = None
                  ) -> dict[str, tuple[str, SliceSpec | None, str]]:
    """Variable node -> (checkpoint key, slice, Saver node) from the graph's save/restore nodes.

    With ``saver_def``, the Saver in its scope (``save/``, ``save_1/``...) comes first; other Savers
    only fill in variables it does not mention.
    """
    nodes = {n.name: n for n in graph_def.node}
    scope = _saver_scope(saver_def)
    savers = [n for n in graph_def.node if n.op in _SAVE_OPS or n.op in _RESTORE_OPS]
    savers.sort(key=lambda n: (0 if scope and n.name.startswith(scope) else 1, 0 if n.op in _SAVE_OPS else 1))
    consumers: dict[str, list[node_def_pb2.NodeDef]] = {}
    if any(n.op in _RESTORE_OPS for n in savers):
        for n in graph_def.node:
            for inp in n.input:
                if not inp.startswith("^"):
                    consumers.setdefault(parse_input(inp).node, []).append(n)
    mapping: dict[str, tuple[str, SliceSpec | None, str]] = {}
    for saver in savers:
        data = [i for i in saver.input if not i.startswith("^")]
        if len(data) < 3:
            continue
        keys = _string_list(nodes.get(parse_input(data[1]).node))
        specs = _string_list(nodes.get(parse_input(data[2]).node))
        if keys is None or specs is None or len(keys) != len(specs):
            log.info("Saver node '%s': cannot read its tensor names; skipped", saver.name)
            continue
        if saver.op in _SAVE_OPS:
            pairs = [(trace_to_variable(data[3 + i], nodes), i) for i in range(min(len(keys), len(data) - 3))]
        else:
            pairs = [(var, i) for i, var in _restore_targets(saver, nodes, consumers)]
        for var, i in pairs:
            if var is None or var in mapping:
                continue
            spec = parse_slice_spec(specs[i], f"slice spec {i} of '{saver.name}'")
            mapping[var] = (keys[i], spec, saver.name)
    return mapping


def _restore_targets(restore: node_def_pb2.NodeDef, nodes: Mapping[str, node_def_pb2.NodeDef],
                     consumers: Mapping[str, list[node_def_pb2.NodeDef]]) -> Iterable[tuple[int, str | None]]:
    """(output index, variable) for each Assign / AssignVariableOp fed by a RestoreV2 output."""
    stack: list[tuple[node_def_pb2.NodeDef, int | None]] = [(c, None) for c in consumers.get(restore.name, [])]
    seen: set[str] = set()
    while stack:
        node, index = stack.pop()
        if node.name in seen:
            continue
        seen.add(node.name)
        data = [i for i in node.input if not i.startswith("^")]
        if index is None:
            refs = [parse_input(i) for i in data]
            hits = [r.index for r in refs if r.node == restore.name]
            if not hits:
                continue
            index = hits[0]
        if node.op in ("Assign", "AssignVariableOp") and len(data) >= 2:
            if parse_input(data[1]).node == restore.name or node.op == "AssignVariableOp":
                yield index, trace_to_variable(data[0], nodes)
        elif node.op in ("Identity", "Reshape", "Cast"):
            stack.extend((c, index) for c in consumers.get(node.name, []))


def collection_slices(meta_graph_def: meta_graph_pb2.MetaGraphDef | None
                      ) -> dict[str, tuple[str, SliceSpec | None, str]]:
    """Variable node -> (full name, slice, source) from the ``save_slice_info`` of the MetaGraphDef's
    ``variables`` collection (``VariableDef``s); only partitioned variables carry one."""
    out: dict[str, tuple[str, SliceSpec | None, str]] = {}
    if meta_graph_def is None:
        return out
    for collection in ("variables", "local_variables", "model_variables"):
        if collection not in meta_graph_def.collection_def:
            continue
        for data in meta_graph_def.collection_def[collection].bytes_list.value:
            try:
                var_def = variable_pb2.VariableDef.FromString(data)
            except Exception:  # noqa: BLE001 - not a VariableDef list: nothing to learn here
                break
            info = var_def.save_slice_info_def
            if not info.full_name or not var_def.variable_name:
                continue
            full = tuple(int(d) for d in info.full_shape)
            extents = tuple((int(o), int(n)) for o, n in zip(info.var_offset, info.var_shape))
            if len(extents) != len(full):
                continue
            node = parse_input(var_def.variable_name).node
            out.setdefault(node, (info.full_name, SliceSpec(full, extents), f"collection '{collection}'"))
    return out


def map_variables(graph_def: graph_pb2.GraphDef, saver_def: saver_pb2.SaverDef | None = None,
                  names: Iterable[str] | None = None,
                  saver_graph_def: graph_pb2.GraphDef | None = None,
                  meta_graph_def: meta_graph_pb2.MetaGraphDef | None = None) -> dict[str, VariableInfo]:
    """Every variable node of ``graph_def`` (or only ``names``) -> its ``VariableInfo``, in graph order.

    The Saver is read from ``saver_graph_def`` (default: ``graph_def``), so a pruned graph can be
    mapped with the Saver of the graph it came from. A partitioned variable no Saver mentions takes
    its slice from ``meta_graph_def``'s ``variables`` collection (``save_slice_info``). Other
    variables map to their own node name; ``resolve_keys`` later swaps in the ``shared_name`` when
    only that is in the checkpoint.
    """
    wanted = None if names is None else set(names)
    saved = saver_mapping(saver_graph_def if saver_graph_def is not None else graph_def, saver_def)
    sliced = collection_slices(meta_graph_def)
    out: dict[str, VariableInfo] = {}
    for node in variable_nodes(graph_def):
        if wanted is not None and node.name not in wanted:
            continue
        key, spec, source = saved.get(node.name) or sliced.get(node.name) or (node.name, None, "node name")
        out[node.name] = VariableInfo(node=node.name, op=node.op, dtype=variable_dtype(node),
                                      shape=variable_shape(node), key=key, slice=spec, source=source)
    return out


def checkpoint_name(checkpoint: Mapping[str, np.ndarray]) -> str:
    """How to name a checkpoint in messages: its prefix, or ``'the checkpoint'``."""
    prefix = getattr(checkpoint, "prefix", None)
    return f"checkpoint '{prefix}'" if prefix else "the checkpoint"


def _stored(checkpoint: Mapping[str, np.ndarray], key: str) -> tuple[int, tuple[int, ...]]:
    """(DataType, shape) of a checkpoint tensor without reading it when the checkpoint can say."""
    info = getattr(checkpoint, "info", None)
    if callable(info):
        try:
            meta = info(key)
            return int(meta.dtype), tuple(meta.shape)
        except (AttributeError, NotImplementedError):
            pass
    value = np.asarray(checkpoint[key])
    return from_numpy_dtype(value.dtype), tuple(value.shape)


def _compatible(dtype: int, stored: int) -> bool:
    if dtype == stored:
        return True
    # A plain Mapping cannot tell quantized or string types apart from their numpy twins.
    try:
        return to_numpy_dtype(dtype) == to_numpy_dtype(stored)
    except Exception:  # noqa: BLE001
        return False


def resolve_keys(variables: Mapping[str, VariableInfo], checkpoint: Mapping[str, np.ndarray],
                 graph_def: graph_pb2.GraphDef | None = None) -> dict[str, VariableInfo]:
    """Checks every variable against ``checkpoint``; returns the infos with final keys.

    Raises ``MismatchError`` listing every variable that is missing from the checkpoint or whose
    dtype or shape differs, naming the variable node, the key and the checkpoint.
    """
    nodes = {n.name: n for n in graph_def.node} if graph_def is not None else {}
    where = checkpoint_name(checkpoint)
    problems: list[str] = []
    out: dict[str, VariableInfo] = {}
    keys = None
    for name, info in variables.items():
        key = info.key
        if key not in checkpoint and info.source == "node name":
            node = nodes.get(name)
            shared = node.attr["shared_name"].s.decode("utf-8", "replace") if node is not None and \
                "shared_name" in node.attr else ""
            if shared and shared in checkpoint:
                info = dataclasses.replace(info, key=shared, source="shared_name")
                key = shared
        if key not in checkpoint:
            if keys is None:
                keys = list(checkpoint.keys())
            hints = close_matches(key, keys)
            via = "" if info.source in ("node name", "shared_name") else f" (key '{key}' from Saver '{info.source}')"
            msg = f"{info.describe()}{via} is not in {where}"
            if key != name and info.source in ("node name", "shared_name"):
                msg += f" (looked for key '{key}')"
            if hints:
                msg += "; closest keys: " + ", ".join(f"'{h}'" + _fits(info, checkpoint, h) for h in hints)
            base = _PARTITION.match(name)
            if base and base.group(1) in checkpoint and info.slice is None:
                msg += (f" ('{name}' looks like a part of partitioned variable '{base.group(1)}', but neither the "
                        "graph's Saver nor a MetaGraphDef 'variables' collection says which slice it holds: pass "
                        "the .meta file)")
            problems.append(msg)
            continue
        stored_dtype, stored_shape = _stored(checkpoint, key)
        if not _compatible(info.dtype, stored_dtype):
            problems.append(f"{info.describe()} has dtype {dtype_name(info.dtype)} but key '{key}' in {where} "
                            f"is {dtype_name(stored_dtype)}")
            continue
        want_full = info.slice.full_shape if info.slice is not None else info.shape
        if want_full is not None and not _shape_matches(want_full, stored_shape):
            what = "its Saver slice spec says" if info.slice is not None else "the graph says"
            problems.append(f"{info.describe()}: {what} shape {list(want_full)} but key '{key}' in {where} "
                            f"has shape {list(stored_shape)}")
            continue
        if info.slice is not None and info.shape is not None and not _shape_matches(info.shape, info.slice.shape):
            problems.append(f"{info.describe()} holds slice {list(info.slice.shape)} of key '{key}' by its Saver, "
                            f"which does not fit its shape {list(info.shape)}")
            continue
        out[name] = info
    if problems:
        head = "graph and checkpoint do not match" if len(problems) > 1 else "graph and checkpoint do not match:"
        body = "; ".join(problems) if len(problems) == 1 else " | ".join(f"({i + 1}) {p}" for i, p in
                                                                          enumerate(problems))
        raise MismatchError(f"{head}{':' if len(problems) > 1 else ''} {body}. Check that the checkpoint was saved "
                            "from this graph, or exclude variables with variable_names_blacklist")
    return out


def _fits(info: VariableInfo, checkpoint: Mapping[str, np.ndarray], key: str) -> str:
    """`` (same shape/dtype)`` when checkpoint tensor ``key`` could hold ``info``'s variable."""
    try:
        dtype, shape = _stored(checkpoint, key)
    except Exception:  # noqa: BLE001 - only a hint
        return ""
    want = info.slice.full_shape if info.slice is not None else info.shape
    fits = _compatible(info.dtype, dtype) and (want is None or _shape_matches(want, shape))
    return " (same shape/dtype)" if fits else ""


def _shape_matches(want: tuple[int, ...], have: tuple[int, ...]) -> bool:
    return len(want) == len(have) and all(w < 0 or w == h for w, h in zip(want, have))


def read_value(info: VariableInfo, checkpoint: Mapping[str, np.ndarray],
               cache: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The value of ``info``'s variable: its checkpoint tensor, or its slice of it, as the variable's dtype."""
    if cache is not None and info.key in cache:
        full = cache[info.key]
    else:
        full = np.asarray(checkpoint[info.key])
        if cache is not None and info.slice is not None:
            cache[info.key] = full
    value = full[info.slice.index()] if info.slice is not None else full
    want = to_numpy_dtype(info.dtype, info.describe())
    if value.dtype != want and info.dtype != DT.DT_STRING:
        value = value.astype(want)
    return value
