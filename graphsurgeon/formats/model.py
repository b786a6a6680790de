"""load_graph(path): a GraphDef from .pb, .pbtxt, .meta (binary or text) or a SavedModel directory."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
from collections.abc import Iterable

from google.protobuf import message as _message

from graphsurgeon._proto import graph_pb2, meta_graph_pb2, saved_model_pb2
from graphsurgeon.errors import FileFormatError, UnsupportedError
from graphsurgeon.formats import protofile

GRAPH_DEF = "GraphDef"
META_GRAPH_DEF = "MetaGraphDef"
SAVED_MODEL = "SavedModel"

DEFAULT_TAGS = ("serve",)

_TEXT_FIRST_FIELD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[{:<]", re.MULTILINE)
_TEXT_FIELDS = {
    GRAPH_DEF: {"node", "library", "versions", "version", "debug_info"},
    META_GRAPH_DEF: {"meta_info_def", "graph_def", "saver_def", "collection_def", "signature_def",
                     "asset_file_def", "object_graph_def"},
    SAVED_MODEL: {"saved_model_schema_version", "meta_graphs"},
}


@dataclasses.dataclass
class LoadedGraph:
    """What ``load_graph`` found: the GraphDef plus whatever its container carried.

    Attributes:
        graph_def: the graph (for a MetaGraphDef or SavedModel, the chosen meta graph's).
        path: the file that was read (``saved_model.pb`` inside a SavedModel directory).
        kind: ``"GraphDef"``, ``"MetaGraphDef"`` or ``"SavedModel"``.
        text: whether the file was in protobuf text format.
        meta_graph_def: the MetaGraphDef (SaverDef, signatures, collections), when there is one.
        saved_model_dir: the SavedModel directory, when the graph came from one.
        tags: the chosen meta graph's tag set, for a SavedModel.
    """

    graph_def: graph_pb2.GraphDef
    path: pathlib.Path
    kind: str
    text: bool
    meta_graph_def: meta_graph_pb2.MetaGraphDef | None = None
    saved_model_dir: pathlib.Path | None = None
    tags: tuple[str, ...] = ()


def _text_kind(data: bytes) -> str | None:
    text = data[:65536].decode("utf-8", errors="ignore")
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    match = _TEXT_FIRST_FIELD.search(text)
    if not match:
        return None
    for kind, fields in _TEXT_FIELDS.items():
        if match.group(1) in fields:
            return kind
    return None


def _top_level_fields(data: bytes, limit: int = 64) -> list[tuple[int, int]]:
    """(field number, wire type) of the first top-level fields; stops at anything malformed."""
    out: list[tuple[int, int]] = []
    pos = 0
    while pos < len(data) and len(out) < limit:
        key, pos = _varint(data, pos)
        if key is None:
            break
        field, wire = key >> 3, key & 7
        out.append((field, wire))
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            if length is None:
                break
            pos += length
        elif wire == 5:
            pos += 4
        else:
            break
        if pos is None:
            break
    return out


def _varint(data: bytes, pos: int) -> tuple[int | None, int]:
    result = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    return None, pos


def _binary_kind(data: bytes) -> str:
    fields = _top_level_fields(data)
    numbers = {f for f, _ in fields}
    if fields and fields[0] == (1, 0):
        return SAVED_MODEL  # saved_model_schema_version, a varint, comes first
    if any(f in (3, 5, 6, 7) and w == 2 for f, w in fields):
        return META_GRAPH_DEF  # saver_def, signature_def, asset_file_def, object_graph_def
    if 4 in numbers and any(f == 4 and w == 2 for f, w in fields):
        # GraphDef.versions vs MetaGraphDef.collection_def: decide by parsing below.
        return ""
    return ""


def _parse_graph_or_meta(data: bytes, source: str, text: bool) -> tuple[str, _message.Message]:
    kind = _text_kind(data) if text else _binary_kind(data)
    if kind == SAVED_MODEL:
        return kind, protofile.parse_message(data, saved_model_pb2.SavedModel, source, text=text)
    if kind:
        msg_type = graph_pb2.GraphDef if kind == GRAPH_DEF else meta_graph_pb2.MetaGraphDef
        return kind, protofile.parse_message(data, msg_type, source, text=text)
    # Undecided binary: GraphDef and MetaGraphDef both start with field 1. Parse as both
    # and keep the one that makes sense (a real GraphDef's nodes all have an op).
    graph = _try_parse(data, graph_pb2.GraphDef)
    if graph is not None and all(n.op for n in graph.node):
        return GRAPH_DEF, graph
    meta = _try_parse(data, meta_graph_pb2.MetaGraphDef)
    if meta is not None and (meta.HasField("graph_def") or meta.HasField("meta_info_def")):
        return META_GRAPH_DEF, meta
    if graph is not None:
        bad = next(n for n in graph.node if not n.op)
        raise FileFormatError(f"'{source}' is not a valid GraphDef: node '{bad.name}' has no op")
    protofile.parse_message(data, graph_pb2.GraphDef, source, text=False)  # raises with details
    raise FileFormatError(f"'{source}' is neither a GraphDef nor a MetaGraphDef")


def _try_parse(data: bytes, msg_type: type[_message.Message]) -> _message.Message | None:
    msg = msg_type()
    try:
        msg.ParseFromString(data)
    except (_message.DecodeError, RuntimeError, ValueError):
        return None
    return msg


def find_saved_model_file(saved_model_dir: pathlib.Path) -> pathlib.Path:
    """``saved_model.pb`` or ``saved_model.pbtxt`` inside a directory, or a clear error."""
    for name in ("saved_model.pb", "saved_model.pbtxt"):
        candidate = saved_model_dir / name
        if candidate.is_file():
            return candidate
    if (saved_model_dir / "saved_model.cpb").exists():
        raise UnsupportedError(f"'{saved_model_dir}' holds a chunked SavedModel (saved_model.cpb), "
                               "which graphsurgeon does not read")
    found = sorted(p.name for p in saved_model_dir.iterdir())[:10]
    raise FileFormatError(
        f"directory '{saved_model_dir}' holds no saved_model.pb or saved_model.pbtxt"
        + (f" (it contains: {', '.join(found)})" if found else " (it is empty)")
        + "; give a graph file (.pb, .pbtxt, .meta) or a SavedModel directory")


def choose_meta_graph(saved_model: saved_model_pb2.SavedModel, tags: Iterable[str] | str | None,
                      source: str) -> meta_graph_pb2.MetaGraphDef:
    """The meta graph whose tag set equals ``tags`` (default: ``serve``, or the only one)."""
    available = [tuple(m.meta_info_def.tags) for m in saved_model.meta_graphs]
    if not available:
        raise FileFormatError(f"SavedModel '{source}' holds no meta graphs")
    if tags is None:
        if len(available) == 1:
            return saved_model.meta_graphs[0]
        wanted = set(DEFAULT_TAGS)
    else:
        wanted = {t.strip() for t in (tags.split(",") if isinstance(tags, str) else tags) if t.strip()}
    for meta, have in zip(saved_model.meta_graphs, available):
        if set(have) == wanted:
            return meta
    listing = "; ".join(",".join(t) or "(no tags)" for t in available)
    raise FileFormatError(f"SavedModel '{source}' has no meta graph with tags '{','.join(sorted(wanted))}'; "
                          f"available tag sets: {listing} (choose one with --saved_model_tags)")


def load_graph(path: str | os.PathLike[str], tags: Iterable[str] | str | None = None) -> LoadedGraph:
    """Reads a graph from a .pb / .pbtxt / .meta file or a SavedModel directory.

    The format (GraphDef, MetaGraphDef or SavedModel; binary or text) is detected from the
    content, not the extension. For a SavedModel, ``tags`` chooses the meta graph (default
    ``serve``, or the only one there is). Raises ``FileFormatError`` naming the path when the
    file is missing or is none of these.
    """
    p = pathlib.Path(path)
    saved_model_dir = None
    if p.is_dir():
        saved_model_dir = p
        p = find_saved_model_file(p)
    data = protofile.read_bytes(p, "graph file")
    if not data.strip():
        raise FileFormatError(f"graph file '{p}' is empty")
    text = protofile.looks_like_text(data)
    try:
        kind, msg = _parse_graph_or_meta(data, str(p), text)
    except FileFormatError:
        if not text:
            raise
        kind, msg = _parse_graph_or_meta(data, str(p), False)
        text = False
    if isinstance(msg, saved_model_pb2.SavedModel):
        meta = choose_meta_graph(msg, tags, str(saved_model_dir or p))
        return LoadedGraph(graph_def=meta.graph_def, path=p, kind=SAVED_MODEL, text=text, meta_graph_def=meta,
                           saved_model_dir=saved_model_dir or p.parent, tags=tuple(meta.meta_info_def.tags))
    if isinstance(msg, meta_graph_pb2.MetaGraphDef):
        return LoadedGraph(graph_def=msg.graph_def, path=p, kind=META_GRAPH_DEF, text=text, meta_graph_def=msg)
    return LoadedGraph(graph_def=msg, path=p, kind=GRAPH_DEF, text=text)


def save_graph(graph_def: graph_pb2.GraphDef, path: str | os.PathLike[str], text: bool = False,
               inputs: Iterable[str | os.PathLike[str]] = ()) -> int:
    """Writes ``graph_def`` to ``path`` (binary, or text with ``text=True``); returns bytes written.

    The file is written to a temporary name and renamed into place; ``inputs`` are never
    overwritten; the 2 GiB protobuf limit is checked (naming the largest nodes) before writing.
    """
    return protofile.save_message(graph_def, path, text=text, inputs=inputs)
