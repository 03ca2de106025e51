"""ListOffsets: earliest (-2), latest (-1), max timestamp (-3) and by timestamp, answered by partition leaders.

Encoded here rather than through kafka-python's data objects: a sweep asks for every partition of the cluster
twice (25,000 at 10x the ``scale`` fleet), and one object per partition cost more than answering it.
"""

from __future__ import annotations

import struct

from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse

from kafka_obs.sandbox.model.cluster import TopicState
from kafka_obs.sandbox.protocol import errors, wire
from kafka_obs.sandbox.protocol.context import RequestContext

LATEST = -1
EARLIEST = -2
MAX_TIMESTAMP = -3

Answer = tuple[int, int, int, int, int]
"""(partition, error code, timestamp, offset, leader epoch) — -1 for each of the last three when not known."""


def _failed(index: int, error: int) -> Answer:
    return index, error, -1, -1, -1


class _Encoder:
    """ListOffsetsResponse at one version (1-7), byte-identical to kafka-python's encoding."""

    def __init__(self, version: int):
        self.version = version
        self.compact = ListOffsetsResponse.flexible_version_q(version)
        self.tags = wire.NO_TAGS if self.compact else b""
        fmt = ">ihqq" + ("i" if version >= 4 else "") + ("B" if self.compact else "")
        row = struct.Struct(fmt).pack
        if version >= 4:
            self.partition = (lambda a: row(*a, 0)) if self.compact else (lambda a: row(*a))
        else:
            self.partition = (lambda a: row(*a[:4], 0)) if self.compact else (lambda a: row(*a[:4]))

    def body(self, topics: list[tuple[str, list[Answer]]]) -> bytes:
        compact, partition = self.compact, self.partition
        encoded = [
            wire.string(name, compact) + wire.array([partition(a) for a in answers], compact) + self.tags
            for name, answers in topics
        ]
        throttle = wire.int32(0) if self.version >= 2 else b""
        return throttle + wire.array(encoded, compact) + self.tags


_ENCODERS = {v: _Encoder(v) for v in range(1, 8)}


def handle_list_offsets(ctx: RequestContext, request: ListOffsetsRequest) -> wire.Encoded:
    cluster = ctx.cluster
    topics: list[tuple[str, list[Answer]]] = []
    with cluster.lock:
        now = cluster.sync()
        for requested in request.topics:
            topic = cluster.topics.get(requested.name)
            partitions = []
            indexes = [rp.partition_index for rp in requested.partitions]
            answered: set[int] = set()
            for rp in requested.partitions:
                index = rp.partition_index
                if index in answered:
                    continue
                answered.add(index)
                if topic is not None and indexes.count(index) > 1:
                    # Kafka answers a partition asked for twice in one request once, with INVALID_REQUEST
                    partitions.append(_failed(index, errors.INVALID_REQUEST))
                else:
                    partitions.append(_answer(ctx, topic, index, rp.timestamp, now))
            topics.append((requested.name, partitions))
    encoder = _ENCODERS[ctx.api_version]
    return wire.Encoded(encoder.body(topics), flexible=encoder.compact)


def _answer(ctx: RequestContext, topic: TopicState | None, index: int, ts: int, now: float) -> Answer:
    """One partition's answer, by its leader; the caller holds the cluster's lock."""
    cluster = ctx.cluster
    if topic is None or not 0 <= index < len(topic.partitions):
        return _failed(index, errors.UNKNOWN_TOPIC_OR_PARTITION)
    p = topic.partitions[index]
    if p.leader != ctx.broker_id:
        return _failed(index, errors.LEADER_NOT_AVAILABLE if p.leader < 0 else errors.NOT_LEADER_OR_FOLLOWER)
    if ts == LATEST:
        offset, timestamp = cluster.log_end(p, now), -1
    elif ts == EARLIEST:
        offset, timestamp = cluster.log_start(p, now), -1
    elif ts == MAX_TIMESTAMP:
        end = cluster.log_end(p, now)
        if end > cluster.log_start(p, now):
            offset, timestamp = end - 1, int(cluster.time_of_offset(p, end - 1) * 1000)
        else:
            offset, timestamp = -1, -1
    elif ts >= 0:
        offset, timestamp = cluster.offset_for_timestamp(p, ts, now)
    else:
        return _failed(index, errors.UNSUPPORTED_VERSION)
    return index, errors.NONE, timestamp, offset, p.leader_epoch
