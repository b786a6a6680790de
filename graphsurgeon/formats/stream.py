"""Streaming GraphDef writer: constants' bytes go from the checkpoint to the output in bounded chunks.

A frozen graph is mostly constants whose bytes already sit, in exactly the right layout, in the
checkpoint's data shards: ``tf.make_tensor_proto`` (and :func:`~graphsurgeon.formats.tensors.array_to_tensor`)
stores a numeric tensor of more than one element as raw little-endian ``tensor_content``, which
is what a little-endian tensor bundle stores too. ``freeze(..., defer_values=True)`` therefore
leaves such constants *hollow* (their ``value`` attr holds dtype and shape, no content) and lists
them in ``FreezeResult.deferred``; :func:`write_graph` then writes the GraphDef record by record,
computing every length prefix from the known sizes, and copies each deferred constant's bytes
from the shard into the output in chunks, extending its crc32c on the way. The result is byte for
byte ``graph_def.SerializeToString(deterministic=True)`` of the same graph built in one piece, but
neither the graph nor any tensor is ever held in memory in full.

The 2 GiB protobuf limit is checked from the computed size before the output is opened, and the
file is written through :func:`~graphsurgeon.formats.protofile.atomic_writer`: on any error
(a checksum mismatch included) nothing is left at the output path.

Wire layout of a deferred constant (deterministic serialization writes fields in number order and
map entries sorted by key)::

    NodeDef  = name(1) op(2) input(3) device(4) | attr(5) entries sorted by key | fields 6, 7, unknown
    attr entry "value" = 0x0a 0x05 "value" 0x12 len(AttrValue)
    AttrValue = 0x42 len(TensorProto)                       (field 8: tensor)
    TensorProto = dtype(1) tensor_shape(2) 0x22 len(content) content   (field 4: tensor_content)
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from graphsurgeon._proto import graph_pb2, node_def_pb2
from graphsurgeon.errors import CheckpointError, ChecksumError, OutputError
from graphsurgeon.formats import protofile
from graphsurgeon.formats.checkpoint import Checkpoint
from graphsurgeon.formats.sstable import unmask_crc
from graphsurgeon.formats.tensors import _CONTENT_TYPES, NUMPY_DTYPES
from graphsurgeon.formats.varint import decode_varint, encode_varint

log = logging.getLogger(__name__)

#: Bytes read from a data shard, checksummed and written per step.
CHUNK_SIZE = 8 << 20
#: With fsync, the writer waits for the disk writes of the bytes written this much earlier (see _Writeback).
WRITEBACK_LAG = 32 << 20

_NODE_TAG = b"\x0a"  # GraphDef.node: field 1, length-delimited
_ATTR_TAG = b"\x2a"  # NodeDef.attr: field 5
_VALUE_KEY = b"\x0a\x05value"  # map entry key (field 1) "value"
_ENTRY_VALUE_TAG = b"\x12"  # map entry value (field 2)
_TENSOR_TAG = b"\x42"  # AttrValue.tensor: field 8
_CONTENT_TAG = b"\x22"  # TensorProto.tensor_content: field 4
_HEAD_FIELDS = ("name", "op", "input", "device")


def streamable(checkpoint: object, key: str, dtype: int) -> bool:
    """True when constant ``key`` of ``dtype`` can be written by copying its stored bytes.

    That holds for an unpartitioned tensor of a little-endian :class:`Checkpoint` whose stored
    dtype is ``dtype``, a dtype that ``array_to_tensor`` writes as ``tensor_content``, with more
    than one element (scalars and one-element tensors use the typed ``*_val`` fields; strings,
    bool, complex, 4/2-bit types, partitions and big-endian files take the in-memory path).
    """

    if not isinstance(checkpoint, Checkpoint) or getattr(checkpoint, "big_endian", True):
        return False
    try:
        info = checkpoint.info(key)
    except Exception:  # noqa: BLE001 - anything odd: let the in-memory path report it
        return False
    if info.num_slices or info.dtype != dtype or dtype not in _CONTENT_TYPES or info.num_elements <= 1:
        return False
    return info.nbytes == info.num_elements * NUMPY_DTYPES[dtype].itemsize


@dataclasses.dataclass
class DeferredRecord:
    """One hollow constant: its record is ``head + <content bytes from the shard> + tail``."""

    name: str
    key: str
    index: int  # position in graph_def.node
    head: bytes  # node record tag and length, the node up to and including the content's tag and length
    tail: bytes  # the rest of the node record after the content
    nbytes: int

    @property
    def record_size(self) -> int:
        return len(self.head) + self.nbytes + len(self.tail)


@dataclasses.dataclass
class WritePlan:
    """What :func:`write_graph` will write, known before a byte is written.

    Attributes:
        size: the exact size of the output in bytes.
        streamed_bytes: how many of them are copied from the checkpoint.
        largest: the largest nodes as ``(name, serialized size)``, largest first.
    """

    size: int
    streamed_bytes: int
    largest: list[tuple[str, int]]
    _hollow: bytes = dataclasses.field(repr=False, default=b"")
    _spans: list[tuple[int, int]] = dataclasses.field(repr=False, default_factory=list)
    _deferred: list[DeferredRecord] = dataclasses.field(repr=False, default_factory=list)


def _hollow_error(name: str, why: str) -> OutputError:
    return OutputError(f"deferred constant '{name}' {why}; it was not made by freeze(..., defer_values=True)")


def deferred_record(node: node_def_pb2.NodeDef, key: str, nbytes: int, index: int) -> DeferredRecord:
    """Splits a hollow Const's final record around its tensor_content."""
    if "value" not in node.attr:
        raise _hollow_error(node.name, "has no 'value' attr")
    value = node.attr["value"]
    fields = [f.name for f, _ in value.ListFields()]
    if fields != ["tensor"]:
        raise _hollow_error(node.name, f"has a 'value' attr with fields {fields}, expected only a tensor")
    tensor_fields = {f.name for f, _ in value.tensor.ListFields()}
    if not tensor_fields <= {"dtype", "tensor_shape"}:
        raise _hollow_error(node.name, f"holds tensor fields {sorted(tensor_fields)}, expected dtype and shape only")
    tensor_head = value.tensor.SerializeToString(deterministic=True) + _CONTENT_TAG + encode_varint(nbytes)
    tensor_len = len(tensor_head) + nbytes
    attr_head = _TENSOR_TAG + encode_varint(tensor_len)
    attr_len = len(attr_head) + tensor_len
    entry_head = _VALUE_KEY + _ENTRY_VALUE_TAG + encode_varint(attr_len)
    entry_len = len(entry_head) + attr_len
    value_head = _ATTR_TAG + encode_varint(entry_len) + entry_head + attr_head + tensor_head

    head_node = node_def_pb2.NodeDef()
    for field in _HEAD_FIELDS:
        if field == "input":
            head_node.input.extend(node.input)
        else:
            setattr(head_node, field, getattr(node, field))
    # The attr map as the runtime orders it (upb does not sort keys plainly bytewise: "value_"
    # comes before "value"), split around the "value" entry.
    attrs = node_def_pb2.NodeDef()
    attrs.attr.MergeFrom(node.attr)
    encoded = attrs.SerializeToString(deterministic=True)
    start = end = -1
    pos = 0
    while pos < len(encoded):
        length, body = decode_varint(encoded, pos + 1)
        key_len, key_start = decode_varint(encoded, body + 1)
        if encoded[key_start:key_start + key_len] == b"value":
            start, end = pos, body + length
        pos = body + length
    if start < 0:  # pragma: no cover - checked above
        raise _hollow_error(node.name, "has no 'value' attr")
    rest = node_def_pb2.NodeDef()
    rest.CopyFrom(node)
    for field in (*_HEAD_FIELDS, "attr"):
        rest.ClearField(field)
    node_head = head_node.SerializeToString(deterministic=True) + encoded[:start] + value_head
    node_tail = encoded[end:] + rest.SerializeToString(deterministic=True)
    node_len = len(node_head) + nbytes + len(node_tail)
    return DeferredRecord(name=node.name, key=key, index=index, head=_NODE_TAG + encode_varint(node_len) + node_head,
                     tail=node_tail, nbytes=nbytes)


def plan_graph(graph_def: graph_pb2.GraphDef, checkpoint: Any, deferred: Mapping[str, str]) -> WritePlan:
    """Computes the exact output of :func:`write_graph` without reading any tensor data.

    Args:
        graph_def: the GraphDef; the nodes named in ``deferred`` are hollow Consts.
        checkpoint: the :class:`~graphsurgeon.formats.checkpoint.Checkpoint` holding their values.
        deferred: hollow Const node name -> checkpoint key.

    Raises:
        OutputError: a deferred node is missing, not hollow, or its key cannot be streamed.
    """
    hollow = graph_def.SerializeToString(deterministic=True)
    spans: list[tuple[int, int]] = []  # (start, end) of each node record in ``hollow``
    pos = 0
    count = len(graph_def.node)
    for _ in range(count):
        if hollow[pos] != _NODE_TAG[0]:  # pragma: no cover - deterministic serialization writes nodes first
            raise OutputError("unexpected GraphDef layout while planning the streamed write")
        length, body = decode_varint(hollow, pos + 1)
        spans.append((pos, body + length))
        pos = body + length
    plans: list[DeferredRecord] = []
    if deferred:
        wanted = dict(deferred)
        for index, node in enumerate(graph_def.node):
            key = wanted.pop(node.name, None)
            if key is None:
                continue
            if node.op != "Const":
                raise _hollow_error(node.name, f"is a {node.op}, not a Const")
            if not streamable(checkpoint, key, node.attr["dtype"].type):
                raise _hollow_error(node.name, f"reads key '{key}', which cannot be streamed from the checkpoint")
            info = checkpoint.info(key)
            tensor = node.attr["value"].tensor if "value" in node.attr else None
            if tensor is not None and (tensor.dtype != info.dtype or tensor.tensor_shape.unknown_rank or
                                       tuple(d.size for d in tensor.tensor_shape.dim) != tuple(info.shape)):
                raise _hollow_error(node.name, f"does not have the dtype and shape of key '{key}' "
                                               f"({info.dtype_name}{list(info.shape)})")
            plans.append(deferred_record(node, key, info.nbytes, index))
        if wanted:
            raise OutputError(f"deferred constant(s) {sorted(wanted)[:5]} are not in the graph")
    size = len(hollow)
    sizes = {}
    for item in plans:
        start, end = spans[item.index]
        size += item.record_size - (end - start)
        sizes[item.name] = item.record_size
    nodes = graph_def.node
    by_size = sorted(range(count), key=lambda i: spans[i][0] - spans[i][1])[:5]
    largest = [(nodes[i].name, spans[i][1] - spans[i][0]) for i in by_size]
    largest = sorted({**dict(largest), **sizes}.items(), key=lambda item: -item[1])[:5]
    return WritePlan(size=size, streamed_bytes=sum(p.nbytes for p in plans), largest=largest,
                     _hollow=hollow, _spans=spans, _deferred=plans)


class _Writeback:
    """Starts the disk writes of a file being written while it is written (Linux ``sync_file_range``).

    Without it, an fsync at the end waits for every byte at once, after all of them have been
    copied. Here each chunk's writeback starts as soon as it is written, and the writer waits for
    the chunk written ``lag`` bytes earlier, so the disk works while the copy goes on and the final
    fsync (still done, for the metadata and the disk cache) has little left to wait for. Where
    ``sync_file_range`` is missing (not Linux) or refused (a file system without it), this does
    nothing and the final fsync does all the work. Durability never depends on it.
    """

    _WAIT_BEFORE, _WRITE, _WAIT_AFTER = 1, 2, 4

    def __init__(self, fd: int, lag: int) -> None:
        self._fd = fd
        self._lag = lag
        self._started = 0  # writeback started for bytes [0, _started)
        self._waited = 0  # and waited for in [0, _waited)
        self._call = _sync_file_range()

    def written(self, end: int) -> None:
        """Bytes ``[0, end)`` of the file have been written (flushed to the kernel)."""
        call = self._call
        if call is None or end <= self._started:
            return
        if call(self._fd, self._started, end - self._started, self._WRITE) != 0:
            self._call = None  # not supported here: leave it all to the final fsync
            return
        self._started = end
        if end - self._waited > 2 * self._lag:
            upto = end - self._lag
            if call(self._fd, self._waited, upto - self._waited,
                    self._WAIT_BEFORE | self._WRITE | self._WAIT_AFTER) != 0:
                self._call = None
                return
            self._waited = upto


_SYNC_FILE_RANGE: list[Any] = []


def _sync_file_range() -> Any:
    """libc's ``sync_file_range(fd, offset, nbytes, flags)`` through ctypes, or None where there is none."""
    if not _SYNC_FILE_RANGE:
        call = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                call = ctypes.CDLL(None, use_errno=True).sync_file_range
                call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
                call.restype = ctypes.c_int
            except (OSError, AttributeError, ImportError):
                call = None
        _SYNC_FILE_RANGE.append(call)
    return _SYNC_FILE_RANGE[0]


class _Copier:
    """Copies byte ranges of the data shards into the output through one reused buffer.

    One buffer for the whole write: a new ``bytes`` per chunk costs a fresh mapping and a page
    fault per 4 KiB on every chunk, which made the copy several times slower than ``cat``. Plain
    reads, not the checkpoint's memory map: mapped pages would count toward this process's
    resident memory until the map is dropped, so a 1 GiB tensor would make a 1 GiB process.
    """

    def __init__(self, checkpoint: Any, out: IO[bytes], chunk_size: int, on_bytes: Callable[[int], None],
                 writeback: _Writeback | None) -> None:
        import numpy as np

        self.checkpoint = checkpoint
        self.out = out
        self.on_bytes = on_bytes
        self.writeback = writeback
        self.files: dict[int, io.FileIO] = {}
        self.buffer = bytearray(chunk_size)
        self.view = memoryview(self.buffer)
        # google_crc32c takes read-only buffers without a release hook, such as numpy arrays, not memoryviews
        self.array = np.frombuffer(self.buffer, dtype=np.uint8)

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()

    def copy(self, item: DeferredRecord, offset: int) -> None:
        """Copies ``item``'s stored bytes to the output, which is at ``offset``, checking their crc32c."""
        checkpoint = self.checkpoint
        entry = checkpoint.entry(item.key)
        path = checkpoint.data_paths[entry.shard_id]
        handle = self.files.get(entry.shard_id)
        if handle is None:
            try:
                handle = self.files[entry.shard_id] = open(path, "rb", buffering=0)  # noqa: SIM115 - see close()
            except OSError as err:
                raise CheckpointError(f"cannot read data shard '{path}': {err.strerror or err}") from None
        handle.seek(entry.offset)
        verify = bool(getattr(checkpoint, "verify", True))
        if verify:
            import google_crc32c
        remaining = int(entry.size)
        crc = 0
        out, view, array, writeback = self.out, self.view, self.array, self.writeback
        while remaining:
            step = min(len(view), remaining)
            n = handle.readinto(view[:step])
            if not n:
                raise CheckpointError(f"data shard '{path}' ended {remaining} bytes early while reading "
                                      f"tensor '{item.key}'; the file is truncated")
            if verify:
                crc = google_crc32c.extend(crc, array[:n])
            out.write(view[:n])
            remaining -= n
            offset += n
            if writeback is not None:
                writeback.written(offset)
            self.on_bytes(n)
        if verify and crc != unmask_crc(entry.crc32c):
            raise ChecksumError(
                f"tensor '{item.key}' in '{path}' (bytes {entry.offset}..{entry.offset + entry.size}) fails its "
                f"checksum (stored crc32c {unmask_crc(entry.crc32c):#010x}, computed {crc:#010x}); the data file is "
                "corrupt, nothing was written. Re-copy the checkpoint")


def write_graph(graph_def: graph_pb2.GraphDef, path: str | os.PathLike[str], checkpoint: Any = None,
                deferred: Mapping[str, str] | None = None, *, inputs: Iterable[str | os.PathLike[str]] = (),
                progress: Callable[[int, int], None] | None = None, chunk_size: int = CHUNK_SIZE,
                fsync: bool = True) -> int:
    """Writes ``graph_def`` to ``path``, streaming the deferred constants' bytes from ``checkpoint``.

    The file is byte-identical to ``graph_def.SerializeToString(deterministic=True)`` with every
    deferred constant's ``tensor_content`` filled in from the checkpoint.

    Args:
        graph_def: the graph; hollow Consts for the nodes in ``deferred``. Not modified.
        path: the output file, written atomically (temp name + rename).
        checkpoint: the Checkpoint the deferred values come from (unused when nothing is deferred).
        deferred: hollow Const node name -> checkpoint key.
        inputs: files that must not be overwritten (the checkpoint's own files are added).
        progress: called as ``progress(bytes_written, total)`` as the file grows.
        chunk_size: bytes read and written per step.
        fsync: wait for the data to reach the disk before renaming the file into place.

    Returns:
        The number of bytes written.

    Raises:
        OutputError: the graph would exceed the 2 GiB protobuf limit (checked before anything is
            written; the message names the largest constants), or the output cannot be written.
        ChecksumError / CheckpointError: a tensor's stored bytes are damaged; no file is left.
    """
    deferred = deferred or {}
    plan = plan_graph(graph_def, checkpoint, deferred)
    protected = list(inputs)
    if deferred and checkpoint is not None:
        protected += [*checkpoint.data_paths, checkpoint.index_path]
    protofile.check_output_path(path, protected)
    protofile.check_size(plan.size, path, plan.largest)
    written = 0

    def on_bytes(n: int) -> None:
        nonlocal written
        written += n
        if progress is not None:
            progress(written, plan.size)

    hollow = memoryview(plan._hollow)
    with protofile.atomic_writer(path, protected, fsync=fsync) as out:
        writeback = _Writeback(out.fileno(), WRITEBACK_LAG) if fsync and plan.streamed_bytes > chunk_size else None
        copier = _Copier(checkpoint, out, chunk_size, on_bytes, writeback)
        try:
            pos = 0
            for item in plan._deferred:
                start, end = plan._spans[item.index]
                out.write(hollow[pos:start])
                on_bytes(start - pos)
                out.write(item.head)
                on_bytes(len(item.head))
                copier.copy(item, written)
                out.write(item.tail)
                on_bytes(len(item.tail))
                pos = end
            out.write(hollow[pos:])
            on_bytes(len(hollow) - pos)
            if out.tell() != plan.size:  # pragma: no cover - a bug in the size computation
                raise OutputError(f"internal error: wrote {out.tell()} bytes to '{path}', planned {plan.size}")
        finally:
            copier.close()
    log.info("wrote %s (%s, %s streamed from the checkpoint)", path, protofile.format_bytes(plan.size),
             protofile.format_bytes(plan.streamed_bytes))
    return plan.size


def save_frozen(result: Any, path: str | os.PathLike[str], *, inputs: Iterable[str | os.PathLike[str]] = (),
                progress: Callable[[int, int], None] | None = None, fsync: bool = True) -> int:
    """Writes a ``FreezeResult`` (``freeze(..., defer_values=True)`` or not) to ``path`` as a binary GraphDef.

    Returns the number of bytes written; see :func:`write_graph` for the errors.
    """
    return write_graph(result.graph_def, path, getattr(result, "checkpoint", None),
                       getattr(result, "deferred", None) or {}, inputs=inputs, progress=progress,
                       fsync=fsync)


class TerminalProgress:
    """``progress(done, total)`` printing bytes written and rate on one terminal line, at most 5 times a second.

    Prints only when ``stream`` is a TTY and ``total`` is at least ``min_total`` bytes (for the CLI;
    the library itself never prints).
    """

    def __init__(self, stream: IO[str] | None = None, min_total: int = 64 << 20, label: str = "writing") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.min_total = min_total
        self.label = label
        self._enabled: bool | None = None
        self._start = 0.0
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        if self._enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            self._enabled = bool(isatty and isatty()) and total >= self.min_total
            self._start = self._last = time.monotonic()
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.2 and done < total:
            return
        self._last = now
        rate = done / max(now - self._start, 1e-6)
        fmt = protofile.format_bytes
        self.stream.write(f"\rgs: {self.label} {fmt(done)} / {fmt(total)} ({100 * done // max(total, 1)}%), "
                          f"{fmt(int(rate))}/s   ")
        self._shown = True
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


__all__ = ["CHUNK_SIZE", "TerminalProgress", "WritePlan", "plan_graph", "save_frozen", "streamable",
           "write_graph"]
