"""The shared varint codec against protobuf's own encoder."""

from __future__ import annotations

import pytest
from google.protobuf.internal import decoder, encoder

from graphsurgeon.formats.varint import decode_varint, encode_varint

VALUES = [0, 1, 127, 128, 300, 2**14 - 1, 2**14, 2**31 - 1, 2**32, 2**63 - 1, 2**64 - 1]


@pytest.mark.parametrize("value", VALUES)
def test_round_trip_matches_protobuf(value: int) -> None:
    encoded = encode_varint(value)
    assert encoded == encoder._VarintBytes(value), f"{value}: {encoded.hex()}"
    assert decode_varint(b"\xff" + encoded + b"\x01", 1) == (value, 1 + len(encoded))
    assert decoder._DecodeVarint(encoded, 0) == (value, len(encoded))


def test_truncated_and_overlong_raise() -> None:
    with pytest.raises(ValueError):
        decode_varint(b"\x80\x80", 0)  # continuation bit set on the last byte
    with pytest.raises(ValueError):
        decode_varint(b"\x80\x01", 0, end=1)  # runs past the given end
    with pytest.raises(ValueError):
        decode_varint(b"\xff\xff\xff\xff\x0f", 0, max_bits=28)
    assert decode_varint(b"\xff\xff\xff\xff\x0f", 0, max_bits=35) == (2**32 - 1, 5)
