"""Protobuf / LevelDB base-128 varints: the one encoder and decoder the formats share."""

from __future__ import annotations


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
