"""LevelDB-style sorted tables (SSTables), as a checkpoint's ``.index`` and a V1 checkpoint hold
them (docs/formats.md §1), and TensorFlow's masked CRC32C."""

from __future__ import annotations

import logging
import os
import struct

from graphsurgeon.errors import (
    CheckpointError,
    ChecksumError,
)
from graphsurgeon.formats import snappy
from graphsurgeon.formats.varint import decode_varint

logger = logging.getLogger(__name__)


_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_TRAILER_SIZE = 5
_MASK_DELTA = 0xA282EAD8


def mask_crc(crc: int) -> int:
    """The masked form of a crc32c, as stored on disk (LevelDB's ``crc32c::Mask``)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """Inverse of :func:`mask_crc`."""
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# --- SSTable ---------------------------------------------------------------------------------

def _read_block(data: bytes, offset: int, size: int, path: str, what: str, verify: bool) -> bytes:
    end = len(data) - _FOOTER_SIZE
    if offset < 0 or size < 0 or offset + size + _TRAILER_SIZE > end:
        raise CheckpointError(
            f"{what} of '{path}' points at bytes [{offset}, {offset + size + _TRAILER_SIZE}) beyond the "
            f"{end} bytes before the footer; the index file is truncated or corrupt")
    block = data[offset:offset + size]
    kind = data[offset + size]
    if verify:
        import google_crc32c  # here, so that a command reading no checkpoint never loads it

        stored = int.from_bytes(data[offset + size + 1:offset + size + 5], "little")
        actual = google_crc32c.extend(google_crc32c.value(block), bytes([kind]))
        if unmask_crc(stored) != actual:
            raise ChecksumError(
                f"{what} of '{path}' (bytes {offset}..{offset + size}) fails its crc32c "
                f"(stored {unmask_crc(stored):#010x}, computed {actual:#010x}); the index file is corrupt")
    if kind == 0:
        return block
    if kind == 1:
        try:
            return snappy.decompress(block, max_size=max(len(data) * 64, 1 << 24))
        except snappy.SnappyError as err:
            raise CheckpointError(f"{what} of '{path}' is not valid Snappy data: {err}") from None
    raise CheckpointError(f"{what} of '{path}' has unknown compression type {kind}; the index file is corrupt")


def _block_entries(block: bytes, path: str, what: str) -> list[tuple[bytes, bytes]]:
    """All (key, value) pairs of one block, with its restart array checked."""
    size = len(block)
    if size < 4:
        raise CheckpointError(f"{what} of '{path}' is {size} bytes, too short for a block; the index is corrupt")
    num_restarts = int.from_bytes(block[size - 4:], "little")
    limit = size - 4 - 4 * num_restarts
    if limit < 0 or (num_restarts == 0 and size > 4):
        raise CheckpointError(f"{what} of '{path}' has a bad restart count {num_restarts}; the index is corrupt")
    restarts = struct.unpack_from(f"<{num_restarts}I", block, limit)
    entries: list[tuple[bytes, bytes]] = []
    fresh: set[int] = set()  # offsets of entries with shared == 0 (valid restart targets)
    key = b""
    pos = 0
    try:
        while pos < limit:
            start = pos
            shared, pos = decode_varint(block, pos, limit)
            non_shared, pos = decode_varint(block, pos, limit)
            value_len, pos = decode_varint(block, pos, limit)
            if shared > len(key) or pos + non_shared + value_len > limit:
                raise ValueError("entry overruns the block")
            if shared == 0:
                fresh.add(start)
            key = key[:shared] + block[pos:pos + non_shared]
            pos += non_shared
            entries.append((key, block[pos:pos + value_len]))
            pos += value_len
    except ValueError as err:
        raise CheckpointError(
            f"{what} of '{path}' is corrupt at byte {pos} ({err}); the index file is damaged") from None
    bad = [r for r in restarts if r not in fresh]
    if bad:
        raise CheckpointError(
            f"{what} of '{path}' has restart point(s) {bad[:3]} that are not entry starts; the index is corrupt")
    return entries


def read_table(path: str, verify: bool = True) -> list[tuple[bytes, bytes]]:
    """Reads a whole LevelDB-style SSTable (the ``.index`` container) -> sorted (key, value) pairs.

    Checks the footer magic, every block handle against the file size, every block trailer's
    crc32c (``verify``), restart points, and that keys strictly increase and agree with the index
    block's separators. Raises ``CheckpointError``/``ChecksumError`` naming ``path``.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint index '{path}' does not exist") from None
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint index '{path}': {err.strerror or err}") from None
    if len(data) < _FOOTER_SIZE:
        raise CheckpointError(
            f"'{path}' is {len(data)} bytes, shorter than an SSTable footer ({_FOOTER_SIZE} bytes); "
            "the index file is truncated or not a checkpoint index")
    footer = data[-_FOOTER_SIZE:]
    if int.from_bytes(footer[40:], "little") != _TABLE_MAGIC:
        raise CheckpointError(
            f"'{path}' does not end with the SSTable magic number; it is not a TensorFlow checkpoint index "
            "(or it is truncated)")
    try:
        pos = 0
        _meta_offset, pos = decode_varint(footer, pos, 40)
        _meta_size, pos = decode_varint(footer, pos, 40)
        index_offset, pos = decode_varint(footer, pos, 40)
        index_size, pos = decode_varint(footer, pos, 40)
    except ValueError:
        raise CheckpointError(f"the footer of '{path}' is corrupt (bad block handles)") from None
    index_block = _read_block(data, index_offset, index_size, path, "the index block", verify)
    result: list[tuple[bytes, bytes]] = []
    prev_sep: bytes | None = None
    for i, (separator, handle) in enumerate(_block_entries(index_block, path, "the index block")):
        try:
            offset, hpos = decode_varint(handle, 0, len(handle))
            size, hpos = decode_varint(handle, hpos, len(handle))
        except ValueError:
            raise CheckpointError(f"block handle {i} in the index block of '{path}' is corrupt") from None
        what = f"data block {i}"
        entries = _read_block(data, offset, size, path, what, verify)
        for key, value in _block_entries(entries, path, what):
            if result and key <= result[-1][0]:
                raise CheckpointError(f"{what} of '{path}' has keys out of order ({key!r}); the index is corrupt")
            if key > separator or (prev_sep is not None and key <= prev_sep):
                raise CheckpointError(
                    f"{what} of '{path}' holds key {key!r} outside its index range; the index is corrupt")
            result.append((key, value))
        prev_sep = separator
    return result


def is_table_file(path: str) -> bool:
    """Whether ``path`` is a file ending in the SSTable footer magic (a legacy V1 checkpoint is one,
    named exactly ``<prefix>``: docs/formats.md §6); never raises."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) < _FOOTER_SIZE:
            return False
        with open(path, "rb") as f:
            f.seek(-8, os.SEEK_END)
            return int.from_bytes(f.read(8), "little") == _TABLE_MAGIC
    except OSError:
        return False
