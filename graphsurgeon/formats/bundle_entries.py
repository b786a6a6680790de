"""Tensor-bundle index entries: slice keys, what an entry says about its tensor, shard paths.

The pieces of the checkpoint reader (``formats/checkpoint.py``) that need only the ``.index``:
the OrderedCode keys of partitioned variables' slices (docs/formats.md §2), ``TensorInfo`` and
the data shards' file names.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from graphsurgeon._proto import tensor_bundle_pb2, tensor_slice_pb2
from graphsurgeon.errors import UnsupportedError
from graphsurgeon.formats.tensors import dtype_name

# --- slice keys (OrderedCode, docs/formats.md §2) --------------------------------------------------

def _encode_unsigned(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes([len(raw)]) + raw


def _encode_signed(value: int) -> bytes:
    for n in range(1, 9):
        if -(1 << (7 * n - 1)) <= value < (1 << (7 * n - 1)):
            raw = value & ((1 << (8 * n)) - 1)
            raw ^= ((1 << n) - 1) << (7 * n)  # length prefix: top n bits set (>= 0) or cleared (< 0)
            return raw.to_bytes(n, "big")
    raise UnsupportedError(f"slice bound {value} is too large for a checkpoint slice key")


def encode_slice_key(name: str, extents: list[tuple[int, int]]) -> bytes:
    """The index key of one slice of tensor ``name`` (TF's ``EncodeTensorNameSlice``).

    ``extents`` holds ``(start, length)`` per dimension; ``(0, -1)`` means the whole dimension.
    """
    escaped = bytearray()
    for byte in name.encode("utf-8", "surrogateescape"):
        escaped += b"\x00\xff" if byte == 0 else b"\xff\x00" if byte == 0xFF else bytes((byte,))
    parts = [_encode_unsigned(0), bytes(escaped), b"\x00\x01", _encode_unsigned(len(extents))]
    for start, length in extents:
        parts.append(_encode_signed(start))
        parts.append(_encode_signed(length))
    return b"".join(parts)


# --- what the index says about a tensor -----------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """What the index says about one tensor, known without reading its data."""

    name: str
    dtype: int  # a DataType enum value (types_pb2.DT_FLOAT, ...)
    shape: tuple[int, ...]
    nbytes: int  # bytes in the data file(s) (for strings: the stored encoding's size)
    num_slices: int = 0  # >0 for a partitioned tensor reassembled from slices
    shard_id: int = 0  # data shard of an unpartitioned tensor (the first slice's for a partitioned one)

    @property
    def num_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype_name(self) -> str:
        """``'float'``, ``'int64'``, ... as TensorFlow prints dtypes."""
        return dtype_name(self.dtype)


def entry_shape(entry: tensor_bundle_pb2.BundleEntryProto) -> tuple[int, ...]:
    return tuple(int(d.size) for d in entry.shape.dim)


def slice_extents(slice_proto: tensor_slice_pb2.TensorSliceProto, shape: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """-> per dimension (start, length, key_length) where key_length is -1 for a whole dimension."""
    result = []
    for extent, dim in zip(slice_proto.extent, shape):
        if extent.HasField("length"):
            result.append((int(extent.start), int(extent.length), int(extent.length)))
        else:
            result.append((0, dim, -1))
    return result


class ShardPaths(Sequence[str]):
    """``<prefix>.data-SSSSS-of-NNNNN`` for every shard, computed on access (a damaged header may
    claim billions of shards; nothing is allocated for them)."""

    def __init__(self, prefix: str, num_shards: int) -> None:
        self._prefix, self._count = prefix, num_shards

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):  # noqa: ANN001, ANN204
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(index)
        return f"{self._prefix}.data-{index:05d}-of-{self._count:05d}"

    def __repr__(self) -> str:
        return f"<{self._count} data shard paths of '{self._prefix}'>"
