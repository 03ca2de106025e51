"""Committed offsets read from a real Kafka 4.4 broker carry their topic names.

OffsetFetch v10 (KIP-848) names topics by id only; asking for it made every committed offset come back under topic
'' and no group had offsets or lag on Kafka 4 (the sandbox, which speaks v9 at most, could not show it).
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_obs.config.clusters import FleetConfig
from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin
from kafka_obs.platform.realkafka import KafkaCluster

pytestmark = pytest.mark.realkafka

TOPIC = "offsets-named"
GROUP = "offsets-named-group"


def test_committed_offsets_name_their_topics(healthy: KafkaCluster) -> None:
    admin = AdminClient({"bootstrap.servers": healthy.bootstrap_servers})
    admin.create_topics([NewTopic(TOPIC, num_partitions=2, replication_factor=1)])[TOPIC].result(30)
    request = ConsumerGroupTopicPartitions(GROUP, [TopicPartition(TOPIC, 0, 0), TopicPartition(TOPIC, 1, 0)])
    # the first commit creates __consumer_offsets: slow on a loaded machine, and errors come back per partition
    deadline = time.monotonic() + 120
    answer = admin.alter_consumer_group_offsets([request])[GROUP].result(120)
    while any(tp.error for tp in answer.topic_partitions) and time.monotonic() < deadline:
        time.sleep(1)
        answer = admin.alter_consumer_group_offsets([request])[GROUP].result(120)
    assert not any(tp.error for tp in answer.topic_partitions)

    fleet = FleetConfig.model_validate(
        {
            "clusters": [
                {
                    "name": "real",
                    "region": "local",
                    "environment": "test",
                    "brokers": [n.address for n in healthy.nodes],
                    "priority": "low",
                }
            ]
        }
    )
    client = ConfluentKafkaAdmin(fleet.clusters[0], timeout=10)
    try:
        offsets = client.committed_offsets([GROUP])[GROUP]
    finally:
        client.close()
    assert offsets == {(TOPIC, 0): 0, (TOPIC, 1): 0}
