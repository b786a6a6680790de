"""Convert between graph file formats: GraphDef binary/text, MetaGraphDef, SavedModel, event files.

Inputs are anything ``load_graph`` reads (a GraphDef or MetaGraphDef, binary or text, or a
SavedModel directory) and TensorBoard event files holding a graph. The output format comes from
``to`` or the output's name:

| kind      | written                   | named                                 |
|-----------|---------------------------|---------------------------------------|
| `pb`      | binary GraphDef           | `.pb`, `.graphdef`                    |
| `pbtxt`   | text GraphDef             | `.pbtxt`, `.pbtext`, `.txt`, `.prototxt` |
| `meta`    | binary MetaGraphDef       | `.meta`                               |
| `metatxt` | text MetaGraphDef         | `.metatxt`, `.meta.txt`, `.meta.pbtxt`|
| `events`  | TensorBoard event file    | a name containing `tfevents`, or a directory |

A MetaGraphDef or SavedModel input gives its (chosen) graph for `pb`/`pbtxt`/`events`, and its
whole MetaGraphDef for `meta`/`metatxt`; a bare GraphDef written as `meta` is wrapped in a
MetaGraphDef holding only the graph. Every writer is atomic and never overwrites an input.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Iterable

from graphsurgeon._proto import graph_pb2, meta_graph_pb2
from graphsurgeon.errors import GraphSurgeonError
from graphsurgeon.formats import events, protofile
from graphsurgeon.formats.model import GRAPH_DEF, LoadedGraph, load_graph

KINDS = ("pb", "pbtxt", "meta", "metatxt", "events")
EVENTS = "events"

_EXTENSIONS = {".pb": "pb", ".graphdef": "pb", ".pbtxt": "pbtxt", ".pbtext": "pbtxt", ".txt": "pbtxt",
               ".prototxt": "pbtxt", ".meta": "meta", ".metatxt": "metatxt"}
_TEXT_TWIN = {"pb": "pbtxt", "pbtxt": "pbtxt", "meta": "metatxt", "metatxt": "metatxt"}
_BINARY_TWIN = {"pb": "pb", "pbtxt": "pb", "meta": "meta", "metatxt": "meta"}


def output_kind(path: str | os.PathLike[str], to: str | None = None, text: bool | None = None) -> str:
    """The kind to write (``KINDS``) from ``to``, else the name; ``text`` turns pb<->pbtxt, meta<->metatxt."""
    if to is not None:
        if to not in KINDS:
            raise GraphSurgeonError(f"unknown output format '{to}'; choose one of {', '.join(KINDS)}")
        kind = to
    else:
        p = pathlib.Path(path)
        name = p.name.lower()
        if events.is_event_file_name(name) or p.is_dir():
            kind = EVENTS
        elif name.endswith((".meta.txt", ".meta.pbtxt")):
            kind = "metatxt"
        else:
            found = _EXTENSIONS.get(p.suffix.lower())
            if found is None:
                raise GraphSurgeonError(
                    f"cannot tell the output format of '{path}' from its name; name it .pb, .pbtxt, .meta, "
                    ".metatxt or events.out.tfevents.*, or give --to " + "|".join(KINDS))
            kind = found
    if text is not None and kind != EVENTS:
        kind = (_TEXT_TWIN if text else _BINARY_TWIN)[kind]
    elif text and kind == EVENTS:
        raise GraphSurgeonError("an event file has no text form; drop --text or write .pbtxt")
    return kind


def load_any(path: str | os.PathLike[str], tags: Iterable[str] | str | None = None) -> LoadedGraph:
    """``load_graph``, plus TensorBoard event files (recognized by name or by their record framing)."""
    p = pathlib.Path(path)
    if p.is_file() and (events.is_event_file_name(p) or _starts_like_records(p)):
        return LoadedGraph(graph_def=events.read_graph_events(p), path=p, kind=GRAPH_DEF, text=False)
    return load_graph(path, tags=tags)


def _starts_like_records(path: pathlib.Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    return events.looks_like_records(head)


def convert(src: str | os.PathLike[str], dst: str | os.PathLike[str], to: str | None = None,
            text: bool | None = None, tags: Iterable[str] | str | None = None,
            transform: Callable[[graph_pb2.GraphDef], graph_pb2.GraphDef] | None = None,
            stripped_default_attrs: bool | None = None) -> tuple[str, int]:
    """Reads ``src`` and writes it to ``dst`` in the chosen kind; returns ``(kind, bytes written)``.

    ``transform`` rewrites the graph on the way (``gs convert --strip-default-attrs`` passes
    ``strip_default_attrs``); ``stripped_default_attrs`` sets that flag of a MetaGraphDef output.
    """
    kind = output_kind(dst, to, text)
    loaded = load_any(src, tags=tags)
    inputs = [src, loaded.path]
    graph_def = loaded.graph_def if transform is None else transform(loaded.graph_def)
    if kind == EVENTS:
        return kind, events.write_graph_events(graph_def, dst, inputs=inputs)
    if kind in ("meta", "metatxt"):
        meta = loaded.meta_graph_def
        if meta is None or transform is not None or stripped_default_attrs is not None:
            meta = meta_graph_pb2.MetaGraphDef()
            if loaded.meta_graph_def is not None:
                meta.CopyFrom(loaded.meta_graph_def)
            meta.graph_def.CopyFrom(graph_def)
            if stripped_default_attrs is not None:
                meta.meta_info_def.stripped_default_attrs = stripped_default_attrs
        return kind, protofile.save_message(meta, dst, text=kind == "metatxt", inputs=inputs)
    return kind, protofile.save_message(graph_def, dst, text=kind == "pbtxt", inputs=inputs)
