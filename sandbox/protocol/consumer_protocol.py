"""The consumer protocol's embedded messages: what a classic consumer sends in JoinGroup (its subscription) and
its leader in SyncGroup (the member's assignment). The group coordinator keeps them as opaque bytes and
DescribeGroups returns them as ``member_metadata`` and ``member_assignment``; the sandbox's members carry them
encoded once (:class:`kafka_obs.sandbox.model.cluster.Member`), at version 0 as Kafka's own consumers write them.
Byte-identical to kafka-python's ``ConsumerProtocolSubscription``/``ConsumerProtocolAssignment`` (tested).
"""

from __future__ import annotations

from collections.abc import Iterable

from kafka_obs.sandbox.protocol.wire import int16, int32, string

_VERSION_0 = int16(0)
_NULL_USER_DATA = int32(-1)


def subscription(topics: Iterable[str]) -> bytes:
    """ConsumerProtocolSubscription v0: the topics, no user data."""
    names = [string(t, compact=False) for t in topics]
    return _VERSION_0 + int32(len(names)) + b"".join(names) + _NULL_USER_DATA


def assignment(partitions: Iterable[tuple[str, int]]) -> bytes:
    """ConsumerProtocolAssignment v0: the (topic, partition) pairs grouped by topic in first-seen order."""
    by_topic: dict[str, list[int]] = {}
    for topic, index in partitions:
        by_topic.setdefault(topic, []).append(index)
    parts = [int32(len(by_topic))]
    for topic, indexes in by_topic.items():
        parts += [string(topic, compact=False), int32(len(indexes)), *map(int32, indexes)]
    return _VERSION_0 + b"".join(parts) + _NULL_USER_DATA
