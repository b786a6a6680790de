"""Raw Snappy block decompression (no framing), for SSTable blocks of trailer type 1.

TensorFlow's bundle writers never compress, but its table reader accepts Snappy blocks, so a
reader must too. Index blocks are small, so a pure-Python decoder is fast enough.
Format: https://github.com/google/snappy/blob/main/format_description.txt
"""

from __future__ import annotations

from graphsurgeon.formats.varint import decode_varint


class SnappyError(ValueError):
    """The bytes are not a valid raw Snappy block; the caller names the file."""


def decompress(data: bytes, max_size: int | None = None) -> bytes:
    """Decompresses one raw Snappy block.

    Args:
        data: the compressed bytes.
        max_size: refuse (``SnappyError``) a block that claims to expand beyond this many bytes,
            checked before anything is allocated.

    Returns:
        The uncompressed bytes; raises ``SnappyError`` on any malformed input.
    """
    try:
        size, pos = decode_varint(data, 0, max_bits=32)
    except ValueError:
        raise SnappyError("bad length preamble") from None
    if max_size is not None and size > max_size:
        raise SnappyError(f"block claims {size} uncompressed bytes, more than the allowed {max_size}")
    out = bytearray()
    end = len(data)
    while pos < end:
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            length = tag >> 2
            if length >= 60:
                extra = length - 59
                if pos + extra > end:
                    raise SnappyError("truncated literal length")
                length = int.from_bytes(data[pos:pos + extra], "little")
                pos += extra
            length += 1
            if pos + length > end:
                raise SnappyError("literal runs past the end of the block")
            out += data[pos:pos + length]
            pos += length
            continue
        if kind == 1:
            if pos + 1 > end:
                raise SnappyError("truncated copy")
            length = 4 + ((tag >> 2) & 7)
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        else:
            width = 2 if kind == 2 else 4
            if pos + width > end:
                raise SnappyError("truncated copy")
            length = 1 + (tag >> 2)
            offset = int.from_bytes(data[pos:pos + width], "little")
            pos += width
        if offset == 0 or offset > len(out):
            raise SnappyError(f"copy offset {offset} points before the start of the output")
        if len(out) + length > size:
            raise SnappyError("output longer than its declared size")
        start = len(out) - offset
        if offset >= length:
            out += out[start:start + length]
        else:  # overlapping copy repeats the last `offset` bytes
            for i in range(length):
                out.append(out[start + i])
        if len(out) > size:
            raise SnappyError("output longer than its declared size")
    if len(out) != size:
        raise SnappyError(f"block expands to {len(out)} bytes, but declares {size}")
    return bytes(out)
