"""Flags shared by the subcommands, spelled the same everywhere.

* ``-o`` / ``--output`` (freeze_graph: ``--output_graph``): where to write the graph;
* ``--text`` (also ``--output-text``) / ``--binary``: the output format; without either, a name
  ending in ``.pbtxt`` is written as text and anything else as binary;
* ``--outputs`` (freeze_graph: ``--output_node_names``): the nodes or tensors to keep;
* ``--bind NAME=VALUE``: turn a placeholder into a constant (values as ``gs run --input`` reads them);
* ``--strip-default-attrs`` / ``--fill-default-attrs``: drop or write out the attrs whose value is
  their op's default, as the op registry says (freeze and optimize).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from graphsurgeon._proto import graph_pb2
from graphsurgeon.errors import GraphSurgeonError
from graphsurgeon.rewrite.default_attrs import fill_default_attrs, strip_default_attrs
from graphsurgeon.values import parse_bind_value

# argparse's add_argument lives on both parsers and argument groups
Container = Any

TEXT_SUFFIXES = (".pbtxt",)


def spellings(name: str) -> list[str]:
    """``output_graph`` -> ``["--output_graph", "--output-graph"]`` (freeze_graph's flags take both)."""
    kebab = name.replace("_", "-")
    return [f"--{name}"] + ([f"--{kebab}"] if kebab != name else [])


def add_output(parser: Container, *, dest: str = "output", required: bool = True, what: str = "the graph") -> None:
    """``-o`` / ``--output`` / ``--output_graph`` and the format flags ``--text`` / ``--binary``."""
    parser.add_argument("-o", "--output", *spellings("output_graph"), dest=dest, required=required, metavar="PATH",
                        help=f"where to write {what} (never an input file); .pbtxt means text unless --binary")
    parser.add_argument("--text", "--output-text", "--output_text", dest="text", action="store_const", const=True,
                        default=None, help="write protobuf text format, whatever the file name")
    parser.add_argument("--binary", dest="text", action="store_const", const=False,
                        help="write the binary format, whatever the file name")


def add_outputs(parser: Container, *, dest: str = "outputs", required: bool = False) -> None:
    """``--outputs`` / ``--output_node_names``: node or tensor names, comma-separated or repeated."""
    parser.add_argument("--outputs", *spellings("output_node_names"), dest=dest, action="append", required=required,
                        metavar="NAMES", help="nodes or tensors to keep (comma-separated or repeated)")


def add_bind(parser: Container) -> None:
    parser.add_argument("--bind", action="append", default=[], metavar="NAME=VALUE",
                        help="turn a placeholder into a constant first, e.g. is_training=false, keep_prob=1.0, "
                             "x=[nan, inf] (repeatable)")


def add_default_attrs(parser: Container) -> None:
    """``--strip-default-attrs`` / ``--fill-default-attrs`` (one or the other)."""
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--strip-default-attrs", "--strip_default_attrs", dest="strip_default_attrs",
                        action="store_true", help="remove attrs whose value is their op's default (TensorFlow's "
                        "forward compatibility: an older TensorFlow can then load the graph)")
    choice.add_argument("--fill-default-attrs", "--fill_default_attrs", dest="fill_default_attrs",
                        action="store_true", help="write out every attr that has a default (the reverse, for "
                        "graphs saved with stripped default attrs and tools that need every attr)")


def apply_default_attrs(args: argparse.Namespace, graph_def: graph_pb2.GraphDef) -> graph_pb2.GraphDef:
    """``graph_def`` with default attrs stripped or filled as the flags ask (itself when neither)."""
    if getattr(args, "strip_default_attrs", False):
        return strip_default_attrs(graph_def)
    if getattr(args, "fill_default_attrs", False):
        return fill_default_attrs(graph_def)
    return graph_def


def output_is_text(path: str | os.PathLike[str], text: bool | None) -> bool:
    """The output format: the flag when one was given, else text for a ``.pbtxt`` name."""
    if text is not None:
        return text
    return os.fspath(path).lower().endswith(TEXT_SUFFIXES)


def parse_binds(items: list[str]) -> dict[str, object]:
    """``--bind NAME=VALUE`` items -> {name: value} (values as ``values.parse_bind_value`` reads them)."""
    binds: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise GraphSurgeonError(f"--bind '{item}': expected NAME=VALUE, e.g. is_training=false")
        binds[name.strip()] = parse_bind_value(value)
    return binds
