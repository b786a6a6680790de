"""Replace variables by constants from a checkpoint, without pruning anything.

Every variable (or only --whitelist ones, minus --blacklist) becomes a Const with its checkpoint
value; reads, ref/resource forwarders and while-loop Enters are rewritten to take values, and
updates of frozen variables (initializers, training ops, restore assigns) are dropped. The Saver's
save ops stay. The result passes the structural check before it is written.

examples:
  gs constify graph.pb --checkpoint model.ckpt-1000 -o constified.pb
  gs constify model.ckpt-1000.meta -o constified.pbtxt --text
"""

from __future__ import annotations

import argparse

from graphsurgeon.cli import _flags as flags
from graphsurgeon.errors import GraphSurgeonError
from graphsurgeon.formats import model as model_lib
from graphsurgeon.formats.protofile import format_bytes
from graphsurgeon.graph.check import check_graph
from graphsurgeon.rewrite.constify import convert_variables


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", help="the graph: .pb, .pbtxt, .meta or a TF1 SavedModel directory")
    parser.add_argument("--checkpoint", "--input_checkpoint", "--input-checkpoint", dest="checkpoint", metavar="PATH",
                        help="checkpoint prefix (default: the .meta's prefix, a SavedModel's variables/variables)")
    flags.add_output(parser, what="the result")
    parser.add_argument("--whitelist", "--variable_names_whitelist", "--variable-names-whitelist", dest="whitelist",
                        metavar="NAMES", help="convert only these variables (comma-separated)")
    parser.add_argument("--blacklist", "--variable_names_blacklist", "--variable-names-blacklist", dest="blacklist",
                        metavar="NAMES", help="leave these variables as variables (comma-separated)")
    parser.add_argument("--saved-model-tags", "--saved_model_tags", dest="tags", metavar="TAGS",
                        help="SavedModel tag set (default serve)")


def run(args: argparse.Namespace) -> int:
    args.text = flags.output_is_text(args.output, args.text)
    loaded = model_lib.load_graph(args.graph, tags=args.tags)
    checkpoint = args.checkpoint or model_lib.default_checkpoint(loaded)
    if checkpoint is None:
        raise GraphSurgeonError(f"no checkpoint given for '{loaded.path}': pass --checkpoint PREFIX")
    saver_def = loaded.meta_graph_def.saver_def if loaded.meta_graph_def is not None and \
        loaded.meta_graph_def.HasField("saver_def") else None
    result = convert_variables(loaded.graph_def, checkpoint, saver_def=saver_def, whitelist=args.whitelist,
                               blacklist=args.blacklist, meta_graph_def=loaded.meta_graph_def)
    check_graph(result.graph_def, allow_variables=result.kept_variables, allow_saver=True,
                source=f"constified '{loaded.path}'")
    written = model_lib.save_graph(result.graph_def, args.output, text=args.text,
                                   inputs=[str(loaded.path), str(checkpoint)])
    print(f"converted:  {len(result.converted)} variable(s) to constants")
    if result.kept_variables:
        print(f"kept:       {len(result.kept_variables)} variable(s): {', '.join(result.kept_variables)}")
    print(f"rewritten:  {len(result.rewritten)} op(s); dropped: {len(result.dropped)} node(s)")
    for note in result.notes:
        print(f"note:       {note}")
    print(f"nodes:      {len(loaded.graph_def.node)} -> {len(result.graph_def.node)}")
    print(f"wrote:      {args.output} ({format_bytes(written)})")
    return 0
