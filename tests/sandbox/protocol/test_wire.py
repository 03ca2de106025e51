"""Kafka's primitive types written by sandbox/protocol/wire.py equal kafka-python's codecs, lengths past one varint
byte included; a handler's encoded body is framed with the response header of its version."""

from __future__ import annotations

import pytest
from kafka.protocol.schemas.fields.codecs.types import Bytes, Int32, String, UnsignedVarInt32

from kafka_obs.sandbox.protocol import wire

LENGTHS = [0, 1, 126, 127, 128, 300, 16_383, 16_384, 70_000]


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 300, 16_383, 16_384, 2**21, 2**28, 2**32 - 1])
def test_uvarint(value: int) -> None:
    assert wire.uvarint(value) == UnsignedVarInt32.encode(value)


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("length", LENGTHS)
def test_string_and_bytes(compact: bool, length: int) -> None:
    text = ("é" * length)[: length // 2] + "x" * (length - length // 2)  # multi-byte UTF-8 counts in bytes
    if compact or len(text.encode()) <= 32_767:  # a classic string's length is an int16
        assert wire.string(text, compact) == String().encode(text, compact=compact)
    data = bytes(range(256)) * (length // 256) + bytes(length % 256)
    assert wire.data(data, compact) == Bytes.encode(data, compact=compact)


@pytest.mark.parametrize("compact", [False, True])
def test_nulls(compact: bool) -> None:
    assert wire.string(None, compact) == String().encode(None, compact=compact)
    assert wire.data(None, compact) == Bytes.encode(None, compact=compact)


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("count", [0, 1, 127, 128, 1_000])
def test_array(compact: bool, count: int) -> None:
    items = [Int32.encode(i) for i in range(count)]
    length = UnsignedVarInt32.encode(count + 1) if compact else Int32.encode(count)
    assert wire.array(items, compact) == length + b"".join(items)
    assert wire.array_length(count, compact) == length


def test_frame_adds_size_correlation_id_and_flexible_header_tags() -> None:
    assert wire.Encoded(b"body", flexible=False).frame(7) == b"\x00\x00\x00\x08\x00\x00\x00\x07body"
    assert wire.Encoded(b"body", flexible=True).frame(7) == b"\x00\x00\x00\x09\x00\x00\x00\x07\x00body"
