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
``docs/formats.md`` §5 describes the layouts this relies on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from graphsurgeon._proto import (
    graph_pb2,
    meta_graph_pb2,
    node_def_pb2,
    types_pb2,
)
from graphsurgeon.errors import (
    CheckpointError,
    FileFormatError,
    InvalidGraphError,
    MismatchError,
    UnsupportedError,
    close_matches,
    not_found,
)
from graphsurgeon.formats import protofile, tensors
from graphsurgeon.formats.model import (
    LoadedGraph,
    is_tf2_saved_model,
    save_graph,
)
from graphsurgeon.graph import functions as fn
from graphsurgeon.graph import names
from graphsurgeon.graph.check import check_graph
from graphsurgeon.graph.object_graph import (
    INIT_OP_SIGNATURE,
    OBJECT_GRAPH_KEY,
    load_saved_model,
    saved_model_checkpoint,
    saved_model_functions,
    saved_model_variables,
    variable_keys,
)
from graphsurgeon.graph.walk import ancestors
from graphsurgeon.rewrite.inline import inline_calls
from graphsurgeon.rewrite.specialize import FunctionFreezer, Key, VariableInfo

logger = logging.getLogger(__name__)



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

def _signature(meta: meta_graph_pb2.MetaGraphDef, signature: str, where: str) -> meta_graph_pb2.SignatureDef:
    if signature in meta.signature_def and signature != INIT_OP_SIGNATURE:
        return meta.signature_def[signature]
    available = sorted(k for k in meta.signature_def if k != INIT_OP_SIGNATURE)
    listing = ", ".join(available) if available else "none"
    raise not_found("signature", signature, available, where=f"SavedModel '{where}'",
                          hint=f"available signatures: {listing}; choose one with --signature")


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
    loaded = load_saved_model(saved_model_dir, tags)
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

    kept_set = set(ancestors(graph_nodes, output_map.values())) | {names.node_name(t) for t in input_map.values()}
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
        checkpoint = saved_model_checkpoint(loaded)
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
    freezer = FunctionFreezer(library)
    body = freezer.rewrite_body(new_nodes, frozen, names.parse_input, f"the graph of '{where}'", in_function=False)
    for node in body.nodes:
        if node.op not in fn.CALL_OPS:
            continue
        data = [x for x in node.input if not x.startswith("^")]
        for i, dtype in enumerate(node.attr["Tin"].list.type):
            if dtype == types_pb2.DT_RESOURCE and i < len(data):
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
    if key_notes:  # nothing a user can act on (plain Keras 3 exports do this): debug level only
        logger.debug("%d variable(s) are saved under two checkpoint keys with equal values (first: %s)",
                  len(key_notes), key_notes[0])
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

