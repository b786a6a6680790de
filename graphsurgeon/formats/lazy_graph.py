"""Read a big binary GraphDef without holding its constants, and write a changed copy of it.

A frozen graph is mostly the ``tensor_content`` of a few hundred constants. :func:`open_lazy`
parses the file node by node from a memory map; a constant whose content is at least
``MIN_TENSOR_BYTES`` keeps only its dtype and shape, and its ``tensor_content`` becomes a short
token (``formats.tensors.LAZY_PREFIX``) that names the content's byte range in the file. The
result is a light GraphDef that the passes work on as usual: ``tensor_to_array`` reads a token's
bytes from the file when a pass asks for the value (so a pass that reads a token without it
fails loudly instead of reading zeros), and a copied or renamed node keeps its token.

:meth:`LazyGraph.write` writes a graph node by node: a node that still holds a token is written
around the content, which is copied from the input file in chunks (plain reads, not the map: the
mapped pages would count as this process's memory). :meth:`LazyGraph.spill`, called after each
pass, moves the big constants a pass made (folded batch-norm weights) to a temporary file the same
way, so the passes that follow copy a light graph. The file is byte for byte what
``save_graph`` writes for the same graph read in full (deterministic serialization writes a
GraphDef's nodes, field 1, first and each in the layout ``formats.stream`` relies on).

Only binary GraphDefs of at least ``MIN_FILE_BYTES`` are read this way; anything else (text, a
MetaGraphDef, a SavedModel, a small file, anything the node scanner does not recognize) goes to
``load_graph``.
"""

from __future__ import annotations

import dataclasses
import mmap
import os
import pathlib
import tempfile
from collections.abc import Iterable
from typing import IO, Any

from graphsurgeon._proto import graph_pb2, node_def_pb2, tensor_pb2
from graphsurgeon.errors import FileFormatError, OutputError
from graphsurgeon.formats import protofile, tensors
from graphsurgeon.formats.model import GRAPH_DEF, LoadedGraph, plausible_graph
from graphsurgeon.formats.stream import CHUNK_SIZE, deferred_record
from graphsurgeon.formats.varint import decode_varint, encode_varint, wire_fields

#: Files at least this big are read lazily. Read in full, a graph costs about 6x its size at the
#: peak (the bytes, the parsed graph, the passes' copies): under 8 MiB that stays within
#: 1.5x + 100 MiB; above it the lazy path keeps the peak near what the passes change.
MIN_FILE_BYTES = 8 << 20
#: Constants whose content has at least this many bytes stay in the file.
MIN_TENSOR_BYTES = 64 << 10

_NODE_TAG = b"\x0a"
#: A TensorProto holding a token (dtype, shape, 17-byte content) is smaller than this.
_TOKEN_TENSOR_MAX = 512
_GRAPH_FIELDS = {1: 2, 2: 2, 3: 0, 4: 2, 5: 2}  # GraphDef field -> wire type (node, library, version, versions, debug)


@dataclasses.dataclass(frozen=True)
class _Whole:
    """A node record written as it is (the shape ``deferred_record`` returns, with no content to copy)."""

    name: str
    head: bytes
    tail: bytes = b""

    @property
    def record_size(self) -> int:
        return len(self.head)


@dataclasses.dataclass(frozen=True)
class _Span:
    file: IO[bytes]  # the input file, or the spill file of constants the passes made
    offset: int
    size: int


def _only(data: Any, start: int, end: int, field: int) -> tuple[int, int, int] | None:
    """(field start, value start, value end) of ``field`` when it occurs exactly once, else None."""
    found = [(f_start, v_start, v_end) for f, wire, f_start, v_start, v_end in wire_fields(data, start, end)
             if f == field and wire == 2]
    return found[0] if len(found) == 1 else None


class LazyGraph:
    """A GraphDef file read with its big constants left in the file (see the module docstring).

    Attributes:
        loaded: the light graph as a ``LoadedGraph`` (kind GraphDef, binary).
        lazy_bytes: how many bytes of constant content stay in the file.
    """

    def __init__(self, path: pathlib.Path, min_tensor_bytes: int = MIN_TENSOR_BYTES,
                 spill_dir: str | os.PathLike[str] | None = None) -> None:
        self.path = path
        self.spill_dir = spill_dir
        self.min_tensor_bytes = min_tensor_bytes
        self.spilled_bytes = 0
        self._spill: IO[bytes] | None = None
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._stat = os.fstat(self._file.fileno())
        self._spans: list[_Span] = []
        self._reader = tensors.register_lazy_reader(self.read)
        self.lazy_bytes = 0
        try:
            graph = self._parse(min_tensor_bytes)
        except BaseException:
            self.close()
            raise
        self.loaded = LoadedGraph(graph_def=graph, path=path, kind=GRAPH_DEF, text=False)

    def close(self) -> None:
        tensors.unregister_lazy_reader(self._reader)
        self._file.close()
        if self._spill is not None:
            self._spill.close()

    def __enter__(self) -> LazyGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ----------------------------------------------------------------------------------

    def _parse(self, min_tensor_bytes: int) -> graph_pb2.GraphDef:
        graph = graph_pb2.GraphDef()
        rest = bytearray()
        with mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for i, (field, wire, f_start, v_start, v_end) in enumerate(wire_fields(data, 0, len(data))):
                if _GRAPH_FIELDS.get(field) != wire or (i < 2 and field != 1):  # TensorFlow writes nodes first
                    raise ValueError(f"top-level field {field} (wire type {wire}) is not a GraphDef's")
                if field != 1:
                    rest += data[f_start:v_end]
                    continue
                node = graph.node.add()
                if v_end - v_start < min_tensor_bytes or not self._parse_big_node(data, v_start, v_end, node,
                                                                                  min_tensor_bytes):
                    node.ParseFromString(data[v_start:v_end])
            if rest:
                graph.MergeFromString(bytes(rest))
        return graph

    def _parse_big_node(self, data: Any, start: int, end: int, node: node_def_pb2.NodeDef,
                        min_tensor_bytes: int) -> bool:
        """Parses a node whose ``value`` tensor_content is big into ``node`` with a token instead;
        False (``node`` untouched) when the node is anything else."""
        entries = [(f_start, v_start, v_end) for f, wire, f_start, v_start, v_end in wire_fields(data, start, end)
                   if f == 5 and wire == 2]
        value_entries = []
        for f_start, v_start, v_end in entries:
            key = _only(data, v_start, v_end, 1)
            if key is not None and data[key[1]:key[2]] == b"value":
                value_entries.append((f_start, v_start, v_end))
        if len(value_entries) != 1:
            return False
        entry_start, entry_body, entry_end = value_entries[0]
        attr = _only(data, entry_body, entry_end, 2)
        if attr is None:
            return False
        attr_fields = list(wire_fields(data, attr[1], attr[2]))
        if len(attr_fields) != 1 or attr_fields[0][:2] != (8, 2):  # AttrValue holds only its tensor
            return False
        _, _, _, t_start, t_end = attr_fields[0]
        content = _only(data, t_start, t_end, 4)
        if content is None or content[2] - content[1] < min_tensor_bytes:
            return False
        hollow = tensor_pb2.TensorProto.FromString(data[t_start:content[0]] + data[content[2]:t_end])
        if {f.name for f, _ in hollow.ListFields()} != {"dtype", "tensor_shape"} or hollow.tensor_shape.unknown_rank:
            return False
        size = content[2] - content[1]
        if _content_size(hollow) != size:
            return False
        node.ParseFromString(data[start:entry_start] + data[entry_end:end])
        tensor = node.attr["value"].tensor
        tensor.CopyFrom(hollow)
        tensor.tensor_content = tensors.lazy_token(self._reader, len(self._spans))
        self._spans.append(_Span(self._file, content[1], size))
        self.lazy_bytes += size
        return True

    def read(self, index: int) -> bytearray:
        """The content of lazy constant ``index``, read from the file into a new buffer."""
        span = self._spans[index]
        buffer = bytearray(span.size)
        self._read_into(span.file, memoryview(buffer), span.offset)
        return buffer

    def _read_into(self, file: IO[bytes], view: memoryview, offset: int) -> None:
        done = 0
        while done < len(view):
            n = os.preadv(file.fileno(), [view[done:]], offset + done)
            if not n:
                raise FileFormatError(f"'{self.path}' ended early while reading a constant; was it changed?")
            done += n

    def spill(self, graph_def: graph_pb2.GraphDef) -> None:
        """Moves the content of the big constants a pass made (folded batch-norm weights) to a
        temporary file (in ``spill_dir``), leaving tokens, so later passes copy a light graph."""
        for node in graph_def.node:
            if node.op != "Const" or "value" not in node.attr:
                continue
            tensor = node.attr["value"].tensor
            if tensor.ByteSize() < self.min_tensor_bytes:
                continue
            if {f.name for f, _ in tensor.ListFields()} != {"dtype", "tensor_shape", "tensor_content"}:
                continue
            content = tensor.tensor_content
            if _content_size(tensor) != len(content):
                continue
            if self._spill is None:
                self._spill = tempfile.TemporaryFile(dir=self.spill_dir)  # noqa: SIM115 - closed by close()
            offset = self._spill.seek(0, os.SEEK_END)
            self._spill.write(content)
            self._spill.flush()
            tensor.tensor_content = tensors.lazy_token(self._reader, len(self._spans))
            self._spans.append(_Span(self._spill, offset, len(content)))
            self.spilled_bytes += len(content)

    def _token_of(self, node: node_def_pb2.NodeDef) -> tuple[int, int] | None:
        """(reader, index) when ``node`` is a Const holding a lazy token (this graph's or another's)."""
        if node.op != "Const" or "value" not in node.attr:
            return None
        tensor = node.attr["value"].tensor
        if tensor.ByteSize() > _TOKEN_TENSOR_MAX:
            return None
        return tensors.parse_lazy_token(tensor.tensor_content)

    # --- writing ----------------------------------------------------------------------------------

    def write(self, graph_def: graph_pb2.GraphDef, path: str | os.PathLike[str], *,
              inputs: Iterable[str | os.PathLike[str]] = (), fsync: bool = True) -> int:
        """Writes ``graph_def`` (this file's light graph, changed or not) as a binary GraphDef, the
        lazy constants' content copied from this file. Returns the bytes written.

        Raises:
            OutputError: over the 2 GiB limit (checked before writing), a lazy constant a pass made
                unwritable, or the output cannot be written; nothing is left at ``path``.
            FileFormatError: the input file changed since it was read.
        """
        stat = os.stat(self.path)
        if (stat.st_size, stat.st_mtime_ns) != (self._stat.st_size, self._stat.st_mtime_ns):
            raise FileFormatError(f"'{self.path}' changed while it was being optimized; run again")
        light = graph_def.SerializeToString(deterministic=True)
        plans = self._plan(graph_def, light)
        size = len(light) + sum(record.record_size - (end - start) for start, end, record, _ in plans)
        if size > protofile.size_limit():
            sizes = {n.name: n.ByteSize() for n in graph_def.node}
            sizes.update({r.name: r.record_size for _, _, r, _ in plans})
            protofile.check_size(size, path, sorted(sizes.items(), key=lambda item: -item[1])[:5])
        buffer = bytearray(min(CHUNK_SIZE, max((s.size for s in self._spans), default=0)) or 1)
        view = memoryview(buffer)
        data = memoryview(light)
        with protofile.atomic_writer(path, [*inputs, self.path], fsync=fsync) as out:
            pos = 0
            for start, end, record, span in plans:
                out.write(data[pos:start])
                self._write_lazy(out, record, span, view)
                pos = end
            out.write(data[pos:])
            if out.tell() != size:  # pragma: no cover - a bug in the size computation
                raise OutputError(f"internal error: wrote {out.tell()} bytes to '{path}', planned {size}")
        return size

    def _split(self, node: node_def_pb2.NodeDef, token: tuple[int, int]) -> tuple[Any, _Span | None]:
        """The node's record split around its content, and where the content is."""
        if token[0] != self._reader or token[1] >= len(self._spans):
            raise OutputError(f"constant '{node.name}' holds a token of another lazily read graph; it cannot be "
                              "written with this one")
        span = self._spans[token[1]]
        hollow = node_def_pb2.NodeDef()
        hollow.CopyFrom(node)
        hollow.attr["value"].tensor.ClearField("tensor_content")
        try:
            return deferred_record(hollow, "", span.size, 0), span
        except OutputError:  # a pass gave the tensor other fields: write this one from memory
            hollow.attr["value"].tensor.tensor_content = bytes(self.read(token[1]))
            data = hollow.SerializeToString(deterministic=True)
            whole = _NODE_TAG + encode_varint(len(data)) + data
            return _Whole(node.name, whole), None

    def _plan(self, graph_def: graph_pb2.GraphDef, light: bytes) -> list[tuple[int, int, Any, _Span | None]]:
        """(record start, record end, split record, span) of each node of ``light`` (the serialized
        light graph, nodes first) that holds one of this file's tokens."""
        hits = []
        at = light.find(tensors.LAZY_PREFIX)
        while at >= 0:
            hits.append(at)
            at = light.find(tensors.LAZY_PREFIX, at + 1)
        plans: list[tuple[int, int, Any, _Span | None]] = []
        nodes = graph_def.node
        pos = index = h = 0
        while h < len(hits) and index < len(nodes):
            if light[pos] != _NODE_TAG[0]:  # pragma: no cover - deterministic serialization writes nodes first
                raise OutputError("unexpected GraphDef layout while planning the write")
            length, body = decode_varint(light, pos + 1)
            end = body + length
            if hits[h] < end:
                token = self._token_of(nodes[index])
                if token is not None:
                    plans.append((pos, end, *self._split(nodes[index], token)))
                while h < len(hits) and hits[h] < end:
                    h += 1
            pos, index = end, index + 1
        for hit in hits[h:]:
            token = tensors.parse_lazy_token(light[hit:hit + tensors.LAZY_TOKEN_SIZE])
            if token is not None and token[0] == self._reader:
                raise OutputError("a lazily read constant ended up outside the graph's nodes; it cannot be written")
        return plans

    def _write_lazy(self, out: IO[bytes], record: Any, span: _Span | None, view: memoryview) -> None:
        out.write(record.head)
        if span is None:
            return
        offset, remaining = span.offset, span.size
        while remaining:
            step = min(len(view), remaining)
            self._read_into(span.file, view[:step], offset)
            out.write(view[:step])
            offset += step
            remaining -= step
        out.write(record.tail)


def _content_size(tensor: tensor_pb2.TensorProto) -> int | None:
    """The bytes of ``tensor_content`` that ``tensor_to_array`` reads for this dtype and shape (None: none)."""
    if tensor.dtype not in tensors._CONTENT_TYPES or tensor.tensor_shape.unknown_rank:
        return None
    try:
        itemsize = tensors.to_numpy_dtype(tensors.base_dtype(tensor.dtype)).itemsize
    except Exception:  # noqa: BLE001 - an odd dtype: read it in full, as load_graph would
        return None
    count = 1
    for d in tensor.tensor_shape.dim:
        if d.size < 0:
            return None
        count *= d.size
    return count * itemsize


def open_lazy(path: str | os.PathLike[str], tags: Iterable[str] | str | None = None, *,
              min_file_bytes: int | None = None, min_tensor_bytes: int | None = None) -> LazyGraph | None:
    """A :class:`LazyGraph` for a binary GraphDef file of at least ``min_file_bytes`` (default
    ``MIN_FILE_BYTES``); ``None`` for anything else (read it with ``load_graph``). ``tags`` is
    accepted for symmetry with ``load_graph``: SavedModels are never read lazily."""
    p = pathlib.Path(path)
    limit = MIN_FILE_BYTES if min_file_bytes is None else min_file_bytes
    try:
        if not p.is_file() or p.stat().st_size < max(limit, 1):
            return None
        with open(p, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    if protofile.looks_like_text(head) or not head.startswith(_NODE_TAG):
        return None
    try:
        graph = LazyGraph(p, MIN_TENSOR_BYTES if min_tensor_bytes is None else min_tensor_bytes)
    except Exception:  # noqa: BLE001 - not a GraphDef this scanner recognizes: load_graph says what it is
        return None
    if len(graph.loaded.graph_def.node) < 2 or not plausible_graph(graph.loaded.graph_def):
        graph.close()
        return None
    return graph
