"""DataType <-> numpy and TensorProto <-> ndarray, checked against tf.make_tensor_proto / tf.make_ndarray."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from graphsurgeon._proto import tensor_pb2, types_pb2
from graphsurgeon.errors import UnsupportedError
from graphsurgeon.formats import tensors

DT = types_pb2.DataType
# Every dtype graphsurgeon maps to numpy, with sample values in its range.
SAMPLES = {
    DT.DT_FLOAT: [1.5, -2.25, 3.0, 0.0, 7.0, -1.0],
    DT.DT_DOUBLE: [1e300, -2.5, 3.0, 0.0, 7.0, -1.0],
    DT.DT_HALF: [1.5, -2.25, 3.0, 0.0, 7.0, -1.0],
    DT.DT_BFLOAT16: [1.5, -2.25, 3.0, 0.0, 7.0, -1.0],
    DT.DT_INT8: [1, -128, 127, 0, 5, -3],
    DT.DT_INT16: [1, -32768, 32767, 0, 5, -3],
    DT.DT_INT32: [1, -(2**31), 2**31 - 1, 0, 5, -3],
    DT.DT_INT64: [1, -(2**63), 2**63 - 1, 0, 5, -3],
    DT.DT_UINT8: [1, 255, 0, 7, 8, 9],
    DT.DT_UINT16: [1, 65535, 0, 7, 8, 9],
    DT.DT_UINT32: [1, 2**32 - 1, 0, 7, 8, 9],
    DT.DT_UINT64: [1, 2**64 - 1, 0, 7, 8, 9],
    DT.DT_BOOL: [True, False, True, True, False, False],
    DT.DT_COMPLEX64: [1 + 2j, -3.5j, 4, 0, 1j, -1],
    DT.DT_COMPLEX128: [1 + 2j, -3.5j, 4, 0, 1j, -1],
    DT.DT_STRING: [b"ab", b"", b"x\x00y", "h\u00e9llo".encode(), b"\xff", b"z"],
    DT.DT_QINT8: [1, -128, 127, 0, 5, -3],
    DT.DT_QUINT8: [1, 255, 0, 7, 8, 9],
    DT.DT_QINT16: [1, -32768, 32767, 0, 5, -3],
    DT.DT_QUINT16: [1, 65535, 0, 7, 8, 9],
    DT.DT_QINT32: [1, -(2**31), 2**31 - 1, 0, 5, -3],
    DT.DT_FLOAT8_E5M2: [1.5, -2.0, 3.0, 0.0, 0.5, -1.0],
    DT.DT_FLOAT8_E4M3FN: [1.5, -2.0, 3.0, 0.0, 0.5, -1.0],
    DT.DT_FLOAT8_E4M3FNUZ: [1.5, -2.0, 3.0, 0.0, 0.5, -1.0],
    DT.DT_FLOAT8_E4M3B11FNUZ: [1.5, -2.0, 3.0, 0.0, 0.5, -1.0],
    DT.DT_FLOAT8_E5M2FNUZ: [1.5, -2.0, 3.0, 0.0, 0.5, -1.0],
    DT.DT_INT4: [1, -8, 7, 0, 5, -3],
    DT.DT_UINT4: [1, 15, 0, 7, 8, 9],
    DT.DT_INT2: [1, -2, 0, 1, -1, 0],
    DT.DT_UINT2: [1, 3, 0, 2, 1, 0],
    DT.DT_FLOAT4_E2M1FN: [1.5, -2.0, 3.0, 0.0, 0.5, -1.0],
}
# Narrow float and int types where TensorFlow's Python helpers lack some conversions; a skip
# says which. Every other dtype must match TensorFlow exactly.
EXOTIC = frozenset({DT.DT_FLOAT8_E5M2, DT.DT_FLOAT8_E4M3FN, DT.DT_FLOAT8_E4M3FNUZ, DT.DT_FLOAT8_E4M3B11FNUZ,
                    DT.DT_FLOAT8_E5M2FNUZ, DT.DT_INT4, DT.DT_UINT4, DT.DT_INT2, DT.DT_UINT2, DT.DT_FLOAT4_E2M1FN})
SHAPES = [(), (1,), (6,), (2, 3), (0,), (3, 0, 2)]


def _array(dtype: int, shape: tuple[int, ...]) -> np.ndarray:
    count = int(np.prod(shape, dtype=np.int64))
    values = (SAMPLES[dtype] * 2)[:count]
    arr = np.empty(count, dtype=tensors.NUMPY_DTYPES[dtype])
    for i, v in enumerate(values):
        arr[i] = v
    return arr.reshape(shape)


def _name(dtype: int) -> str:
    return DT.Name(dtype)


def test_every_dtype_has_samples() -> None:
    assert set(SAMPLES) == set(tensors.NUMPY_DTYPES), "a dtype without samples would go untested"


@pytest.mark.parametrize("dtype", sorted(SAMPLES), ids=_name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_round_trip_without_tensorflow(dtype: int, shape: tuple[int, ...]) -> None:
    arr = _array(dtype, shape)
    proto = tensors.array_to_tensor(arr, dtype=dtype)
    assert proto.dtype == dtype
    assert tensors.shape_from_proto(proto.tensor_shape) == shape
    parsed = tensor_pb2.TensorProto.FromString(proto.SerializeToString())
    back = tensors.tensor_to_array(parsed)
    assert back.dtype == arr.dtype and back.shape == shape
    assert np.array_equal(back, arr), f"{_name(dtype)} {shape}: {back!r} != {arr!r}"


def _tf_dtype(tf, dtype: int):  # noqa: ANN001, ANN202
    return tf.dtypes.as_dtype(dtype)


@pytest.mark.tf
@pytest.mark.parametrize("dtype", sorted(SAMPLES), ids=_name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_array_to_tensor_matches_make_tensor_proto(dtype: int, shape: tuple[int, ...]) -> None:
    import tensorflow as tf

    arr = _array(dtype, shape)
    if dtype in EXOTIC:
        try:
            theirs = tf.make_tensor_proto(arr, dtype=_tf_dtype(tf, dtype))
        except (TypeError, ValueError) as err:
            pytest.skip(f"TensorFlow cannot make a {_name(dtype)} tensor proto: {err}")
    else:
        theirs = tf.make_tensor_proto(arr, dtype=_tf_dtype(tf, dtype))
    ours = tensors.array_to_tensor(arr, dtype=dtype)
    assert ours.SerializeToString() == theirs.SerializeToString(), (
        f"{_name(dtype)} {shape}: ours {ours} theirs {theirs}")


@pytest.mark.tf
@pytest.mark.parametrize("dtype", sorted(SAMPLES), ids=_name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_tensor_to_array_matches_make_ndarray(dtype: int, shape: tuple[int, ...]) -> None:
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2 as tf_tensor_pb2

    arr = _array(dtype, shape)
    data = tensors.array_to_tensor(arr, dtype=dtype).SerializeToString()
    theirs_proto = tf_tensor_pb2.TensorProto.FromString(data)
    try:
        expected = tf.make_ndarray(theirs_proto)
    except (TypeError, ValueError, KeyError) as err:
        if dtype not in EXOTIC:
            raise
        pytest.skip(f"TensorFlow cannot read a {_name(dtype)} tensor proto: {err}")
    ours = tensors.tensor_to_array(tensor_pb2.TensorProto.FromString(data))
    assert ours.shape == expected.shape
    assert np.array_equal(ours.astype(expected.dtype) if dtype != DT.DT_STRING else ours, expected), (
        f"{_name(dtype)} {shape}: {ours!r} != {expected!r}")


def _val_proto(dtype: int, shape: tuple[int, ...], count: int) -> tensor_pb2.TensorProto:
    """A TensorProto holding only the first ``count`` sample values in its typed *_val field."""
    proto = tensor_pb2.TensorProto(dtype=dtype)
    proto.tensor_shape.CopyFrom(tensors.shape_to_proto(shape))
    values = np.array(SAMPLES[dtype][:count], dtype=tensors.NUMPY_DTYPES[dtype])
    field = tensors._VAL_FIELDS[dtype]
    if dtype == DT.DT_STRING:
        proto.string_val.extend(values.tolist())
    elif field in ("scomplex_val", "dcomplex_val"):
        getattr(proto, field).extend(float(p) for v in values for p in (v.real, v.imag))
    elif field == "half_val":
        proto.half_val.extend(int(b) for b in values.view(np.uint16))
    elif field == "float8_val":
        proto.float8_val = values.view(np.uint8).tobytes()
    elif dtype == DT.DT_BOOL:
        proto.bool_val.extend(bool(v) for v in values)
    elif field in ("float_val", "double_val"):
        getattr(proto, field).extend(float(v) for v in values)
    else:
        getattr(proto, field).extend(int(v) for v in values)
    return proto


@pytest.mark.parametrize("dtype", sorted(SAMPLES), ids=_name)
@pytest.mark.parametrize("count", [0, 1, 2])
def test_fewer_values_repeat_the_last_one(dtype: int, count: int) -> None:
    proto = _val_proto(dtype, (2, 2), count)
    out = tensors.tensor_to_array(proto)
    values = np.array(SAMPLES[dtype][:count], dtype=tensors.NUMPY_DTYPES[dtype])
    if count == 0:
        zero = b"" if dtype == DT.DT_STRING else 0
        expected = np.full(4, zero, dtype=out.dtype)
    else:
        expected = np.concatenate([values, np.repeat(values[-1:], 4 - count)])
    assert np.array_equal(out.reshape(-1), expected), f"{_name(dtype)} count {count}: {out!r}"


@pytest.mark.tf
@pytest.mark.parametrize("dtype", sorted(SAMPLES), ids=_name)
@pytest.mark.parametrize("count", [0, 1, 2])
def test_repeated_last_value_matches_make_ndarray(dtype: int, count: int) -> None:
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2 as tf_tensor_pb2

    proto = _val_proto(dtype, (2, 2), count)
    try:
        expected = tf.make_ndarray(tf_tensor_pb2.TensorProto.FromString(proto.SerializeToString()))
    except (TypeError, ValueError, KeyError) as err:
        if dtype not in EXOTIC:
            raise
        pytest.skip(f"TensorFlow cannot read a {_name(dtype)} tensor proto: {err}")
    ours = tensors.tensor_to_array(proto)
    if dtype == DT.DT_STRING and count == 0:
        # TensorFlow fills an empty string list with str '' (its quirk); graphsurgeon keeps bytes.
        assert ours.tolist() == [[b"", b""], [b"", b""]] and expected.tolist() == [["", ""], ["", ""]]
        return
    assert np.array_equal(ours.astype(expected.dtype) if dtype != DT.DT_STRING else ours, expected), (
        f"{_name(dtype)} count {count}: {ours!r} != {expected!r}")


def test_tensor_content_of_wrong_size_is_refused() -> None:
    proto = tensors.array_to_tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    proto.tensor_content = proto.tensor_content[:-4]
    with pytest.raises(UnsupportedError, match=r"const_x: tensor_content holds 20 bytes.*needs 24"):
        tensors.tensor_to_array(proto, what="const_x")


def test_more_values_than_elements_is_refused() -> None:
    proto = _val_proto(DT.DT_INT32, (2,), 3)
    with pytest.raises(UnsupportedError, match="holds 3 values but its shape"):
        tensors.tensor_to_array(proto)


def test_unknown_dtype_names_the_tensor() -> None:
    proto = tensor_pb2.TensorProto(dtype=DT.DT_VARIANT)
    with pytest.raises(UnsupportedError, match="w1 has dtype variant"):
        tensors.tensor_to_array(proto, what="w1")


def test_ref_dtypes_and_names() -> None:
    assert tensors.base_dtype(DT.DT_FLOAT_REF) == DT.DT_FLOAT
    assert tensors.is_ref_dtype(DT.DT_INT64_REF) and not tensors.is_ref_dtype(DT.DT_INT64)
    assert tensors.to_numpy_dtype(DT.DT_HALF_REF) == np.float16
    assert tensors.dtype_name(DT.DT_BFLOAT16) == "bfloat16"
    assert tensors.from_numpy_dtype(np.dtype(ml_dtypes.bfloat16)) == DT.DT_BFLOAT16
    assert tensors.from_numpy_dtype(np.dtype("S3")) == DT.DT_STRING
    with pytest.raises(UnsupportedError, match="float128|longdouble"):
        tensors.from_numpy_dtype(np.longdouble)


def test_big_endian_arrays_are_written_little_endian() -> None:
    arr = np.arange(4, dtype=">i4")
    proto = tensors.array_to_tensor(arr)
    assert proto.tensor_content == np.arange(4, dtype="<i4").tobytes()


@pytest.mark.parametrize("shape", [None, (), (3,), (-1, 4), (None, 2)])
def test_shape_protos(shape: tuple | None) -> None:
    proto = tensors.shape_to_proto(shape)
    expected = None if shape is None else tuple(-1 if d is None else d for d in shape)
    assert tensors.shape_from_proto(proto) == expected
