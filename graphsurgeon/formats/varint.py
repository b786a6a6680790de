"""Protobuf / LevelDB base-128 varints: the one encoder and decoder the formats share, and the walk
over a protobuf message's wire-format fields built on them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def encode_varint(value: int) -> bytes:
    """The base-128 varint encoding of a non-negative ``value`` (low 7 bits first)."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(data: bytes | bytearray | memoryview, pos: int, end: int | None = None,
                  max_bits: int = 64) -> tuple[int, int]:
    """Decodes the varint at ``data[pos:]``; returns ``(value, position after it)``.

    Raises ``ValueError`` when the varint runs past ``end`` (default: the end of ``data``) or
    needs more than ``max_bits`` bits; callers turn that into an error naming their file.
    """
    limit = len(data) if end is None else end
    result = shift = 0
    while pos < limit and shift < max_bits:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
    raise ValueError("truncated or overlong varint")


def wire_fields(data: Any, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, int, int, int]]:
    """``(field number, wire type, field start, value start, value end)`` of each field of the
    protobuf message in ``data[start:end]`` (default: to the end of ``data``), in file order.

    Raises ``ValueError`` at a malformed field (unknown wire type, a varint or value that runs past
    ``end``), after yielding the fields before it.
    """
    pos, end = start, len(data) if end is None else end
    while pos < end:
        field_start = pos
        key, pos = decode_varint(data, pos, end)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, after = decode_varint(data, pos, end)
        elif wire == 1:
            after = pos + 8
        elif wire == 2:
            length, pos = decode_varint(data, pos, end)
            after = pos + length
        elif wire == 5:
            after = pos + 4
        else:
            raise ValueError(f"wire type {wire}")
        if after > end:
            raise ValueError("field runs past its message")
        yield field, wire, field_start, pos, after
        pos = after
