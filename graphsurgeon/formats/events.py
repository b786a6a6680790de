"""TensorBoard event files holding a graph, written and read without TensorFlow.

An event file (``events.out.tfevents.<time>.<host>``) is a TFRecord file: each record is

    uint64 length | uint32 masked crc32c of the 8 length bytes | data | uint32 masked crc32c of data

(little-endian; the mask is LevelDB's, as in checkpoints). Each record's data is a serialized
``tensorflow.Event``. TensorBoard's graph tab needs two: the first with ``file_version =
"brain.Event:2"``, then one whose ``graph_def`` holds the serialized GraphDef.

The Event message is encoded and decoded here by hand in protobuf's wire format rather than
through a generated class: only five of its fields are used (``wall_time`` = 1, a double;
``step`` = 2, an int64; ``file_version`` = 3, a string; ``graph_def`` = 4, bytes;
``source_metadata`` = 10, a message whose field 1 is the writer's name), and the rest of
its schema (summaries, logs, session logs) would pull a dozen more TensorFlow .proto files into
``proto/``. Readers skip fields they do not use, as protobuf does.
"""

from __future__ import annotations

import os
import pathlib
import socket
import struct
import time
from collections.abc import Iterable, Iterator

import google_crc32c

from graphsurgeon._proto import graph_pb2
from graphsurgeon.errors import ChecksumError, FileFormatError
from graphsurgeon.formats import protofile
from graphsurgeon.formats.checkpoint import mask_crc
from graphsurgeon.formats.varint import decode_varint, encode_varint

FILE_VERSION = "brain.Event:2"

# Event field numbers and wire types (tensorflow/core/util/event.proto).
_WALL_TIME = (1 << 3) | 1     # double, fixed64
_STEP = (2 << 3) | 0          # int64, varint
_FILE_VERSION = (3 << 3) | 2  # string
_GRAPH_DEF = (4 << 3) | 2     # bytes
_SOURCE_METADATA = (10 << 3) | 2  # SourceMetadata {string writer = 1;}
_WRITER = (1 << 3) | 2

#: Who wrote the file, in the first event's source_metadata (TensorFlow's own events writer puts
#: "tensorflow.core.util.events_writer" there).
WRITER = "graphsurgeon"


def masked_crc32c(data: bytes) -> int:
    return mask_crc(google_crc32c.value(data))


def encode_record(data: bytes) -> bytes:
    """One TFRecord: length, its masked crc, the data, the data's masked crc."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


def iter_records(data: bytes, source: str = "<bytes>") -> Iterator[bytes]:
    """The data of each TFRecord in ``data``; ``ChecksumError``/``FileFormatError`` on damage."""
    pos = 0
    number = 0
    view = memoryview(data)
    while pos < len(data):
        if len(data) - pos < 12:
            raise FileFormatError(f"'{source}' ends inside the header of record {number} (truncated file?)")
        header = bytes(view[pos:pos + 8])
        (length,) = struct.unpack("<Q", header)
        (crc,) = struct.unpack("<I", view[pos + 8:pos + 12])
        if crc != masked_crc32c(header):
            raise ChecksumError(f"record {number} of '{source}' (byte {pos}) fails its length checksum; "
                                "the file is damaged or is not a TFRecord / event file")
        start = pos + 12
        if start + length + 4 > len(data):
            raise FileFormatError(f"record {number} of '{source}' says {length} bytes but the file ends first "
                                  "(truncated file?)")
        record = bytes(view[start:start + length])
        (crc,) = struct.unpack("<I", view[start + length:start + length + 4])
        if crc != masked_crc32c(record):
            raise ChecksumError(f"record {number} of '{source}' (byte {pos}) fails its data checksum; the file "
                                "is damaged")
        yield record
        pos = start + length + 4
        number += 1


def looks_like_records(data: bytes) -> bool:
    """True when ``data`` starts with a TFRecord header whose length checksum holds."""
    if len(data) < 12:
        return False
    return struct.unpack("<I", data[8:12])[0] == masked_crc32c(data[:8])


def encode_event(wall_time: float, step: int = 0, file_version: str | None = None,
                 graph_def: bytes | None = None, writer: str | None = None) -> bytes:
    """A serialized ``tensorflow.Event`` with the given fields (see the module docstring), in field
    order, as TensorFlow's own writer serializes it."""
    out = bytearray()
    out += encode_varint(_WALL_TIME) + struct.pack("<d", wall_time)
    if step:
        out += encode_varint(_STEP) + encode_varint(step & 0xFFFFFFFFFFFFFFFF)
    for key, value in ((_FILE_VERSION, file_version.encode("utf-8") if file_version is not None else None),
                       (_GRAPH_DEF, graph_def)):
        if value is not None:
            out += encode_varint(key) + encode_varint(len(value)) + value
    if writer is not None:
        name = writer.encode("utf-8")
        metadata = encode_varint(_WRITER) + encode_varint(len(name)) + name
        out += encode_varint(_SOURCE_METADATA) + encode_varint(len(metadata)) + metadata
    return bytes(out)


def decode_event(data: bytes, source: str = "<bytes>") -> dict[str, object]:
    """``{"wall_time", "step", "file_version", "graph_def", "writer"}`` of a serialized Event (absent: missing)."""
    out: dict[str, object] = {}
    pos = 0
    try:
        while pos < len(data):
            key, pos = decode_varint(data, pos)
            wire = key & 7
            if key == _WALL_TIME:
                (out["wall_time"],) = struct.unpack("<d", data[pos:pos + 8])
                pos += 8
            elif wire == 0:
                value, pos = decode_varint(data, pos)
                if key == _STEP:
                    out["step"] = value - (1 << 64) if value >= 1 << 63 else value
            elif wire == 1:
                pos += 8
            elif wire == 5:
                pos += 4
            elif wire == 2:
                length, pos = decode_varint(data, pos)
                if pos + length > len(data):
                    raise ValueError("field runs past the end")
                if key == _FILE_VERSION:
                    out["file_version"] = data[pos:pos + length].decode("utf-8", "replace")
                elif key == _GRAPH_DEF:
                    out["graph_def"] = data[pos:pos + length]
                elif key == _SOURCE_METADATA:
                    inner = data[pos:pos + length]
                    if inner[:1] == bytes([_WRITER]):
                        size, start = decode_varint(inner, 1)
                        out["writer"] = inner[start:start + size].decode("utf-8", "replace")
                pos += length
            else:
                raise ValueError(f"wire type {wire}")
    except (ValueError, struct.error) as err:
        raise FileFormatError(f"'{source}' holds a record that is not an Event protobuf ({err})") from err
    return out


def event_file_name(wall_time: float | None = None, suffix: str = "") -> str:
    """``events.out.tfevents.<seconds>.<host><suffix>``, the name TensorBoard looks for."""
    seconds = int(time.time() if wall_time is None else wall_time)
    return f"events.out.tfevents.{seconds}.{socket.gethostname()}{suffix}"


def is_event_file_name(path: str | os.PathLike[str]) -> bool:
    name = pathlib.Path(path).name
    return "tfevents" in name


def graph_event_bytes(graph_def: graph_pb2.GraphDef, wall_time: float | None = None) -> bytes:
    """The whole event file: the file_version event, then the graph event."""
    wall_time = time.time() if wall_time is None else wall_time
    graph = protofile.serialize_message(graph_def)
    return (encode_record(encode_event(wall_time, file_version=FILE_VERSION, writer=WRITER))
            + encode_record(encode_event(wall_time, graph_def=graph)))


def write_graph_events(graph_def: graph_pb2.GraphDef, path: str | os.PathLike[str],
                       inputs: Iterable[str | os.PathLike[str]] = (), wall_time: float | None = None) -> int:
    """Writes an event file holding ``graph_def`` atomically; returns the bytes written.

    ``path`` may be a directory (a TensorBoard log directory): the file is then named
    ``events.out.tfevents.<time>.<host>`` inside it. Checks the 2 GiB limit of the graph first.
    """
    target = pathlib.Path(path)
    if target.is_dir():
        target = target / event_file_name(wall_time)
    protofile.check_size(graph_def.ByteSize(), target)
    data = graph_event_bytes(graph_def, wall_time)
    with protofile.atomic_writer(target, inputs) as handle:
        handle.write(data)
    return len(data)


def read_graph_events(path: str | os.PathLike[str]) -> graph_pb2.GraphDef:
    """The (last) GraphDef in an event file; ``FileFormatError`` when it holds none."""
    data = protofile.read_bytes(path, "event file")
    graph_bytes = None
    for record in iter_records(data, str(path)):
        event = decode_event(record, str(path))
        if "graph_def" in event:
            graph_bytes = event["graph_def"]
    if graph_bytes is None:
        raise FileFormatError(f"event file '{path}' holds no graph (no Event with a graph_def); was it written "
                              "with the graph, e.g. tf.summary.FileWriter(logdir, graph)?")
    assert isinstance(graph_bytes, bytes)
    return protofile.parse_message(graph_bytes, graph_pb2.GraphDef, f"{path} (graph_def event)", text=False)
