"""The consumer protocol's subscription and assignment bytes equal kafka-python's encoding (version 0)."""

from __future__ import annotations

import pytest
from kafka.protocol.consumer.metadata import ConsumerProtocolAssignment, ConsumerProtocolSubscription

from kafka_obs.sandbox.protocol import consumer_protocol


@pytest.mark.parametrize("topics", [(), ("orders",), ("orders", "payments", "t" * 300)])
def test_subscription(topics: tuple[str, ...]) -> None:
    expected = ConsumerProtocolSubscription(version=0, topics=list(topics), user_data=None).encode(version=0)
    assert consumer_protocol.subscription(topics) == bytes(expected)


@pytest.mark.parametrize(
    "pairs",
    [(), (("orders", 0),), (("orders", 4), ("payments", 1), ("orders", 1), ("payments", 0))],
)
def test_assignment_groups_by_topic_in_first_seen_order(pairs: tuple[tuple[str, int], ...]) -> None:
    by_topic: dict[str, list[int]] = {}
    for topic, index in pairs:
        by_topic.setdefault(topic, []).append(index)
    TopicPartition = ConsumerProtocolAssignment.TopicPartition
    expected = ConsumerProtocolAssignment(
        version=0,
        assigned_partitions=[TopicPartition(topic=t, partitions=ps) for t, ps in by_topic.items()],
        user_data=None,
    ).encode(version=0)
    assert consumer_protocol.assignment(pairs) == bytes(expected)
