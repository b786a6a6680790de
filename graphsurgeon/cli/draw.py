"""Draw a graph: a self-contained HTML page (needs nothing installed), SVG (Graphviz) or DOT.

Namespaces deeper than --depth collapse to one box each, with their node count, most common ops
and constants' bytes (default --depth auto: the deepest level with at most 60 boxes). Boxes are
coloured by op kind (conv, matmul, constant, variable, control flow, placeholder). The page lays
the graph out in the browser, offline; wheel zooms, drag pans. A graph too large to lay out is
collapsed further, or refused with a hint to draw part of it.

examples:
  gs draw model.pb -o model.html                                  # open it in any browser
  gs draw inception_v3.pb --depth 3 -o inception.svg             # SVG needs Graphviz's dot
  gs draw frozen.pb --outputs probs -o pruned.html                # what the outputs need
  gs draw frozen.pb --around conv1/Conv2D --radius 2 --depth all -o near.html
  gs draw frozen.pb --outputs probs --why conv1/weights -o why.html
"""

from __future__ import annotations

import argparse

from graphsurgeon.draw import FORMATS, build_drawing, format_for, write_drawing
from graphsurgeon.formats.convert import load_any
from graphsurgeon.formats.protofile import format_bytes
from graphsurgeon.graph.names import split_names


def depth_arg(text: str) -> int | str:
    """``"2"`` -> 2; ``"auto"`` and ``"all"`` stay."""
    if text in ("auto", "all"):
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a depth (a number from 1, 'auto' or 'all')") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"depth must be 1 or more, not {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", help="graph: .pb, .pbtxt, .meta, SavedModel directory or TensorBoard event file")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="where to write the picture: .html (self-contained page), .svg (needs Graphviz) or .dot")
    add_drawing_arguments(parser)
    parser.add_argument("--outputs", "--output-nodes", dest="outputs", action="append", metavar="NAMES",
                        help="draw only what these nodes need (the pruned graph); comma-separated or repeated")
    parser.add_argument("--around", metavar="NODE", help="draw only the nodes within --radius edges of NODE")
    parser.add_argument("--radius", type=int, default=2, metavar="K", help="for --around (default 2)")
    parser.add_argument("--why", metavar="NODE", help="highlight the chain by which the --outputs need NODE")
    parser.add_argument("--saved_model_tags", "--saved-model-tags", "--tags", dest="tags", metavar="TAGS",
                        help="SavedModel tag set, comma-separated (default: serve)")


def add_drawing_arguments(parser: argparse.ArgumentParser) -> None:
    """--depth and --format, shared with gs diff --draw."""
    parser.add_argument("--depth", type=depth_arg, default="auto", metavar="N",
                        help="collapse namespaces below this level into boxes (1 = top level; 'all' draws every "
                             "node; default 'auto': the deepest level with at most 60 boxes)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="picture format (default: from the output's extension)")


def run(args: argparse.Namespace) -> int:
    fmt = format_for(args.output, args.format)
    loaded = load_any(args.graph, tags=args.tags)
    drawing = build_drawing(loaded.graph_def, depth=args.depth, outputs=split_names(args.outputs),
                            around=args.around, radius=args.radius, why=args.why, title=str(args.graph))
    written = write_drawing(drawing, args.output, fmt, inputs=[loaded.path, args.graph])
    for note in drawing.notes:
        print(f"note   {note}")
    print(f"drew   {len(drawing.boxes)} boxes, {len(drawing.edges)} edges for {drawing.nodes_drawn} of "
          f"{drawing.graph_nodes} nodes" + (f" (depth {drawing.depth})" if drawing.depth else ""))
    print(f"wrote  {args.output} ({format_bytes(written)}, {fmt})")
    return 0
