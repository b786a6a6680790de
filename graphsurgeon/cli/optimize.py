"""Optimize a graph for inference: fold constant conditions, strip training nodes, fold constants and batch norm.

Runs the inference rewrites by name (default: fold_constant_switches, strip_training,
fold_constants, fold_batch_norm, strip_training), then prunes to the outputs and checks the
result. Each pass keeps the outputs' values (within float tolerance) and skips what it cannot
prove safe (gs -v optimize ... logs why). Bind training flags first so conditions become constant.

passes: fold_constant_switches, fold_constant_conditions, inline_calls, strip_training, fold_constants,
fold_batch_norm, remove_import_prefix, drop_inert_controls

An If / Case (control flow v2, as tf_keras builds batch norm) whose condition is constant after
binding is replaced by the branch it runs. --inline replaces function calls (StatefulPartitionedCall
of a TF2 freeze) with their bodies; --converter-ready does that too and removes the Identity/IdentityN
nodes and the control edges that change nothing left behind, for converters that read no functions
(OpenCV, TFLite, tf2onnx, OpenVINO).

Defaults: without --outputs, the graph's one candidate output (as gs inspect lists them; with none or
several, name them). init_all_tables (or the table initializer ops a freeze kept) and any
--initializer_nodes are kept with what they need, to be run once after import. A graph that still
holds variables (VariableV2, VarHandleOp, ...) is refused: run gs freeze first. A binary GraphDef of
8 MiB or more is read lazily: the big constants no pass changes stay in the file and are copied
from it into the output (those a pass makes wait in a temporary file beside the output), so memory
stays far below the model's size.

examples:
  gs optimize frozen.pb -o optimized.pb
  gs optimize frozen.pb --outputs InceptionV3/Predictions/Reshape_1 -o optimized.pb
  gs optimize frozen.pb --outputs out --bind is_training=false -o optimized.pb

A bool placeholder named keras_learning_phase is bound to false without --bind, as TensorFlow's
optimize_for_inference does; --keep-learning-phase leaves it a placeholder.
  gs optimize exported.pb --outputs import/probs --passes remove_import_prefix,strip_training -o clean.pb
  gs optimize tf2_frozen.pb --outputs Identity --converter-ready -o for_opencv.pb
"""

from __future__ import annotations

import argparse
import os
import sys

from graphsurgeon.cli import _flags as flags
from graphsurgeon.errors import GraphSurgeonError, listed
from graphsurgeon.formats import lazy_graph
from graphsurgeon.formats.model import load_graph, save_graph
from graphsurgeon.formats.protofile import format_bytes
from graphsurgeon.graph.names import parse_input, split_names
from graphsurgeon.rewrite.optimize import optimize_graph, parse_passes, refuse_variables
from graphsurgeon.values import candidate_outputs, initializer_nodes_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", help="input graph: .pb, .pbtxt, .meta or SavedModel directory (usually frozen)")
    flags.add_outputs(parser, required=False)
    flags.add_output(parser, what="the optimized graph")
    parser.add_argument(*flags.spellings("initializer_nodes"), dest="initializer_nodes", metavar="NAMES",
                        action="append", help="nodes to keep, with what they need, to be run once after import "
                        "(init_all_tables and the table initializers a freeze kept are kept without this)")
    parser.add_argument("--passes", metavar="NAMES", default=None,
                        help="comma-separated passes to run, in order (default: the standard list above)")
    flags.add_bind(parser)
    parser.add_argument("--inline", action="store_true",
                        help="replace function calls (PartitionedCall, StatefulPartitionedCall) with their bodies")
    parser.add_argument("--converter-ready", "--converter_ready", dest="converter_ready", action="store_true",
                        help="--inline, fold constant If/Case and remove the Identity/IdentityN left behind, so "
                             "converters that read no functions (OpenCV, TFLite, tf2onnx, OpenVINO) can; warns of "
                             "what is left")
    parser.add_argument("--keep-learning-phase", "--keep_learning_phase", dest="keep_learning_phase",
                        action="store_true",
                        help="leave a bool placeholder named keras_learning_phase alone (by default it is bound "
                             "to false, as TensorFlow's optimize_for_inference does)")
    parser.add_argument("--max-growth", "--max_growth", dest="max_growth", type=_size, default=None, metavar="SIZE",
                        help="how much fold_constants may grow the graph: bytes, or with KiB/MiB/GiB (default 1MiB)")
    parser.add_argument("--saved_model_tags", "--saved-model-tags", dest="saved_model_tags", metavar="TAGS",
                        help="SavedModel tag set, comma-separated (default: serve)")
    flags.add_default_attrs(parser)


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1000, "kib": 1 << 10, "m": 1 << 20, "mb": 1000 ** 2, "mib": 1 << 20,
          "g": 1 << 30, "gb": 1000 ** 3, "gib": 1 << 30}


def _size(text: str) -> int:
    """``"4096"``, ``"64KiB"``, ``"1MiB"``, ``"0"`` -> bytes."""
    value = text.strip().lower().replace(" ", "")
    number = value.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = value[len(number):]
    try:
        size = float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"'{text}' is not a size (e.g. 65536, 64KiB, 1MiB)") from None
    if size < 0:
        raise argparse.ArgumentTypeError(f"'{text}': a size cannot be negative")
    return int(size)


def default_outputs(graph_def) -> list[str]:
    """The graph's single candidate output (node name), or an error listing the candidates."""
    found = [parse_input(c).node for c in candidate_outputs(graph_def)]
    if len(found) == 1:
        return found
    if not found:
        raise GraphSurgeonError("the graph has no candidate output (a node nothing consumes); name the outputs "
                                "with --outputs")
    raise GraphSurgeonError(f"the graph has {len(found)} candidate outputs ({listed(found, 10, quote=False)}); "
                            "name the ones to keep with --outputs")


def run(args: argparse.Namespace) -> int:
    args.text = flags.output_is_text(args.output, args.text)
    passes = parse_passes(args.passes)
    binds = flags.parse_binds(args.bind)
    lazy = None if args.text else lazy_graph.open_lazy(args.graph, tags=args.saved_model_tags)
    if lazy is not None:
        lazy.spill_dir = os.path.dirname(os.path.abspath(args.output))
    try:
        loaded = lazy.loaded if lazy is not None else load_graph(args.graph, tags=args.saved_model_tags)
        return _optimize(args, loaded, lazy, passes, binds)
    finally:
        if lazy is not None:
            lazy.close()


def _optimize(args: argparse.Namespace, loaded, lazy, passes: list[str], binds: dict) -> int:
    refuse_variables(loaded.graph_def)
    outputs = split_names(args.outputs) if args.outputs else default_outputs(loaded.graph_def)
    defaulted = not args.outputs
    inits = split_names(args.initializer_nodes) if args.initializer_nodes else []
    inits += [n for n in initializer_nodes_of(loaded.graph_def) if n not in inits]
    growth = {} if args.max_growth is None else {"max_growth_bytes": args.max_growth}
    result = optimize_graph(loaded.graph_def, outputs, passes, bind=binds,
                            bind_learning_phase=not args.keep_learning_phase, inline=args.inline,
                            converter_ready=args.converter_ready, initializer_nodes=inits,
                            after_pass=None if lazy is None else lazy.spill, **growth)
    nodes_before = len(loaded.graph_def.node)
    loaded.graph_def = None  # type: ignore[assignment]  # the passes made their own; let the input go
    result.graph_def = flags.apply_default_attrs(args, result.graph_def)
    inputs = [loaded.path, args.graph]
    if lazy is not None:
        written = lazy.write(result.graph_def, args.output, inputs=inputs)
    else:
        written = save_graph(result.graph_def, args.output, text=args.text, inputs=inputs)
    if defaulted:
        print(f"outputs {', '.join(outputs)} (the graph's only candidate output; --outputs to choose others)")
    for name, value in result.bound.items():
        print(f"bound  {name} = {value}")
    if result.default_bound:
        print(f"note   bound {', '.join(result.default_bound)} to false by default, as TensorFlow's "
              "optimize_for_inference does (--keep-learning-phase to keep it)")
    width = max(len(name) for name, _, _ in result.steps)
    for name, before, after in result.steps:
        print(f"pass   {name:<{width}}  {before} -> {after} nodes")
    print(f"nodes  {nodes_before} -> {len(result.graph_def.node)}")
    if result.outputs != outputs:
        print(f"outputs {', '.join(result.outputs)}")
    if result.initializer_nodes:
        print(f"initializers {', '.join(result.initializer_nodes)} (kept; run once after import, before the outputs)")
    print(f"wrote  {args.output} ({format_bytes(written)}, {'text' if args.text else 'binary'})")
    conditions = {op: n for op, n in result.remaining.items() if op in ("If", "StatelessIf", "Case", "StatelessCase")}
    if conditions and not args.converter_ready:
        kept = ", ".join(f"{count} {op}" for op, count in sorted(conditions.items()))
        print(f"note   {kept} kept: the condition is not constant (bind it with --bind; gs -v optimize ... says why)")
    if result.remaining and args.converter_ready:
        left = ", ".join(f"{count} {op}" for op, count in sorted(result.remaining.items()))
        print(f"gs: warning: {left} left (gs -v optimize ... says why); converters that read no functions "
              "(OpenCV) stop on them", file=sys.stderr)
    return 0

