"""freeze(...) = prune + constify + prune + structural check, with TensorFlow freeze_graph's options.

The steps, each on a new GraphDef (the input is never modified):

1. load the graph (GraphDef, ``.pb`` / ``.pbtxt`` / ``.meta`` / TF1 SavedModel) and open the
   checkpoint (for a SavedModel, ``DIR/variables/variables`` by default);
2. ``bind``: chosen placeholders become Consts (``is_training=False``, ``keep_prob=1.0``, Keras'
   learning phase), checked against the placeholder's dtype and shape;
3. prune to what the outputs and ``initializer_nodes`` need;
4. constify: variables -> Consts; reads, forwarders and state updates rewritten (``constify.py``);
   the Saver of the *original* graph maps variables to checkpoint keys;
5. prune again (drops what only fed removed updates), ``clear_devices``, and ``check_graph``.

``initializer_nodes`` (e.g. ``init_all_tables``) are kept as nodes with their subgraph, unlike
TensorFlow's ``freeze_graph``, which runs them and drops them: run them once after importing the
frozen graph, before the outputs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from graphsurgeon._proto import graph_pb2, node_def_pb2, saver_pb2, types_pb2
from graphsurgeon.errors import FileFormatError, GraphSurgeonError, MismatchError, UnsupportedError
from graphsurgeon.formats import model as model_lib
from graphsurgeon.formats.tensors import array_to_tensor, dtype_name, to_numpy_dtype
from graphsurgeon.graph import variables as var_lib
from graphsurgeon.graph.check import check_graph
from graphsurgeon.graph.names import not_found, parse_input, split_names
from graphsurgeon.rewrite import constify as constify_lib
from graphsurgeon.rewrite.prune import prune
from graphsurgeon.rewrite.saved_model_v2 import is_tf2_saved_model

log = logging.getLogger(__name__)

DT = types_pb2.DataType

_PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})


@dataclasses.dataclass
class FreezeResult:
    """What ``freeze`` produced.

    Attributes:
        graph_def: the frozen GraphDef.
        outputs: the requested outputs, as given (node or tensor names).
        converted: variable node -> checkpoint key (``key[start:end,...]`` for a partition), in graph order.
        kept_variables: variables of the pruned graph left as variables (whitelist / blacklist).
        nodes_before: node count of the input graph.
        nodes_after: node count of the frozen graph.
        initializer_nodes: nodes kept to be run once after import, before the outputs.
        bound: placeholder -> the value it was bound to.
        rewritten: node -> ``"OldOp -> NewOp"`` for ops changed to take values.
        dropped: nodes removed because they updated a frozen variable.
        notes: human-readable remarks.
        deferred: with ``defer_values``, hollow Consts (dtype and shape only) -> checkpoint key;
            such a result must be written with ``graphsurgeon.formats.stream.save_frozen``.
        checkpoint: the opened checkpoint the values were read from (the deferred ones' source).
    """

    graph_def: graph_pb2.GraphDef
    outputs: list[str] = dataclasses.field(default_factory=list)
    converted: dict[str, str] = dataclasses.field(default_factory=dict)
    kept_variables: list[str] = dataclasses.field(default_factory=list)
    nodes_before: int = 0
    nodes_after: int = 0
    initializer_nodes: list[str] = dataclasses.field(default_factory=list)
    bound: dict[str, Any] = dataclasses.field(default_factory=dict)
    rewritten: dict[str, str] = dataclasses.field(default_factory=dict)
    dropped: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    deferred: dict[str, str] = dataclasses.field(default_factory=dict)
    checkpoint: Any = None


def load_input_graph(graph: model_lib.LoadedGraph | graph_pb2.GraphDef | str | os.PathLike[str],
                     tags: Iterable[str] | str | None = None) -> model_lib.LoadedGraph:
    """A LoadedGraph from a LoadedGraph, a GraphDef, or a path (``load_graph``)."""
    if isinstance(graph, model_lib.LoadedGraph):
        return graph
    if isinstance(graph, graph_pb2.GraphDef):
        return model_lib.LoadedGraph(graph_def=graph, path=pathlib.Path("<GraphDef>"), kind=model_lib.GRAPH_DEF,
                                     text=False)
    if isinstance(graph, (str, os.PathLike)):
        return model_lib.load_graph(graph, tags=tags)
    raise TypeError(f"graph must be a LoadedGraph, a GraphDef or a path, not {type(graph).__name__}")


def default_checkpoint(loaded: model_lib.LoadedGraph) -> str | None:
    """The checkpoint that belongs to a graph when none is given: a SavedModel's ``variables/variables``,
    or the prefix of a ``.meta`` file (``model.ckpt-10000.meta`` -> ``model.ckpt-10000``)."""
    if loaded.saved_model_dir is not None:
        return str(pathlib.Path(loaded.saved_model_dir) / "variables" / "variables")
    path = str(loaded.path)
    if loaded.kind == model_lib.META_GRAPH_DEF and path.endswith(".meta"):
        return path[: -len(".meta")]
    return None


def freeze(graph: model_lib.LoadedGraph | graph_pb2.GraphDef | str | os.PathLike[str],
           checkpoint: Mapping[str, np.ndarray] | str | os.PathLike[str] | None,
           outputs: str | Iterable[str], *, clear_devices: bool = False,
           initializer_nodes: str | Iterable[str] = (), whitelist: str | Iterable[str] | None = None,
           blacklist: str | Iterable[str] | None = None, bind: Mapping[str, Any] | None = None,
           saver_def: saver_pb2.SaverDef | None = None, tags: Iterable[str] | str | None = None,
           defer_values: bool = False) -> FreezeResult:
    """Freezes ``graph`` with the values in ``checkpoint`` into one self-contained GraphDef for ``outputs``.

    Args:
        graph: a LoadedGraph, a GraphDef, or a path (.pb, .pbtxt, .meta, TF1 SavedModel directory).
        checkpoint: a ``Checkpoint``, a mapping key -> array, a checkpoint path, or ``None`` for the
            graph's own (a SavedModel's ``variables/variables``, a ``.meta`` file's prefix).
        outputs: node or tensor names (``"probs"``, ``"topk:1"``), a list or a comma-separated string.
        clear_devices: empty every node's ``device`` field.
        initializer_nodes: nodes to keep (with what they need) so they can be run after import.
        whitelist: convert only these variables. blacklist: never convert these.
        bind: placeholder name -> value; each placeholder becomes a Const holding the value.
        saver_def: picks the Saver when the graph has several (default: the MetaGraphDef's).
        tags: the SavedModel meta graph's tags when ``graph`` is a SavedModel path.
        defer_values: leave constants whose checkpoint bytes can be copied as they are hollow
            (``result.deferred``) so ``formats.stream.save_frozen`` streams them into the file.

    Returns:
        A ``FreezeResult``. The graph passed ``check_graph``: no variable, assign, Ref op or saver
        is left except the variables kept by whitelist / blacklist.

    Raises:
        NodeNotFoundError: an output, initializer node, bound placeholder or listed variable is unknown.
        MismatchError: a variable is missing from the checkpoint or its shape/dtype differs; a bound
            value does not fit its placeholder.
        UnsupportedError: a variable is used in a way that cannot be frozen (the message says how to
            work around it).
        InvalidGraphError: the input or the result is structurally broken.
    """
    loaded = load_input_graph(graph, tags)
    if is_tf2_saved_model(loaded):
        raise UnsupportedError(
            f"'{loaded.saved_model_dir}' is a TF2 SavedModel (its variables live in functions and an "
            "object-based checkpoint); freeze one of its signatures with graphsurgeon.rewrite.saved_model_v2."
            "freeze_signature (gs freeze --input_saved_model_dir DIR --signature serving_default)")
    original = loaded.graph_def
    if saver_def is None and loaded.meta_graph_def is not None and loaded.meta_graph_def.HasField("saver_def"):
        saver_def = loaded.meta_graph_def.saver_def
    if checkpoint is None:
        checkpoint = default_checkpoint(loaded)
        if checkpoint is None and not var_lib.variable_nodes(original):
            checkpoint = {}  # already frozen: nothing to read (a note says so below)
        if checkpoint is None:
            raise FileFormatError(f"no checkpoint given for '{loaded.path}'; pass the checkpoint prefix "
                                  "(--input_checkpoint model.ckpt-10000)")
    ckpt = constify_lib.open_checkpoint(checkpoint)
    output_names = split_names(outputs)
    if not output_names:
        raise GraphSurgeonError("freeze needs at least one output node (--output_node_names); run 'gs inspect "
                                f"{loaded.path}' to list candidate outputs")
    init_names = [parse_input(n).node for n in split_names(initializer_nodes)]
    names = {n.name for n in original.node}
    for name in init_names:
        if name not in names:
            raise not_found("initializer node", name, names, where=f"'{loaded.path}'")
    all_variables = [n.name for n in var_lib.variable_nodes(original)]
    constify_lib.select_variables(original, whitelist, blacklist)  # validates the names on the whole graph

    working = original
    bound: dict[str, Any] = {}
    if bind:
        working, bound = bind_placeholders(working, bind)
    roots = output_names + [n for n in init_names if n not in output_names]
    pruned = _prune(working, roots)
    converted = constify_lib.convert_variables(
        pruned, ckpt, saver_def=saver_def, whitelist=_restrict(whitelist), blacklist=_restrict(blacklist),
        keep=[parse_input(n).node for n in roots], saver_graph_def=original, known_variables=all_variables,
        meta_graph_def=loaded.meta_graph_def,
        defer_values=defer_values)
    frozen = _prune(converted.graph_def, roots)
    if clear_devices:
        for node in frozen.node:
            node.device = ""
    kept_names = {n.name for n in frozen.node}
    kept_variables = [n for n in converted.kept_variables if n in kept_names]
    check_graph(frozen, allow_variables=kept_variables, source="frozen graph")
    result = FreezeResult(graph_def=frozen, outputs=output_names,
                          converted={k: v for k, v in converted.converted.items() if k in kept_names},
                          kept_variables=kept_variables, nodes_before=len(original.node),
                          nodes_after=len(frozen.node), initializer_nodes=init_names, bound=bound,
                          rewritten={k: v for k, v in converted.rewritten.items() if k in kept_names},
                          dropped=converted.dropped, notes=list(converted.notes),
                          deferred={k: v for k, v in converted.deferred.items() if k in kept_names}, checkpoint=ckpt)
    if init_names:
        result.notes.append("run initializer node(s) " + ", ".join(init_names) + " once after importing the "
                            "frozen graph, before the outputs")
    result.notes.extend(_file_reads(frozen))
    if not converted.converted and not kept_variables:
        result.notes.append("the outputs need no variables (was the graph already frozen?); the result is the "
                            "pruned graph")
    log.info("freeze: %d variables converted, %d -> %d nodes", len(result.converted), result.nodes_before,
             result.nodes_after)
    return result


_FILE_INIT_OPS = frozenset({"InitializeTableFromTextFile", "InitializeTableFromTextFileV2"})


def _file_reads(graph_def: graph_pb2.GraphDef) -> list[str]:
    """Notes for table initializers that read a file when run: the frozen graph is not self-contained."""
    nodes = {n.name: n for n in graph_def.node}
    notes = []
    for node in graph_def.node:
        if node.op not in _FILE_INIT_OPS:
            continue
        data = [i for i in node.input if not i.startswith("^")]
        source = nodes.get(parse_input(data[1]).node) if len(data) > 1 else None
        path = "a file"
        if source is not None and source.op == "Const" and source.attr["value"].tensor.string_val:
            path = "'" + source.attr["value"].tensor.string_val[0].decode("utf-8", "replace") + "'"
        notes.append(f"table initializer '{node.name}' reads {path} when run; the frozen graph is not "
                     "self-contained (ship that file with it)")
    return notes


def _restrict(names: str | Iterable[str] | None) -> list[str] | None:
    return None if names is None else [parse_input(n).node for n in split_names(names)]


def _prune(graph_def: graph_pb2.GraphDef, roots: list[str]) -> graph_pb2.GraphDef:
    """The one place freeze prunes: what ``roots`` reach through data and control inputs."""
    return prune(graph_def, roots)


# ------------------------------------------------------------------------------------------------ bind


def parse_bind_value(text: str) -> Any:
    """A ``--bind name=VALUE`` value: JSON (``1.0``, ``[1, 2]``, ``"s"``), ``true`` / ``false`` in any
    case, else the text itself (for string placeholders)."""
    stripped = text.strip()
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    try:
        return json.loads(stripped)
    except ValueError:
        return text


def _coerce(value: Any, dtype: int, shape: tuple[int, ...] | None, name: str) -> np.ndarray:
    what = f"placeholder '{name}' ({dtype_name(dtype)}{'' if shape is None else list(shape)})"
    try:
        np_dtype = to_numpy_dtype(dtype, what)
    except GraphSurgeonError as err:
        raise MismatchError(f"cannot bind {what}: {err}") from None
    if dtype == DT.DT_STRING:
        array = np.asarray(value, dtype=object)
        array = np.vectorize(lambda v: v if isinstance(v, bytes) else str(v).encode("utf-8"), otypes=[object])(array) \
            if array.size else array
    else:
        raw = np.asarray(value)
        if raw.dtype.kind in "OSU":
            raise MismatchError(f"cannot bind {what} to {value!r}: not a {dtype_name(dtype)} value")
        if dtype == DT.DT_BOOL and raw.dtype.kind not in "b":
            if raw.dtype.kind in "iu" and np.isin(raw, (0, 1)).all():
                raw = raw.astype(bool)
            else:
                raise MismatchError(f"cannot bind {what} to {value!r}: expected true or false")
        if np.dtype(np_dtype).kind in "iub" and raw.dtype.kind == "f" and not np.array_equal(raw, np.round(raw)):
            raise MismatchError(f"cannot bind {what} to {value!r}: not an integer")
        if np.dtype(np_dtype).kind in "iu" and raw.dtype.kind in "iu" and raw.size:
            info = np.iinfo(np_dtype)
            if raw.min() < info.min or raw.max() > info.max:
                raise MismatchError(f"cannot bind {what} to {value!r}: out of range for {dtype_name(dtype)}")
        array = raw.astype(np_dtype)
    if shape is not None:
        if len(shape) != array.ndim or any(want >= 0 and want != have for want, have in zip(shape, array.shape)):
            raise MismatchError(f"cannot bind {what} to a value of shape {list(array.shape)}")
    return array


def _placeholder_shape(node: node_def_pb2.NodeDef) -> tuple[int, ...] | None:
    if "shape" not in node.attr or node.attr["shape"].shape.unknown_rank:
        return None
    return tuple(int(d.size) for d in node.attr["shape"].shape.dim)


def bind_placeholders(graph_def: graph_pb2.GraphDef, bind: Mapping[str, Any]
                      ) -> tuple[graph_pb2.GraphDef, dict[str, Any]]:
    """Returns a new GraphDef where each named placeholder is a Const holding its value, and the values used.

    A placeholder keeps its name, device and control inputs (a PlaceholderWithDefault loses its default
    input). The value must fit the placeholder's dtype and known dimensions, else ``MismatchError``.
    """
    out = graph_pb2.GraphDef()
    out.CopyFrom(graph_def)
    nodes = {n.name: n for n in out.node}
    placeholders = [n.name for n in out.node if n.op in _PLACEHOLDER_OPS]
    values: dict[str, np.ndarray] = {}
    for given, value in bind.items():
        name = parse_input(given).node
        node = nodes.get(name)
        if node is None or node.op not in _PLACEHOLDER_OPS:
            if node is not None:
                raise MismatchError(f"cannot bind '{name}': it is a {node.op}, not a placeholder")
            raise not_found("placeholder", name, placeholders, hint="")
        dtype = node.attr["dtype"].type
        values[name] = _coerce(value, dtype, _placeholder_shape(node), name)
    used: dict[str, Any] = {}
    for node in out.node:
        if node.name not in values:
            continue
        value = values[node.name]
        dtype = node.attr["dtype"].type
        controls = [i for i in node.input if i.startswith("^")]
        keep = {k: v for k, v in node.attr.items() if k in ("_class", "_output_shapes")}
        node.op = "Const"
        del node.input[:]
        node.input.extend(controls)
        node.ClearField("attr")
        for key, attr in keep.items():
            node.attr[key].CopyFrom(attr)
        node.attr["dtype"].type = dtype
        node.attr["value"].tensor.CopyFrom(array_to_tensor(value, dtype))
        used[node.name] = value.tolist() if value.dtype != object else [v.decode("utf-8", "replace")
                                                                         for v in value.ravel()]
    return out, used
