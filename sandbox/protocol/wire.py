"""Kafka's primitive types as bytes, for the responses the sandbox encodes itself instead of through kafka-python.

kafka-python encodes a response from a tree of its generated data objects; for the largest answers (OffsetFetch of
200,000 committed offsets, ListOffsets of 25,000 partitions, DescribeGroups of 20,000 groups) building that tree
cost more than answering, so those handlers write bytes with these functions. Each encoder built on them is proven
byte-identical to kafka-python's encoding of the same response, at every version the sandbox serves, by
tests/sandbox/protocol/test_wire_encoders.py. ``compact`` is the flexible-version encoding (KIP-482): lengths as
unsigned varints of length + 1, and a tagged-field section (always empty here) after every struct.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

int16 = struct.Struct(">h").pack
int32 = struct.Struct(">i").pack
int64 = struct.Struct(">q").pack
_HEADER = struct.Struct(">ii").pack

NO_TAGS = b"\x00"
"""An empty tagged-field section."""


def uvarint(value: int) -> bytes:
    """Kafka's unsigned varint (7 bits a byte, low bits first)."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def string(value: str | None, compact: bool) -> bytes:
    """A (nullable) string: None is Kafka's null."""
    if value is None:
        return b"\x00" if compact else b"\xff\xff"
    data = value.encode()
    return (uvarint(len(data) + 1) if compact else int16(len(data))) + data


def data(value: bytes | None, compact: bool) -> bytes:
    """A (nullable) byte string."""
    if value is None:
        return b"\x00" if compact else b"\xff\xff\xff\xff"
    return (uvarint(len(value) + 1) if compact else int32(len(value))) + value


def array(items: Sequence[bytes], compact: bool) -> bytes:
    """An array of already-encoded items."""
    return (uvarint(len(items) + 1) if compact else int32(len(items))) + b"".join(items)


def array_length(count: int, compact: bool) -> bytes:
    return uvarint(count + 1) if compact else int32(count)


@dataclass(frozen=True)
class Encoded:
    """A response body encoded by its handler for the request's version; the dispatcher only frames it."""

    body: bytes
    flexible: bool
    """Whether the response header carries a tagged-field section (response header v1)."""

    def frame(self, correlation_id: int) -> bytes:
        """The size-prefixed frame: size, correlation id, the header's tagged fields when flexible, the body."""
        tags = NO_TAGS if self.flexible else b""
        return _HEADER(4 + len(tags) + len(self.body), correlation_id) + tags + self.body
