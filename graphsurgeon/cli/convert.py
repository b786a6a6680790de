"""Convert a graph between formats: .pb <-> .pbtxt, MetaGraphDef or SavedModel -> GraphDef, TensorBoard.

The output format comes from the output's name (.pb, .pbtxt, .meta, .metatxt, a name containing
tfevents, or an existing directory for a TensorBoard event file) or from --to; --text / --binary
choose the encoding. The input may be a GraphDef or MetaGraphDef (binary or text), a SavedModel
directory or an event file holding a graph. The output is written to a temporary file and
renamed into place; an input is never overwritten.

examples:
  gs convert frozen.pb frozen.pbtxt                 # binary -> text
  gs convert graph.pbtxt graph.pb                   # text -> binary
  gs convert model.ckpt-100.meta graph.pb           # the MetaGraphDef's graph
  gs convert saved_model/ graph.pbtxt --tags serve  # a SavedModel's graph
  gs convert frozen.pb logs/                        # TensorBoard: tensorboard --logdir logs
  gs convert logs/events.out.tfevents.1.host graph.pb
  gs convert new_tf.pb old_tf.pb --strip-default-attrs # for an older TensorFlow that lacks new attrs
"""

from __future__ import annotations

import argparse

from graphsurgeon.cli import _flags as flags
from graphsurgeon.formats.convert import KINDS, convert
from graphsurgeon.formats.protofile import format_bytes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="graph: .pb, .pbtxt, .meta, SavedModel directory or event file")
    parser.add_argument("output", help="where to write: .pb, .pbtxt, .meta, .metatxt, events.out.tfevents.* "
                        "or a directory (TensorBoard log directory)")
    parser.add_argument("--to", choices=KINDS, default=None, help="output format (default: from the output's name)")
    encoding = parser.add_mutually_exclusive_group()
    encoding.add_argument("--text", dest="text", action="store_const", const=True, default=None,
                          help="write protobuf text format")
    encoding.add_argument("--binary", dest="text", action="store_const", const=False, help="write binary protobuf")
    parser.add_argument("--saved_model_tags", "--saved-model-tags", "--tags", dest="tags", metavar="TAGS",
                        help="SavedModel tag set, comma-separated (default: serve)")
    flags.add_default_attrs(parser)


def run(args: argparse.Namespace) -> int:
    strip, fill = args.strip_default_attrs, args.fill_default_attrs
    kind, written = convert(args.input, args.output, to=args.to, text=args.text, tags=args.tags,
                            transform=(lambda g: flags.apply_default_attrs(args, g)) if strip or fill else None,
                            stripped_default_attrs=True if strip else False if fill else None)
    print(f"wrote  {args.output} ({format_bytes(written)}, {kind})")
    return 0
