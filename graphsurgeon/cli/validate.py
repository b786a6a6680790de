"""Check that a frozen graph gives the original model's answers, on every device (needs TensorFlow).

ORIGINAL is a .meta (the checkpoint defaults to the prefix beside it), a .pb/.pbtxt graph with
--checkpoint, or a SavedModel directory. A TF2 SavedModel (tf.saved_model.save, Keras export) is
run eagerly through --signature (default serving_default), as its users call it; --input and
--output then take the signature's keys or the tensor names they map to. Both models are run on
the same inputs (--input, the rest random) on the CPU and on each GPU, with TensorFlow's graph
optimizer off (--graph-optimizer turns it on): its fusions on the frozen graph's constants would
change the floats, so off, the frozen graph runs the original's kernels op for op (a TF2
SavedModel's frozen graph is run optimized, as its eager original is). A placeholder of the
original that the frozen graph no longer has (bound with gs freeze --bind is_training=false, or
folded away) is fed to the original with its bound value, or where the frozen graph keeps nothing
of it, with the switch's inference value that gs inspect gives; the report prints these values.
--input wins over a bound value; where it differs, a warning line names both.
The report gives, per output and device, the largest absolute error, that error relative to the
output's scale (its largest |original|) and the scale. Floats pass when
|frozen - original| <= atol + rtol * scale (--elementwise: atol + rtol * |original| per element,
as numpy.allclose), other dtypes must match exactly. Exit status 1 on a mismatch.

examples:
  gs validate model.ckpt-1000.meta frozen.pb
  gs validate model.ckpt-1000.meta frozen.pb --seed 3 --rtol 1e-5 --elementwise
  gs validate graph.pbtxt frozen.pb --checkpoint model.ckpt-1000 --input keep_prob=1.0
  gs validate saved_model/ frozen.pb --output probs --batch 4 --json
  gs validate tf2_saved_model/ frozen.pb --signature serving_default --input x=[[1,2,3,4]]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from graphsurgeon.cli.run import add_input_arguments, parse_feeds
from graphsurgeon.comparison import DEFAULT_ATOL, DEFAULT_RTOL
from graphsurgeon.formats.model import is_tf2_saved_model, load_graph
from graphsurgeon.graph import names
from graphsurgeon.validate import validate
from graphsurgeon.values import DEFAULT_SIGNATURE, graph_inputs, signature_inputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("original", help="the original model: .meta, .pb/.pbtxt (+ --checkpoint) or SavedModel dir")
    parser.add_argument("frozen", help="the frozen graph (.pb or .pbtxt)")
    parser.add_argument("--checkpoint", "--input_checkpoint", dest="checkpoint", metavar="PREFIX",
                        help="checkpoint prefix, directory or .index file (default for a .meta: the prefix beside it)")
    parser.add_argument("--saved_model_tags", "--saved-model-tags", dest="saved_model_tags", metavar="TAGS",
                        help="SavedModel tag set, comma-separated (default: serve)")
    parser.add_argument("--signature", metavar="KEY", default=DEFAULT_SIGNATURE,
                        help=f"for a TF2 SavedModel: the signature the graph was frozen from (default "
                             f"{DEFAULT_SIGNATURE})")
    add_input_arguments(parser, random_flag=False)
    parser.add_argument("--output", "--outputs", "--output_node_names", dest="outputs", action="append",
                        metavar="NAME", help="output to compare (repeat, or comma-separated); default: the frozen "
                                             "graph's candidate outputs")
    parser.add_argument("--rtol", type=float, default=DEFAULT_RTOL,
                        help=f"relative tolerance for floats, times the output's max |original| (default "
                             f"{DEFAULT_RTOL:g})")
    parser.add_argument("--atol", type=float, default=DEFAULT_ATOL,
                        help=f"absolute tolerance for floats (default {DEFAULT_ATOL:g})")
    parser.add_argument("--elementwise", action="store_true",
                        help="judge each element against atol + rtol * |original| (numpy.allclose) instead of "
                             "atol + rtol * max |original|")
    parser.add_argument("--graph-optimizer", "--graph_optimizer", dest="graph_optimizer", action="store_true",
                        help="run both graphs with TensorFlow's graph optimizer (grappler) on, as TensorFlow "
                             "does by default; off by default, because its fusions on the frozen graph's "
                             "constants change float results (up to ~1e-4 of the scale on deep nets)")
    parser.add_argument("--device", dest="devices", action="append", metavar="DEV",
                        help="run only on this device (cpu, gpu:0; repeatable); default: every device")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    frozen = load_graph(args.frozen)
    specs = graph_inputs(frozen.graph_def)
    original = args.original
    if os.path.isdir(original):
        original = load_graph(original, args.saved_model_tags)
        if is_tf2_saved_model(original):  # --input KEY=VALUE: parsed against the signature's TensorSpec
            specs += [dataclasses.replace(spec, name=f"{key}:0", node=key)
                      for key, spec in signature_inputs(original, args.signature).items()]
    feeds = parse_feeds(args.inputs, specs)
    report = validate(original, frozen, checkpoint=args.checkpoint, tags=args.saved_model_tags, inputs=feeds,
                      signature=args.signature,
                      outputs=names.split_names(args.outputs), rtol=args.rtol, atol=args.atol,
                      elementwise=bool(args.elementwise),
                      devices=args.devices, seed=args.seed, batch=args.batch,
                      initializer_nodes=args.initializer_nodes, graph_optimizer=bool(args.graph_optimizer),
                      verbose=bool(getattr(args, "verbose", False)))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        for warning in report.warnings:  # the text report has them on its own lines
            print(f"gs: warning: {warning}", file=sys.stderr)
    else:
        print(report.format())
    if not report.ok:
        bad = len(report.failures)
        why = f": {report.mismatch_message().removeprefix('MISMATCH: ')}" if args.json else ""  # else printed above
        print(f"gs: error: the frozen graph does not match the original ({bad} output/device pair(s) differ){why}",
              file=sys.stderr)
        return 1
    return 0
