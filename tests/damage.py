"""Ways to damage copies of real fixture files (for test_bad_inputs, test_fuzz and fuzz_campaign).

Nothing here touches a committed fixture: every function works on a path the caller made (a copy
under a temporary directory). The SSTable writer re-encodes a real checkpoint's records so that one
entry or the header can be changed while every block checksum stays valid; it is the minimal
LevelDB table layout of docs/formats.md §1 (one data block, an empty meta block, an index block).
"""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import struct
from collections.abc import Callable

import google_crc32c

from graphsurgeon._proto import tensor_bundle_pb2, types_pb2
from graphsurgeon.formats.sstable import mask_crc, read_table

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
TABLE_MAGIC = 0xDB4775248B80FB57


def copy_fixture(src: pathlib.Path, dest_dir: pathlib.Path) -> pathlib.Path:
    """Copies a fixture file or directory into ``dest_dir``; returns the copy's path."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / src.name
    if src.is_dir():
        shutil.copytree(src, target)
    else:
        shutil.copy2(src, target)
    return target


def copy_checkpoint(prefix: pathlib.Path, dest_dir: pathlib.Path) -> pathlib.Path:
    """Copies every file of the checkpoint ``prefix`` (.index, .data-*, .meta) into ``dest_dir``."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    for path in prefix.parent.glob(prefix.name + ".*"):
        shutil.copy2(path, dest_dir / path.name)
    return dest_dir / prefix.name


def tree_hashes(root: pathlib.Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (a file or a directory), keyed by relative path."""
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# --- bytes -------------------------------------------------------------------------------------

def flip_byte(path: pathlib.Path, offset: int, mask: int = 0x01) -> None:
    """XORs one byte of ``path`` with ``mask`` (negative offsets count from the end)."""
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


def truncate(path: pathlib.Path, size: int) -> None:
    """Cuts ``path`` to its first ``size`` bytes (negative: drops that many from the end)."""
    data = path.read_bytes()
    path.write_bytes(data[:size])


# --- SSTable re-encoding -----------------------------------------------------------------------

def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _block(records: list[tuple[bytes, bytes]]) -> bytes:
    body = bytearray()
    restarts = []
    for key, value in records:
        restarts.append(len(body))
        body += varint(0) + varint(len(key)) + varint(len(value)) + key + value
    return bytes(body) + struct.pack(f"<{len(restarts)}I", *restarts) + struct.pack("<I", len(restarts))


def _with_trailer(block: bytes, kind: int = 0) -> bytes:
    """``block`` followed by its 5-byte trailer: compression ``kind`` and the masked crc32c."""
    crc = google_crc32c.extend(google_crc32c.value(block), bytes([kind]))
    return block + bytes([kind]) + struct.pack("<I", mask_crc(crc))


def snappy_literal(data: bytes) -> bytes:
    """``data`` as a valid raw Snappy block made of literals only."""
    out = varint(len(data))
    for i in range(0, len(data), 60):
        piece = data[i:i + 60]
        out += bytes([(len(piece) - 1) << 2]) + piece
    return out


def encode_table(records: list[tuple[bytes, bytes]], compress: bool = False) -> bytes:
    """A valid SSTable holding ``records`` (sorted by key) in one data block (Snappy if ``compress``)."""
    block = _block(records)
    data = _with_trailer(snappy_literal(block), 1) if compress else _with_trailer(block)
    data_size = len(data) - 5
    meta_offset = len(data)
    data += _with_trailer(_block([]))
    index_offset = len(data)
    separator = (records[-1][0] if records else b"") + b"\xff"
    data += _with_trailer(_block([(separator, varint(0) + varint(data_size))]))
    handles = varint(meta_offset) + varint(8) + varint(index_offset) + varint(len(data) - 5 - index_offset)
    return data + handles + b"\0" * (40 - len(handles)) + struct.pack("<Q", TABLE_MAGIC)


def edit_index(index: pathlib.Path,
               header: Callable[[tensor_bundle_pb2.BundleHeaderProto], None] | None = None,
               entry: Callable[[str, tensor_bundle_pb2.BundleEntryProto], bool | None] | None = None) -> list[str]:
    """Rewrites a V2 ``.index`` after ``header(proto)`` and ``entry(name, proto)`` edited it in place.

    ``entry`` returns True for the entries it changed; their names are returned. Every block
    checksum of the new file is valid, so only the edited meaning can fail.
    """
    records = read_table(str(index))
    out: list[tuple[bytes, bytes]] = []
    changed: list[str] = []
    for key, value in records:
        if key == b"":
            proto = tensor_bundle_pb2.BundleHeaderProto.FromString(value)
            if header:
                header(proto)
            value = proto.SerializeToString()
        elif entry and key[:1] != b"\x00":
            proto = tensor_bundle_pb2.BundleEntryProto.FromString(value)
            name = key.decode()
            if entry(name, proto):
                changed.append(name)
            value = proto.SerializeToString()
        out.append((key, value))
    index.write_bytes(encode_table(out))
    return changed


def raw_data_block(index: pathlib.Path) -> bytes:
    """The records of a V2 ``.index`` as one uncompressed SSTable data block (without its trailer)."""
    return _block(read_table(str(index)))


def table_from_block(block: bytes) -> bytes:
    """A valid SSTable (good checksums, magic) around an arbitrary data ``block``: what is inside is not checked."""
    data = _with_trailer(block)
    data_size = len(data) - 5
    meta_offset = len(data)
    data += _with_trailer(_block([]))
    index_offset = len(data)
    data += _with_trailer(_block([(b"\xff" * 64, varint(0) + varint(data_size))]))
    handles = varint(meta_offset) + varint(8) + varint(index_offset) + varint(len(data) - 5 - index_offset)
    return data + handles + b"\0" * (40 - len(handles)) + struct.pack("<Q", TABLE_MAGIC)


def fix_data_checksums(prefix: pathlib.Path) -> None:
    """Recomputes every in-range entry's crc32c from the (damaged) data shards, so the damage is read."""
    sizes: dict[int, bytes] = {}

    def edit(name: str, entry: tensor_bundle_pb2.BundleEntryProto) -> bool:
        if entry.dtype == types_pb2.DT_STRING:  # a string tensor's crc covers its decoded lengths
            return False
        if entry.shard_id not in sizes:
            shard = pathlib.Path(f"{prefix}.data-{entry.shard_id:05d}-of-{_num_shards:05d}")
            sizes[entry.shard_id] = shard.read_bytes() if shard.exists() else b""
        data = sizes[entry.shard_id]
        if entry.offset + entry.size > len(data):
            return False
        entry.crc32c = mask_crc(google_crc32c.value(data[entry.offset:entry.offset + entry.size]))
        return True

    header = tensor_bundle_pb2.BundleHeaderProto.FromString(read_table(str(pathlib.Path(f"{prefix}.index")))[0][1])
    _num_shards = header.num_shards
    edit_index(pathlib.Path(f"{prefix}.index"), entry=edit)
