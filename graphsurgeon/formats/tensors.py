"""DataType <-> numpy dtype, and TensorProto <-> numpy array."""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from graphsurgeon._proto import tensor_pb2, tensor_shape_pb2, types_pb2
from graphsurgeon.errors import GraphSurgeonError, UnsupportedError

DT = types_pb2.DataType

# DataType -> the name of its element type in ml_dtypes. ml_dtypes is imported only when one of
# these is first looked up: importing it costs more than numpy itself (0.2-0.8 s with ml_dtypes
# 0.5-0.7), and most graphs hold none of these types.
_ML_DTYPES: dict[int, str] = {
    DT.DT_BFLOAT16: "bfloat16",
    DT.DT_FLOAT8_E5M2: "float8_e5m2",
    DT.DT_FLOAT8_E4M3FN: "float8_e4m3fn",
    DT.DT_FLOAT8_E4M3FNUZ: "float8_e4m3fnuz",
    DT.DT_FLOAT8_E4M3B11FNUZ: "float8_e4m3b11fnuz",
    DT.DT_FLOAT8_E5M2FNUZ: "float8_e5m2fnuz",
    DT.DT_INT4: "int4",
    DT.DT_UINT4: "uint4",
    DT.DT_INT2: "int2",
    DT.DT_UINT2: "uint2",
    DT.DT_FLOAT4_E2M1FN: "float4_e2m1fn",
}


class _DtypeTable(Mapping[int, np.dtype]):
    """DataType -> numpy dtype; the ml_dtypes entries are filled in (importing ml_dtypes) on first use.

    Membership, ``len`` and iteration over the keys never import ml_dtypes; looking up one of its
    types, or iterating over the values, does.
    """

    def __init__(self, plain: dict[int, np.dtype], lazy: dict[int, str]) -> None:
        self._plain = plain
        self._lazy = lazy
        self._order = list(plain) + [dt for dt in lazy if dt not in plain]

    def _load(self) -> None:
        import ml_dtypes

        for dt, name in self._lazy.items():
            self._plain[dt] = np.dtype(getattr(ml_dtypes, name))
        self._lazy = {}
        for dt in self._order:
            if dt not in _NOT_FROM_NUMPY:
                _FROM_NUMPY.setdefault(self._plain[dt], dt)

    def __getitem__(self, dtype: int) -> np.dtype:
        try:
            return self._plain[dtype]
        except KeyError:
            if dtype not in self._lazy:
                raise
        self._load()
        return self._plain[dtype]

    def __contains__(self, dtype: object) -> bool:
        return dtype in self._plain or dtype in self._lazy

    def __iter__(self) -> Iterator[int]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)


#: DataType enum value -> numpy dtype (the in-memory element type; see docs/formats.md §1).
NUMPY_DTYPES: Mapping[int, np.dtype] = _DtypeTable({
    DT.DT_FLOAT: np.dtype(np.float32),
    DT.DT_DOUBLE: np.dtype(np.float64),
    DT.DT_HALF: np.dtype(np.float16),
    DT.DT_INT8: np.dtype(np.int8),
    DT.DT_INT16: np.dtype(np.int16),
    DT.DT_INT32: np.dtype(np.int32),
    DT.DT_INT64: np.dtype(np.int64),
    DT.DT_UINT8: np.dtype(np.uint8),
    DT.DT_UINT16: np.dtype(np.uint16),
    DT.DT_UINT32: np.dtype(np.uint32),
    DT.DT_UINT64: np.dtype(np.uint64),
    DT.DT_BOOL: np.dtype(np.bool_),
    DT.DT_COMPLEX64: np.dtype(np.complex64),
    DT.DT_COMPLEX128: np.dtype(np.complex128),
    DT.DT_STRING: np.dtype(object),
    # Quantized types are plain integers on disk and in TensorProto.tensor_content.
    DT.DT_QINT8: np.dtype(np.int8),
    DT.DT_QUINT8: np.dtype(np.uint8),
    DT.DT_QINT16: np.dtype(np.int16),
    DT.DT_QUINT16: np.dtype(np.uint16),
    DT.DT_QINT32: np.dtype(np.int32),
}, _ML_DTYPES)

# numpy dtype -> DataType for array_to_tensor; quantized types never win the reverse lookup.
_NOT_FROM_NUMPY = frozenset({DT.DT_QINT8, DT.DT_QUINT8, DT.DT_QINT16, DT.DT_QUINT16, DT.DT_QINT32, DT.DT_STRING})
_FROM_NUMPY: dict[np.dtype, int] = {}
for _dt in NUMPY_DTYPES._plain:  # type: ignore[attr-defined]
    if _dt not in _NOT_FROM_NUMPY:
        _FROM_NUMPY.setdefault(NUMPY_DTYPES[_dt], _dt)

REF_OFFSET = 100  # DT_FLOAT_REF == DT_FLOAT + 100


def dtype_name(dtype: int) -> str:
    """``DT_FLOAT`` -> ``'float32'``-style short names as TensorFlow prints them (``float``)."""
    try:
        name = DT.Name(dtype)
    except ValueError:
        return f"<unknown dtype {dtype}>"
    return name[3:].lower()


def base_dtype(dtype: int) -> int:
    """Strips the ``_REF`` variant: ``DT_FLOAT_REF`` -> ``DT_FLOAT``."""
    return dtype - REF_OFFSET if dtype > REF_OFFSET else dtype


def is_ref_dtype(dtype: int) -> bool:
    return dtype > REF_OFFSET


def to_numpy_dtype(dtype: int, what: str = "tensor") -> np.dtype:
    """DataType -> numpy dtype; raises ``UnsupportedError`` naming ``what`` for unknown types."""
    try:
        return NUMPY_DTYPES[base_dtype(dtype)]
    except KeyError:
        raise UnsupportedError(
            f"{what} has dtype {dtype_name(dtype)} ({dtype}), which has no numpy equivalent") from None


def from_numpy_dtype(dtype: np.dtype | type) -> int:
    """numpy dtype -> DataType. Object and bytes/str arrays map to DT_STRING."""
    dt = np.dtype(dtype)
    if dt.kind in "OSU":
        return DT.DT_STRING
    key = dt.newbyteorder("=") if dt.byteorder in "<>" else dt
    if key not in _FROM_NUMPY and "ml_dtypes" in sys.modules:  # an ml_dtypes type exists only once it is imported
        NUMPY_DTYPES[DT.DT_BFLOAT16]  # fills in the ml_dtypes entries
    try:
        return _FROM_NUMPY[key]
    except KeyError:
        raise UnsupportedError(f"numpy dtype {dt} has no TensorFlow DataType") from None


def shape_to_proto(shape: Sequence[int | None] | None) -> tensor_shape_pb2.TensorShapeProto:
    """A shape (``None`` = unknown rank, ``None``/-1 in a dim = unknown size) -> TensorShapeProto."""
    proto = tensor_shape_pb2.TensorShapeProto()
    if shape is None:
        proto.unknown_rank = True
        return proto
    for size in shape:
        proto.dim.add(size=-1 if size is None else int(size))
    return proto


def shape_from_proto(proto: tensor_shape_pb2.TensorShapeProto) -> tuple[int, ...] | None:
    """TensorShapeProto -> tuple (-1 for unknown sizes) or ``None`` for unknown rank."""
    if proto.unknown_rank:
        return None
    return tuple(int(d.size) for d in proto.dim)


# The typed repeated field holding each dtype's values when tensor_content is not used.
_VAL_FIELDS: dict[int, str] = {
    DT.DT_FLOAT: "float_val", DT.DT_DOUBLE: "double_val",
    DT.DT_INT32: "int_val", DT.DT_INT16: "int_val", DT.DT_INT8: "int_val", DT.DT_UINT8: "int_val",
    DT.DT_UINT16: "int_val", DT.DT_QINT8: "int_val", DT.DT_QUINT8: "int_val",
    DT.DT_QINT16: "int_val", DT.DT_QUINT16: "int_val", DT.DT_QINT32: "int_val",
    DT.DT_INT4: "int_val", DT.DT_UINT4: "int_val", DT.DT_INT2: "int_val", DT.DT_UINT2: "int_val",
    DT.DT_INT64: "int64_val", DT.DT_UINT32: "uint32_val", DT.DT_UINT64: "uint64_val",
    DT.DT_BOOL: "bool_val", DT.DT_STRING: "string_val",
    DT.DT_COMPLEX64: "scomplex_val", DT.DT_COMPLEX128: "dcomplex_val",
    DT.DT_HALF: "half_val", DT.DT_BFLOAT16: "half_val",
    DT.DT_FLOAT8_E5M2: "float8_val", DT.DT_FLOAT8_E4M3FN: "float8_val",
    DT.DT_FLOAT8_E4M3FNUZ: "float8_val", DT.DT_FLOAT8_E4M3B11FNUZ: "float8_val",
    DT.DT_FLOAT8_E5M2FNUZ: "float8_val", DT.DT_FLOAT4_E2M1FN: "float8_val",
}


#: The largest array ``tensor_to_array`` builds from a short list of repeated values (protobuf's 2 GiB
#: limit: a frozen graph could not hold it anyway, and a damaged shape must not allocate terabytes).
MAX_EXPANDED_BYTES = 2**31 - 1


# The numpy type each repeated value field holds, whatever the tensor's dtype.
_FIELD_DTYPES = {
    "float_val": np.float32, "double_val": np.float64, "int_val": np.int32, "int64_val": np.int64,
    "uint32_val": np.uint32, "uint64_val": np.uint64, "bool_val": np.bool_,
}


#: ``tensor_content`` of a constant whose bytes stay in its file (``formats.lazy_graph``): this
#: prefix, then the reader's number and the constant's (both 4 bytes). Never the real content of
#: such a constant: those hold far more bytes than the token.
LAZY_PREFIX = b"\x00gs-lazy\x00"
LAZY_TOKEN_SIZE = len(LAZY_PREFIX) + 8
_lazy_readers: dict[int, Callable[[int], bytearray]] = {}
_lazy_numbers = itertools.count(1)  # never reused: a closed reader's tokens must not reach a new reader


def register_lazy_reader(read: Callable[[int], bytearray]) -> int:
    """Registers ``read(index) -> bytes of constant index``; returns the reader's number for its tokens."""
    number = next(_lazy_numbers)
    _lazy_readers[number] = read
    return number


def unregister_lazy_reader(number: int) -> None:
    _lazy_readers.pop(number, None)


def lazy_token(reader: int, index: int) -> bytes:
    return LAZY_PREFIX + reader.to_bytes(4, "little") + index.to_bytes(4, "little")


def parse_lazy_token(content: bytes) -> tuple[int, int] | None:
    """``(reader, index)`` of a lazy constant's token, or ``None`` when ``content`` is not one."""
    if len(content) != LAZY_TOKEN_SIZE or not content.startswith(LAZY_PREFIX):
        return None
    rest = content[len(LAZY_PREFIX):]
    return int.from_bytes(rest[:4], "little"), int.from_bytes(rest[4:], "little")


def _lazy_content(content: bytes, expected: int, what: str) -> bytearray | None:
    token = parse_lazy_token(content) if expected != len(content) else None
    if token is None:
        return None
    read = _lazy_readers.get(token[0])
    if read is None:
        raise UnsupportedError(f"{what}: its values stay in a lazily read graph file that is closed now")
    return read(token[1])


def tensor_to_array(proto: tensor_pb2.TensorProto, what: str = "tensor") -> np.ndarray:
    """TensorProto -> a new numpy array (strings as an object array of ``bytes``).

    Handles ``tensor_content`` and the typed ``*_val`` fields, where fewer values than
    elements means the last value repeats (and none means zeros), as TensorFlow does.
    """
    dtype = base_dtype(proto.dtype)
    np_dtype = to_numpy_dtype(dtype, what)
    shape = shape_from_proto(proto.tensor_shape) or ()
    if any(d < 0 for d in shape):
        raise UnsupportedError(f"{what}: a constant cannot have unknown dimensions {list(shape)}")
    count = math.prod(shape)  # exact: int64 products of damaged dims wrap around
    if dtype != DT.DT_STRING and proto.tensor_content:
        expected = count * np_dtype.itemsize
        lazy = _lazy_content(proto.tensor_content, expected, what)
        if lazy is not None and len(lazy) == expected:
            return np.frombuffer(lazy, dtype=np_dtype).reshape(shape)  # a fresh, writable buffer: no copy
        if len(proto.tensor_content) != expected:
            raise UnsupportedError(
                f"{what}: tensor_content holds {len(proto.tensor_content)} bytes, "
                f"but {dtype_name(dtype)}{list(shape)} needs {expected}")
        return np.frombuffer(proto.tensor_content, dtype=np_dtype).reshape(shape).copy()
    field = _VAL_FIELDS.get(dtype)
    if field is None:
        raise UnsupportedError(f"{what}: cannot decode a constant of dtype {dtype_name(dtype)}")
    values = getattr(proto, field)
    if dtype == DT.DT_STRING:
        flat = np.empty(len(values), dtype=object)
        flat[:] = list(values)
    elif field in ("scomplex_val", "dcomplex_val"):
        raw = np.asarray(values, dtype=np.float32 if field == "scomplex_val" else np.float64)
        flat = raw[0::2] + 1j * raw[1::2]
        flat = flat.astype(np_dtype)
    elif field == "half_val":
        flat = np.asarray(values, dtype=np.uint16).view(np_dtype)
    elif field == "float8_val":
        flat = np.frombuffer(bytes(values), dtype=np.uint8).view(np_dtype)
    else:
        # Read the field at its own width first: numpy 1.x turns a uint64 above 2**63 into float64.
        flat = np.asarray(values, dtype=_FIELD_DTYPES[field]).astype(np_dtype) if len(values) else np.empty(0, np_dtype)
    if flat.size == count:
        return flat.reshape(shape)
    if flat.size > count:
        raise UnsupportedError(f"{what}: holds {flat.size} values but its shape {list(shape)} has {count} elements")
    if count * np_dtype.itemsize > MAX_EXPANDED_BYTES:
        raise UnsupportedError(
            f"{what}: {flat.size} stored value(s) would be repeated into {dtype_name(dtype)}{list(shape)}, "
            f"{count * np_dtype.itemsize} bytes; graphsurgeon expands constants up to {MAX_EXPANDED_BYTES} bytes")
    out = np.empty(count, dtype=np_dtype)
    if dtype == DT.DT_STRING:
        out[:] = b"" if flat.size == 0 else flat[-1]
    else:
        out[:] = 0 if flat.size == 0 else flat[-1]
    if flat.size:
        out[: flat.size] = flat
    return out.reshape(shape)


# Dtypes that tf.make_tensor_proto stores as raw tensor_content when a tensor has more than one
# element (tensor_util._TENSOR_CONTENT_TYPES); everything else, and every scalar, uses *_val.
_CONTENT_TYPES = frozenset({
    DT.DT_FLOAT, DT.DT_DOUBLE, DT.DT_INT32, DT.DT_UINT8, DT.DT_INT16, DT.DT_INT8, DT.DT_INT64,
    DT.DT_QINT8, DT.DT_QUINT8, DT.DT_QINT32, DT.DT_BFLOAT16, DT.DT_QINT16, DT.DT_QUINT16, DT.DT_HALF,
    DT.DT_UINT32, DT.DT_UINT64, DT.DT_FLOAT8_E5M2, DT.DT_FLOAT8_E4M3FN, DT.DT_FLOAT8_E4M3FNUZ,
    DT.DT_FLOAT8_E4M3B11FNUZ, DT.DT_FLOAT8_E5M2FNUZ, DT.DT_FLOAT4_E2M1FN,
})


def array_to_tensor(array: np.ndarray | object, dtype: int | None = None) -> tensor_pb2.TensorProto:
    """numpy array (or scalar / nested list) -> TensorProto, byte for byte as ``tf.make_tensor_proto``.

    Like TensorFlow, a tensor of more than one element of a plain numeric dtype is stored as
    raw little-endian ``tensor_content``; scalars, one-element tensors, bool, complex, string and
    4/2-bit integer tensors use the typed ``*_val`` field. Strings are stored as given (``bytes``
    as is, ``str`` UTF-8 encoded).
    """
    if dtype is not None and base_dtype(dtype) == DT.DT_STRING:
        arr = np.asarray(array, dtype=object)
    else:
        arr = np.asarray(array) if dtype is None else np.asarray(array, dtype=to_numpy_dtype(dtype))
    dt = from_numpy_dtype(arr.dtype) if dtype is None else base_dtype(dtype)
    proto = tensor_pb2.TensorProto(dtype=dt)  # type: ignore[arg-type]  # an int is a valid DataType value
    proto.tensor_shape.CopyFrom(shape_to_proto(arr.shape))
    if not arr.size:
        return proto
    if dt in _CONTENT_TYPES and arr.size > 1:
        data = np.ascontiguousarray(arr)
        if data.dtype.byteorder == ">":
            data = data.astype(data.dtype.newbyteorder("<"))
        proto.tensor_content = data.tobytes()
        return proto
    flat = arr.reshape(-1)
    field = _VAL_FIELDS[dt]
    if dt == DT.DT_STRING:
        proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode("utf-8") for v in flat)
    elif field in ("scomplex_val", "dcomplex_val"):
        getattr(proto, field).extend(float(part) for v in flat for part in (v.real, v.imag))
    elif field == "half_val":
        proto.half_val.extend(int(bits) for bits in flat.view(np.uint16))
    elif field == "float8_val":
        proto.float8_val = flat.view(np.uint8).tobytes()
    elif dt == DT.DT_BOOL:
        proto.bool_val.extend(bool(v) for v in flat)
    elif field in ("float_val", "double_val"):
        getattr(proto, field).extend(float(v) for v in flat)
    else:
        getattr(proto, field).extend(int(v) for v in flat)
    return proto


def parse_dtype(value: object, what: str = "input") -> int:
    """``"float32"``, ``"float"``, ``"DT_FLOAT"``, ``"tf.float32"``, a DataType number or a numpy
    dtype -> DataType number. Raises ``GraphSurgeonError`` naming ``what`` otherwise."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        if int(value) in DT.values():
            return int(value)
    elif isinstance(value, str):
        text = value.strip().removeprefix("tf.").lower()
        try:
            return DT.Value("DT_" + text.upper().removeprefix("DT_"))
        except ValueError:
            pass
        try:
            return from_numpy_dtype(np.dtype(text))
        except (TypeError, UnsupportedError):
            pass
    else:
        try:
            return from_numpy_dtype(np.dtype(value))  # type: ignore[call-overload]
        except (TypeError, UnsupportedError):
            pass
    raise GraphSurgeonError(f"'{value}' for '{what}' is not a dtype; use a name such as float32, int64, bool, string")
