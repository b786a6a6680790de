"""freeze_signature(saved_model_dir): one signature of a TF2 SavedModel -> a frozen GraphDef, without TensorFlow.

A TF2 SavedModel's graph holds one ``VarHandleOp`` per variable and, per signature, a
``StatefulPartitionedCall`` whose inputs are the signature's arguments followed by the captured
resources; all the computation lives in library functions that read variables through
``ReadVariableOp`` / ``ResourceGather``. Freezing:

1. maps each captured ``VarHandleOp`` to its checkpoint key, through the object graphs (route A:
   ``concrete_functions[f].bound_inputs`` -> object path -> checkpoint object graph) and, as a
   cross-check, through the restore function's ``RestoreV2`` tensor names (route B);
2. replaces each such ``VarHandleOp`` with a ``Const`` of the same name holding its value;
3. rewrites every function reachable from the signature that now receives values where it took
   resources (calls, ``If``, ``While``, ``Case``, nested), under new names, turning reads into
   value ops and dropping assignments to frozen variables (refusing when a later read sees them);
4. keeps the nodes the signature's outputs need and the functions they call.

Tensor names do not change: ``serving_default_x:0`` in, ``StatefulPartitionedCall:0`` out.
See ``shared/docs/tf-formats.md`` section 5 for the layouts this relies on.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import logging
import os
import pathlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from graphsurgeon._proto import (
    function_pb2,
    graph_pb2,
    meta_graph_pb2,
    node_def_pb2,
    saved_object_graph_pb2,
    trackable_object_graph_pb2,
    types_pb2,
)
from graphsurgeon.errors import (
    CheckpointError,
    FileFormatError,
    GraphSurgeonError,
    InvalidGraphError,
    MismatchError,
    UnsupportedError,
    close_matches,
    not_found,
)
from graphsurgeon.formats import protofile, tensors
from graphsurgeon.formats.model import (
    SAVED_MODEL,
    LoadedGraph,
    as_loaded,
    default_checkpoint,
    is_tf2_saved_model,
    save_graph,
)
from graphsurgeon.graph import functions as fn
from graphsurgeon.graph import names
from graphsurgeon.graph.check import check_graph

logger = logging.getLogger(__name__)

DT_RESOURCE = types_pb2.DT_RESOURCE
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
VARIABLE_VALUE = "VARIABLE_VALUE"
INIT_OP_SIGNATURE = "__saved_model_init_op"
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


@dataclasses.dataclass
class SignatureFreezeResult:
    """What ``freeze_signature`` produced.

    Attributes:
        graph_def: the frozen GraphDef (top-level nodes the outputs need, reachable functions only).
        signature: the signature key that was frozen.
        inputs: signature input key -> tensor name in ``graph_def`` (``x`` -> ``serving_default_x:0``).
        outputs: signature output key -> tensor name (``y`` -> ``StatefulPartitionedCall:0``).
        variables: the frozen variables, in graph order.
        notes: things the user should know (dropped assignments, ...).
        tags: the meta graph's tag set.
    """

    graph_def: graph_pb2.GraphDef
    signature: str
    inputs: dict[str, str]
    outputs: dict[str, str]
    variables: list[VariableInfo]
    notes: list[str]
    tags: tuple[str, ...] = ()

    @property
    def input_names(self) -> list[str]:
        return list(self.inputs.values())

    @property
    def output_names(self) -> list[str]:
        return list(self.outputs.values())

    def signature_json(self) -> dict[str, Any]:
        """The sidecar: ``{"signature", "tags", "inputs": {key: tensor}, "outputs": {key: tensor}}``."""
        return {"signature": self.signature, "tags": list(self.tags),
                "inputs": dict(self.inputs), "outputs": dict(self.outputs)}

    def sidecar_text(self) -> str:
        """``signature_json()`` as the sidecar file holds it."""
        return json.dumps(self.signature_json(), indent=1) + "\n"

    def write(self, path: str | os.PathLike[str], *, text: bool = False,
              inputs: Iterable[str | os.PathLike[str]] = (), sidecar: str | os.PathLike[str] | None = None) -> int:
        """Writes the graph to ``path`` and its signature mapping to ``sidecar`` (default
        ``PATH.signature.json``), together: the sidecar is renamed into place only after the graph,
        and if it cannot be, the graph is removed again. Returns the graph's size in bytes."""
        sidecar = os.fspath(sidecar) if sidecar is not None else os.fspath(path) + ".signature.json"
        inputs = list(inputs)
        protofile.check_output_path(sidecar, inputs)
        written = None
        try:
            with protofile.atomic_writer(sidecar, inputs) as handle:
                handle.write(self.sidecar_text().encode("utf-8"))
                written = save_graph(self.graph_def, path, text=text, inputs=inputs)
        except BaseException:
            if written is not None:  # the graph is in place but its sidecar could not be: leave neither
                with contextlib.suppress(OSError):
                    os.unlink(path)
            raise
        return written


# --- detection and loading ------------------------------------------------------------------------

def _load(saved_model_dir: str | os.PathLike[str] | LoadedGraph, tags: Iterable[str] | str | None) -> LoadedGraph:
    if not isinstance(saved_model_dir, LoadedGraph):
        path = pathlib.Path(saved_model_dir)
        if not path.is_dir():
            raise FileFormatError(f"'{path}' is not a SavedModel directory"
                                  + ("" if path.exists() else " (it does not exist)"))
    loaded = as_loaded(saved_model_dir, tags)
    if loaded.kind != SAVED_MODEL or loaded.meta_graph_def is None:
        raise FileFormatError(f"'{loaded.path}' is not a SavedModel; signatures need a SavedModel directory")
    return loaded


def _signature(meta: meta_graph_pb2.MetaGraphDef, signature: str, where: str) -> meta_graph_pb2.SignatureDef:
    if signature in meta.signature_def and signature != INIT_OP_SIGNATURE:
        return meta.signature_def[signature]
    available = sorted(k for k in meta.signature_def if k != INIT_OP_SIGNATURE)
    listing = ", ".join(available) if available else "none"
    raise not_found("signature", signature, available, where=f"SavedModel '{where}'",
                          hint=f"available signatures: {listing}; choose one with --signature")


def _default_checkpoint(loaded: LoadedGraph) -> Mapping[str, np.ndarray]:
    from graphsurgeon.formats.checkpoint import load_checkpoint

    prefix = default_checkpoint(loaded)
    if prefix is None or not os.path.isfile(prefix + ".index"):
        raise CheckpointError(f"SavedModel '{loaded.saved_model_dir}' has no variables/variables.index; "
                              "give the checkpoint with --input_checkpoint")
    return load_checkpoint(prefix)


def _checkpoint_object_graph(checkpoint: Mapping[str, Any]) -> trackable_object_graph_pb2.TrackableObjectGraph | None:
    getter = getattr(checkpoint, "object_graph", None)
    if callable(getter):
        graph = getter()
        if graph is not None:
            return graph
    if OBJECT_GRAPH_KEY not in checkpoint:
        return None
    raw = checkpoint[OBJECT_GRAPH_KEY]
    data = raw.item() if isinstance(raw, np.ndarray) else raw
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(data if isinstance(data, bytes) else bytes(data))
    return graph


def _dtype_str(dtype: int) -> str:
    """numpy's name (``float32``), as ``summarize`` writes dtypes; TensorFlow's for the rest."""
    try:
        return tensors.to_numpy_dtype(dtype).name
    except GraphSurgeonError:
        return tensors.dtype_name(dtype)


# --- variable -> checkpoint key ---------------------------------------------------------------------

def _escape(local_name: str) -> str:
    return local_name.replace(".", "..").replace("/", ".S")


def _object_paths(object_graph: saved_object_graph_pb2.SavedObjectGraph) -> dict[int, list[str]]:
    """Breadth-first first path (edge names) from the root to every node of a SavedObjectGraph.

    Edges to ids past the end of the (damaged) graph lead nowhere and are skipped."""
    count = len(object_graph.nodes)
    paths: dict[int, list[str]] = {0: []}
    queue = collections.deque([0] if count else [])
    while queue:
        node_id = queue.popleft()
        for child in object_graph.nodes[node_id].children:
            if child.node_id not in paths and 0 <= child.node_id < count:
                paths[child.node_id] = paths[node_id] + [child.local_name]
                queue.append(child.node_id)
    return paths


def _variable_attribute(node: trackable_object_graph_pb2.TrackableObjectGraph.TrackableObject) -> str | None:
    for attr in node.attributes:
        if attr.name == VARIABLE_VALUE:
            return attr.checkpoint_key
    return None


def _key_from_checkpoint_graph(path: list[str], node_id: int, same_ids: bool,
                               ckpt_graph: trackable_object_graph_pb2.TrackableObjectGraph | None) -> str | None:
    if ckpt_graph is None:
        return "/".join(_escape(p) for p in path) + f"/.ATTRIBUTES/{VARIABLE_VALUE}" if path else None
    current = 0
    for local_name in path:
        nxt = next((c.node_id for c in ckpt_graph.nodes[current].children if c.local_name == local_name), None)
        if nxt is None or nxt >= len(ckpt_graph.nodes):
            break
        current = nxt
    else:
        key = _variable_attribute(ckpt_graph.nodes[current])
        if key:
            return key
    # Same object ids in both graphs when the checkpoint is the SavedModel's own (tf-formats.md 5.3).
    if same_ids and node_id < len(ckpt_graph.nodes):
        return _variable_attribute(ckpt_graph.nodes[node_id])
    return None


def _same_ids(saved: saved_object_graph_pb2.SavedObjectGraph,
              ckpt_graph: trackable_object_graph_pb2.TrackableObjectGraph | None) -> bool:
    """True when the checkpoint's object graph numbers objects as the SavedModel does (its own checkpoint)."""
    if ckpt_graph is None or len(ckpt_graph.nodes) != len(saved.nodes):
        return False
    for mine, theirs in zip(saved.nodes, ckpt_graph.nodes):
        edges = {(c.local_name, c.node_id) for c in mine.children}
        if any((c.local_name, c.node_id) not in edges for c in theirs.children):
            return False
    return True


def _captured_object_ids(meta: meta_graph_pb2.MetaGraphDef, nodes: Iterable[node_def_pb2.NodeDef]) -> dict[str, int]:
    """Route A, first half: top-level input node -> object id, from the calls' ``bound_inputs``."""
    concrete = meta.object_graph_def.concrete_functions
    out: dict[str, int] = {}
    for node in nodes:
        if node.op not in fn.CALL_OPS or node.attr["f"].func.name not in concrete:
            continue
        bound = list(concrete[node.attr["f"].func.name].bound_inputs)
        data = [names.parse_input(i) for i in node.input if not i.startswith("^")]
        if not bound or len(bound) > len(data):
            continue
        for ref, object_id in zip(data[len(data) - len(bound):], bound):
            out.setdefault(ref.node, object_id)
    return out


def _route_a(meta: meta_graph_pb2.MetaGraphDef, object_ids: Mapping[str, int],
             ckpt_graph: trackable_object_graph_pb2.TrackableObjectGraph | None) -> dict[str, str]:
    saved = meta.object_graph_def
    paths = _object_paths(saved)
    same = _same_ids(saved, ckpt_graph)
    out: dict[str, str] = {}
    for node_name, object_id in object_ids.items():
        if object_id >= len(saved.nodes) or saved.nodes[object_id].WhichOneof("kind") != "variable":
            continue
        key = _key_from_checkpoint_graph(paths.get(object_id, []), object_id, same, ckpt_graph)
        if key:
            out[node_name] = key
    return out


def _route_b(meta: meta_graph_pb2.MetaGraphDef) -> dict[str, str]:
    """Variable node -> key, from the restore function's ``RestoreV2`` -> ``AssignVariableOp`` chains."""
    graph_def = meta.graph_def
    restore_name = meta.saver_def.restore_op_name
    if not restore_name:
        return {}
    by_name = {n.name: n for n in graph_def.node}
    restore = by_name.get(names.node_name(restore_name))
    library = fn.function_library(graph_def)
    if restore is None or restore.op not in fn.CALL_OPS or restore.attr["f"].func.name not in library:
        return {}
    fdef = library[restore.attr["f"].func.name]
    data_inputs = [names.parse_input(i).node for i in restore.input if not i.startswith("^")]
    arg_to_node = {arg.name: data_inputs[i] for i, arg in enumerate(fdef.signature.input_arg) if i < len(data_inputs)}
    body = {n.name: n for n in fdef.node_def}
    keys_of: dict[str, list[str]] = {}
    for node in fdef.node_def:
        if node.op in ("RestoreV2", "Restore", "RestoreSlice") and len(node.input) > 1:
            names_ref = fn.parse_function_input(node.input[1])
            const = body.get(names_ref.node)
            if const is not None and const.op == "Const":
                keys_of[node.name] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                                      for v in tensors.tensor_to_array(const.attr["value"].tensor).reshape(-1)]
    out: dict[str, str] = {}
    for node in fdef.node_def:
        if node.op != "AssignVariableOp" or len(node.input) < 2:
            continue
        target = fn.parse_function_input(node.input[0])
        source = fn.parse_function_input(node.input[1])
        for _ in range(16):  # follow Identity chains back to RestoreV2:tensors:k
            producer = body.get(source.node) if source.output is not None else None
            if producer is None or producer.op != "Identity" or not producer.input:
                break
            source = fn.parse_function_input(producer.input[0])
        if target.is_arg and source.node in keys_of and source.index < len(keys_of[source.node]):
            var_node = arg_to_node.get(target.node)
            if var_node:
                out[var_node] = keys_of[source.node][source.index]
    # Keras 3 saves a second VarHandleOp per variable that the restore function fills, initialised
    # at top level by AssignVariableOp(copy, ReadVariableOp(original)); the original has the same key.
    for node in graph_def.node:
        if node.op != "AssignVariableOp" or len(node.input) < 2:
            continue
        copy = names.node_name(node.input[0])
        read = by_name.get(names.node_name(node.input[1]))
        if copy in out and read is not None and read.op == "ReadVariableOp" and read.input:
            original = names.node_name(read.input[0])
            if by_name.get(original) is not None and by_name[original].op == "VarHandleOp":
                out.setdefault(original, out[copy])
    return out


def _same_value(checkpoint: Mapping[str, Any] | None, a: str, b: str) -> bool:
    if checkpoint is None or a not in checkpoint or b not in checkpoint:
        return False
    x, y = np.asarray(checkpoint[a]), np.asarray(checkpoint[b])
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes() if x.dtype != object \
        else x.shape == y.shape and bool(np.all(x == y))


def variable_keys(meta: meta_graph_pb2.MetaGraphDef, variable_nodes: Sequence[str],
                  checkpoint: Mapping[str, Any] | None, where: str, notes: list[str] | None = None) -> dict[str, str]:
    """Checkpoint key of each ``VarHandleOp`` in ``variable_nodes``, by routes A and B (they must agree).

    Route A (the object graph) is what ``tf.saved_model.load`` uses. When route B (the restore
    function) names another key, the two keys must hold identical values in ``checkpoint`` (Keras 3's
    ``model.export`` tracks each variable twice, as ``variables/i`` and ``_all_variables/j``); a note
    is added to ``notes``. Raises ``MismatchError`` when they disagree on the value and
    ``CheckpointError`` when neither route knows a variable.
    """
    ckpt_graph = _checkpoint_object_graph(checkpoint) if checkpoint is not None else None
    route_a = _route_a(meta, _captured_object_ids(meta, meta.graph_def.node), ckpt_graph)
    route_b = _route_b(meta)
    out: dict[str, str] = {}
    for var in variable_nodes:
        a, b = route_a.get(var), route_b.get(var)
        if a and b and a != b and _same_value(checkpoint, a, b):
            if notes is not None:
                notes.append(f"variable '{var}': the object graph reads checkpoint key '{a}', the restore function "
                             f"'{b}'; both hold the same value")
        elif a and b and a != b:
            raise MismatchError(
                f"variable '{var}' in SavedModel '{where}': the object graph maps it to checkpoint key '{a}' "
                f"but the restore function restores it from '{b}'; the SavedModel (or the checkpoint given "
                "for it) is inconsistent")
        key = a or b
        if not key:
            raise CheckpointError(
                f"cannot find the checkpoint key of variable '{var}' in SavedModel '{where}': neither the object "
                "graph nor the restore function names it")
        out[var] = key
    return out


def saved_model_variables(saved_model_dir: str | os.PathLike[str] | LoadedGraph,
                          tags: Iterable[str] | str | None = None) -> list[dict[str, Any]]:
    """Every ``VarHandleOp`` of a SavedModel with its checkpoint key, dtype, shape and signature use.

    Returns dicts ``{"node", "key", "dtype", "shape", "signatures"}``; ``key`` is ``None`` when
    neither route knows the variable (e.g. Keras 3's restore-only copies). Reads only the protos.
    """
    loaded = _load(saved_model_dir, tags)
    try:
        return _saved_model_variables(loaded)
    except fn.FunctionInputError as err:  # raised deep in a function body: name the file here
        raise InvalidGraphError(f"SavedModel '{loaded.saved_model_dir or loaded.path}': {err}") from None


def _saved_model_variables(loaded: LoadedGraph) -> list[dict[str, Any]]:
    meta = loaded.meta_graph_def
    assert meta is not None
    ckpt_graph = None
    if loaded.saved_model_dir is not None and (loaded.saved_model_dir / "variables" / "variables.index").is_file():
        try:
            ckpt_graph = _checkpoint_object_graph(_default_checkpoint(loaded))
        except GraphSurgeonError as err:  # a damaged checkpoint still leaves the restore function's keys
            logger.info("cannot read the checkpoint's object graph: %s", err)
    route_a = _route_a(meta, _captured_object_ids(meta, meta.graph_def.node), ckpt_graph)
    route_b = _route_b(meta)
    users: dict[str, list[str]] = collections.defaultdict(list)
    for key, sig in meta.signature_def.items():
        for out in sig.outputs.values():
            call = next((n for n in meta.graph_def.node if n.name == names.node_name(out.name)), None)
            if call is None:
                continue
            for i in call.input:
                if key not in users[names.node_name(i)]:
                    users[names.node_name(i)].append(key)
    out_list = []
    for node in meta.graph_def.node:
        if node.op != "VarHandleOp":
            continue
        out_list.append({
            "node": node.name,
            "key": route_a.get(node.name) or route_b.get(node.name),
            "dtype": _dtype_str(node.attr["dtype"].type),
            "shape": tensors.shape_from_proto(node.attr["shape"].shape),
            "signatures": sorted(users.get(node.name, [])),
        })
    return out_list


def saved_model_functions(saved_model_dir: str | os.PathLike[str] | LoadedGraph,
                          tags: Iterable[str] | str | None = None) -> list[dict[str, Any]]:
    """The library functions of a SavedModel: ``{"name", "inputs", "outputs", "nodes", "signatures"}``.

    ``signatures`` lists the signature keys whose call reaches the function.
    """
    loaded = _load(saved_model_dir, tags)
    meta = loaded.meta_graph_def
    assert meta is not None
    library = fn.function_library(meta.graph_def)
    by_name = {n.name: n for n in meta.graph_def.node}
    reached: dict[str, list[str]] = collections.defaultdict(list)
    for key, sig in meta.signature_def.items():
        callers = [by_name[names.node_name(t.name)] for t in sig.outputs.values() if names.node_name(t.name) in by_name]
        for name in fn.reachable_functions(callers, library):
            reached[name].append(key)
    return [{"name": name, "inputs": len(fdef.signature.input_arg), "outputs": len(fdef.signature.output_arg),
             "nodes": len(fdef.node_def), "signatures": sorted(set(reached.get(name, [])))}
            for name, fdef in library.items()]


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


class _Freezer:
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
            if arg.type != DT_RESOURCE:
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
            var = body.frozen.get((ref.node, ref.output, ref.index))
            if var is not None:
                out.type = var.dtype
                out.ClearField("handle_data")
                frozen_rets[k] = var
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
                var = hit.get(0)
                if var is None:
                    raise UnsupportedError(f"{here} takes variable values at an unexpected input")
                new = self._convert_read(node, var, in_function, existing, extra, here)
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


# --- inlining -----------------------------------------------------------------------------------------

# Output args of common ops with more than one output arg, for when the MetaGraphDef's
# stripped_op_list lacks them (TF 2.21 lists the top-level graph's ops, not every function's).
_OUTPUT_ARGS: dict[str, tuple[str, ...]] = {
    "FusedBatchNorm": ("y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"),
    "FusedBatchNormV2": ("y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"),
    "FusedBatchNormV3": ("y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2",
                         "reserve_space_3"),
    "Unique": ("y", "idx"), "UniqueV2": ("y", "idx"), "UniqueWithCounts": ("y", "idx", "count"),
    "TopKV2": ("values", "indices"), "TopK": ("values", "indices"),
    "MaxPoolWithArgmax": ("output", "argmax"), "BroadcastGradientArgs": ("r0", "r1"),
    "SoftmaxCrossEntropyWithLogits": ("loss", "backprop"),
    "SparseSoftmaxCrossEntropyWithLogits": ("loss", "backprop"),
    "QuantizeV2": ("output", "output_min", "output_max"),
}


def _arg_size(arg: Any, node: node_def_pb2.NodeDef, op_def: Any) -> int:
    if arg.number_attr:
        if arg.number_attr in node.attr:
            return int(node.attr[arg.number_attr].i)
        default = next((a.default_value.i for a in op_def.attr if a.name == arg.number_attr), None)
        if default is None:
            raise UnsupportedError(f"cannot inline: node '{node.name}' ({node.op}) lacks attr '{arg.number_attr}'")
        return int(default)
    if arg.type_list_attr:
        return len(node.attr[arg.type_list_attr].list.type) if arg.type_list_attr in node.attr else 0
    return 1


class _OutputLayout:
    """Flat output index of ``node:output_arg:index`` references, from OpDefs, functions or a table."""

    def __init__(self, op_defs: Mapping[str, Any], library: Mapping[str, function_pb2.FunctionDef]) -> None:
        self.op_defs = op_defs
        self.library = library

    def offsets(self, node: node_def_pb2.NodeDef) -> dict[str, int] | None:
        """Output arg -> first flat index; ``None`` when unknown (then one output arg is assumed)."""
        if node.op in self.library:
            return {a.name: i for i, a in enumerate(self.library[node.op].signature.output_arg)}
        op_def = self.op_defs.get(node.op)
        if op_def is not None:
            out, start = {}, 0
            for arg in op_def.output_arg:
                out[arg.name] = start
                start += _arg_size(arg, node, op_def)
            return out
        if node.op in _OUTPUT_ARGS:
            return {name: i for i, name in enumerate(_OUTPUT_ARGS[node.op])}
        return None


def _inline_call(call: node_def_pb2.NodeDef, fdef: function_pb2.FunctionDef, layout: _OutputLayout,
                 taken: set[str]) -> list[node_def_pb2.NodeDef]:
    """The nodes replacing one call: the body under ``<call>/`` plus an IdentityN named like the call."""
    prefix = call.name + "/"
    body_names = {n.name for n in fdef.node_def}
    clash = sorted(prefix + n for n in body_names if prefix + n in taken)
    if clash:
        raise UnsupportedError(f"cannot inline '{call.name}': the graph already has node '{clash[0]}'")
    data = [x for x in call.input if not x.startswith("^")]
    controls = [x for x in call.input if x.startswith("^")]
    args = {arg.name: data[i] for i, arg in enumerate(fdef.signature.input_arg)}
    by_name = {n.name: n for n in fdef.node_def}
    offsets = {n.name: layout.offsets(n) for n in fdef.node_def}
    used_args: dict[str, set[str]] = collections.defaultdict(set)

    def convert(name: str) -> str:
        ref = fn.parse_function_input(name)
        if ref.is_control:
            if ref.node in args:
                return "^" + names.node_name(args[ref.node])
            return "^" + prefix + ref.node
        if ref.output is None:
            if ref.node not in args:
                raise UnsupportedError(f"cannot inline '{call.name}': function '{fdef.signature.name}' uses "
                                       f"unknown argument '{ref.node}'")
            return args[ref.node]
        table = offsets.get(ref.node)
        if table is None:
            used_args[ref.node].add(ref.output)
            if len(used_args[ref.node]) > 1:
                op = by_name[ref.node].op if ref.node in by_name else "?"
                raise UnsupportedError(f"cannot inline '{call.name}': the output layout of op {op} (node "
                                       f"'{ref.node}' in '{fdef.signature.name}') is unknown")
            flat = ref.index
        elif ref.output in table:
            flat = table[ref.output] + ref.index
        else:
            raise UnsupportedError(f"cannot inline '{call.name}': node '{ref.node}' has no output '{ref.output}'")
        return names.format_input(names.TensorRef(prefix + ref.node, flat))

    out: list[node_def_pb2.NodeDef] = []
    for node in fdef.node_def:
        if any(v.placeholder for v in node.attr.values()):
            raise UnsupportedError(f"cannot inline '{call.name}': function '{fdef.signature.name}' is polymorphic")
        new = node_def_pb2.NodeDef()
        new.CopyFrom(node)
        new.name = prefix + node.name
        del new.input[:]
        new.input.extend(convert(x) for x in node.input)
        if not new.input and controls:
            new.input.extend(controls)  # a body node without inputs still runs after the call's control inputs
        if "_class" in new.attr:
            del new.attr["_class"]
        out.append(new)
    ident = node_def_pb2.NodeDef(name=call.name, op="IdentityN", device=call.device)
    ident.input.extend(convert(fdef.ret[a.name]) for a in fdef.signature.output_arg)
    ident.input.extend("^" + prefix + fdef.control_ret[c] for c in fdef.signature.control_output
                       if c in fdef.control_ret)
    ident.attr["T"].list.type.extend(a.type for a in fdef.signature.output_arg)
    if "_output_shapes" in call.attr:
        ident.attr["_output_shapes"].CopyFrom(call.attr["_output_shapes"])
    if not fdef.signature.output_arg:
        ident.op = "NoOp"
        del ident.attr["T"]
    out.append(ident)
    return out


def inline_calls(graph_def: graph_pb2.GraphDef, op_defs: Mapping[str, Any] | None = None) -> graph_pb2.GraphDef:
    """Returns a new GraphDef with every top-level ``(Stateful)PartitionedCall`` replaced by its body.

    Bodies go under ``<call>/``; the call itself becomes an ``IdentityN`` of the same name, so
    ``call:k`` names stay valid. Nested calls are inlined too. Functional control flow (``If``,
    ``While``, ``Case``) stays, with the functions it needs. ``op_defs`` (op name -> OpDef, e.g. a
    MetaGraphDef's ``stripped_op_list``) gives output layouts; ``graph_def`` is not modified.
    """
    library = fn.function_library(graph_def)
    layout = _OutputLayout(op_defs or {}, library)
    nodes = list(graph_def.node)
    for _ in range(1000):
        calls = [i for i, n in enumerate(nodes) if n.op in fn.CALL_OPS or n.op in library]
        if not calls:
            break
        taken = {n.name for n in nodes}
        new_nodes: list[node_def_pb2.NodeDef] = []
        for i, node in enumerate(nodes):
            if i not in calls:
                new_nodes.append(node)
                continue
            name = node.attr["f"].func.name if node.op in fn.CALL_OPS else node.op
            if name not in library:
                raise UnsupportedError(f"cannot inline '{node.name}': function '{name}' is not in the library")
            new_nodes.extend(_inline_call(node, library[name], layout, taken))
        nodes = new_nodes
    else:  # pragma: no cover - recursion guard
        raise UnsupportedError("cannot inline: calls nest more than 1000 deep")
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.node.extend(nodes)
    reachable = fn.reachable_functions(out.node, library)
    out.library.function.extend(library[name] for name in sorted(reachable))
    for grad in graph_def.library.gradient:
        if grad.function_name in reachable and grad.gradient_func in reachable:
            out.library.gradient.add().CopyFrom(grad)
    return out


# --- the entry point --------------------------------------------------------------------------------

def _const_node(var_node: node_def_pb2.NodeDef, value: np.ndarray, dtype: int) -> node_def_pb2.NodeDef:
    const = node_def_pb2.NodeDef(name=var_node.name, op="Const", device=var_node.device)
    const.attr["dtype"].type = dtype
    const.attr["value"].tensor.CopyFrom(tensors.array_to_tensor(value, dtype))
    return const


def _read_value(checkpoint: Mapping[str, Any], key: str, var_node: node_def_pb2.NodeDef, where: str) -> np.ndarray:
    if key not in checkpoint:
        hint = close_matches(key, [k for k in checkpoint if k != OBJECT_GRAPH_KEY])
        raise CheckpointError(
            f"variable '{var_node.name}' (checkpoint key '{key}') is missing from the checkpoint {where}"
            + (f"; close keys: {', '.join(hint)}" if hint else "")
            + "; give the right checkpoint with --input_checkpoint")
    value = np.asarray(checkpoint[key])
    dtype = var_node.attr["dtype"].type
    want_shape = tensors.shape_from_proto(var_node.attr["shape"].shape)
    if want_shape is not None and (len(want_shape) != value.ndim or
                                   any(w not in (-1, v) for w, v in zip(want_shape, value.shape))):
        raise MismatchError(f"variable '{var_node.name}' has shape {list(want_shape)} but checkpoint key '{key}' "
                            f"holds shape {list(value.shape)}")
    if dtype != types_pb2.DT_STRING:
        have = tensors.from_numpy_dtype(value.dtype)
        if have != dtype:
            raise MismatchError(f"variable '{var_node.name}' is {tensors.dtype_name(dtype)} but checkpoint key "
                                f"'{key}' holds {tensors.dtype_name(have)}")
    return value


def _output_key(sig: meta_graph_pb2.SignatureDef, name: str) -> str:
    """A signature output key from a key, a tensor name (``StatefulPartitionedCall:1``) or a node name."""
    if name in sig.outputs:
        return name
    for key, info in sig.outputs.items():
        if info.name and names.tensor_name(info.name) == names.tensor_name(name):
            return key
    return name


def _backward(nodes: Mapping[str, node_def_pb2.NodeDef], starts: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        name = stack.pop()
        if name in seen or name not in nodes:
            continue
        seen.add(name)
        stack.extend(names.node_name(x) for x in nodes[name].input)
    return [n for n in nodes if n in seen]


def freeze_signature(saved_model_dir: str | os.PathLike[str] | LoadedGraph, *, signature: str = "serving_default",
                     tags: Iterable[str] | str | None = None, checkpoint: Mapping[str, Any] | None = None,
                     outputs: Sequence[str] | str | None = None, inline: bool = False) -> SignatureFreezeResult:
    """Freezes one signature of a TF2 SavedModel into a GraphDef, reading only protobufs and the checkpoint.

    Args:
        saved_model_dir: the SavedModel directory (or what ``load_graph`` returned for it).
        signature: the signature key (``serving_default``).
        tags: the meta graph's tag set (default ``serve``, or the only one).
        checkpoint: a mapping key -> array (``load_checkpoint(...)``); default the SavedModel's
            ``variables/variables``.
        outputs: signature outputs to keep, by key or tensor name (default all).
        inline: replace the calls with their bodies in the top-level graph (``inline_calls``); functional
            ``If`` / ``While`` / ``Case`` stay, with the functions they need.

    Returns:
        A ``SignatureFreezeResult``; the input SavedModel is not modified. Input and output tensor
        names are the signature's own. Raises a ``GraphSurgeonError`` naming the problem (unknown
        signature or tag set, missing variable, a variable used in a way that cannot be frozen, a
        non-variable resource such as a lookup table).
    """
    loaded = _load(saved_model_dir, tags)
    try:
        return _freeze_signature(loaded, signature, checkpoint, outputs, inline)
    except fn.FunctionInputError as err:  # raised deep in a function body: name the file here
        raise InvalidGraphError(f"SavedModel '{loaded.saved_model_dir or loaded.path}': {err}") from None


def _freeze_signature(loaded: LoadedGraph, signature: str, checkpoint: Mapping[str, Any] | None,
                      outputs: Sequence[str] | str | None, inline: bool) -> SignatureFreezeResult:
    meta = loaded.meta_graph_def
    assert meta is not None
    where = str(loaded.saved_model_dir or loaded.path)
    sig = _signature(meta, signature, where)
    wanted = [_output_key(sig, name) for name in names.split_names(outputs)]
    for key in wanted:
        if key not in sig.outputs:
            raise not_found("output", key, list(sig.outputs), where=f"signature '{signature}'",
                                  hint="available outputs: " + ", ".join(sorted(sig.outputs)))
    graph_nodes = {n.name: n for n in meta.graph_def.node}
    tensor_infos = [("output", k, sig.outputs[k]) for k in (wanted or sorted(sig.outputs))]
    tensor_infos += [("input", k, sig.inputs[k]) for k in sorted(sig.inputs)]
    for direction, key, info in tensor_infos:
        if info.WhichOneof("encoding") != "name":
            raise UnsupportedError(f"{direction} '{key}' of signature '{signature}' is a "
                                   f"{info.WhichOneof('encoding') or 'nameless'} tensor; graphsurgeon freezes "
                                   "signatures of plain (dense) tensors only")
        if names.node_name(info.name) not in graph_nodes:
            raise FileFormatError(f"signature '{signature}' of '{where}' names tensor '{info.name}', "
                                  "which is not in the graph")
    output_map = {k: names.tensor_name(info.name) for d, k, info in tensor_infos if d == "output"}
    input_map = {k: names.tensor_name(info.name) for d, k, info in tensor_infos if d == "input"}

    kept = _backward(graph_nodes, [names.node_name(t) for t in output_map.values()])
    kept_set = set(kept) | {names.node_name(t) for t in input_map.values()}
    kept = [n for n in graph_nodes if n in kept_set]
    var_nodes = [n for n in kept if graph_nodes[n].op == "VarHandleOp"]
    other_resources = [n for n in kept if graph_nodes[n].op.endswith(("TableV2", "HashTable"))
                       or graph_nodes[n].op in ("HashTableV2", "MutableHashTableV2", "MutableDenseHashTableV2")]
    if other_resources:
        assets = [a.filename for a in meta.asset_file_def]
        desc = ", ".join(f"'{n}' ({graph_nodes[n].op})" for n in other_resources)
        raise UnsupportedError(
            f"cannot freeze signature '{signature}' of '{where}': it uses lookup table {desc}"
            + (f" initialised from asset(s) {', '.join(assets)}" if assets else "")
            + "; a frozen GraphDef holds no initialised tables, and graphsurgeon freezes variables only. "
            "Serve the SavedModel itself, or export a signature that takes the looked-up ids as input")

    if checkpoint is None and var_nodes:
        checkpoint = _default_checkpoint(loaded)
    ckpt_where = f"'{getattr(checkpoint, 'prefix', where + '/variables/variables')}'"
    key_notes: list[str] = []
    keys = variable_keys(meta, var_nodes, checkpoint, where, key_notes) if var_nodes else {}
    variables: list[VariableInfo] = []
    frozen: dict[Key, VariableInfo] = {}
    new_nodes: list[node_def_pb2.NodeDef] = []
    for name in kept:
        node = graph_nodes[name]
        if node.op == "VarHandleOp":
            assert checkpoint is not None
            value = _read_value(checkpoint, keys[name], node, ckpt_where)
            var = VariableInfo(name, keys[name], node.attr["dtype"].type, tuple(int(d) for d in value.shape))
            variables.append(var)
            frozen[(name, None, 0)] = var
            new_nodes.append(_const_node(node, value, var.dtype))
        else:
            new_nodes.append(node)

    library = fn.function_library(meta.graph_def)
    freezer = _Freezer(library)
    body = freezer.rewrite_body(new_nodes, frozen, names.parse_input, f"the graph of '{where}'", in_function=False)
    for node in body.nodes:
        if node.op not in fn.CALL_OPS:
            continue
        data = [x for x in node.input if not x.startswith("^")]
        for i, dtype in enumerate(node.attr["Tin"].list.type):
            if dtype == DT_RESOURCE and i < len(data):
                source = graph_nodes.get(names.node_name(data[i]))
                op = source.op if source is not None else "?"
                raise UnsupportedError(
                    f"cannot freeze signature '{signature}' of '{where}': '{node.name}' takes resource "
                    f"'{names.node_name(data[i])}' ({op}), which is not a variable; graphsurgeon freezes variables "
                    "only (tables, iterators and other resources need the SavedModel runtime)")

    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(meta.graph_def.versions)
    out.node.extend(body.nodes)
    combined = {**library, **freezer.new_functions}
    reachable = fn.reachable_functions(out.node, combined)
    out.library.function.extend(combined[name] for name in sorted(reachable))
    for grad in meta.graph_def.library.gradient:
        if grad.function_name in reachable and grad.gradient_func in reachable:
            out.library.gradient.add().CopyFrom(grad)
    missing = [m for m in fn.missing_functions(out) if m[1] not in combined]
    if missing:
        raise UnsupportedError(f"node '{missing[0][0]}' calls function '{missing[0][1]}', which the SavedModel "
                               "does not define")
    notes = list(dict.fromkeys(freezer.notes))
    if key_notes:
        notes.append(f"{len(key_notes)} variable(s) are saved under two checkpoint keys with equal values "
                     f"(first: {key_notes[0]})")
    if inline:
        op_defs = {op.name: op for op in meta.meta_info_def.stripped_op_list.op}
        out = inline_calls(out, op_defs)
        if out.library.function:
            notes.append(f"inlined the calls; {len(out.library.function)} functions remain for functional "
                         "control flow (If/While/Case)")
    check_graph(out, frozen=True, source=f"frozen signature '{signature}' of '{where}'")
    for note in notes:
        logger.info("%s", note)
    logger.info("froze %d variables of signature %s; %d functions kept", len(variables), signature, len(reachable))
    return SignatureFreezeResult(graph_def=out, signature=signature, inputs=input_map, outputs=output_map,
                                 variables=variables, notes=notes, tags=tuple(loaded.tags))


__all__ = [
    "SignatureFreezeResult",
    "VariableInfo",
    "freeze_signature",
    "inline_calls",
    "is_tf2_saved_model",
    "saved_model_functions",
    "saved_model_variables",
    "variable_keys",
]
