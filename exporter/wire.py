"""Purpose-built decoders for the three answers that grow with the fleet, read straight from the response bytes.

* OffsetFetch v8-v9: every committed offset of a coordinator's groups (80,000 at 4x ``scale``);
* ListOffsets v1-v11: every partition a leader holds (20,000 entries per cycle at 4x, earliest and latest);
* DescribeGroups v0-v6: every member of every group, with its metadata and assignment bytes, of which the
  exporter needs only the count.

Why: kafka-python decodes every answer into a tree of generic objects (one per partition, per member), which the
exporter walked once, copied into its own dictionaries and dropped. At 4x ``scale`` that decoding was about half
of kafka-python's IO thread, ~0.5 s of CPU per cycle (py-spy). These decoders walk the documented wire layout
(``struct.unpack_from`` over the frame kafka-python already received) and build only what the collectors
consume: per group its committed offsets keyed by ``(topic, partition)``, per leader its offsets, per group its
state and member count. Error codes and the filtering the collectors did (a partition error or a negative offset
means no value) are kept exactly; ``tests/exporter/test_wire.py`` decodes the same encoded answers both ways.

They plug into kafka-python at one point: the request classes below are kafka-python's own (same name, same
encoding, same version negotiation), except that the header their connection keeps for the answer names a decoder
of ours for the versions listed. Every other API and version goes through kafka-python's decoder, and so does an
answer these decoders cannot read to its exact end (a layout they do not know): logged, decoded the old way,
never lost.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from kafka.protocol.admin.cluster import DescribeLogDirsRequest as _KafkaDescribeLogDirsRequest
from kafka.protocol.admin.groups import DescribeGroupsRequest as _KafkaDescribeGroupsRequest
from kafka.protocol.consumer.group import OffsetFetchRequest as _KafkaOffsetFetchRequest
from kafka.protocol.consumer.offsets import ListOffsetsRequest as _KafkaListOffsetsRequest

from kafka_obs.exporter.model import TopicPartition

log = logging.getLogger(__name__)

Buffer = bytes | bytearray
_I16 = struct.Struct(">h").unpack_from
_I32 = struct.Struct(">i").unpack_from
_OFFSET_FETCH_SHORT = struct.Struct(">iqiBhB").unpack_from
"""partition index, committed offset, committed leader epoch, then, if the metadata is null or empty (its compact
length byte 0 or 1), error code and the tagged-field count."""
_LIST_OFFSETS_PARTITION = struct.Struct(">ihqq").unpack_from
"""partition index, error code, timestamp, offset (v1+)."""
_DECODE_ERRORS = (struct.error, IndexError, ValueError)
"""What a truncated or unexpected layout raises here (``UnicodeDecodeError`` is a ``ValueError``)."""


class OffsetFetchGroup(NamedTuple):
    group_id: str
    error_code: int
    offsets: dict[TopicPartition, int]
    """Committed offsets of the partitions answered without error and with an offset (≥ 0)."""


class OffsetFetchAnswer(NamedTuple):
    throttle_time_ms: int
    groups: list[OffsetFetchGroup]


class ListOffsetsAnswer(NamedTuple):
    throttle_time_ms: int
    offsets: dict[TopicPartition, int]
    """Partitions answered without error and with an offset (≥ 0: -1 means "no such offset", e.g. by time)."""
    errors: list[tuple[str, int, int]]
    """(topic, partition, error code) of every partition answered with an error, in the answer's order."""


class DescribedGroup(NamedTuple):
    group_id: str
    error_code: int
    error_message: str | None
    group_state: str
    members: int


class DescribeGroupsAnswer(NamedTuple):
    throttle_time_ms: int
    groups: list[DescribedGroup]


class LogDirResult(NamedTuple):
    error_code: int
    path: str
    partition_sizes: dict[TopicPartition, int]
    """Bytes per partition replica in the directory; future replicas (being moved here) are left out."""
    total_bytes: int
    """v4+; -1 when the broker does not say."""
    usable_bytes: int


class DescribeLogDirsAnswer(NamedTuple):
    throttle_time_ms: int
    error_code: int
    results: list[LogDirResult]


# -- primitives ------------------------------------------------------------------------------------------------------


def _uvarint(buf: Buffer, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 28:
            raise ValueError("unsigned varint longer than 5 bytes")


def _skip_tags(buf: Buffer, pos: int) -> int:
    """Past a tagged-fields section (KIP-482): a count, then (tag, size, bytes) each. None is known here."""
    count, pos = _uvarint(buf, pos)
    for _ in range(count):
        _tag, pos = _uvarint(buf, pos)
        size, pos = _uvarint(buf, pos)
        pos += size
    return pos


def _count(buf: Buffer, pos: int, compact: bool) -> tuple[int, int]:
    """An array's length (a null array, -1, reads as empty)."""
    if compact:
        n, pos = _uvarint(buf, pos)
        return max(n - 1, 0), pos
    (n,) = _I32(buf, pos)
    return max(n, 0), pos + 4


def _string(buf: Buffer, pos: int, compact: bool) -> tuple[str | None, int]:
    if compact:
        n, pos = _uvarint(buf, pos)
        n -= 1
    else:
        (n,) = _I16(buf, pos)
        pos += 2
    if n < 0:
        return None, pos
    end = pos + n
    if end > len(buf):
        raise ValueError("string runs past the end of the answer")
    return buf[pos:end].decode(), end


def _text(buf: Buffer, pos: int, compact: bool) -> tuple[str, int]:
    """A string the schema does not make nullable (a null one reads as empty)."""
    value, pos = _string(buf, pos, compact)
    return value or "", pos


def _skip_sized(buf: Buffer, pos: int, compact: bool, wide: bool) -> int:
    """Past a string (``wide``: bytes, whose non-compact length is an int32), null or not."""
    if compact:
        n, pos = _uvarint(buf, pos)
        return pos + max(n - 1, 0)
    if wide:
        (n,) = _I32(buf, pos)
        return pos + 4 + max(n, 0)
    (n,) = _I16(buf, pos)
    return pos + 2 + max(n, 0)


# -- the three answers ------------------------------------------------------------------------------------------


def decode_offset_fetch(buf: Buffer, pos: int, version: int) -> tuple[OffsetFetchAnswer, int]:
    """OffsetFetch v8-v9 (flexible, many groups per answer; v10 names topics by id, which the exporter never asks).

    Per partition: index, committed offset, leader epoch, metadata (compact nullable string), error code, tags.
    """
    if not 8 <= version <= 9:
        raise ValueError(f"OffsetFetch v{version} is not decoded here")
    (throttle,) = _I32(buf, pos)
    pos += 4
    groups: list[OffsetFetchGroup] = []
    names: dict[str, str] = {}
    n_groups, pos = _count(buf, pos, True)
    for _ in range(n_groups):
        group_id, pos = _text(buf, pos, True)
        offsets: dict[TopicPartition, int] = {}
        n_topics, pos = _count(buf, pos, True)
        for _ in range(n_topics):
            name, pos = _text(buf, pos, True)
            name = names.setdefault(name, name)  # one string per topic per answer, its hash computed once
            n_partitions, pos = _count(buf, pos, True)
            for _ in range(n_partitions):
                # the common entry in one read: metadata null or empty (one length byte), no tagged fields
                partition, committed, _epoch, size, error, tagged = _OFFSET_FETCH_SHORT(buf, pos)
                if size < 2 and not tagged:
                    pos += 20
                else:
                    pos += 16  # metadata: 0 is null, n is n - 1 bytes, one length byte below 128
                    if size < 0x80:
                        pos += size or 1
                    else:
                        size, pos = _uvarint(buf, pos)
                        pos += size - 1
                    (error,) = _I16(buf, pos)
                    pos += 2
                    pos = pos + 1 if buf[pos] == 0 else _skip_tags(buf, pos)
                if error == 0 and committed >= 0:
                    offsets[(name, partition)] = committed
            pos = pos + 1 if buf[pos] == 0 else _skip_tags(buf, pos)
        (group_error,) = _I16(buf, pos)
        pos = _skip_tags(buf, pos + 2)
        groups.append(OffsetFetchGroup(group_id, group_error, offsets))
    pos = _skip_tags(buf, pos)
    return OffsetFetchAnswer(throttle, groups), pos


def decode_list_offsets(buf: Buffer, pos: int, version: int) -> tuple[ListOffsetsAnswer, int]:
    """ListOffsets v1-v11 (v0's list of offsets is never asked): throttle time from v2, leader epoch from v4,
    flexible from v6; the partition layout is the same up to v11."""
    if not 1 <= version <= 11:
        raise ValueError(f"ListOffsets v{version} is not decoded here")
    flexible = version >= 6
    epoch = 4 if version >= 4 else 0
    throttle = 0
    if version >= 2:
        (throttle,) = _I32(buf, pos)
        pos += 4
    offsets: dict[TopicPartition, int] = {}
    errors: list[tuple[str, int, int]] = []
    n_topics, pos = _count(buf, pos, flexible)
    for _ in range(n_topics):
        name, pos = _text(buf, pos, flexible)
        n_partitions, pos = _count(buf, pos, flexible)
        for _ in range(n_partitions):
            partition, error, _timestamp, offset = _LIST_OFFSETS_PARTITION(buf, pos)
            pos += 22 + epoch
            if flexible:
                pos = pos + 1 if buf[pos] == 0 else _skip_tags(buf, pos)
            if error:
                errors.append((name, partition, error))
            elif offset >= 0:
                offsets[(name, partition)] = offset
        if flexible:
            pos = _skip_tags(buf, pos)
    if flexible:
        pos = _skip_tags(buf, pos)
    return ListOffsetsAnswer(throttle, offsets, errors), pos


def decode_describe_groups(buf: Buffer, pos: int, version: int) -> tuple[DescribeGroupsAnswer, int]:
    """DescribeGroups v0-v6: throttle time from v1, authorized operations from v3, group instance ids from v4,
    flexible from v5, an error message from v6. Members are counted, their fields skipped."""
    if not 0 <= version <= 6:
        raise ValueError(f"DescribeGroups v{version} is not decoded here")
    flexible = version >= 5
    throttle = 0
    if version >= 1:
        (throttle,) = _I32(buf, pos)
        pos += 4
    groups: list[DescribedGroup] = []
    n_groups, pos = _count(buf, pos, flexible)
    for _ in range(n_groups):
        (error,) = _I16(buf, pos)
        pos += 2
        message = None
        if version >= 6:
            message, pos = _string(buf, pos, flexible)
        group_id, pos = _text(buf, pos, flexible)
        state, pos = _text(buf, pos, flexible)
        pos = _skip_sized(buf, pos, flexible, wide=False)  # protocol type
        pos = _skip_sized(buf, pos, flexible, wide=False)  # protocol data
        members, pos = _count(buf, pos, flexible)
        pos = _skip_members(buf, pos, members, version)
        if version >= 3:
            pos += 4  # authorized operations
        if flexible:
            pos = _skip_tags(buf, pos)
        groups.append(DescribedGroup(group_id, error, message, state, members))
    if flexible:
        pos = _skip_tags(buf, pos)
    return DescribeGroupsAnswer(throttle, groups), pos


_LOG_DIR_PARTITION = struct.Struct(">iqqb").unpack_from
"""partition index, size, offset lag, is future key."""


def decode_describe_log_dirs(buf: Buffer, pos: int, version: int) -> tuple[DescribeLogDirsAnswer, int]:
    """DescribeLogDirs v1-v5: flexible from v2, a top-level error code from v3, total and usable bytes from v4, a
    cordoned flag from v5 (read past)."""
    if not 1 <= version <= 5:
        raise ValueError(f"DescribeLogDirs v{version} is not decoded here")
    flexible = version >= 2
    (throttle,) = _I32(buf, pos)
    pos += 4
    error = 0
    if version >= 3:
        (error,) = _I16(buf, pos)
        pos += 2
    results: list[LogDirResult] = []
    n_results, pos = _count(buf, pos, flexible)
    for _ in range(n_results):
        (dir_error,) = _I16(buf, pos)
        path, pos = _text(buf, pos + 2, flexible)
        sizes: dict[TopicPartition, int] = {}
        n_topics, pos = _count(buf, pos, flexible)
        for _ in range(n_topics):
            name, pos = _text(buf, pos, flexible)
            n_partitions, pos = _count(buf, pos, flexible)
            for _ in range(n_partitions):
                partition, size, _lag, future = _LOG_DIR_PARTITION(buf, pos)
                pos += 21
                if flexible:
                    pos = pos + 1 if buf[pos] == 0 else _skip_tags(buf, pos)
                if not future:
                    sizes[(name, partition)] = size
            if flexible:
                pos = _skip_tags(buf, pos)
        total = usable = -1
        if version >= 4:
            total, usable = struct.unpack_from(">qq", buf, pos)
            pos += 16
        if version >= 5:
            pos += 1  # is cordoned
        if flexible:
            pos = _skip_tags(buf, pos)
        results.append(LogDirResult(dir_error, path, sizes, total, usable))
    if flexible:
        pos = _skip_tags(buf, pos)
    return DescribeLogDirsAnswer(throttle, error, results), pos


def _skip_members(buf: Buffer, pos: int, members: int, version: int) -> int:
    """Past a DescribeGroups group's members, their strings and bytes skipped inline (every member of every group
    goes through here: a call per field cost more than kafka-python's own decoding)."""
    fields = 5 if version >= 4 else 4  # member id, [group instance id,] client id, client host, metadata
    if version >= 5:
        for _ in range(members):
            for _ in range(fields + 1):  # + assignment; each a compact length (0: null, n: n - 1 bytes)
                size = buf[pos]
                if size < 0x80:
                    pos += size or 1
                else:
                    size, pos = _uvarint(buf, pos)
                    pos += size - 1
            pos = pos + 1 if buf[pos] == 0 else _skip_tags(buf, pos)
        return pos
    for _ in range(members):
        for _ in range(fields - 1):  # strings: int16 length, -1 for null
            (size,) = _I16(buf, pos)
            pos += 2 + (size if size > 0 else 0)
        for _ in range(2):  # metadata and assignment: int32 length
            (size,) = _I32(buf, pos)
            pos += 4 + (size if size > 0 else 0)
    return pos


Decoder = Callable[[Buffer, int, int], tuple[Any, int]]


# -- the hook into kafka-python ---------------------------------------------------------------------------------


class _Decoding:
    """What a connection decodes one answer with (kafka-python asks the request's header for a "response class"
    with ``parse_header`` and ``decode``): ours, falling back to kafka-python's class for the same bytes."""

    __slots__ = ("_decode", "_fallback", "_version")

    def __init__(self, fallback: Any, decode: Decoder, version: int):
        self._fallback = fallback
        self._decode = decode
        self._version = version

    def parse_header(self, buffer: Any) -> Any:
        return self._fallback.parse_header(buffer)

    def decode(self, buffer: Any) -> Any:
        """``buffer`` is kafka-python's receive buffer (a ``bytearray`` with ``tell``/``seek``), past the header."""
        start = buffer.tell()
        try:
            answer, end = self._decode(buffer, start, self._version)
            if end != len(buffer):
                raise ValueError(f"{len(buffer) - end} bytes left over")
            return answer
        except _DECODE_ERRORS as exc:
            log.warning(
                "answer not decodable by the exporter's own decoder; decoded by kafka-python instead",
                extra={"api": self._fallback.__name__, "version": self._version, "err": str(exc)},
            )
            buffer.seek(start)
            return self._fallback.decode(buffer)

    def __repr__(self) -> str:
        return f"{self._fallback.__name__} (exporter.wire)"


class _Header:
    """A request header that names :class:`_Decoding` as its answer's class; everything else is the header's."""

    __slots__ = ("_decoding", "_header")

    def __init__(self, header: Any, decoding: _Decoding):
        self._header = header
        self._decoding = decoding

    def __getattr__(self, name: str) -> Any:
        return getattr(self._header, name)

    def get_response_class(self) -> _Decoding:
        return self._decoding

    def __repr__(self) -> str:
        return repr(self._header)


def _decoded_here(base: Any, decode: Decoder, versions: range) -> Any:
    """``base`` (a kafka-python request class) whose answers at ``versions`` are decoded by ``decode``. Same class
    name, so the request counter still files it under its API."""

    def header(self: Any) -> Any:
        own = self._header
        fallback = None if own is None else own.get_response_class()
        if fallback is None or self.API_VERSION not in versions:
            return own
        return _Header(own, _Decoding(fallback, decode, self.API_VERSION))

    namespace = {"__slots__": (), "__module__": __name__, "header": property(header), "decoded_versions": versions}
    return type(base.__name__, (base,), namespace, init=False)


OffsetFetchRequest: Any = _decoded_here(_KafkaOffsetFetchRequest, decode_offset_fetch, range(8, 10))
_ListOffsetsRequest: Any = _decoded_here(_KafkaListOffsetsRequest, decode_list_offsets, range(1, 12))
DescribeGroupsRequest: Any = _decoded_here(_KafkaDescribeGroupsRequest, decode_describe_groups, range(0, 7))
DescribeLogDirsRequest: Any = _decoded_here(_KafkaDescribeLogDirsRequest, decode_describe_log_dirs, range(1, 6))


def encode_list_offsets(by_topic: Mapping[str, Sequence[int]], timestamp: int, timeout_ms: int, version: int) -> bytes:
    """A ListOffsets v1-v11 body asking ``timestamp`` of every partition in ``by_topic``, for a client (replica -1,
    READ_UNCOMMITTED, no leader epoch): the bytes kafka-python's encoder writes for the same request, without a
    Python object per partition (20,000 per cycle at 4x ``scale``)."""
    if not 1 <= version <= 11:
        raise ValueError(f"ListOffsets v{version} is not encoded here")
    flexible = version >= 6
    out = [struct.pack(">ib", -1, 0) if version >= 2 else struct.pack(">i", -1)]
    entry = struct.Struct(">iiq" if version >= 4 else ">iq").pack
    epoch = (-1,) if version >= 4 else ()
    tags = b"\x00" if flexible else b""
    out.append(_length(len(by_topic), flexible, wide=True))
    for topic, partitions in by_topic.items():
        name = topic.encode()
        out.append(_length(len(name), flexible, wide=False) + name + _length(len(partitions), flexible, wide=True))
        out.extend(entry(p, *epoch, timestamp) + tags for p in partitions)
        out.append(tags)
    if version >= 10:
        out.append(struct.pack(">i", timeout_ms))
    out.append(tags)
    return b"".join(out)


def _length(n: int, compact: bool, *, wide: bool) -> bytes:
    """An array's (``wide``: int32) or a string's (int16) length, or its compact form (unsigned varint of n + 1)."""
    if not compact:
        return struct.pack(">i" if wide else ">h", n)
    return encode_uvarint(n + 1)


def encode_uvarint(n: int) -> bytes:
    """An unsigned varint (KIP-482's compact lengths and tagged fields): 7 bits a byte, low bits first."""
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class ListOffsetsRequest(_ListOffsetsRequest, init=False):  # type: ignore[call-arg]
    """ListOffsets at one timestamp for many partitions, encoded by :func:`encode_list_offsets` (and its answer
    decoded by :func:`decode_list_offsets`). The partitions are kept as ``topic → partition ids``; the ``topics``
    field kafka-python would encode stays empty (its repr in a debug log shows no partitions)."""

    __slots__ = ("_by_topic", "_timestamp")

    def __init__(self, by_topic: Mapping[str, Sequence[int]], timestamp: int, timeout_ms: int):
        super().__init__(replica_id=-1, isolation_level=0, topics=[], timeout_ms=timeout_ms, min_version=1)
        self._by_topic = by_topic
        self._timestamp = timestamp

    def encode(self, version: int | None = None, header: bool = False, framed: bool = False) -> bytes:
        if version is not None:
            self.API_VERSION = version  # type: ignore[misc]  # a property of kafka-python's class
        version = self.API_VERSION
        if version is None:
            raise ValueError("Version required to encode data")
        body = encode_list_offsets(self._by_topic, self._timestamp, self.timeout_ms, version)
        if header:
            body = bytes(self.encode_header(flexible=version >= 6)) + body
        return struct.pack(">i", len(body)) + body if framed else body
