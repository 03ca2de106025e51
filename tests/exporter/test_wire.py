"""The exporter's own decoders against kafka-python's, on the same encoded answers: every version decoded here, with
group and partition error codes, null and long metadata, negative offsets, members with and without instance ids,
and (hand-encoded, since kafka-python writes no unknown tags) tagged fields on flexible versions."""

from __future__ import annotations

import logging
import struct
from typing import Any

import pytest
from kafka.protocol.admin.cluster import DescribeLogDirsResponse
from kafka.protocol.admin.groups import DescribeGroupsRequest as KafkaDescribeGroupsRequest
from kafka.protocol.admin.groups import DescribeGroupsResponse
from kafka.protocol.consumer.group import OffsetFetchRequest as KafkaOffsetFetchRequest
from kafka.protocol.consumer.group import OffsetFetchResponse
from kafka.protocol.consumer.offsets import ListOffsetsRequest as KafkaListOffsetsRequest
from kafka.protocol.consumer.offsets import ListOffsetsResponse
from kafka.protocol.frame import KafkaBytes

from kafka_obs.exporter import wire
from kafka_obs.exporter.confluent_client import _list_offsets_answer, _log_dirs_answer, _offsets_from
from kafka_obs.exporter.coordinators import _offset_fetch_groups, _parse_describe, _parse_offset_fetch


def kafka_python(response_class: Any, version: int, data: bytes) -> Any:
    return response_class[version].decode(data)


def outcome(pairs: Any) -> list[tuple[str, object]]:
    """Parsed (group, answer) pairs with exceptions made comparable."""
    return [(g, (type(a).__name__, str(a)) if isinstance(a, Exception) else a) for g, a in pairs]


# -- OffsetFetch --------------------------------------------------------------------------------------------------

OF = OffsetFetchResponse
LONG_METADATA = "m" * 300  # a length that needs a two-byte varint


def offset_fetch(version: int) -> Any:
    Group, Topic = OF.OffsetFetchResponseGroup, OF.OffsetFetchResponseGroup.OffsetFetchResponseTopics
    Part = Topic.OffsetFetchResponsePartitions

    def part(index: int, offset: int, metadata: str | None = None, error: int = 0) -> Any:
        return Part(
            partition_index=index,
            committed_offset=offset,
            committed_leader_epoch=3,
            metadata=metadata,
            error_code=error,
        )

    groups = [
        Group(
            group_id="orders-processor",
            topics=[
                Topic(name="orders", partitions=[part(0, 120), part(1, 0, ""), part(2, -1), part(3, 7, LONG_METADATA)]),
                # 3: UNKNOWN_TOPIC_OR_PARTITION
                Topic(name="paiements-é", partitions=[part(0, 5, None, 0), part(1, 9, None, 3)]),
            ],
            error_code=0,
        ),
        Group(group_id="loading", topics=[], error_code=14),
        Group(group_id="empty", topics=[], error_code=0),
        Group(group_id="shared", topics=[Topic(name="orders", partitions=[part(7, 2**40)])], error_code=0),
    ]
    return OF(version=version, throttle_time_ms=12, groups=groups)


@pytest.mark.parametrize("version", [8, 9])
def test_offset_fetch_decodes_as_kafka_python_does(version: int) -> None:
    data = bytes(offset_fetch(version).encode(version=version))
    ours, end = wire.decode_offset_fetch(data, 0, version)
    reference = kafka_python(OF, version, data)
    groups = [g.group_id for g in reference.groups]
    assert end == len(data)
    assert ours.throttle_time_ms == reference.throttle_time_ms == 12
    assert ours.groups == _offset_fetch_groups(reference, groups)
    assert outcome(_parse_offset_fetch(ours, groups)) == outcome(_parse_offset_fetch(reference, groups))
    assert ours.groups[0].offsets == {("orders", 0): 120, ("orders", 1): 0, ("orders", 3): 7, ("paiements-é", 0): 5}
    assert ours.groups[1].error_code == 14


uvarint = wire.encode_uvarint  # the hand-encoded answers below are checked against kafka-python's decoder too


def compact_string(s: str | None) -> bytes:
    if s is None:
        return b"\x00"
    raw = s.encode()
    return uvarint(len(raw) + 1) + raw


def tags(*fields: tuple[int, bytes]) -> bytes:
    return uvarint(len(fields)) + b"".join(uvarint(tag) + uvarint(len(value)) + value for tag, value in fields)


def test_offset_fetch_skips_tagged_fields_at_every_level() -> None:
    """Unknown tags (a newer broker's additions) at the partition, topic, group and answer level are skipped."""
    tag = (7, b"\x01\x02\x03")
    big = (300, b"x" * 200)  # a tag number and a size that need two-byte varints
    partition = struct.pack(">iqi", 4, 55, 2) + compact_string(None) + struct.pack(">h", 0) + tags(tag)
    bad = struct.pack(">iqi", 5, 66, 2) + compact_string("x") + struct.pack(">h", 3) + tags()
    topic = compact_string("orders") + uvarint(3) + partition + bad + tags(big)
    group = compact_string("g1") + uvarint(2) + topic + struct.pack(">h", 0) + tags(tag, big)
    data = struct.pack(">i", 0) + uvarint(2) + group + tags(tag)
    ours, end = wire.decode_offset_fetch(data, 0, 8)
    reference = kafka_python(OF, 8, data)
    assert end == len(data)
    expected = [wire.OffsetFetchGroup("g1", 0, {("orders", 4): 55})]
    assert ours.groups == _offset_fetch_groups(reference, ["g1"]) == expected


# -- ListOffsets --------------------------------------------------------------------------------------------------

LO = ListOffsetsResponse


def list_offsets(version: int) -> Any:
    Topic = LO.ListOffsetsTopicResponse
    Part = Topic.ListOffsetsPartitionResponse

    def part(index: int, offset: int, error: int = 0) -> Any:
        return Part(partition_index=index, error_code=error, timestamp=-1, offset=offset, leader_epoch=4)

    topics = [
        Topic(name="orders", partitions=[part(0, 1_000), part(1, 0), part(2, -1), part(3, -1, 6)]),  # 6: not leader
        Topic(name="payments", partitions=[part(0, 2**45), part(9, -1, 3)]),
        Topic(name="empty", partitions=[]),
    ]
    return LO(version=version, throttle_time_ms=0 if version < 2 else 8, topics=topics)


@pytest.mark.parametrize("version", range(1, 12))
def test_list_offsets_decodes_as_kafka_python_does(version: int) -> None:
    data = bytes(list_offsets(version).encode(version=version))
    ours, end = wire.decode_list_offsets(data, 0, version)
    reference = kafka_python(LO, version, data)
    assert end == len(data)
    assert ours == _list_offsets_answer(reference)
    assert _offsets_from({1: ours}) == _offsets_from({1: reference})
    assert ours.offsets == {("orders", 0): 1_000, ("orders", 1): 0, ("payments", 0): 2**45}
    assert ours.errors == [("orders", 3, 6), ("payments", 9, 3)]


def test_list_offsets_skips_tagged_fields() -> None:
    tag = (1, b"\xff" * 130)
    partition = struct.pack(">ihqqi", 2, 0, -1, 42, 0) + tags(tag)
    data = struct.pack(">i", 0) + uvarint(2) + compact_string("t") + uvarint(2) + partition + tags(tag) + tags(tag)
    ours, end = wire.decode_list_offsets(data, 0, 7)
    assert end == len(data)
    assert ours == _list_offsets_answer(kafka_python(LO, 7, data)) == wire.ListOffsetsAnswer(0, {("t", 2): 42}, [])


# -- DescribeGroups -----------------------------------------------------------------------------------------------

DG = DescribeGroupsResponse


def describe_groups(version: int) -> Any:
    Group = DG.DescribedGroup
    Member = Group.DescribedGroupMember

    def member(n: int, instance: str | None) -> Any:
        return Member(
            member_id=f"consumer-{n}",
            group_instance_id=instance,
            client_id="app",
            client_host="/10.0.0.1",
            member_metadata=b"\x00\x01" * 40,
            member_assignment=b"\x00" * (200 if n else 0),  # long enough for a two-byte compact length
        )

    def group(group_id: str, error: int, state: str, members: list[Any], message: str | None = None) -> Any:
        return Group(
            error_code=error,
            error_message=message,
            group_id=group_id,
            group_state=state,
            protocol_type="consumer",
            protocol_data="range",
            members=members,
            authorized_operations={2, 3},
        )

    groups = [
        group("orders-processor", 0, "Stable", [member(0, None), member(1, "pod-1"), member(2, None)]),
        group("idle", 0, "Empty", []),
        group("moved", 16, "", [], "this is not the coordinator"),
        group("gone", 69, "Dead", [], None),
    ]
    return DG(version=version, throttle_time_ms=0 if version < 1 else 3, groups=groups)


@pytest.mark.parametrize("version", range(0, 7))
def test_describe_groups_decodes_as_kafka_python_does(version: int) -> None:
    data = bytes(describe_groups(version).encode(version=version))
    ours, end = wire.decode_describe_groups(data, 0, version)
    reference = kafka_python(DG, version, data)
    assert end == len(data)
    assert outcome(_parse_describe(ours, [])) == outcome(_parse_describe(reference, []))
    assert [(g.group_id, g.error_code, g.group_state, g.members) for g in ours.groups] == [
        ("orders-processor", 0, "Stable", 3),
        ("idle", 0, "Empty", 0),
        ("moved", 16, "", 0),
        ("gone", 69, "Dead", 0),
    ]
    assert ours.groups[2].error_message == ("this is not the coordinator" if version >= 6 else None)


def test_describe_groups_skips_tagged_fields() -> None:
    tag = (0, b"abc")
    member = b"".join(compact_string(s) for s in ("m", None, "c", "h")) + uvarint(3) + b"md" + uvarint(1) + tags(tag)
    group = struct.pack(">h", 0) + b"".join(compact_string(s) for s in ("g", "Stable", "consumer", "range"))
    group += uvarint(3) + member + member + struct.pack(">i", 0) + tags(tag)
    data = struct.pack(">i", 0) + uvarint(2) + group + tags(tag)
    ours, end = wire.decode_describe_groups(data, 0, 5)
    assert end == len(data)
    assert outcome(_parse_describe(ours, [])) == outcome(_parse_describe(kafka_python(DG, 5, data), []))
    assert ours.groups == [wire.DescribedGroup("g", 0, None, "Stable", 2)]


# -- the hook into kafka-python -----------------------------------------------------------------------------------


def sent(request: Any, version: int) -> Any:
    """What a connection does before sending: negotiate the version, attach the header, encode."""
    request.API_VERSION = version
    request.with_header(correlation_id=11, client_id="kafka-obs")
    return request


def test_requests_are_kafka_pythons_and_name_our_decoder_for_decoded_versions_only() -> None:
    ours = sent(wire.OffsetFetchRequest(groups=[], min_version=8, max_version=9), 9)
    theirs = sent(KafkaOffsetFetchRequest(groups=[], min_version=8, max_version=9), 9)
    assert type(ours).__name__ == "OffsetFetchRequest"  # the request counter files it under OffsetFetch
    assert isinstance(ours, KafkaOffsetFetchRequest)
    assert ours.encode(header=True, framed=True) == theirs.encode(header=True, framed=True)
    assert ours.header.correlation_id == 11
    assert isinstance(ours.header.get_response_class(), wire._Decoding)
    old = sent(wire.OffsetFetchRequest(group_id="g", topics=None, min_version=2, max_version=7), 7)
    assert old.header.get_response_class() is OF[7]  # v2-v7: kafka-python's own decoder
    describe = sent(wire.DescribeGroupsRequest(groups=["g"], include_authorized_operations=False), 5)
    assert describe.encode(header=True) == sent(KafkaDescribeGroupsRequest(groups=["g"]), 5).encode(header=True)


def frame(header: bytes, body: bytes) -> KafkaBytes:
    """kafka-python's receive buffer for one answer (after the size prefix), as its parser hands it over."""
    buffer = KafkaBytes(len(header) + len(body))
    buffer.write(header + body)
    buffer.seek(0)
    return buffer


def test_a_connection_decodes_with_ours_and_falls_back_to_kafka_python(caplog: pytest.LogCaptureFixture) -> None:
    request = sent(wire.OffsetFetchRequest(groups=[], min_version=8, max_version=9), 8)
    decoding = request.header.get_response_class()
    body = bytes(offset_fetch(8).encode(version=8))
    header = struct.pack(">i", 11) + b"\x00"  # correlation id, no tagged fields (response header v1)

    buffer = frame(header, body)
    assert decoding.parse_header(buffer).correlation_id == 11
    answer = decoding.decode(buffer)
    assert isinstance(answer, wire.OffsetFetchAnswer)
    assert answer.groups == _offset_fetch_groups(kafka_python(OF, 8, body), [])

    # a layout ours does not read to its end (here: a trailing byte): kafka-python decodes it, and it is logged
    buffer = frame(header, body + b"\x00")
    decoding.parse_header(buffer)
    with caplog.at_level(logging.WARNING, logger="kafka_obs.exporter.wire"):
        fallback = decoding.decode(buffer)
    assert isinstance(fallback, OF)
    assert _offset_fetch_groups(fallback, []) == answer.groups
    assert "decoded by kafka-python instead" in caplog.text


@pytest.mark.parametrize(
    ("decode", "version"),
    [
        (wire.decode_offset_fetch, 10),
        (wire.decode_list_offsets, 0),
        (wire.decode_describe_groups, 7),
        (wire.decode_describe_log_dirs, 0),
    ],
)
def test_versions_not_decoded_here_are_refused(decode: Any, version: int) -> None:
    with pytest.raises(ValueError, match="not decoded here"):
        decode(b"", 0, version)


def test_a_truncated_answer_raises_rather_than_reading_garbage() -> None:
    data = bytes(offset_fetch(8).encode(version=8))
    with pytest.raises(wire._DECODE_ERRORS):
        wire.decode_offset_fetch(data[:-9], 0, 8)


@pytest.mark.parametrize("version", range(1, 12))
@pytest.mark.parametrize("timestamp", [-2, -1, 1_700_000_000_000])
def test_list_offsets_requests_encode_as_kafka_python_does(version: int, timestamp: int) -> None:
    """Same bytes, header and frame included, as kafka-python's encoder writes for the same partitions; a topic
    name long enough for a two-byte compact length, and a topic without partitions."""
    by_topic = {"orders": [0, 1, 2], "é" * 70: [5], "empty": []}
    Topic = KafkaListOffsetsRequest.ListOffsetsTopic
    Part = Topic.ListOffsetsPartition
    theirs = KafkaListOffsetsRequest(
        replica_id=-1,
        isolation_level=0,
        topics=[
            Topic(
                name=t, partitions=[Part(partition_index=p, timestamp=timestamp, current_leader_epoch=-1) for p in ps]
            )
            for t, ps in by_topic.items()
        ],
        timeout_ms=5_000,
        min_version=1,
    )
    ours = wire.ListOffsetsRequest(by_topic, timestamp, 5_000)
    assert type(ours).__name__ == "ListOffsetsRequest"
    expected = bytes(sent(theirs, version).encode(header=True, framed=True))
    assert bytes(sent(ours, version).encode(header=True, framed=True)) == expected


# -- DescribeLogDirs ----------------------------------------------------------------------------------------------

LD = DescribeLogDirsResponse


def describe_log_dirs(version: int) -> Any:
    Result = LD.DescribeLogDirsResult
    Topic = Result.DescribeLogDirsTopic
    Part = Topic.DescribeLogDirsPartition

    def part(index: int, size: int, future: bool = False) -> Any:
        return Part(partition_index=index, partition_size=size, offset_lag=0, is_future_key=future)

    results = [
        Result(
            error_code=0,
            log_dir="/var/lib/kafka/data-0",
            topics=[Topic(name="orders", partitions=[part(0, 4096), part(1, 0), part(2, 9, True)])],
            total_bytes=10**12,
            usable_bytes=4 * 10**11,
            is_cordoned=False,
        ),
        Result(error_code=57, log_dir="/var/lib/kafka/broken", topics=[], total_bytes=-1, usable_bytes=-1),
        Result(error_code=0, log_dir="/data-1", topics=[Topic(name="p", partitions=[part(3, 2**40)])]),
    ]
    return LD(version=version, throttle_time_ms=1, error_code=0, results=results)


@pytest.mark.parametrize("version", range(1, 6))
def test_describe_log_dirs_decodes_as_kafka_python_does(version: int) -> None:
    data = bytes(describe_log_dirs(version).encode(version=version))
    ours, end = wire.decode_describe_log_dirs(data, 0, version)
    assert end == len(data)
    assert ours == _log_dirs_answer(kafka_python(LD, version, data))
    assert ours.results[0].partition_sizes == {("orders", 0): 4096, ("orders", 1): 0}  # the future replica left out
    assert ours.results[1].error_code == 57
    assert ours.results[0].total_bytes == (10**12 if version >= 4 else -1)
