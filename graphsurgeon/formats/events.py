"""TensorBoard event files, written (and read back) without TensorFlow.

An event file is a TFRecord file of ``Event`` protos. Each record is framed as::

    uint64 length (little-endian) | uint32 masked crc32c(length bytes) | data | uint32 masked crc32c(data)

The first event carries ``file_version = "brain.Event:2"``; a graph is one more event whose
``graph_def`` holds the serialized GraphDef (what ``tf.compat.v1.summary.FileWriter(logdir,
graph_def=...)`` writes). TensorBoard finds event files by the ``tfevents`` in their name.

    path = write_graph_event(graph_def, "logs/")      # -> logs/events.out.tfevents.<time>.<host>.<pid>.graphsurgeon
    events = list(read_events(path))                  # [Event(file_version=...), Event(graph_def=...)]
"""

from __future__ import annotations

import os
import pathlib
import socket
import struct
import time
from collections.abc import Iterator
from typing import Protocol

import google_crc32c

from graphsurgeon._proto import event_pb2
from graphsurgeon.errors import FileFormatError, OutputError
from graphsurgeon.formats.checkpoint import mask_crc
from graphsurgeon.formats.protofile import atomic_writer, check_size

FILE_VERSION = "brain.Event:2"
_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")

__all__ = ["FILE_VERSION", "encode_record", "event_file_name", "read_events", "read_records", "write_events",
           "write_graph_event"]


class _Serializable(Protocol):
    def SerializeToString(self) -> bytes: ...  # noqa: N802 - the protobuf method name


def _masked_crc(data: bytes) -> int:
    return mask_crc(google_crc32c.value(data))


def encode_record(data: bytes) -> bytes:
    """One TFRecord: length, masked crc32c of the length, data, masked crc32c of the data."""
    length = struct.pack("<Q", len(data))
    return length + _FOOTER.pack(_masked_crc(length)) + data + _FOOTER.pack(_masked_crc(data))


def read_records(path: str | os.PathLike[str]) -> Iterator[bytes]:
    """The records of a TFRecord file, each checked against its crc32c; damage raises ``FileFormatError``."""
    data = pathlib.Path(path).read_bytes()
    pos = 0
    while pos < len(data):
        if pos + _HEADER.size > len(data):
            raise FileFormatError(f"'{path}': truncated record header at byte {pos}")
        length, length_crc = _HEADER.unpack_from(data, pos)
        if _masked_crc(data[pos:pos + 8]) != length_crc:
            raise FileFormatError(f"'{path}': record length checksum mismatch at byte {pos}")
        start = pos + _HEADER.size
        end = start + length
        if end + _FOOTER.size > len(data):
            raise FileFormatError(f"'{path}': truncated record at byte {pos} ({length} bytes announced)")
        payload = data[start:end]
        (data_crc,) = _FOOTER.unpack_from(data, end)
        if _masked_crc(payload) != data_crc:
            raise FileFormatError(f"'{path}': record data checksum mismatch at byte {pos}")
        yield payload
        pos = end + _FOOTER.size


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
