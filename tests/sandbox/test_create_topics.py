"""CreateTopics (librdkafka's AdminClient over TCP) and the per-broker produce faults of the control API."""

from __future__ import annotations

import time

import httpx
import pytest
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_obs.sandbox.runtime import Sandbox
from tests.sandbox.conftest import CLUSTER, cluster_truth


def _create(admin: AdminClient, topic: NewTopic) -> None:
    admin.create_topics([topic], request_timeout=10)[topic.topic].result(timeout=10)


def test_topics_are_created_with_the_assignment_asked_for(sandbox: Sandbox, admin: AdminClient) -> None:
    _create(admin, NewTopic("probe", 3, replication_factor=-1, replica_assignment=[[2, 3], [3, 1], [1, 2]]))
    _create(admin, NewTopic("plain", num_partitions=2, replication_factor=3))
    topics = cluster_truth(sandbox)["topics"]
    assert [(p["leader"], p["replicas"]) for p in topics["probe"]["partitions"]] == [
        (2, [2, 3]),
        (3, [3, 1]),
        (1, [1, 2]),
    ]
    assert [len(p["replicas"]) for p in topics["plain"]["partitions"]] == [3, 3]
    assert admin.list_topics(topic="probe", timeout=10).topics["probe"].partitions[1].leader == 3


@pytest.mark.parametrize(
    ("topic", "code"),
    [
        (NewTopic("orders", 1, replication_factor=1), KafkaError.TOPIC_ALREADY_EXISTS),
        (NewTopic("bad", 1, replication_factor=-1, replica_assignment=[[9]]), KafkaError.INVALID_REPLICA_ASSIGNMENT),
        (NewTopic("wide", 1, replication_factor=5), KafkaError.INVALID_REPLICA_ASSIGNMENT),
    ],
    ids=["exists", "unknown-broker", "too-many-replicas"],
)
def test_refusals_carry_kafkas_error_codes(sandbox: Sandbox, admin: AdminClient, topic: NewTopic, code: int) -> None:
    with pytest.raises(KafkaException) as info:
        _create(admin, topic)
    assert info.value.args[0].code() == code


def test_produce_faults_delay_or_drop_on_one_broker(sandbox: Sandbox, admin: AdminClient) -> None:
    _create(admin, NewTopic("probe", 2, replication_factor=-1, replica_assignment=[[1], [2]]))
    base = f"{sandbox.control_url}/clusters/{CLUSTER}/brokers"
    assert httpx.put(f"{base}/1/produce-fault", json={"delay_ms": 400}).status_code == 200
    assert httpx.put(f"{base}/2/produce-fault", json={"drop": True}).status_code == 200
    assert httpx.put(f"{base}/2/produce-fault", json={"delay_ms": -1}).status_code == 422
    assert httpx.put(f"{base}/9/produce-fault", json={}).status_code == 404
    producer = Producer({"bootstrap.servers": sandbox.bootstrap_servers(CLUSTER), "acks": "all", "log_level": 3})
    acked: dict[int, float] = {}
    started = time.monotonic()

    def delivered(err: KafkaError | None, msg: Message) -> None:
        partition = msg.partition()
        if err is None and partition is not None:
            acked[partition] = time.monotonic() - started

    for partition in (0, 1):
        producer.produce("probe", b"x", partition=partition, on_delivery=delivered)
    assert producer.flush(10) == 0
    assert acked[0] >= 0.4  # the slow broker
    assert acked[1] < 0.4  # the lossy one acknowledges at once...
    ends = [p["log_end_offset"] for p in cluster_truth(sandbox)["topics"]["probe"]["partitions"]]
    assert ends == [1, 0]  # ...and keeps nothing
