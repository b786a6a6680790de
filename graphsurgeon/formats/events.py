"""TensorBoard event files, written (and read back) without TensorFlow.

An event file is a TFRecord file of ``Event`` protos. Each record is framed as::

    uint64 length (little-endian) | uint32 masked crc32c(length bytes) | data | uint32 masked crc32c(data)

The first event carries ``file_version = "brain.Event:2"``; a graph is one more event whose
``graph_def`` holds the serialized GraphDef (what ``tf.compat.v1.summary.FileWriter(logdir,
graph_def=...)`` writes). TensorBoard finds event files by the ``tfevents`` in their name.

    path = write_graph_event(graph_def, "logs/")      # -> logs/events.out.tfevents.<time>.<host>.<pid>.graphsurgeon
    events = list(read_events(path))                  # [Event(file_version=...), Event(graph_def=...)]
    write_graph_events(graph_def, "g.tfevents")       # a file (or a directory) for `gs convert`
    graph = read_graph_events(path)                   # the GraphDef back
"""

from __future__ import annotations

import os
import pathlib
import socket
import struct
import time
from collections.abc import Iterable, Iterator
from typing import Protocol

import google_crc32c

from graphsurgeon._proto import event_pb2, graph_pb2
from graphsurgeon.errors import ChecksumError, FileFormatError, OutputError
from graphsurgeon.formats.protofile import atomic_writer, check_size, parse_message, read_bytes, serialize_message
from graphsurgeon.formats.sstable import mask_crc

FILE_VERSION = "brain.Event:2"
_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")

__all__ = ["FILE_VERSION", "encode_record", "event_file_name", "is_event_file_name", "looks_like_records",
           "read_events", "read_graph_events", "read_records", "write_events", "write_graph_event",
           "write_graph_events"]


class _Serializable(Protocol):
    def SerializeToString(self) -> bytes: ...  # noqa: N802 - the protobuf method name


def _masked_crc(data: bytes) -> int:
    return mask_crc(google_crc32c.value(data))


def encode_record(data: bytes) -> bytes:
    """One TFRecord: length, masked crc32c of the length, data, masked crc32c of the data."""
    length = struct.pack("<Q", len(data))
    return length + _FOOTER.pack(_masked_crc(length)) + data + _FOOTER.pack(_masked_crc(data))


def looks_like_records(data: bytes) -> bool:
    """True when ``data`` starts with a TFRecord header whose length checksum holds."""
    return len(data) >= _HEADER.size and _HEADER.unpack_from(data)[1] == _masked_crc(data[:8])


def read_records(path: str | os.PathLike[str]) -> Iterator[bytes]:
    """The records of a TFRecord file, each checked against its crc32c: a damaged record raises
    ``ChecksumError``, a truncated file ``FileFormatError``, each naming the record and the file."""
    data = read_bytes(path, "event file")
    pos = number = 0
    while pos < len(data):
        if len(data) - pos < _HEADER.size:
            raise FileFormatError(f"'{path}' ends inside the header of record {number} (truncated file?)")
        length, length_crc = _HEADER.unpack_from(data, pos)
        if _masked_crc(data[pos:pos + 8]) != length_crc:
            raise ChecksumError(f"record {number} of '{path}' (byte {pos}) fails its length checksum; the file "
                                "is damaged or is not a TFRecord / event file")
        start = pos + _HEADER.size
        end = start + length
        if end + _FOOTER.size > len(data):
            raise FileFormatError(f"record {number} of '{path}' says {length} bytes but the file ends first "
                                  "(truncated file?)")
        payload = data[start:end]
        if _masked_crc(payload) != _FOOTER.unpack_from(data, end)[0]:
            raise ChecksumError(f"record {number} of '{path}' (byte {pos}) fails its data checksum; the file "
                                "is damaged")
        yield payload
        pos = end + _FOOTER.size
        number += 1


def read_events(path: str | os.PathLike[str]) -> Iterator[event_pb2.Event]:
    """The ``Event`` protos of an event file."""
    for record in read_records(path):
        event = event_pb2.Event()
        event.ParseFromString(record)
        yield event


def event_file_name(wall_time: float | None = None, suffix: str = ".graphsurgeon") -> str:
    """``events.out.tfevents.<10-digit seconds>.<host>.<pid><suffix>``, the name TensorBoard looks for."""
    seconds = int(time.time() if wall_time is None else wall_time)
    return f"events.out.tfevents.{seconds:010d}.{socket.gethostname()}.{os.getpid()}{suffix}"


def write_events(events: list[event_pb2.Event], logdir: str | os.PathLike[str],
                 file_name: str | None = None) -> pathlib.Path:
    """Writes ``events`` (after a ``file_version`` event, added when the first has none) as a new
    event file in ``logdir`` (created if missing); written to a temporary name and renamed into
    place. Returns the file's path."""
    directory = pathlib.Path(logdir)
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"cannot write TensorBoard events to '{directory}': it is a file, not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create TensorBoard log directory '{directory}': {err.strerror or err}") from err
    now = time.time()
    if not events or events[0].WhichOneof("what") != "file_version":
        events = [event_pb2.Event(wall_time=now, file_version=FILE_VERSION), *events]
    path = directory / (file_name or event_file_name(now))
    if file_name is None:
        base, n = path.name, 1
        while path.exists():  # two graphs written in one second by one process: keep both
            path, n = directory / f"{base}.{n}", n + 1
    with atomic_writer(path) as handle:
        for event in events:
            handle.write(encode_record(event.SerializeToString()))
    return path


def write_graph_event(graph_def: _Serializable | bytes, logdir: str | os.PathLike[str],
                      file_name: str | None = None) -> pathlib.Path:
    """Writes a GraphDef (ours, TensorFlow's, or already serialized bytes) as a new TensorBoard event
    file in ``logdir``: a ``file_version`` event and a ``graph_def`` event at step 0. Returns its path.

    Graphs with ops TensorFlow does not know (plugin nodes) are fine: TensorBoard draws them as they are.
    """
    data = graph_def if isinstance(graph_def, bytes) else graph_def.SerializeToString()
    check_size(len(data), pathlib.Path(logdir) / (file_name or event_file_name()))
    now = time.time()
    events = [event_pb2.Event(wall_time=now, file_version=FILE_VERSION),
              event_pb2.Event(wall_time=now, step=0, graph_def=data)]
    return write_events(events, logdir, file_name=file_name)


def is_event_file_name(path: str | os.PathLike[str]) -> bool:
    """Whether TensorBoard would take ``path`` for an event file (``tfevents`` in its name)."""
    return "tfevents" in pathlib.Path(path).name


def write_graph_events(graph_def: graph_pb2.GraphDef, path: str | os.PathLike[str],
                       inputs: Iterable[str | os.PathLike[str]] = (), wall_time: float | None = None) -> int:
    """Writes an event file holding ``graph_def`` at ``path`` atomically (never over one of ``inputs``);
    returns the bytes written. A directory ``path`` (a TensorBoard log directory) gets a new file named
    as TensorBoard expects. Checks the 2 GiB limit before writing anything."""
    target = pathlib.Path(path)
    if target.is_dir():
        target = target / event_file_name(wall_time)
    check_size(graph_def.ByteSize(), target)
    now = time.time() if wall_time is None else wall_time
    records = [event_pb2.Event(wall_time=now, file_version=FILE_VERSION),
               event_pb2.Event(wall_time=now, step=0, graph_def=serialize_message(graph_def))]
    data = b"".join(encode_record(event.SerializeToString()) for event in records)
    with atomic_writer(target, inputs) as handle:
        handle.write(data)
    return len(data)


def read_graph_events(path: str | os.PathLike[str]) -> graph_pb2.GraphDef:
    """The (last) GraphDef in an event file; ``FileFormatError`` when it holds none."""
    graph_bytes = None
    for event in read_events(path):
        if event.WhichOneof("what") == "graph_def":
            graph_bytes = event.graph_def
    if graph_bytes is None:
        raise FileFormatError(f"event file '{path}' holds no graph (no Event with a graph_def); was it written "
                              "with the graph, e.g. tf.compat.v1.summary.FileWriter(logdir, graph)?")
    return parse_message(graph_bytes, graph_pb2.GraphDef, f"{path} (graph_def event)", text=False)
