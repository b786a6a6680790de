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
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from graphsurgeon._proto import graph_pb2, saver_pb2
from graphsurgeon.errors import FileFormatError, GraphSurgeonError, OutputError, UnsupportedError, not_found
from graphsurgeon.formats import model as model_lib
from graphsurgeon.formats import stream
from graphsurgeon.formats.checkpoint import load_checkpoint
from graphsurgeon.graph import variables as var_lib
from graphsurgeon.graph.check import check_graph
from graphsurgeon.graph.names import parse_input, split_names
from graphsurgeon.rewrite import constify as constify_lib
from graphsurgeon.rewrite import initial_values, runtime_checks
from graphsurgeon.rewrite.bind import bind_placeholders
from graphsurgeon.rewrite.prune import prune
from graphsurgeon.rewrite.saved_model_v2 import SignatureFreezeResult, freeze_signature

log = logging.getLogger(__name__)


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
        warnings: what the frozen graph still needs to run for inference (training switches the
            outputs depend on, with ``--bind`` values; lookup tables whose initializer is not kept).
        inference_bound: with ``inference``, the switches bound to their inference values.
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
    warnings: list[str] = dataclasses.field(default_factory=list)
    inference_bound: dict[str, Any] = dataclasses.field(default_factory=dict)

    def write(self, path: str | os.PathLike[str], *, text: bool = False,
              inputs: Iterable[str | os.PathLike[str]] = (), progress: Any = None, fsync: bool = True) -> int:
        """Writes the frozen graph to ``path`` (temporary name, then renamed); returns bytes written.

        Hollow constants (``defer_values=True``) get their bytes streamed from ``self.checkpoint``;
        such a result can only be written in binary. ``progress(done, total)`` reports the bytes.
        """
        if text:
            if self.deferred:
                raise OutputError("this freeze result holds hollow constants (defer_values=True), which only the "
                                  "binary streaming writer can fill; freeze with defer_values=False to write text")
            return model_lib.save_graph(self.graph_def, path, text=True, inputs=inputs)
        return stream.save_frozen(self, path, inputs=inputs, progress=progress, fsync=fsync)


def freeze(graph: model_lib.LoadedGraph | graph_pb2.GraphDef | str | os.PathLike[str],
           checkpoint: Mapping[str, np.ndarray] | str | os.PathLike[str] | None,
           outputs: str | Iterable[str], *, clear_devices: bool = False,
           initializer_nodes: str | Iterable[str] = (), whitelist: str | Iterable[str] | None = None,
           blacklist: str | Iterable[str] | None = None, bind: Mapping[str, Any] | None = None,
           saver_def: saver_pb2.SaverDef | None = None, tags: Iterable[str] | str | None = None,
           defer_values: bool = False, signature: str | None = None,
           inline: bool = False, inference: bool = False) -> FreezeResult | SignatureFreezeResult:
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
        inference: bind every training switch the outputs depend on (``is_training``, ``keep_prob``,
            ``keras_learning_phase`` ..., as ``gs inspect`` lists them) to its inference value;
            ``bind`` wins for a placeholder it names.
        defer_values: leave constants whose checkpoint bytes can be copied as they are hollow
            (``result.deferred``); ``result.write(path)`` then streams them into the file. Only that
            writer accepts hollow constants (``save_graph`` and ``check_graph`` refuse them).
        signature: for a TF2 SavedModel, the signature to freeze (default ``serving_default``).
        inline: for a TF2 SavedModel, replace function calls with their bodies (``inline_calls``).

    Returns:
        A ``FreezeResult``. The graph passed ``check_graph``: no variable, assign, Ref op or saver
        is left except the variables kept by whitelist / blacklist. For a TF2 SavedModel (an object
        graph whose variables live in functions), ``saved_model_v2.freeze_signature``'s
        ``SignatureFreezeResult``; TF1-only options (``bind``, ``initializer_nodes``, ``whitelist``,
        ``blacklist``, ``saver_def``) are refused there and ``defer_values`` has no effect.

    Raises:
        NodeNotFoundError: an output, initializer node, bound placeholder or listed variable is unknown.
        MismatchError: a variable is missing from the checkpoint or its shape/dtype differs; a bound
            value does not fit its placeholder.
        UnsupportedError: a variable is used in a way that cannot be frozen (the message says how to
            work around it).
        InvalidGraphError: the input or the result is structurally broken.
    """
    loaded = model_lib.as_loaded(graph, tags)
    if model_lib.is_tf2_saved_model(loaded):
        tf1_options = {"bind": bind, "inference": inference, "initializer_nodes": split_names(initializer_nodes),
                       "whitelist": whitelist, "blacklist": blacklist, "saver_def": saver_def}
        return _freeze_tf2(loaded, checkpoint, outputs, clear_devices=clear_devices, signature=signature,
                           inline=inline, tf1_options=tf1_options)
    original = loaded.graph_def
    output_names = split_names(outputs)
    if not output_names:
        raise GraphSurgeonError("no outputs given: freeze needs at least one output (--output_node_names); run "
                                f"'gs inspect {loaded.path}' to list candidate outputs")
    if saver_def is None and loaded.meta_graph_def is not None and loaded.meta_graph_def.HasField("saver_def"):
        saver_def = loaded.meta_graph_def.saver_def
    if checkpoint is None:
        checkpoint = model_lib.default_checkpoint(loaded)
        if checkpoint is None and not var_lib.variable_nodes(original):
            checkpoint = {}  # already frozen: nothing to read (a note says so below)
        if checkpoint is None:
            raise FileFormatError(f"no checkpoint given for '{loaded.path}': pass --input_checkpoint PREFIX "
                                  "(e.g. model.ckpt-10000)")
    ckpt = constify_lib.open_checkpoint(checkpoint)
    init_names = [parse_input(n).node for n in split_names(initializer_nodes)]
    names = {n.name for n in original.node}
    for name in init_names:
        if name not in names:
            raise not_found("initializer node", name, names, where=f"'{loaded.path}'")
    all_variables = [n.name for n in var_lib.variable_nodes(original)]
    constify_lib.select_variables(original, whitelist, blacklist)  # validates the names on the whole graph

    working = original
    bound: dict[str, Any] = {}
    inference_bound: dict[str, Any] = {}
    if inference:
        given = {parse_input(k).node for k in (bind or {})}
        inference_bound = {k: v for k, v in runtime_checks.switch_binds(original, output_names).items()
                           if k not in given}
        bind = {**inference_bound, **(bind or {})}
    if bind:
        working, bound = bind_placeholders(working, bind)
    roots = output_names + [n for n in init_names if n not in output_names]
    pruned = _prune(working, roots)
    filled = _fill_from_initializers(loaded, pruned, working, ckpt, init_names, output_names, whitelist, blacklist,
                                     all_variables, saver_def)
    ckpt = filled.checkpoint
    blacklist = None if blacklist is None and not filled.keep else \
        (_restrict(blacklist) or []) + filled.keep
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
    check_graph(frozen, allow_variables=kept_variables, allow_hollow=converted.deferred, source="frozen graph")
    result = FreezeResult(graph_def=frozen, outputs=output_names,
                          converted={k: v for k, v in converted.converted.items() if k in kept_names},
                          kept_variables=kept_variables, nodes_before=len(original.node),
                          nodes_after=len(frozen.node), initializer_nodes=init_names, bound=bound,
                          rewritten={k: v for k, v in converted.rewritten.items() if k in kept_names},
                          dropped=converted.dropped, notes=list(converted.notes),
                          deferred={k: v for k, v in converted.deferred.items() if k in kept_names}, checkpoint=ckpt)
    result.notes.extend(filled.notes)
    if init_names:
        result.notes.append("run initializer node(s) " + ", ".join(init_names) + " once after importing the "
                            "frozen graph, before the outputs")
    result.notes.extend(_file_reads(frozen))
    result.inference_bound = inference_bound
    if inference_bound:
        result.notes.append("--inference bound " + ", ".join(f"{k} = {v}" for k, v in inference_bound.items()))
    switches = runtime_checks.switch_warning(frozen, output_names)
    result.warnings = ([switches] if switches else []) + runtime_checks.table_warnings(
        frozen, output_names, original, init_names)
    if not converted.converted and not kept_variables:
        result.notes.append("the outputs need no variables (was the graph already frozen?); the result is the "
                            "pruned graph")
    log.info("freeze: %d variables converted, %d -> %d nodes", len(result.converted), result.nodes_before,
             result.nodes_after)
    return result


def _freeze_tf2(loaded: model_lib.LoadedGraph, checkpoint: Mapping[str, np.ndarray] | str | os.PathLike[str] | None,
                outputs: str | Iterable[str] | None, *, clear_devices: bool, signature: str | None, inline: bool,
                tf1_options: Mapping[str, Any]) -> SignatureFreezeResult:
    """``freeze`` of a TF2 SavedModel: one signature, through ``freeze_signature``."""
    given = [name for name, value in tf1_options.items() if value]
    if given:
        raise UnsupportedError(f"'{loaded.saved_model_dir}' is a TF2 SavedModel: {', '.join(given)} apply only to "
                               "TF1 graphs (freeze one signature; its inputs stay placeholders)")
    if isinstance(checkpoint, (str, os.PathLike)):
        checkpoint = load_checkpoint(checkpoint)
    result = freeze_signature(loaded, signature=signature or "serving_default", checkpoint=checkpoint,
                              outputs=split_names(outputs) or None, inline=inline)
    if clear_devices:
        for node in result.graph_def.node:
            node.device = ""
    return result


def _fill_from_initializers(loaded: model_lib.LoadedGraph, pruned: graph_pb2.GraphDef, working: graph_pb2.GraphDef,
                            ckpt: Mapping[str, np.ndarray], init_names: list[str], output_names: list[str],
                            whitelist: str | Iterable[str] | None, blacklist: str | Iterable[str] | None,
                            all_variables: list[str], saver_def: saver_pb2.SaverDef | None) -> initial_values.Filled:
    """Variables the checkpoint lacks get the value TensorFlow's session would give them: what the
    initializer nodes (and a TF1 SavedModel's main_op / legacy_init_op, which its loader runs) assign."""
    init_roots = list(init_names)
    labels = {n: f"--initializer_nodes {n}" for n in init_names}
    if loaded.saved_model_dir is not None:
        for name in initial_values.saved_model_init_ops(loaded.meta_graph_def):
            if name not in labels:
                init_roots.append(name)
                labels[name] = f"the SavedModel's init op '{name}'"
    if not init_roots:
        return initial_values.Filled(checkpoint=ckpt)
    convert, _ = constify_lib.select_variables(pruned, _restrict(whitelist), _restrict(blacklist), all_variables)
    return initial_values.fill_from_initializers(pruned, working, ckpt, roots=init_roots, outputs=output_names,
                                                 names=convert, saver_def=saver_def,
                                                 meta_graph_def=loaded.meta_graph_def, labels=labels)


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
