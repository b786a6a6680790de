"""load_graph(path): a GraphDef from .pb, .pbtxt, .meta (binary or text) or a SavedModel directory."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
from collections.abc import Iterable

from google.protobuf import message as _message
from google.protobuf.unknown_fields import UnknownFieldSet

from graphsurgeon._proto import graph_pb2, meta_graph_pb2, saved_model_pb2
from graphsurgeon.errors import FileFormatError, InvalidGraphError, OutputError, UnsupportedError
from graphsurgeon.formats import protofile, tensors
from graphsurgeon.formats.varint import wire_fields

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
        available_tags: every meta graph's tag set in the SavedModel, in file order.
    """

    graph_def: graph_pb2.GraphDef
    path: pathlib.Path
    kind: str
    text: bool
    meta_graph_def: meta_graph_pb2.MetaGraphDef | None = None
    saved_model_dir: pathlib.Path | None = None
    tags: tuple[str, ...] = ()
    available_tags: tuple[tuple[str, ...], ...] = ()


def _first_text_field(data: bytes) -> str | None:
    """The first field name of a protobuf text file, skipping ``#`` comment lines."""
    text = data[:65536].decode("utf-8", errors="ignore")
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    match = _TEXT_FIRST_FIELD.search(text)
    return match.group(1) if match else None


def _text_kind(data: bytes) -> str | None:
    first = _first_text_field(data)
    for kind, fields in _TEXT_FIELDS.items():
        if first in fields:
            return kind
    return None


def _top_level_fields(data: bytes, limit: int = 64) -> list[tuple[int, int]]:
    """(field number, wire type) of the first top-level fields; stops at anything malformed."""
    out: list[tuple[int, int]] = []
    try:
        for field, wire, *_ in wire_fields(data):
            out.append((field, wire))
            if len(out) == limit:
                break
    except ValueError:
        pass
    return out


_OP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_>.\-]*$")


def plausible_graph(graph: graph_pb2.GraphDef) -> bool:
    """Whether a binary parse really was a GraphDef: no unknown top-level fields, sane op names.

    Binary protobuf parsers accept many byte strings (docs/formats.md §7), so "it parsed" is not
    enough: a MetaGraphDef read as a GraphDef yields a node whose op is a serialized OpList.
    """
    if len(UnknownFieldSet(graph)):
        return False
    return all(n.name and n.name.isprintable() and _OP_NAME.match(n.op) for n in graph.node)


def _broken_node(graph: graph_pb2.GraphDef) -> str | None:
    """For a graph that is mostly plausible (no unknown fields, at least half its nodes sane), what is
    wrong with its first implausible node; ``None`` when the graph is sane or is not a graph at all."""
    if not graph.node or len(UnknownFieldSet(graph)):
        return None
    bad = [(i, n) for i, n in enumerate(graph.node)
           if not (n.name and n.name.isprintable() and _OP_NAME.match(n.op))]
    if not bad or 2 * len(bad) > len(graph.node):
        return None
    i, node = bad[0]
    if not node.name or not node.name.isprintable():
        return f"node #{i} (op '{node.op[:60]}') has {'an empty' if not node.name else 'an unprintable'} name"
    return f"node '{node.name}' has op {node.op[:60]!r}, which is not an op name"


def _plausible_meta(meta: meta_graph_pb2.MetaGraphDef) -> bool:
    if len(UnknownFieldSet(meta)) or not (meta.HasField("graph_def") or meta.HasField("meta_info_def")):
        return False
    return plausible_graph(meta.graph_def)


def _describe_text(data: bytes) -> str | None:
    """The first line of ``data`` when it is readable text (for error messages), else ``None``."""
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or not all(c.isprintable() or c in "\t\r\n" for c in text):
        return None
    return lines[0][:60]


def _parse_text(data: bytes, source: str) -> tuple[str, _message.Message]:
    kind = _text_kind(data)
    if kind is None:
        first = _first_text_field(data) or "?"
        raise FileFormatError(
            f"'{source}' is a protobuf text file but not a GraphDef, MetaGraphDef or SavedModel: it starts "
            f"with field '{first}' (a text GraphDef starts with 'node {{', a MetaGraphDef with 'meta_info_def {{')")
    msg_type = {GRAPH_DEF: graph_pb2.GraphDef, META_GRAPH_DEF: meta_graph_pb2.MetaGraphDef,
                SAVED_MODEL: saved_model_pb2.SavedModel}[kind]
    return kind, protofile.parse_message(data, msg_type, source, text=True, strict=True)


def _parse_binary(data: bytes, source: str) -> tuple[str, _message.Message]:
    fields = _top_level_fields(data, limit=2)
    if fields and fields[0] == (1, 0):
        # saved_model_schema_version, a varint, comes first; GraphDef and MetaGraphDef start with a message.
        saved_model = _try_parse(data, saved_model_pb2.SavedModel)
        if saved_model is not None and not len(UnknownFieldSet(saved_model)):
            return SAVED_MODEL, saved_model
    graph = _try_parse(data, graph_pb2.GraphDef)
    meta = _try_parse(data, meta_graph_pb2.MetaGraphDef)
    graph_ok = graph is not None and plausible_graph(graph)
    meta_ok = meta is not None and _plausible_meta(meta)
    if graph is not None and graph_ok and (not meta_ok or len(graph.node) > 0):
        return GRAPH_DEF, graph
    if meta_ok:
        return META_GRAPH_DEF, meta
    for kind, candidate in ((GRAPH_DEF, graph), (META_GRAPH_DEF, meta)):
        if candidate is None or (kind == META_GRAPH_DEF and len(UnknownFieldSet(candidate))):
            continue
        broken = _broken_node(candidate if kind == GRAPH_DEF else candidate.graph_def)
        if broken:
            raise InvalidGraphError(f"'{source}' is a {kind} with a broken node: {broken}; re-export the graph")
    first_line = _describe_text(data)
    if first_line is not None:
        raise FileFormatError(
            f"'{source}' is a text file, not a TensorFlow graph (it starts with '{first_line}'); "
            "give a GraphDef (.pb/.pbtxt), a MetaGraphDef (.meta) or a SavedModel directory")
    if graph is not None and graph.node and not all(_OP_NAME.match(n.op) for n in graph.node):
        raise FileFormatError(f"'{source}' is not a GraphDef, MetaGraphDef or SavedModel protobuf "
                              "(it parses, but as nonsense: node ops are not op names)")
    raise FileFormatError(f"'{source}' is not a GraphDef, MetaGraphDef or SavedModel protobuf "
                          "(binary protobuf parsing failed; is it a checkpoint, an image or another format?)")


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
    if not p.exists() and pathlib.Path(f"{p}.index").is_file():
        meta = pathlib.Path(f"{p}.meta")
        raise FileFormatError(f"'{p}' is a checkpoint prefix, not a graph"
                              + (f"; its graph is '{meta}'" if meta.is_file() else
                                 "; give the graph (.pb, .pbtxt, .meta) it was saved from"))
    data = protofile.read_bytes(p, "graph file")
    if not data.strip():
        raise FileFormatError(f"graph file '{p}' is empty")
    text = protofile.looks_like_text(data)
    kind, msg = _parse_text(data, str(p)) if text else _parse_binary(data, str(p))
    if isinstance(msg, saved_model_pb2.SavedModel):
        meta = choose_meta_graph(msg, tags, str(saved_model_dir or p))
        return LoadedGraph(graph_def=meta.graph_def, path=p, kind=SAVED_MODEL, text=text, meta_graph_def=meta,
                           saved_model_dir=saved_model_dir or p.parent, tags=tuple(meta.meta_info_def.tags),
                           available_tags=tuple(tuple(m.meta_info_def.tags) for m in msg.meta_graphs))
    if isinstance(msg, meta_graph_pb2.MetaGraphDef):
        return LoadedGraph(graph_def=msg.graph_def, path=p, kind=META_GRAPH_DEF, text=text, meta_graph_def=msg)
    return LoadedGraph(graph_def=msg, path=p, kind=GRAPH_DEF, text=text)


def save_graph(graph_def: graph_pb2.GraphDef, path: str | os.PathLike[str], text: bool = False,
               inputs: Iterable[str | os.PathLike[str]] = ()) -> int:
    """Writes ``graph_def`` to ``path`` (binary, or text with ``text=True``); returns bytes written.

    The file is written to a temporary name and renamed into place; ``inputs`` are never
    overwritten; the 2 GiB protobuf limit is checked (naming the largest nodes) before writing.
    """
    hollow = hollow_constants(graph_def)
    if hollow:
        raise OutputError(f"{len(hollow)} constant(s) have a shape but no values (e.g. '{hollow[0]}'): hollow "
                          "constants from freeze(..., defer_values=True) can only be written by the streaming "
                          "writer (FreezeResult.write, formats.stream.save_frozen)")
    lazy = lazy_constants(graph_def)
    if lazy:
        raise OutputError(f"{len(lazy)} constant(s) of a lazily read graph (e.g. '{lazy[0]}') hold a token, not "
                          "their values: write the light graph with its LazyGraph.write")
    return protofile.save_message(graph_def, path, text=text, inputs=inputs)


def lazy_constants(graph_def: graph_pb2.GraphDef) -> list[str]:
    """Names of the Consts whose ``tensor_content`` is a ``formats.lazy_graph`` token."""
    out = []
    for node in graph_def.node:
        if node.op == "Const" and "value" in node.attr:
            tensor = node.attr["value"].tensor
            if tensor.ByteSize() <= 512 and tensors.parse_lazy_token(tensor.tensor_content) is not None:
                out.append(node.name)
    return out


def hollow_constants(graph_def: graph_pb2.GraphDef) -> list[str]:
    """Names of the Consts that hold a dtype and a non-empty shape but no values at all: what
    ``freeze(..., defer_values=True)`` leaves for the streaming writer to fill. TensorFlow itself
    never writes such a constant (it would read it as zeros), so any other writer refuses them."""
    out = []
    for node in graph_def.node:
        if node.op != "Const" or "value" not in node.attr:
            continue
        tensor = node.attr["value"].tensor
        if not tensor.HasField("tensor_shape") or tensor.tensor_shape.unknown_rank:
            continue
        dims = [d.size for d in tensor.tensor_shape.dim]
        if not dims or any(d <= 0 for d in dims):
            continue  # a scalar's missing value and an empty tensor are written as they are
        if {f.name for f, _ in tensor.ListFields()} <= {"dtype", "tensor_shape"}:
            out.append(node.name)
    return out


# --- facts about a loaded file --------------------------------------------------------------------

#: the ops that call a library function by name (``f`` attr); ``graph.functions`` uses the same set.
CALL_OPS = frozenset({"StatefulPartitionedCall", "PartitionedCall"})


def as_loaded(graph: LoadedGraph | graph_pb2.GraphDef | str | os.PathLike[str],
              tags: Iterable[str] | str | None = None) -> LoadedGraph:
    """A LoadedGraph from a LoadedGraph, a GraphDef (ours or TensorFlow's), or a path (``load_graph``):
    the one place that accepts all three."""
    if isinstance(graph, LoadedGraph):
        return graph
    if isinstance(graph, graph_pb2.GraphDef):
        return LoadedGraph(graph_def=graph, path=pathlib.Path("<GraphDef>"), kind=GRAPH_DEF, text=False)
    if isinstance(graph, (str, os.PathLike)):
        return load_graph(graph, tags=tags)
    if hasattr(graph, "SerializeToString") and hasattr(graph, "node") and hasattr(graph, "library"):
        # another GraphDef class (TensorFlow's own tf.compat.v1.GraphDef): same schema, re-parsed
        return as_loaded(graph_pb2.GraphDef.FromString(graph.SerializeToString()))
    raise TypeError(f"graph must be a LoadedGraph, a GraphDef or a path, not {type(graph).__name__}")


def is_tf2_saved_model(loaded: LoadedGraph) -> bool:
    """True for a TF2 SavedModel: an object graph with concrete functions that top-level calls run.

    Such a graph's variables are ``VarHandleOp`` nodes captured by ``StatefulPartitionedCall``
    nodes and read inside library functions, which TF1-style freezing does not reach.
    """
    meta = loaded.meta_graph_def
    if loaded.kind != SAVED_MODEL or meta is None or not meta.HasField("object_graph_def"):
        return False
    concrete = meta.object_graph_def.concrete_functions
    if not concrete:
        return False
    return any(n.attr["f"].func.name in concrete for n in meta.graph_def.node if n.op in CALL_OPS and "f" in n.attr)


def default_checkpoint(loaded: LoadedGraph) -> str | None:
    """The checkpoint that belongs to a graph when none is given (the one rule for the package): a
    SavedModel's ``variables/variables``, or the prefix of a ``.meta`` file (``model.ckpt-10000.meta``
    -> ``model.ckpt-10000``); ``None`` for anything else. Whether the files exist is not checked."""
    if loaded.saved_model_dir is not None:
        return str(pathlib.Path(loaded.saved_model_dir) / "variables" / "variables")
    return meta_checkpoint(loaded.path) if loaded.kind == META_GRAPH_DEF else None


def meta_checkpoint(path: str | os.PathLike[str]) -> str | None:
    """The checkpoint prefix a ``.meta`` file was saved beside (``model.ckpt-10000.meta`` ->
    ``model.ckpt-10000``), or ``None`` when the name does not end in ``.meta``."""
    text = os.fspath(path)
    return text[: -len(".meta")] if text.endswith(".meta") else None
