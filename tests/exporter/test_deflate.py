"""gzip bodies joined from separately compressed pieces: checked by Python's gzip reader and by a single-member
zlib decoder (what urllib3 and Go's reader see), against the plain concatenation."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafka_obs.exporter.deflate import crc32_combine, deflate, gzip_member, stored


@given(st.binary(max_size=3000), st.binary(max_size=3000))
def test_crc32_combine_is_the_crc_of_the_concatenation(a: bytes, b: bytes) -> None:
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_crc32_combine_of_a_long_piece() -> None:
    a, b = b"x" * 10, bytes(range(256)) * 40_000  # 10 MB: many bits of the length set
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def _single_member(body: bytes) -> bytes:
    """What a reader that stops after one gzip member returns (and it must have reached the member's end)."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    plain = decoder.decompress(body)
    assert decoder.eof
    assert not decoder.unused_data
    return plain


@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=2000)), max_size=8))
def test_a_member_of_compressed_and_stored_pieces_is_their_concatenation(pieces: list[tuple[bool, bytes]]) -> None:
    body = gzip_member(deflate(data) if compressed else stored(data) for compressed, data in pieces)
    expected = b"".join(data for _, data in pieces)
    assert gzip.decompress(body) == expected
    assert _single_member(body) == expected


def test_stored_pieces_longer_than_one_block() -> None:
    data = bytes(range(256)) * 600  # 153,600 bytes: three stored blocks
    body = gzip_member([stored(data), deflate(b"# EOF\n")])
    assert _single_member(body) == data + b"# EOF\n"


@pytest.mark.parametrize("data", [b"", b"a", b'kafka_brokers{cluster="a"} 3\n' * 10_000])
def test_a_segment_decompresses_alone(data: bytes) -> None:
    segment = deflate(data)
    assert segment.plain() == data
    assert (segment.crc, segment.size) == (zlib.crc32(data), len(data))
    assert len(segment.deflated) < len(data) or len(data) < 100
