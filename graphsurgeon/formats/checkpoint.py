"""Tensor-bundle (checkpoint V2) reader: .index SSTable -> entries; lazy, memory-mapped data.

``load_checkpoint(path)`` parses the ``.index`` (a LevelDB-style SSTable of serialized
``BundleEntryProto``s, see docs/formats.md §1) up front and validates every entry against the
real sizes of the data shards, so names, dtypes, shapes and byte sizes are known without reading
any tensor data. Tensor bytes are memory-mapped and become read-only numpy arrays without a
copy where the layout allows (fixed-size dtypes in little-endian files); each tensor's crc32c is
checked when it is read. Partitioned variables (§2) are reassembled under the variable's name.
"""

from __future__ import annotations

import logging
import math
import mmap
import os
import struct
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from google.protobuf import message as _message

from graphsurgeon._proto import (
    saved_tensor_slice_pb2,
    tensor_bundle_pb2,
    tensor_pb2,
    trackable_object_graph_pb2,
    types_pb2,
)
from graphsurgeon.errors import (
    CheckpointError,
    ChecksumError,
    UnsupportedError,
    not_found,
)
from graphsurgeon.formats.bundle_entries import ShardPaths, TensorInfo, encode_slice_key, entry_shape, slice_extents
from graphsurgeon.formats.checkpoint_paths import resolve_checkpoint_prefix
from graphsurgeon.formats.protofile import format_bytes
from graphsurgeon.formats.sstable import is_table_file, mask_crc, read_table, unmask_crc
from graphsurgeon.formats.tensors import NUMPY_DTYPES, dtype_name, shape_to_proto, tensor_to_array
from graphsurgeon.formats.varint import decode_varint

logger = logging.getLogger(__name__)

DT = types_pb2.DataType
_HEADER = tensor_bundle_pb2.BundleHeaderProto

#: Key of the TF2 object graph (a DT_STRING scalar holding a serialized TrackableObjectGraph).
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

_CHUNK = 16 << 20  # bytes per crc32c call when reporting progress or streaming

# madvise(MADV_POPULATE_READ) (Linux 5.14+; not named in Python 3.11's mmap module) before a
# large tensor's checksum pass saves ~10% of the time page faults would take.
_MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)
_POPULATE_MIN = 1 << 20
_populate_ok = sys.platform.startswith("linux")

# The highest bundle format version this reader understands (TF's kTensorBundleVersion).
_BUNDLE_VERSION = 1


class Checkpoint(Mapping[str, np.ndarray]):
    """A read-only mapping tensor name -> numpy array, read lazily from a tensor bundle.

    Build it with :func:`load_checkpoint`. Iteration yields tensor names in the index's (bytewise)
    order; slices of partitioned tensors are not separate names. Arrays are read-only; fixed-size
    dtypes from little-endian files are views of the memory-mapped data files (they stay valid
    after :meth:`close`). Each read verifies the tensor's crc32c when ``verify`` is true.
    """

    prefix: str
    #: 2 for a tensor bundle (.index + .data-*), 1 for a legacy single-file V1 checkpoint.
    format_version = 2

    def __init__(self, prefix: str, verify: bool = True) -> None:
        self.prefix = prefix
        self.verify = verify
        self.index_path = prefix + ".index"
        if not os.path.exists(self.index_path):
            raise CheckpointError(
                f"checkpoint index '{self.index_path}' does not exist (is '{prefix}' a checkpoint prefix?)")
        records = read_table(self.index_path, verify=verify)
        if not records or records[0][0] != b"":
            raise CheckpointError(f"'{self.index_path}' has no bundle header entry; it is not a V2 checkpoint index")
        self.header = self._parse(tensor_bundle_pb2.BundleHeaderProto, records[0][1], "the bundle header")
        self._check_header()
        self._entries: dict[str, tensor_bundle_pb2.BundleEntryProto] = {}
        self._slice_entries: dict[bytes, tensor_bundle_pb2.BundleEntryProto] = {}
        for key, value in records[1:]:
            if key[:1] == b"\x00":
                self._slice_entries[key] = self._parse(tensor_bundle_pb2.BundleEntryProto, value, f"slice {key!r}")
            else:
                name = key.decode("utf-8", "surrogateescape")
                self._entries[name] = self._parse(tensor_bundle_pb2.BundleEntryProto, value, f"tensor '{name}'")
        self.num_shards = int(self.header.num_shards)
        self.data_paths: Sequence[str] = ShardPaths(prefix, self.num_shards)
        if self.num_shards > 1 and not os.path.isfile(self.data_paths[-1]):
            # shards the entries name are checked below; this catches a damaged shard count too
            raise CheckpointError(
                f"data shard '{self.data_paths[-1]}' of checkpoint '{prefix}' is missing (the index declares "
                f"{self.num_shards} shards); copy every .data-* file along with the .index")
        self._shard_sizes: dict[int, int] = {}
        self._maps: dict[int, mmap.mmap | bytes] = {}
        self._infos: dict[str, TensorInfo] = {}
        for name, entry in self._entries.items():
            self._infos[name] = self._validate(name, entry)

    # -- loading and validation ----------------------------------------------------------

    def _parse(self, cls: Any, value: bytes, what: str):  # noqa: ANN202
        try:
            return cls.FromString(value)
        except (_message.DecodeError, RuntimeError, ValueError) as err:
            raise CheckpointError(
                f"{what} in '{self.index_path}' is not a valid {cls.__name__} ({err}); the index is corrupt") from None

    def _check_header(self) -> None:
        header = self.header
        version = header.version
        if version.min_consumer > _BUNDLE_VERSION or _BUNDLE_VERSION in version.bad_consumers:
            raise CheckpointError(
                f"'{self.index_path}' needs a newer checkpoint reader (bundle version producer {version.producer}, "
                f"min_consumer {version.min_consumer}, bad_consumers {list(version.bad_consumers)}; this reader "
                f"is version {_BUNDLE_VERSION}); re-save it with a TensorFlow that writes V2 bundles of version 1")
        if header.endianness not in (_HEADER.LITTLE, _HEADER.BIG):
            raise CheckpointError(f"'{self.index_path}' has unknown endianness {header.endianness} in its header")
        if header.num_shards < 1:
            raise CheckpointError(f"'{self.index_path}' declares {header.num_shards} data shards; the index is corrupt")

    @property
    def big_endian(self) -> bool:
        return self.header.endianness == _HEADER.BIG

    def _shard_size(self, shard_id: int, name: str) -> int:
        size = self._shard_sizes.get(shard_id)
        if size is None:
            if not 0 <= shard_id < self.num_shards:
                raise CheckpointError(
                    f"tensor '{name}' in '{self.index_path}' names data shard {shard_id}, but the checkpoint has "
                    f"{self.num_shards}; the index is corrupt")
            path = self.data_paths[shard_id]
            try:
                size = os.stat(path).st_size
            except FileNotFoundError:
                raise CheckpointError(
                    f"data shard '{path}' of checkpoint '{self.prefix}' is missing (tensor '{name}' is stored "
                    "there); copy every .data-* file along with the .index") from None
            except OSError as err:
                raise CheckpointError(f"cannot read data shard '{path}': {err.strerror or err}") from None
            self._shard_sizes[shard_id] = size
        return size

    def _check_stored(self, name: str, entry: tensor_bundle_pb2.BundleEntryProto) -> None:
        """Checks one stored piece (a whole tensor or a slice) against its shard's real size."""
        shape = entry_shape(entry)
        if entry.shape.unknown_rank or any(d < 0 for d in shape):
            raise CheckpointError(f"tensor '{name}' in '{self.index_path}' has an invalid shape {shape}")
        size = self._shard_size(entry.shard_id, name)
        if entry.offset < 0 or entry.size < 0 or entry.offset + entry.size > size:
            raise CheckpointError(
                f"tensor '{name}' in '{self.index_path}' points at bytes [{entry.offset}, {entry.offset + entry.size}) "
                f"of '{self.data_paths[entry.shard_id]}', which holds only {size} bytes; the data shard is "
                "truncated or does not belong to this index")
        np_dtype = NUMPY_DTYPES.get(entry.dtype)
        if entry.dtype == DT.DT_STRING and entry.size < math.prod(shape) + 4:
            # each element needs at least a one-byte length, then comes the 4-byte length checksum
            raise CheckpointError(
                f"string tensor '{name}' in '{self.index_path}' has {math.prod(shape)} elements but only "
                f"{entry.size} bytes; the index is corrupt")
        if np_dtype is not None and entry.dtype != DT.DT_STRING:
            expected = math.prod(shape) * np_dtype.itemsize
            if entry.size != expected:
                raise CheckpointError(
                    f"tensor '{name}' in '{self.index_path}' is {dtype_name(entry.dtype)}{list(shape)} "
                    f"({expected} bytes) but its entry says {entry.size} bytes; the index is corrupt")

    def _validate(self, name: str, entry: tensor_bundle_pb2.BundleEntryProto) -> TensorInfo:
        shape = entry_shape(entry)
        if not entry.slices:
            self._check_stored(name, entry)
            return TensorInfo(name, int(entry.dtype), shape, int(entry.size), 0, int(entry.shard_id))
        if entry.shape.unknown_rank or any(d < 0 for d in shape):
            raise CheckpointError(f"partitioned tensor '{name}' in '{self.index_path}' has an invalid shape {shape}")
        nbytes = covered = 0
        first_shard = None
        for piece in entry.slices:
            if len(piece.extent) != len(shape):
                raise CheckpointError(
                    f"partitioned tensor '{name}' in '{self.index_path}' has a slice of rank {len(piece.extent)} "
                    f"for a shape of rank {len(shape)}; the index is corrupt")
            extents = slice_extents(piece, shape)
            for (start, length, _), dim in zip(extents, shape):
                if start < 0 or length < 0 or start + length > dim:
                    raise CheckpointError(
                        f"partitioned tensor '{name}' in '{self.index_path}' has a slice {self._spec(extents)} "
                        f"outside its shape {list(shape)}; the index is corrupt")
            slice_entry = self._slice_entry(name, extents)
            self._check_stored(f"{name}[{self._spec(extents)}]", slice_entry)
            if slice_entry.dtype != entry.dtype or entry_shape(slice_entry) != tuple(e[1] for e in extents):
                raise CheckpointError(
                    f"slice {self._spec(extents)} of tensor '{name}' in '{self.index_path}' is "
                    f"{dtype_name(slice_entry.dtype)}{list(entry_shape(slice_entry))}, which does not match "
                    f"the variable ({dtype_name(entry.dtype)}); the index is corrupt")
            nbytes += slice_entry.size
            covered += math.prod(e[1] for e in extents)
            if first_shard is None:
                first_shard = int(slice_entry.shard_id)
        if covered != math.prod(shape):
            raise CheckpointError(
                f"the {len(entry.slices)} slices of partitioned tensor '{name}' in '{self.index_path}' cover "
                f"{covered} of its {math.prod(shape)} elements; the checkpoint is incomplete")
        return TensorInfo(name, int(entry.dtype), shape, nbytes, len(entry.slices), first_shard or 0)

    @staticmethod
    def _spec(extents: list[tuple[int, int, int]]) -> str:
        return ", ".join(f"{start}:{start + length}" for start, length, _ in extents)

    def _slice_entry(self, name: str, extents: list[tuple[int, int, int]]) -> tensor_bundle_pb2.BundleEntryProto:
        key = encode_slice_key(name, [(start, key_length) for start, _, key_length in extents])
        entry = self._slice_entries.get(key)
        if entry is None:
            raise CheckpointError(
                f"slice [{self._spec(extents)}] of partitioned tensor '{name}' is missing from "
                f"'{self.index_path}'; the index is corrupt")
        return entry

    # -- Mapping -------------------------------------------------------------------------

    def __getitem__(self, name: str) -> np.ndarray:
        return self.read(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str, default: np.ndarray | None = None) -> np.ndarray | None:  # type: ignore[override]
        """The tensor, or ``default`` when the checkpoint has no tensor of that name."""
        return self.read(name) if name in self._entries else default

    def __repr__(self) -> str:
        return f"<Checkpoint '{self.prefix}': {len(self)} tensors, {self.num_shards} shard(s)>"

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drops this object's memory maps; arrays already returned stay valid (they hold their own)."""
        self._maps.clear()

    # -- metadata ------------------------------------------------------------------------

    def _missing(self, name: str) -> Exception:
        return not_found("tensor", name, self._entries, where=f"checkpoint '{self.prefix}'",
                         hint="run 'gs inspect' on the checkpoint to list its tensors")

    def info(self, name: str) -> TensorInfo:
        """Dtype, shape and stored size of ``name``, without reading data; NodeNotFoundError if absent."""
        try:
            return self._infos[name]
        except KeyError:
            raise self._missing(name) from None

    def infos(self) -> list[TensorInfo]:
        """Every tensor's :class:`TensorInfo`, sorted by name."""
        return [self._infos[n] for n in sorted(self._infos)]

    def entry(self, name: str) -> tensor_bundle_pb2.BundleEntryProto:
        """A copy of the raw ``BundleEntryProto`` of ``name`` (the full entry for a partitioned tensor)."""
        if name not in self._entries:
            raise self._missing(name)
        copy = tensor_bundle_pb2.BundleEntryProto()
        copy.CopyFrom(self._entries[name])
        return copy

    @property
    def total_bytes(self) -> int:
        return sum(i.nbytes for i in self._infos.values())

    # -- data ----------------------------------------------------------------------------

    def _map(self, shard_id: int) -> mmap.mmap | bytes:
        mapped = self._maps.get(shard_id)
        if mapped is None:
            path = self.data_paths[shard_id]
            try:
                with open(path, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    if size != self._shard_sizes.get(shard_id, size):
                        raise CheckpointError(f"data shard '{path}' changed size while the checkpoint was open")
                    mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
            except FileNotFoundError:
                raise CheckpointError(f"data shard '{path}' of checkpoint '{self.prefix}' is missing") from None
            except OSError as err:
                raise CheckpointError(f"cannot read data shard '{path}': {err.strerror or err}") from None
            self._maps[shard_id] = mapped
        return mapped

    def _stored_bytes(self, entry: tensor_bundle_pb2.BundleEntryProto) -> np.ndarray:
        """The entry's stored bytes as a read-only uint8 view of the mapped shard (no copy)."""
        if entry.size == 0:
            empty = np.empty(0, np.uint8)
            empty.flags.writeable = False
            return empty
        return np.frombuffer(self._map(entry.shard_id), np.uint8, int(entry.size), int(entry.offset))

    def _populate(self, entry: tensor_bundle_pb2.BundleEntryProto) -> None:
        """Maps a large tensor's pages in one call instead of one page fault at a time (Linux >= 5.14)."""
        global _populate_ok
        if not _populate_ok or entry.size < _POPULATE_MIN:
            return
        mapped = self._map(entry.shard_id)
        start = entry.offset - entry.offset % mmap.PAGESIZE
        try:
            mapped.madvise(_MADV_POPULATE_READ, start, entry.offset + entry.size - start)  # type: ignore[union-attr]
        except (OSError, ValueError, AttributeError):
            _populate_ok = False  # older kernel or platform: page faults do the same work

    def _crc_mismatch(self, name: str, entry: tensor_bundle_pb2.BundleEntryProto, actual: int) -> ChecksumError:
        return ChecksumError(
            f"tensor '{name}' in '{self.data_paths[entry.shard_id]}' (bytes {entry.offset}.."
            f"{entry.offset + entry.size}) fails its checksum (stored crc32c {unmask_crc(entry.crc32c):#010x}, "
            f"computed {actual:#010x}); the data file is corrupt. Re-copy it from its source "
            "(from Python, load_checkpoint(..., verify=False) returns the damaged values anyway)")

    def _read_entry(self, name: str, entry: tensor_bundle_pb2.BundleEntryProto, verify: bool,
                    progress: Callable[[int], None] | None) -> np.ndarray:
        dtype = int(entry.dtype)
        shape = entry_shape(entry)
        if dtype == DT.DT_STRING:
            return self._read_strings(name, entry, shape, verify, progress)
        if dtype == DT.DT_VARIANT:
            raise UnsupportedError(
                f"tensor '{name}' in '{self.index_path}' has dtype variant (e.g. a tf.data iterator state), "
                "whose contents are type-specific and cannot be decoded into an array (TensorFlow's "
                "checkpoint reader cannot return it either)")
        np_dtype = NUMPY_DTYPES.get(dtype)
        if np_dtype is None:
            raise CheckpointError(
                f"tensor '{name}' in '{self.index_path}' has unknown dtype {dtype_name(dtype)} ({dtype}); "
                "this checkpoint was written by a newer TensorFlow or is corrupt")
        raw = self._stored_bytes(entry)
        if verify:
            import google_crc32c  # here, so that a command reading no checkpoint never loads it
            self._populate(entry)
            crc = 0
            for start in range(0, len(raw), _CHUNK):
                chunk = raw[start:start + _CHUNK]
                crc = google_crc32c.extend(crc, chunk)
                if progress:
                    progress(len(chunk))
            if crc != unmask_crc(entry.crc32c):
                raise self._crc_mismatch(name, entry, crc)
        elif progress:
            progress(len(raw))
        array = raw.view(np_dtype)
        if self.big_endian and np_dtype.itemsize > 1:
            array = self._swap(array, np_dtype)
        return array.reshape(shape)

    @staticmethod
    def _swap(array: np.ndarray, np_dtype: np.dtype) -> np.ndarray:
        # each complex component is swapped on its own (TF's ByteSwapTensor)
        unit = np_dtype.itemsize // 2 if np_dtype.kind == "c" else np_dtype.itemsize
        swapped = array.view(np.dtype(f"u{unit}")).byteswap().view(np_dtype)
        swapped.flags.writeable = False
        return swapped

    def _read_strings(self, name: str, entry: tensor_bundle_pb2.BundleEntryProto, shape: tuple[int, ...],
                      verify: bool, progress: Callable[[int], None] | None) -> np.ndarray:
        where = f"string tensor '{name}' in '{self.data_paths[entry.shard_id]}'"
        count = math.prod(shape)
        size = int(entry.size)
        # every element needs at least one varint byte, plus the 4-byte length checksum
        if size < count + 4:
            raise CheckpointError(f"{where} is {size} bytes, too small for {count} strings; the index is corrupt")
        buf = bytes(self._stored_bytes(entry))
        lengths = []
        pos = 0
        try:
            for _ in range(count):
                length, pos = decode_varint(buf, pos, size - 4)
                lengths.append(length)
        except ValueError:
            raise CheckpointError(f"{where} has corrupt string lengths") from None
        start = pos + 4
        if start + sum(lengths) != size:
            raise CheckpointError(
                f"{where}: its lengths add up to {start + sum(lengths)} bytes but it stores {size}; "
                "the data is corrupt")
        order = ">" if self.big_endian else "<"
        wide = any(n > 0xFFFFFFFF for n in lengths)
        if not wide:
            length_bytes = np.asarray(lengths, dtype=f"{order}u4").tobytes()
        else:
            length_bytes = b"".join(struct.pack(f"{order}Q" if n > 0xFFFFFFFF else f"{order}I", n) for n in lengths)
        if verify:
            import google_crc32c  # here, so that a command reading no checkpoint never loads it
            crc = google_crc32c.value(length_bytes)
            stored = int.from_bytes(buf[pos:start], "big" if self.big_endian else "little")
            if mask_crc(crc) != stored:
                raise ChecksumError(
                    f"{where} fails its length checksum (stored {stored:#010x}, computed {mask_crc(crc):#010x}); "
                    "the data file is corrupt")
            crc = google_crc32c.extend(google_crc32c.extend(crc, buf[pos:start]), buf[start:])
            if crc != unmask_crc(entry.crc32c):
                raise self._crc_mismatch(name, entry, crc)
        if progress:
            progress(size)
        array = np.empty(count, dtype=object)
        offset = start
        for i, length in enumerate(lengths):
            array[i] = buf[offset:offset + length]
            offset += length
        array = array.reshape(shape)  # type: ignore[assignment]
        array.flags.writeable = False
        return array

    def read(self, name: str, verify: bool | None = None,
             progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Reads one tensor (partitioned ones reassembled) as a read-only numpy array.

        Args:
            name: the tensor's checkpoint key.
            verify: check crc32c (default: the checkpoint's ``verify`` setting).
            progress: called with a number of bytes each time that many more have been read.

        Raises:
            NodeNotFoundError: no such tensor (with close matches).
            ChecksumError: the stored bytes do not match their crc32c.
            CheckpointError: the data is damaged or of an unknown dtype.
        """
        entry = self._entries.get(name)
        if entry is None:
            raise self._missing(name)
        verify = self.verify if verify is None else verify
        if not entry.slices:
            return self._read_entry(name, entry, verify, progress)
        info = self._infos[name]
        np_dtype = NUMPY_DTYPES.get(info.dtype) if info.dtype != DT.DT_VARIANT else None
        if np_dtype is None:
            raise CheckpointError(f"partitioned tensor '{name}' in '{self.index_path}' has unsupported dtype "
                                  f"{dtype_name(info.dtype)} ({info.dtype})")
        full = np.empty(info.shape, dtype=np_dtype)
        for extents, piece in self._iter_slices(name, entry, verify, progress):
            full[tuple(slice(s, s + n) for s, n, _ in extents)] = piece
        full.flags.writeable = False
        return full

    def _iter_slices(self, name: str, entry: tensor_bundle_pb2.BundleEntryProto, verify: bool,
                     progress: Callable[[int], None] | None) -> Iterator[tuple[list[tuple[int, int, int]], np.ndarray]]:
        shape = entry_shape(entry)
        for piece in entry.slices:
            extents = slice_extents(piece, shape)
            slice_entry = self._slice_entry(name, extents)
            yield extents, self._read_entry(f"{name}[{self._spec(extents)}]", slice_entry, verify, progress)

    def slices(self, name: str, verify: bool | None = None) -> list[tuple[tuple[tuple[int, int], ...], np.ndarray]]:
        """The stored pieces of a partitioned tensor, in the order of its entry.

        Returns a list of ``(extents, array)`` where ``extents`` holds ``(start, length)`` per
        dimension (whole dimensions resolved to ``(0, dim)``). An unpartitioned tensor is one
        piece covering everything.
        """
        entry = self._entries.get(name)
        if entry is None:
            raise self._missing(name)
        verify = self.verify if verify is None else verify
        if not entry.slices:
            array = self._read_entry(name, entry, verify, None)
            return [(tuple((0, d) for d in array.shape), array)]
        return [(tuple((s, n) for s, n, _ in extents), piece)
                for extents, piece in self._iter_slices(name, entry, verify, None)]

    def object_graph(self) -> trackable_object_graph_pb2.TrackableObjectGraph | None:
        """The TF2 object graph (``_CHECKPOINTABLE_OBJECT_GRAPH``) decoded, or None if absent."""
        if OBJECT_GRAPH_KEY not in self._entries:
            return None
        value = self.read(OBJECT_GRAPH_KEY)
        if value.shape != () or value.dtype != object:
            raise CheckpointError(f"'{OBJECT_GRAPH_KEY}' in '{self.index_path}' is not a string scalar")
        try:
            return trackable_object_graph_pb2.TrackableObjectGraph.FromString(value[()])
        except _message.DecodeError as err:
            raise CheckpointError(
                f"'{OBJECT_GRAPH_KEY}' in '{self.index_path}' is not a valid TrackableObjectGraph ({err})") from None

    def iter_raw_chunks(self, name: str, chunk_size: int = _CHUNK, verify: bool | None = None) -> Iterator[bytes]:
        """Yields the stored bytes of tensor ``name`` in chunks of at most ``chunk_size`` bytes.

        For streaming writers: only an unpartitioned, fixed-size-dtype tensor of a little-endian
        checkpoint (the bytes are then exactly numpy's C-order little-endian layout). The crc32c
        is extended over each chunk; after the last chunk a mismatch raises ``ChecksumError``
        (when ``verify``, default the checkpoint's setting). Other tensors raise ``UnsupportedError``.
        """
        entry = self._entries.get(name)
        if entry is None:
            raise self._missing(name)
        if entry.slices or entry.dtype in (DT.DT_STRING, DT.DT_VARIANT) or self.big_endian \
                or entry.dtype not in NUMPY_DTYPES:
            raise UnsupportedError(
                f"tensor '{name}' in '{self.index_path}' cannot be streamed raw (partitioned, string, variant, "
                "unknown dtype or big-endian); read it with checkpoint[name] instead")
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        verify = self.verify if verify is None else verify
        raw = self._stored_bytes(entry)
        import google_crc32c  # here, so that a command reading no checkpoint never loads it
        crc = 0
        for start in range(0, len(raw), chunk_size):
            chunk = raw[start:start + chunk_size].tobytes()
            if verify:
                crc = google_crc32c.extend(crc, chunk)
            yield chunk
        if verify and crc != unmask_crc(entry.crc32c):
            raise self._crc_mismatch(name, entry, crc)


class V1Checkpoint(Checkpoint):
    """A legacy V1 checkpoint: one SSTable file of ``SavedTensorSlices`` (docs/formats.md §6).

    Same mapping interface as :class:`Checkpoint`. Values live inside the table as typed
    ``TensorProto`` fields, so reading parses protos (no memory mapping); integrity rests on the
    table's block crc32c (V1 has no per-tensor checksum). There are no ``BundleEntryProto``s, so
    :meth:`entry` and :meth:`iter_raw_chunks` raise ``UnsupportedError``. Partitioned tensors are
    reassembled (TensorFlow's own ``load_checkpoint`` refuses them in V1 files).
    """

    format_version = 1

    def __init__(self, path: str, verify: bool = True) -> None:  # noqa: D107
        self.prefix = path
        self.verify = verify
        self.index_path = path
        self.data_paths = ()
        self.num_shards = 1
        self.header = tensor_bundle_pb2.BundleHeaderProto(num_shards=1)
        self._maps = {}
        records = dict(read_table(path, verify=verify))
        if b"" not in records:
            raise CheckpointError(f"'{path}' has no SavedTensorSlices metadata entry; it is not a V1 checkpoint")
        meta = self._parse(saved_tensor_slice_pb2.SavedTensorSlices, records.pop(b""), "the V1 metadata").meta
        self._records = records
        self._v1: dict[str, tuple[int, tuple[int, ...], list[tuple[list[tuple[int, int, int]], bytes]]]] = {}
        self._entries = {}
        self._infos = {}
        for tensor in sorted(meta.tensor, key=lambda t: t.name.encode("utf-8", "surrogateescape")):
            name = tensor.name
            shape = tuple(int(d.size) for d in tensor.shape.dim)
            if tensor.shape.unknown_rank or any(d < 0 for d in shape):
                raise CheckpointError(f"tensor '{name}' in '{path}' has an invalid shape {shape}")
            pieces = []
            covered = 0
            for piece in tensor.slice:
                if len(piece.extent) != len(shape):
                    raise CheckpointError(f"tensor '{name}' in '{path}' has a slice of the wrong rank; the file is "
                                          "corrupt")
                extents = slice_extents(piece, shape)
                for (start, length, _), dim in zip(extents, shape):
                    if start < 0 or length < 0 or start + length > dim:
                        raise CheckpointError(
                            f"tensor '{name}' in '{path}' has a slice outside its shape {list(shape)}")
                key = encode_slice_key(name, [(start, key_length) for start, _, key_length in extents])
                value = records.get(key)
                if value is None:
                    raise CheckpointError(
                        f"slice [{self._spec(extents)}] of tensor '{name}' is missing from '{path}'; "
                        "the file is corrupt")
                pieces.append((extents, value))
                covered += math.prod(e[1] for e in extents)
            if covered != math.prod(shape):
                raise CheckpointError(
                    f"the slices of tensor '{name}' in '{path}' cover {covered} of its {math.prod(shape)} elements; "
                    "the checkpoint is incomplete")
            self._v1[name] = (int(tensor.type), shape, pieces)
            self._entries[name] = None  # type: ignore[assignment]  # names only; no bundle entries in V1
            whole = len(pieces) == 1 and all(e[2] == -1 or (e[0], e[1]) == (0, d)
                                             for e, d in zip(pieces[0][0], shape))
            self._infos[name] = TensorInfo(name, int(tensor.type), shape, sum(len(v) for _, v in pieces),
                                           0 if whole else len(pieces), 0)

    def __repr__(self) -> str:
        return f"<V1Checkpoint '{self.prefix}': {len(self)} tensors>"

    def _piece(self, name: str, dtype: int, extents: list[tuple[int, int, int]], value: bytes) -> np.ndarray:
        what = f"tensor '{name}' in '{self.index_path}'"
        saved = self._parse(saved_tensor_slice_pb2.SavedTensorSlices, value, what).data
        if saved.name != name:
            raise CheckpointError(f"{what}: its slice record names '{saved.name}'; the file is corrupt")
        proto = tensor_pb2.TensorProto()
        proto.CopyFrom(saved.data)
        shape = [e[1] for e in extents]
        count = math.prod(shape)
        stored = [v for f, v in proto.ListFields() if f.name not in ("dtype", "tensor_shape", "version_number")]
        if not proto.tensor_content:
            n = len(stored[0]) if stored else 0
            if proto.scomplex_val or proto.dcomplex_val:
                n //= 2
            if n != count:
                raise CheckpointError(f"{what}: a slice holds {n} values for {count} elements; the file is corrupt")
        proto.dtype = dtype  # type: ignore[assignment]  # an int is a valid DataType value
        proto.tensor_shape.CopyFrom(shape_to_proto(shape))
        try:
            return tensor_to_array(proto, what)
        except UnsupportedError as err:
            raise CheckpointError(f"{err}; the file is corrupt") from None

    def read(self, name: str, verify: bool | None = None,
             progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Reads one tensor (slices reassembled) as a read-only array; see :meth:`Checkpoint.read`."""
        if name not in self._v1:
            raise self._missing(name)
        dtype, shape, pieces = self._v1[name]
        np_dtype = NUMPY_DTYPES.get(dtype)
        if np_dtype is None or dtype == DT.DT_VARIANT:
            raise CheckpointError(f"tensor '{name}' in '{self.index_path}' has unknown dtype {dtype_name(dtype)} "
                                  f"({dtype})")
        full = np.empty(shape, dtype=np_dtype)
        for extents, value in pieces:
            full[tuple(slice(s, s + n) for s, n, _ in extents)] = self._piece(name, dtype, extents, value)
            if progress:
                progress(len(value))
        full.flags.writeable = False
        return full

    def slices(self, name: str, verify: bool | None = None) -> list[tuple[tuple[tuple[int, int], ...], np.ndarray]]:
        """The stored pieces of ``name``; see :meth:`Checkpoint.slices`."""
        if name not in self._v1:
            raise self._missing(name)
        dtype, _, pieces = self._v1[name]
        result = []
        for extents, value in pieces:
            array = self._piece(name, dtype, extents, value)
            array.flags.writeable = False
            result.append((tuple((s, n) for s, n, _ in extents), array))
        return result

    def entry(self, name: str) -> tensor_bundle_pb2.BundleEntryProto:
        """V1 files have no ``BundleEntryProto``s: raises ``UnsupportedError``."""
        if name not in self._v1:
            raise self._missing(name)
        raise UnsupportedError(f"'{self.index_path}' is a V1 checkpoint, which has no bundle entries")

    def iter_raw_chunks(self, name: str, chunk_size: int = _CHUNK, verify: bool | None = None) -> Iterator[bytes]:
        """V1 files store values as protos, not raw bytes: raises ``UnsupportedError``."""
        if name not in self._v1:
            raise self._missing(name)
        raise UnsupportedError(f"tensor '{name}' in V1 checkpoint '{self.index_path}' cannot be streamed raw; "
                               "read it with checkpoint[name]")


def load_checkpoint(path: str | os.PathLike[str], verify: bool = True) -> Checkpoint:
    """Opens a TensorFlow checkpoint (V2 tensor bundle, or a legacy V1 single file) without TensorFlow.

    Args:
        path: a prefix, its ``.index`` or ``.data-*`` file, a directory with a ``checkpoint``
            state file, or a SavedModel directory (see :func:`resolve_checkpoint_prefix`).
        verify: check crc32c of index blocks and of each tensor when it is read.

    Returns:
        A lazy :class:`Checkpoint`: the index is parsed and every entry is validated against the
        data files' sizes now; tensor data is read (memory-mapped) only on access.

    Raises:
        CheckpointError: missing, truncated or corrupt files, or an unsupported bundle version.
    """
    prefix = resolve_checkpoint_prefix(path)
    if not os.path.exists(prefix + ".index") and is_table_file(prefix):
        ckpt: Checkpoint = V1Checkpoint(prefix, verify=verify)
    else:
        ckpt = Checkpoint(prefix, verify=verify)
    logger.info("checkpoint %s: %d tensors, %d shard(s), %s", prefix, len(ckpt), ckpt.num_shards,
                format_bytes(ckpt.total_bytes))
    return ckpt
