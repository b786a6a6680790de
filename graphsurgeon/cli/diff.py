"""Compare two graphs: nodes added, removed and changed, constants' values, op counts.

A node in both graphs is changed when its op, inputs, device or attrs differ (the attrs are
listed). For changed constants: dtype and shape before and after, and the largest absolute
difference of the values. The op lines list the ops whose counts differ (--all-ops: every op).
Binary and text files of the same graph are equal. Exit status 0 when the graphs are equal, 1
when they differ (as diff does), 2 for a usage error; an error (unreadable file) also exits 1.

examples:
  gs diff frozen.pb optimized.pb
  gs diff frozen.pb tf_frozen.pb --outputs probs          # only what the outputs need
  gs diff a.pb b.pbtxt --json > changes.json
  gs diff frozen.pb optimized.pb --draw changes.html       # the picture, coloured by the diff
"""

from __future__ import annotations

import argparse
import json
import sys

from graphsurgeon._proto import graph_pb2
from graphsurgeon.cli.draw import add_drawing_arguments
from graphsurgeon.diff import diff_graphs
from graphsurgeon.draw import build_drawing, format_for, write_drawing
from graphsurgeon.formats.convert import load_any
from graphsurgeon.graph.names import split_names
from graphsurgeon.graph.view import GraphView


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("before", help="first graph: .pb, .pbtxt, .meta, SavedModel directory or event file")
    parser.add_argument("after", help="second graph")
    parser.add_argument("--outputs", "--output", dest="outputs", action="append", metavar="NAMES",
                        help="compare only what these nodes need in each graph (comma-separated or repeated)")
    parser.add_argument("--json", action="store_true", help="print the differences as JSON")
    parser.add_argument("--all-ops", action="store_true", help="list every op's count, not only those that differ")
    parser.add_argument("--draw", metavar="OUT", help="also draw both graphs in one picture coloured by the diff "
                        "(.html, .svg or .dot): added green, removed red, changed yellow")
    add_drawing_arguments(parser)
    parser.add_argument("--saved_model_tags", "--saved-model-tags", "--tags", dest="tags", metavar="TAGS",
                        help="SavedModel tag set, comma-separated (default: serve)")


def run(args: argparse.Namespace) -> int:
    fmt = format_for(args.draw, args.format) if args.draw else None
    before = load_any(args.before, tags=args.tags)
    after = load_any(args.after, tags=args.tags)
    outputs = split_names(args.outputs)
    result = diff_graphs(before.graph_def, after.graph_def, outputs=outputs)
    if args.draw:
        # Both graphs in one picture: the second graph's nodes, then the nodes only the first has.
        union = graph_pb2.GraphDef()
        kept = GraphView(after.graph_def, allow_dangling=True).ancestors(outputs) if outputs else None
        union.node.extend(n for n in after.graph_def.node if kept is None or n.name in kept)
        removed = {name for name, _ in result.removed}
        union.node.extend(n for n in before.graph_def.node if n.name in removed)
        drawing = build_drawing(union, depth=args.depth, outputs=(), states=result.states(),
                                title=f"{args.before} -> {args.after}")
        if outputs:
            drawing.notes.insert(0, f"compared what {', '.join(outputs)} need in each graph")
        write_drawing(drawing, args.draw, fmt, inputs=[before.path, after.path, args.before, args.after])
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(result.format(all_ops=args.all_ops))
    return 0 if result.equal else 1
