"""Flags shared by the subcommands, spelled the same everywhere.

* ``-o`` / ``--output`` (freeze_graph: ``--output_graph``): where to write the graph;
* ``--text`` (also ``--output-text``) / ``--binary``: the output format; without either, a name
  ending in ``.pbtxt`` is written as text and anything else as binary;
* ``--outputs`` (freeze_graph: ``--output_node_names``): the nodes or tensors to keep;
* ``--bind NAME=VALUE``: turn a placeholder into a constant (values as ``gs run --input`` reads them).
"""

from __future__ import annotations

import os
from typing import Any

from graphsurgeon.errors import GraphSurgeonError
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
