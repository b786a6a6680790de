"""Reading a TF2 SavedModel's object graphs: which checkpoint key holds each captured variable, and
what ``gs inspect`` lists (variables, functions).

Route A follows ``concrete_functions[f].bound_inputs`` -> object path -> the checkpoint's own object
graph; route B reads the restore function's ``RestoreV2`` tensor names; ``variable_keys`` uses A and
checks it against B. ``docs/formats.md`` §5 describes the layouts.
"""

from __future__ import annotations

import collections
import logging
import os
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from graphsurgeon._proto import (
    meta_graph_pb2,
    node_def_pb2,
    saved_object_graph_pb2,
    trackable_object_graph_pb2,
)
from graphsurgeon.errors import (
    CheckpointError,
    FileFormatError,
    GraphSurgeonError,
    InvalidGraphError,
    MismatchError,
)
from graphsurgeon.formats import tensors
from graphsurgeon.formats.checkpoint import load_checkpoint
from graphsurgeon.formats.model import (
    SAVED_MODEL,
    LoadedGraph,
    as_loaded,
    default_checkpoint,
)
from graphsurgeon.graph import functions as fn
from graphsurgeon.graph import names

logger = logging.getLogger(__name__)

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
VARIABLE_VALUE = "VARIABLE_VALUE"
INIT_OP_SIGNATURE = "__saved_model_init_op"


def load_saved_model(saved_model_dir: str | os.PathLike[str] | LoadedGraph,
                     tags: Iterable[str] | str | None) -> LoadedGraph:
    """A SavedModel directory (or its LoadedGraph) -> its LoadedGraph; anything else is a FileFormatError."""
    if not isinstance(saved_model_dir, LoadedGraph):
        path = pathlib.Path(saved_model_dir)
        if not path.is_dir():
            raise FileFormatError(f"'{path}' is not a SavedModel directory"
                                  + ("" if path.exists() else " (it does not exist)"))
    loaded = as_loaded(saved_model_dir, tags)
    if loaded.kind != SAVED_MODEL or loaded.meta_graph_def is None:
        raise FileFormatError(f"'{loaded.path}' is not a SavedModel; signatures need a SavedModel directory")
    return loaded


def saved_model_checkpoint(loaded: LoadedGraph) -> Mapping[str, np.ndarray]:
    """The SavedModel's own checkpoint (``variables/variables``), opened; a CheckpointError if it has none."""
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
    # Same object ids in both graphs when the checkpoint is the SavedModel's own (docs/formats.md §5).
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
    loaded = load_saved_model(saved_model_dir, tags)
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
            ckpt_graph = _checkpoint_object_graph(saved_model_checkpoint(loaded))
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
    loaded = load_saved_model(saved_model_dir, tags)
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


