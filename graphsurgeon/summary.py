"""summarize(...): plain data describing a graph or a checkpoint; the CLI decides how to print it."""

from __future__ import annotations

import collections
import re
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from graphsurgeon._proto import graph_pb2, meta_graph_pb2, node_def_pb2, saver_pb2, types_pb2, variable_pb2
from graphsurgeon.errors import GraphSurgeonError
from graphsurgeon.formats import tensors
from graphsurgeon.formats.model import LoadedGraph
from graphsurgeon.graph import op_registry
from graphsurgeon.graph import variables as var_lib
from graphsurgeon.graph.names import parse_input

# --- graphs (foundation issue) ---------------------------------------------------------------

PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})
# what freezing converts, plus AutoReloadVariable, which inspect lists as a variable but freeze leaves alone
VARIABLE_OPS = var_lib.VARIABLE_OPS | {"AutoReloadVariable"}
_CONST_LIKE_OPS = frozenset({"Const", "HostConst", "Shape", "ShapeN", "Size", "Rank"})
_INIT_OPS = frozenset({"IsVariableInitialized", "VarIsInitializedOp", "ReportUninitializedVariables"})
_SAVER_OPS = frozenset({"SaveV2", "Save", "SaveSlices", "RestoreV2", "Restore", "RestoreSlice",
                        "MergeV2Checkpoints", "ShardedFilename", "ShardedFilespec"})
# Scopes TensorFlow itself creates for checkpointing, initialization, summaries and training.
_SAVER_SCOPE = re.compile(r"^save(_\d+)?$")
_INIT_SCOPE = re.compile(r"^(init(_\d+)?|init_all_tables|report_uninitialized_variables(_\d+)?|"
                         r"report_uninitialized_resources(_\d+)?|concat_\d*|group_deps(_\d+)?)$")
_TRAINING_SCOPE = re.compile(r"^gradients(_\d+)?$")
# TF-Slim / tf.contrib weight decay: ``<variable>/Regularizer/l2_regularizer`` (a loss even without collections).
_REGULARIZER_SCOPE = re.compile(r"(^|/)Regularizer/")
_SUMMARY_SCOPE = re.compile(r"^(summaries|Merge|MergeSummary)(_\d+)?$")
# tf.cond (v1) creates Identity nodes named pred_id, switch_t, switch_f that nothing consumes.
_COND_MACHINERY = re.compile(r"(^|/)(pred_id|switch_t|switch_f)$")
_FUNCTIONAL_CONTROL_OPS = frozenset({"If", "StatelessIf", "While", "StatelessWhile", "Case", "StatelessCase"})
# Scalar placeholders named like these switch training behaviour (dropout, batch norm, Keras).
_SWITCH_NAME = re.compile(r"(is_?train|training|train_?phase|phase_?train|learning_phase|keep_?prob|dropout|"
                          r"drop_?rate|(^|/)rate$)", re.IGNORECASE)


def _node_dtype(node: node_def_pb2.NodeDef, functions: op_registry.Signatures) -> int | None:
    """The DataType of the node's first output, from its OpDef and attrs (``None`` when unknown)."""
    return op_registry.output_dtype(node, 0, functions)


def _shape(proto: Any) -> list[int] | None:
    """TensorShapeProto -> list with -1 for unknown sizes, or ``None`` for an unknown rank."""
    shape = tensors.shape_from_proto(proto)
    return None if shape is None else list(shape)


def node_shape(node: node_def_pb2.NodeDef) -> list[int] | None:
    """The first output's shape from ``shape`` or ``_output_shapes`` attrs, if the graph records it."""
    if node.op in PLACEHOLDER_OPS or node.op in VARIABLE_OPS:
        if "shape" in node.attr:
            return _shape(node.attr["shape"].shape)
    if "_output_shapes" in node.attr and node.attr["_output_shapes"].list.shape:
        return _shape(node.attr["_output_shapes"].list.shape[0])
    return None


def _elements(shape: list[int] | None) -> int | None:
    if shape is None or any(d < 0 for d in shape):
        return None
    return int(np.prod(shape, dtype=np.int64))


def dtype_str(dtype: int | None) -> str | None:
    if dtype is None:
        return None
    base = tensors.base_dtype(dtype)
    try:
        return tensors.to_numpy_dtype(base).name if base != types_pb2.DT_STRING else "string"
    except GraphSurgeonError:
        return tensors.dtype_name(base)


def _scope(name: str) -> str:
    return name.split("/", 1)[0]


def _saver_nodes(meta: meta_graph_pb2.MetaGraphDef | None) -> set[str]:
    if meta is None or not meta.HasField("saver_def"):
        return set()
    sd = meta.saver_def
    names = (sd.filename_tensor_name, sd.save_tensor_name, sd.restore_op_name)
    return {parse_input(n).node for n in names if n}


def _sink_reason(node: node_def_pb2.NodeDef, by_name: dict[str, node_def_pb2.NodeDef],
                 saver_nodes: set[str]) -> str | None:
    """Why an unconsumed node is machinery rather than a model output; ``None`` if it is a candidate."""
    scope, op = _scope(node.name), node.op
    if node.name in saver_nodes or _SAVER_SCOPE.match(scope) or op in _SAVER_OPS:
        return "saver"
    if _INIT_SCOPE.match(scope) or op in _INIT_OPS:
        return "initializer"
    if "Summary" in op or _SUMMARY_SCOPE.match(scope):
        return "summary"
    if _TRAINING_SCOPE.match(scope) or _REGULARIZER_SCOPE.search(node.name) \
            or op.startswith(("Apply", "ResourceApply", "SparseApply", "Assign")) \
            or op in ("AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp", "ScatterUpdate"):
        return "training"
    if op == "NoOp" or op == "Assert":
        return "control"
    if op in VARIABLE_OPS or op in PLACEHOLDER_OPS:
        return "variable" if op in VARIABLE_OPS else "unused input"
    if op in ("ReadVariableOp", "Identity") and node.input:
        source = by_name.get(parse_input(node.input[0]).node)
        if source is not None and source.op in VARIABLE_OPS:
            return "variable"
    if op in _CONST_LIKE_OPS:
        return "constant"
    if op == "Exit" or _COND_MACHINERY.search(node.name):
        return "control flow"
    if op == "Identity" and node.input and _node_dtype(node, {}) == types_pb2.DT_VARIANT:
        # tf.cond / tf.while_loop v2 expose their branch intermediates for the gradient as variant
        # optionals (``cond/Identity_N``); at inference nothing reads them.
        source = by_name.get(parse_input(node.input[0]).node)
        if source is not None and source.op in _FUNCTIONAL_CONTROL_OPS:
            return "control flow"
    return None


#: MetaGraph collections whose members (and what they lead to) are training machinery, not outputs.
_TRAINING_COLLECTIONS = ("train_op", "losses", "regularization_losses", "update_ops")
# Top-level scopes tf_keras (TF1 graph mode) builds its loss, metrics and optimizer in.
_KERAS_SCOPES = ("training/", "loss/", "metrics/")
_GRADIENTS_SCOPE = re.compile(r"(^|/)gradients(_\d+)?/")


def _training_machinery(loaded: LoadedGraph, by_name: dict[str, node_def_pb2.NodeDef],
                        consumers_of: dict[str, list[str]]) -> tuple[set[str], set[str]]:
    """(machinery, loss_side): the nodes that exist to train the model, and those of them that compute
    a loss or a metric.

    Machinery is the MetaGraph's train_op, losses, regularization_losses and update_ops
    collections with everything they lead to and everything in their own scope (``<loss>/...``,
    and ``<scope>/`` of a ``<scope>/value`` loss), gradients scopes, and tf_keras' ``training/``,
    ``loss/`` and ``metrics/`` scopes. A model output is often consumed only by a loss or a metric:
    it is still an output, and ``loss_side`` tells it from a batch statistic read only by an update.
    """
    roots: set[str] = set()
    loss_roots: set[str] = set()
    scopes: list[str] = []
    loss_scopes: list[str] = []
    meta = loaded.meta_graph_def
    if meta is not None:
        for key in _TRAINING_COLLECTIONS:
            if key not in meta.collection_def or meta.collection_def[key].WhichOneof("kind") != "node_list":
                continue
            is_loss = key in ("losses", "regularization_losses")
            for value in meta.collection_def[key].node_list.value:
                name = parse_input(value).node
                if name not in by_name:
                    continue
                found = [name + "/"] + ([name[: -len("value")]] if is_loss and name.endswith("/value") else [])
                roots.add(name)
                scopes.extend(found)
                if is_loss:
                    loss_roots.add(name)
                    loss_scopes.extend(found)
    keras = "keras_learning_phase" in by_name or any(
        n.startswith("training/") and "/gradients/" in n for n in by_name)
    if keras:
        scopes.extend(_KERAS_SCOPES)
        loss_scopes.extend(("loss/", "metrics/"))
    prefixes, loss_prefixes = tuple(scopes), tuple(loss_scopes)
    for name in by_name:
        if (prefixes and name.startswith(prefixes)) or _GRADIENTS_SCOPE.search(name):
            roots.add(name)
        if loss_prefixes and name.startswith(loss_prefixes):
            loss_roots.add(name)
    return _descendants_of(roots, consumers_of), loss_roots


def _descendants_of(starts: set[str], consumers_of: dict[str, list[str]]) -> set[str]:
    seen = set(starts)
    stack = list(starts)
    while stack:
        for dst in consumers_of.get(stack.pop(), ()):
            if dst not in seen:
                seen.add(dst)
                stack.append(dst)
    return seen


def _default_value(node: node_def_pb2.NodeDef, by_name: dict[str, node_def_pb2.NodeDef]) -> Any:
    """A PlaceholderWithDefault's default as a Python value, when it is a small constant."""
    if node.op != "PlaceholderWithDefault" or not node.input:
        return None
    source = by_name.get(parse_input(node.input[0]).node)
    if source is None or source.op != "Const" or "value" not in source.attr:
        return None
    try:
        value = tensors.tensor_to_array(source.attr["value"].tensor, what=f"node '{source.name}'")
    except GraphSurgeonError:
        return None
    if value.size > 8:
        return None
    if value.dtype == object:
        value = np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(value)
    return value.tolist()


def switch_hint(name: str, dtype: int | None, shape: list[int] | None) -> Any:
    """The value to feed at inference for a training switch, or ``None`` if it is not one."""
    if shape not in ([], None):
        return None
    base = tensors.base_dtype(dtype) if dtype is not None else None
    leaf = name.rsplit("/", 1)[-1]
    named = bool(_SWITCH_NAME.search(leaf))
    if base == types_pb2.DT_BOOL:
        return False if (shape == [] or named) else None
    if not named:
        return None
    if base in (types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE, types_pb2.DT_HALF):
        return 1.0 if re.search(r"keep", leaf, re.IGNORECASE) else 0.0
    if base in (types_pb2.DT_INT32, types_pb2.DT_INT64, types_pb2.DT_UINT8) and "learning_phase" in leaf:
        return 0
    return None


def _descendants(start: str, consumers_of: dict[str, list[str]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for dst in consumers_of.get(stack.pop(), ()):
            if dst not in seen:
                seen.add(dst)
                stack.append(dst)
    return seen


def _trainable_names(loaded: LoadedGraph) -> set[str] | None:
    """Node names of trainable variables, from the MetaGraphDef's collections or object graph."""
    meta = loaded.meta_graph_def
    if meta is None:
        return None
    if "trainable_variables" in meta.collection_def:
        names = set()
        for raw in meta.collection_def["trainable_variables"].bytes_list.value:
            var = variable_pb2.VariableDef()
            try:
                var.ParseFromString(raw)
            except (DecodeError, RuntimeError, ValueError):  # a damaged entry names nothing (informational)
                continue
            names.add(parse_input(var.variable_name).node)
        return names
    if meta.HasField("object_graph_def"):
        found = {parse_input(obj.variable.name).node: obj.variable.trainable
                 for obj in meta.object_graph_def.nodes if obj.WhichOneof("kind") == "variable"}
        if found:
            return {name for name, trainable in found.items() if trainable}
    if "variables" in meta.collection_def:
        return set()  # TF1 graph with variables but none of them trainable
    return None


def _tensor_info(info: meta_graph_pb2.TensorInfo) -> dict[str, Any]:
    encoding = info.WhichOneof("encoding")
    if encoding == "name":
        name = info.name
    elif encoding == "coo_sparse":
        name = f"sparse({info.coo_sparse.indices_tensor_name}, {info.coo_sparse.values_tensor_name}, " \
               f"{info.coo_sparse.dense_shape_tensor_name})"
    elif encoding == "composite_tensor":
        name = "composite(" + ", ".join(c.name for c in info.composite_tensor.components) + ")"
    else:
        name = None
    return {"name": name, "dtype": dtype_str(info.dtype) if info.dtype else None,
            "shape": _shape(info.tensor_shape)}


def _meta_graph(loaded: LoadedGraph) -> dict[str, Any] | None:
    meta = loaded.meta_graph_def
    if meta is None:
        return None
    info = meta.meta_info_def
    saver = None
    if meta.HasField("saver_def"):
        sd = meta.saver_def
        saver = {
            "version": saver_pb2.SaverDef.CheckpointFormatVersion.Name(sd.version),
            "filename_tensor_name": sd.filename_tensor_name,
            "save_tensor_name": sd.save_tensor_name,
            "restore_op_name": sd.restore_op_name,
            "max_to_keep": sd.max_to_keep,
            "sharded": sd.sharded,
            "keep_checkpoint_every_n_hours": sd.keep_checkpoint_every_n_hours,
        }
    signatures = {}
    for key in sorted(meta.signature_def):
        sig = meta.signature_def[key]
        signatures[key] = {
            "method_name": sig.method_name,
            "inputs": {k: _tensor_info(sig.inputs[k]) for k in sorted(sig.inputs)},
            "outputs": {k: _tensor_info(sig.outputs[k]) for k in sorted(sig.outputs)},
        }
    collections_ = {}
    for key in sorted(meta.collection_def):
        col = meta.collection_def[key]
        kind = col.WhichOneof("kind")
        collections_[key] = {"kind": kind, "size": len(getattr(col, kind).value) if kind else 0}
    return {
        "tags": list(info.tags),
        "tensorflow_version": info.tensorflow_version or None,
        "tensorflow_git_version": info.tensorflow_git_version or None,
        "stripped_default_attrs": info.stripped_default_attrs,
        "saver": saver,
        "signatures": signatures,
        "collections": collections_,
        "object_graph_nodes": len(meta.object_graph_def.nodes) if meta.HasField("object_graph_def") else 0,
    }


def summarize(loaded: LoadedGraph | graph_pb2.GraphDef) -> dict[str, Any]:
    """Describes a loaded graph as plain, JSON-ready data (the keys are documented in the README).

    Args:
        loaded: what ``load_graph`` returned, or a bare GraphDef. Not modified.

    Returns:
        A dict with ``path``, ``kind``, ``text``, ``node_count``, ``op_types`` (op -> count, most
        frequent first), ``producer``, ``min_consumer``, ``inputs``, ``outputs`` (candidate
        outputs: nodes nothing consumes, minus saver/initializer/summary/training machinery),
        ``ignored_sinks`` (reason -> node names), ``switches`` (training-only placeholders that a
        candidate output depends on, with the value to feed at inference), ``variables`` and
        ``variable_totals``, ``devices``, ``functions``, ``meta_graph`` (``None`` for a bare
        GraphDef) and ``saved_model`` (``None`` unless the graph came from a SavedModel).
        Shapes are lists with -1 for an unknown size, or ``None`` for an unknown rank; dtypes
        are numpy names (``float32``).
    """
    if isinstance(loaded, graph_pb2.GraphDef):
        loaded = LoadedGraph(graph_def=loaded, path=None, kind="GraphDef", text=False)  # type: ignore[arg-type]
    graph_def = loaded.graph_def
    nodes = list(graph_def.node)
    by_name = {n.name: n for n in nodes}
    consumers_of: dict[str, list[str]] = collections.defaultdict(list)
    for node in nodes:
        for name in node.input:
            consumers_of[parse_input(name).node].append(node.name)
    saver_nodes = _saver_nodes(loaded.meta_graph_def)
    functions = op_registry.function_signatures(graph_def.library)
    saver_scopes = {_scope(n) for n in saver_nodes}

    inputs = []
    switches = []
    for node in nodes:
        if node.op not in PLACEHOLDER_OPS:
            continue
        if node.name in saver_nodes or _SAVER_SCOPE.match(_scope(node.name)) or _scope(node.name) in saver_scopes:
            continue
        dtype = _node_dtype(node, functions)
        shape = node_shape(node)
        entry = {"name": node.name, "op": node.op, "dtype": dtype_str(dtype), "shape": shape,
                 "default": _default_value(node, by_name)}
        inputs.append(entry)
        hint = switch_hint(node.name, dtype, shape)
        if hint is not None:
            switches.append({**entry, "has_default": node.op == "PlaceholderWithDefault", "feed": hint})
    # Which inputs each node depends on: one forward walk per input (graphs have few inputs).
    reached_by = {i["name"]: _descendants(i["name"], consumers_of) for i in inputs}

    machinery, loss_side = _training_machinery(loaded, by_name, consumers_of)
    outputs = []
    ignored: dict[str, list[str]] = collections.defaultdict(list)
    for node in nodes:
        users = consumers_of.get(node.name, ())
        if node.name in machinery:
            if not users:
                ignored["training"].append(node.name)
            continue
        if any(u not in machinery for u in users):
            continue
        if users and not any(u in loss_side for u in users):
            ignored["training"].append(node.name)  # read only by updates / the optimizer
            continue
        reason = _sink_reason(node, by_name, saver_nodes)
        if reason is not None:
            ignored[reason].append(node.name)
            continue
        feeds = sorted(name for name, reached in reached_by.items() if node.name in reached)
        outputs.append({"name": node.name, "op": node.op, "dtype": dtype_str(_node_dtype(node, functions)),
                        "shape": node_shape(node), "feeds": feeds})

    trainable = _trainable_names(loaded)
    variables = []
    for node in nodes:
        if node.op not in VARIABLE_OPS:
            continue
        dtype = node.attr["dtype"].type if "dtype" in node.attr else None
        shape = _shape(node.attr["shape"].shape) if "shape" in node.attr else None
        count = _elements(shape)
        itemsize = _itemsize(dtype)
        variables.append({
            "name": node.name, "op": node.op, "dtype": dtype_str(dtype), "shape": shape, "elements": count,
            "bytes": None if count is None or itemsize is None else count * itemsize,
            "trainable": None if trainable is None else node.name in trainable,
        })
    totals = {
        "count": len(variables),
        "elements": sum(v["elements"] or 0 for v in variables),
        "bytes": sum(v["bytes"] or 0 for v in variables),
        "unknown_size": sum(v["bytes"] is None for v in variables),
        "trainable_count": None if trainable is None else sum(bool(v["trainable"]) for v in variables),
    }

    op_counts = collections.Counter(n.op for n in nodes)
    devices = collections.Counter(n.device for n in nodes if n.device)
    library = graph_def.library
    saved_model = None
    if loaded.saved_model_dir is not None:
        saved_model = {"dir": str(loaded.saved_model_dir), "tags": list(loaded.tags),
                       "tag_sets": [list(t) for t in getattr(loaded, "available_tags", ())]}
    return {
        "path": None if loaded.path is None else str(loaded.path),
        "kind": loaded.kind,
        "text": loaded.text,
        "node_count": len(nodes),
        "op_types": dict(sorted(op_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "producer": graph_def.versions.producer if graph_def.HasField("versions") else None,
        "min_consumer": graph_def.versions.min_consumer if graph_def.HasField("versions") else None,
        "inputs": inputs,
        "outputs": outputs,
        "ignored_sinks": dict(sorted(ignored.items())),
        # A switch no candidate output reads (a learning rate, say) need not be fed for inference.
        "switches": [s for s in switches if not outputs or any(s["name"] in o["feeds"] for o in outputs)],
        "variables": variables,
        "variable_totals": totals,
        "devices": dict(sorted(devices.items())),
        "functions": {"count": len(library.function), "gradients": len(library.gradient),
                      "names": sorted(f.signature.name for f in library.function)},
        "meta_graph": _meta_graph(loaded),
        "saved_model": saved_model,
    }


def _itemsize(dtype: int | None) -> int | None:
    if dtype is None:
        return None
    base = tensors.base_dtype(dtype)
    if base in (types_pb2.DT_STRING, types_pb2.DT_RESOURCE, types_pb2.DT_VARIANT):
        return None
    try:
        return tensors.to_numpy_dtype(base).itemsize
    except GraphSurgeonError:
        return None


# --- checkpoints (checkpoint issue) ----------------------------------------------------------

def summarize_checkpoint(checkpoint: Any) -> dict[str, Any]:
    """Plain data describing a :class:`~graphsurgeon.formats.checkpoint.Checkpoint`; reads no tensor data.

    Returns a dict with ``format`` (``"V2"`` bundle or legacy ``"V1"`` single file), ``prefix``,
    ``num_shards``, ``files`` (index first, then data shards),
    ``object_based`` (a TF2 checkpoint with an object graph), ``tensors`` (sorted by name; each
    ``name``, ``dtype`` (TensorFlow's short name), ``dtype_enum``, ``shape`` (list), ``num_elements``,
    ``nbytes`` (bytes stored in the data files), ``num_slices`` (0 unless partitioned)) and
    ``total`` (``tensors``, ``elements``, ``bytes``).
    """
    infos = checkpoint.infos()
    rows = [{
        "name": info.name,
        "dtype": info.dtype_name,
        "dtype_enum": info.dtype,
        "shape": list(info.shape),
        "num_elements": info.num_elements,
        "nbytes": info.nbytes,
        "num_slices": info.num_slices,
    } for info in infos]
    return {
        "kind": "checkpoint",
        "format": f"V{checkpoint.format_version}",
        "prefix": checkpoint.prefix,
        "num_shards": checkpoint.num_shards,
        "files": [checkpoint.index_path, *checkpoint.data_paths],
        "object_based": "_CHECKPOINTABLE_OBJECT_GRAPH" in checkpoint,
        "tensors": rows,
        "total": {
            "tensors": len(rows),
            "elements": sum(r["num_elements"] for r in rows),
            "bytes": sum(r["nbytes"] for r in rows),
        },
    }
