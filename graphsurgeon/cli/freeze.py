"""Freeze a graph and its checkpoint into one GraphDef (TensorFlow's freeze_graph, without TensorFlow).

Every flag of TensorFlow's freeze_graph.py works with the same name and meaning, spelled
--snake_case or --kebab-case; the graph's format (binary or text, GraphDef, MetaGraphDef,
SavedModel) and the checkpoint version are detected, so --input_binary and --checkpoint_version
are accepted but not needed. As in freeze_graph, --clear_devices defaults to true.

Unlike freeze_graph, --initializer_nodes are kept in the frozen graph (with what they need), to be
run once after import; variables are mapped to checkpoint keys through the graph's own Saver
(renamed and partitioned variables work); batch-norm updates, resource reads and v1 while loops
are rewritten so the result imports; and a structural check runs before anything is written.

examples:
  gs freeze --input_checkpoint model.ckpt-10000 --output_node_names InceptionV3/Logits/SpatialSqueeze \\
      --output_graph frozen.pb --bind is_training=false --bind keep_prob=1.0
  gs freeze --input_graph graph.pbtxt --input_checkpoint model.ckpt --output_node_names probs \\
      --output_graph frozen.pb
  gs freeze --input_saved_model_dir export/ --output_node_names y --output_graph frozen.pb --validate
"""

from __future__ import annotations

import argparse
import logging
import os
import pathlib
import sys

from graphsurgeon._proto import saver_pb2
from graphsurgeon.cli import _flags as flags
from graphsurgeon.errors import FileFormatError, GraphSurgeonError
from graphsurgeon.formats import model as model_lib
from graphsurgeon.formats import protofile
from graphsurgeon.formats.checkpoint_paths import resolve_checkpoint_prefix
from graphsurgeon.formats.protofile import format_bytes
from graphsurgeon.formats.stream import TerminalProgress
from graphsurgeon.graph.names import split_names
from graphsurgeon.rewrite.freeze import freeze
from graphsurgeon.rewrite.optimize import optimize_frozen
from graphsurgeon.rewrite.saved_model_v2 import SignatureFreezeResult
from graphsurgeon.values import DEFAULT_SIGNATURE

log = logging.getLogger(__name__)

_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}
_DEPRECATED = {
    "input_binary": "the format is detected from the file",
    "checkpoint_version": "the checkpoint version is detected from the files",
    "restore_op_name": "unused (as in TensorFlow's freeze_graph); variables are read from the checkpoint",
    "filename_tensor_name": "unused (as in TensorFlow's freeze_graph)",
}


def parse_bool(text: str) -> bool:
    """A boolean flag value as absl / freeze_graph accept it: true/false, t/f, 1/0, yes/no (any case)."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{text}'")


def _bool_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup, name: str, default: bool | None,
               help_text: str) -> None:
    parser.add_argument(*flags.spellings(name), dest=name, nargs="?", const=True, default=default, type=parse_bool,
                        metavar="BOOL", help=help_text)
    parser.add_argument(*[f"--no{s[2:]}" for s in flags.spellings(name)] + [f"--no-{name.replace('_', '-')}"],
                        dest=name, action="store_false", help=argparse.SUPPRESS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    tf_flags = parser.add_argument_group("TensorFlow freeze_graph flags")
    tf_flags.add_argument(*flags.spellings("input_graph"), metavar="PATH",
                          help="graph to freeze: .pb, .pbtxt, .meta or a SavedModel directory (format detected)")
    tf_flags.add_argument(*flags.spellings("input_saver"), metavar="PATH", help="a SaverDef file (binary or text) "
                          "naming the Saver whose keys map variables to the checkpoint")
    tf_flags.add_argument(*flags.spellings("input_checkpoint"), metavar="PATH",
                          help="checkpoint prefix (or its .index, a data file, its directory); alone, its .meta "
                               "file is the graph")
    tf_flags.add_argument(*flags.spellings("output_node_names"), "--outputs", dest="output_node_names", metavar="NAMES",
                          action="append", help="outputs to keep, comma-separated node or tensor names")
    tf_flags.add_argument(*flags.spellings("output_graph"), "-o", "--output", dest="output_graph", metavar="PATH",
                          help="where to write the frozen GraphDef (.pbtxt means text, unless --binary)")
    _bool_flag(tf_flags, "clear_devices", True, "remove device placements (default true, as in freeze_graph)")
    tf_flags.add_argument(*flags.spellings("initializer_nodes"), metavar="NAMES", action="append",
                          help="nodes to keep so they can be run once after import (e.g. init_all_tables)")
    tf_flags.add_argument(*flags.spellings("variable_names_whitelist"), *flags.spellings("variable_names_allowlist"),
                          dest="variable_names_whitelist", metavar="NAMES",
                          help="convert only these variables to constants")
    tf_flags.add_argument(*flags.spellings("variable_names_blacklist"), *flags.spellings("variable_names_denylist"),
                          dest="variable_names_blacklist", metavar="NAMES",
                          help="variables to leave as variables")
    tf_flags.add_argument(*flags.spellings("input_meta_graph"), metavar="PATH", help="a MetaGraphDef file (.meta)")
    tf_flags.add_argument(*flags.spellings("input_saved_model_dir"), metavar="DIR",
                          help="a SavedModel directory (checkpoint default: DIR/variables/variables)")
    tf_flags.add_argument(*flags.spellings("saved_model_tags"), metavar="TAGS", default=None,
                          help="tag set of the SavedModel meta graph, comma-separated (default serve)")
    _bool_flag(tf_flags, "input_binary", None, "deprecated: the format is detected")
    tf_flags.add_argument(*flags.spellings("checkpoint_version"), type=int, metavar="N",
                          help="deprecated: V1 and V2 checkpoints are detected")
    tf_flags.add_argument(*flags.spellings("restore_op_name"), metavar="NAME", help="deprecated, unused")
    tf_flags.add_argument(*flags.spellings("filename_tensor_name"), metavar="NAME", help="deprecated, unused")
    extra = parser.add_argument_group("graphsurgeon options")
    flags.add_bind(extra)
    extra.add_argument("--text", "--output-text", "--output_text", dest="text", action="store_const", const=True,
                       default=None, help="write the frozen graph in protobuf text format, whatever the file name")
    extra.add_argument("--binary", dest="text", action="store_const", const=False,
                       help="write the binary format, whatever the file name (default unless it ends in .pbtxt)")
    extra.add_argument("--no-fsync", "--no_fsync", dest="fsync", action="store_false",
                       help="do not wait for the frozen graph to reach the disk before renaming it into place "
                            "(faster for large graphs; TensorFlow's freeze_graph never waits)")
    extra.add_argument("--validate", action="store_true",
                       help="afterwards, run the original and the frozen graph in TensorFlow and compare")
    extra.add_argument("--inference", action="store_true",
                       help="bind every training switch the outputs depend on (is_training, keep_prob, "
                            "keras_learning_phase ..., as gs inspect lists them) to its inference value; "
                            "--bind wins for a placeholder it names")
    extra.add_argument("--optimize", action="store_true",
                       help="also run the inference rewrites of 'gs optimize' on the frozen graph")
    extra.add_argument("--signature", metavar="KEY",
                       help="for a TF2 SavedModel: the signature to freeze (default serving_default)")
    extra.add_argument("--print-signature", "--print_signature", dest="print_signature", action="store_true",
                       help="for a TF2 SavedModel: print the signature's {key: tensor name} mapping as JSON")
    extra.add_argument("--signature-json", "--signature_json", dest="signature_json", metavar="PATH",
                       help="for a TF2 SavedModel: where to write that mapping (default OUTPUT.signature.json)")
    extra.add_argument("--inline", action="store_true",
                       help="for a TF2 SavedModel: replace function calls with their bodies in the top-level "
                            "graph (If/While/Case stay functional)")
    flags.add_default_attrs(extra)


def _note_deprecated(args: argparse.Namespace) -> None:
    for name, why in _DEPRECATED.items():
        if getattr(args, name, None) is not None:
            print(f"gs: note: --{name} is accepted for compatibility and ignored: {why}", file=sys.stderr)


def _load_saver_def(path: str) -> saver_pb2.SaverDef:
    data = protofile.read_bytes(path, "saver file")
    return protofile.parse_message(data, saver_pb2.SaverDef, path)


def _resolve_inputs(args: argparse.Namespace) -> tuple[model_lib.LoadedGraph, str | None, list[str]]:
    """(the graph, the checkpoint path, the input paths) from freeze_graph's flags."""
    given = [f for f in ("input_graph", "input_meta_graph", "input_saved_model_dir") if getattr(args, f)]
    if len(given) > 1:
        raise GraphSurgeonError("give one graph: " + " or ".join(f"--{f}" for f in given))
    checkpoint = args.input_checkpoint
    if args.input_saved_model_dir:
        loaded = model_lib.load_graph(args.input_saved_model_dir, tags=args.saved_model_tags)
    elif args.input_meta_graph:
        loaded = model_lib.load_graph(args.input_meta_graph)
    elif args.input_graph:
        loaded = model_lib.load_graph(args.input_graph, tags=args.saved_model_tags)
    elif checkpoint:
        prefix = resolve_checkpoint_prefix(checkpoint)
        meta = prefix + ".meta"
        if not os.path.isfile(meta):
            raise FileFormatError(f"only a checkpoint was given and '{meta}' does not exist; pass the graph with "
                                  "--input_graph, --input_meta_graph or --input_saved_model_dir")
        loaded = model_lib.load_graph(meta)
        checkpoint = prefix
    else:
        raise GraphSurgeonError("no graph given: pass --input_graph, --input_meta_graph, --input_saved_model_dir "
                                "or --input_checkpoint (its .meta is then the graph)")
    inputs = [str(loaded.path)]
    if loaded.saved_model_dir is not None:  # nothing already in the SavedModel may be overwritten
        inputs.append(str(loaded.saved_model_dir))
    if checkpoint:
        inputs.append(checkpoint)
    return loaded, checkpoint, inputs


def run(args: argparse.Namespace) -> int:
    _note_deprecated(args)
    if not args.output_graph:
        raise GraphSurgeonError("no output file: pass --output_graph PATH (or -o PATH)")
    args.output_text = flags.output_is_text(args.output_graph, args.text)
    loaded, checkpoint, inputs = _resolve_inputs(args)
    binds = flags.parse_binds(args.bind)
    optimize = bool(getattr(args, "optimize", False))
    if checkpoint is None and not model_lib.is_tf2_saved_model(loaded):
        default = model_lib.default_checkpoint(loaded)
        if default is not None:  # never overwritten by the output either
            inputs.append(default)
    saver_def = _load_saver_def(args.input_saver) if args.input_saver else None
    # inference rewrites and text output need the constants' values; else they are streamed from the checkpoint
    result = freeze(loaded, checkpoint, args.output_node_names, clear_devices=bool(args.clear_devices),
                    initializer_nodes=split_names(args.initializer_nodes),
                    whitelist=args.variable_names_whitelist, blacklist=args.variable_names_blacklist,
                    bind=binds, saver_def=saver_def, inference=bool(getattr(args, "inference", False)),
                    defer_values=not (args.output_text or optimize),
                    signature=args.signature, inline=bool(getattr(args, "inline", False)))
    if optimize:
        optimize_frozen(result)
    result.graph_def = flags.apply_default_attrs(args, result.graph_def)
    if isinstance(result, SignatureFreezeResult):
        return _report_tf2(args, loaded, result, inputs)
    written = result.write(args.output_graph, text=args.output_text, inputs=inputs,
                           progress=TerminalProgress(sys.stderr), fsync=getattr(args, "fsync", True))
    print(f"graph:      {loaded.path} ({loaded.kind}{', text' if loaded.text else ''})")
    used = getattr(result.checkpoint, "prefix", None) or getattr(checkpoint, "prefix", checkpoint)
    print(f"checkpoint: {used or '(none: the graph holds no variables)'}")
    print(f"converted:  {len(result.converted)} variable(s) to constants"
          + ("" if getattr(args, "verbose", False) or not result.converted else " (gs -v freeze ... lists them)"))
    if getattr(args, "verbose", False):
        for name, key in result.converted.items():
            print(f"  {name}" + (f" <- {key}" if key != name else ""))
    if result.kept_variables:
        print(f"kept:       {len(result.kept_variables)} variable(s): {', '.join(result.kept_variables)}")
    for name, value in result.bound.items():
        print(f"bound:      {name} = {value}")
    if result.initializer_nodes:
        print(f"initializers: {', '.join(result.initializer_nodes)} (run once after import)")
    for note in result.notes:
        print(f"note:       {note}")
    print(f"nodes:      {result.nodes_before} -> {result.nodes_after}")
    print(f"wrote:      {args.output_graph} ({format_bytes(written)})")
    for warning in result.warnings:
        print(f"gs: warning: {warning}", file=sys.stderr)
    if args.validate:
        return _validate(loaded, used, args.output_graph, result.outputs, result.initializer_nodes, result.bound,
                         args.saved_model_tags)
    return 0


def _report_tf2(args: argparse.Namespace, loaded: model_lib.LoadedGraph, result: SignatureFreezeResult,
                inputs: list[str]) -> int:
    sidecar = getattr(args, "signature_json", None) or str(args.output_graph) + ".signature.json"
    written = result.write(args.output_graph, text=args.output_text, inputs=inputs, sidecar=sidecar)
    if getattr(args, "print_signature", False):
        sys.stdout.write(result.sidecar_text())
    print(f"graph:      {loaded.saved_model_dir} (TF2 SavedModel, signature '{result.signature}')")
    print(f"converted:  {len(result.variables)} variable(s) to constants")
    for key, name in result.inputs.items():
        print(f"input:      {key} -> {name}")
    for key, name in result.outputs.items():
        print(f"output:     {key} -> {name}")
    for note in result.notes:
        print(f"note:       {note}")
    print(f"nodes:      {len(loaded.graph_def.node)} -> {len(result.graph_def.node)}")
    print(f"wrote:      {args.output_graph} ({format_bytes(written)})")
    print(f"signature:  {sidecar}")
    if args.validate:
        return _validate(loaded, None, args.output_graph, result.output_names, [], {}, args.saved_model_tags,
                         signature=result.signature)
    return 0


def _validate(loaded: model_lib.LoadedGraph, checkpoint: object, frozen_path: str, outputs: list[str],
              initializer_nodes: list[str], bound: dict, tags: str | None, signature: str | None = None) -> int:
    # Imported here: only --validate needs it, and it is a large module (a float32 freeze imports it never).
    from graphsurgeon.validate import validate

    original = str(loaded.saved_model_dir) if loaded.saved_model_dir is not None else str(loaded.path)
    prefix = None if loaded.saved_model_dir is not None else (
        getattr(checkpoint, "prefix", None) or (str(checkpoint) if checkpoint else None))
    # The bindings go in as what the freeze bound, not as inputs: the report says "bound in the frozen graph",
    # as a later gs validate does, and they hold even where --optimize folded their Consts away.
    report = validate(original, pathlib.Path(frozen_path), checkpoint=prefix, tags=tags, bound=bound or None,
                      outputs=outputs, initializer_nodes=initializer_nodes or None,
                      signature=signature or DEFAULT_SIGNATURE)
    print(report.format())
    if not report.ok:
        print(f"gs: error: the frozen graph does not match the original ({len(report.failures)} output/device "
              "pair(s) differ)", file=sys.stderr)
        return 1
    return 0
