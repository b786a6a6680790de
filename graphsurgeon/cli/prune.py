"""Keep only what the outputs need; optionally cut the graph at inputs.

Kept are the outputs and every node they reach through data and control inputs, in their
original order, with only the library functions still used. With --inputs, each input tensor
becomes a Placeholder of its own dtype and shape (from the graph, or from --input-spec) and
nothing above it is kept. Names may be node names (logits) or tensor names (logits:0).

examples:
  gs prune model.pb --outputs probs -o pruned.pb
  gs prune model.meta --outputs logits --inputs IteratorGetNext:0 -o head.pb
  gs prune model.pb --outputs out --inputs ids,mask --input-spec ids=int32:?,10 --input-spec mask=bool:?,10 -o o.pb
"""

from __future__ import annotations

import argparse

from graphsurgeon.cli import _flags as flags
from graphsurgeon.errors import GraphSurgeonError
from graphsurgeon.formats.model import load_graph, save_graph
from graphsurgeon.formats.protofile import format_bytes
from graphsurgeon.formats.tensors import dtype_name, parse_dtype, shape_from_proto
from graphsurgeon.graph.names import split_names
from graphsurgeon.rewrite.prune import prune_graph


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", help="input graph: .pb, .pbtxt, .meta or SavedModel directory")
    flags.add_outputs(parser, required=True)
    parser.add_argument("--inputs", "--input", dest="inputs", action="append", default=[], metavar="NAMES",
                        help="tensors to cut at; each becomes a Placeholder (comma-separated or repeated)")
    parser.add_argument("--input-spec", "--input_spec", dest="input_spec", action="append", default=[],
                        metavar="NAME=DTYPE[:SHAPE]",
                        help="dtype and shape of a cut input when the graph does not tell, e.g. "
                             "x:0=float32:?,224,224,3 (? or -1 = unknown size; DTYPE: = scalar; no ':' = shape "
                             "from the graph)")
    flags.add_output(parser, what="the pruned graph")
    parser.add_argument("--saved_model_tags", "--saved-model-tags", dest="saved_model_tags", metavar="TAGS",
                        help="SavedModel tag set, comma-separated (default: serve)")


def parse_input_spec(text: str) -> tuple[str, tuple[int, tuple[int, ...] | None]]:
    """``"x:0=float32:1,224,224,3"`` -> ``("x:0", (DT_FLOAT, (1, 224, 224, 3)))``.

    The tensor name may itself contain ``:``; the spec is what follows the last ``=``. ``?`` and
    ``-1`` are unknown sizes; ``float32:`` is a scalar; ``float32`` alone leaves the shape to the graph.
    """
    name, sep, spec = text.rpartition("=")
    if not sep or not name.strip() or not spec.strip():
        raise GraphSurgeonError(f"--input-spec '{text}' is not NAME=DTYPE[:SHAPE] (e.g. x:0=float32:?,224,224,3)")
    dtype_text, has_shape, shape_text = spec.partition(":")
    dtype = parse_dtype(dtype_text, name)
    shape: tuple[int, ...] | None = None
    if has_shape:
        dims = [d.strip() for d in shape_text.strip().strip("[]()").split(",") if d.strip()]
        try:
            shape = tuple(-1 if d in ("?", "None", "none") else int(d) for d in dims)
        except ValueError:
            raise GraphSurgeonError(f"--input-spec '{text}': shape '{shape_text}' is not sizes separated by "
                                    "commas (? = unknown)") from None
    return name.strip(), (dtype, shape)


def run(args: argparse.Namespace) -> int:
    args.text = flags.output_is_text(args.output, args.text)
    loaded = load_graph(args.graph, tags=args.saved_model_tags)
    specs = dict(parse_input_spec(s) for s in args.input_spec)
    result = prune_graph(loaded.graph_def, split_names(args.outputs), split_names(args.inputs), specs)
    written = save_graph(result.graph_def, args.output, text=args.text, inputs=[loaded.path, args.graph])
    by_name = {n.name: n for n in result.graph_def.node} if result.placeholders else {}
    for tensor, placeholder in result.placeholders.items():
        ph = by_name[placeholder]
        shape = shape_from_proto(ph.attr["shape"].shape)
        dims = "unknown" if shape is None else "[" + ",".join("?" if d < 0 else str(d) for d in shape) + "]"
        print(f"input  {tensor} -> Placeholder '{placeholder}' {dtype_name(ph.attr['dtype'].type)} {dims}")
    print(f"nodes  {result.nodes_before} -> {len(result.graph_def.node)}")
    print(f"wrote  {args.output} ({format_bytes(written)}, {'text' if args.text else 'binary'})")
    return 0
