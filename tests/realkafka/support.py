"""What the real-Kafka tests of the JMX catalogue, the self-healing action and the differential test share: the
session cluster as a ``clusters.yaml`` entry, topics created and filled through confluent-kafka (librdkafka, a client
independent of the kafka-python code under test)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_obs.config.clusters import Cluster
from kafka_obs.platform.realkafka import KafkaCluster


def cluster_entry(kafka: KafkaCluster, name: str = "real") -> dict[str, Any]:
    """The session cluster as one ``clusters.yaml`` entry: every node's listener and JMX port, in node order."""
    return {
        "name": name,
        "region": "local",
        "environment": "test",
        "brokers": [node.address for node in kafka.nodes],
        "jmx_ports": [node.jmx_port for node in kafka.nodes],
        "jmx": {"timeout": 30},
    }


def cluster_config(kafka: KafkaCluster, name: str = "real") -> Cluster:
    return Cluster.model_validate(cluster_entry(kafka, name))


def admin(kafka: KafkaCluster) -> AdminClient:
    return AdminClient({"bootstrap.servers": kafka.bootstrap_servers, "log_level": 3})


def create_topic(
    kafka: KafkaCluster,
    name: str,
    partitions: int = 3,
    *,
    replication: int = 3,
    config: Mapping[str, str] | None = None,
) -> None:
    """Create a topic and wait until the controller confirmed it; a leftover of an earlier test is an error."""
    topic = NewTopic(name, partitions, replication, config=dict(config or {}))
    client = admin(kafka)  # referenced until the future resolves: a collected client aborts its requests
    [future] = client.create_topics([topic], operation_timeout=30).values()
    future.result(timeout=30)


def produce(
    kafka: KafkaCluster,
    topic: str,
    count: int,
    size: int,
    *,
    partitions: int | None = None,
    timestamp_ms: int = 0,
) -> int:
    """``count`` records of ``size`` bytes with acks=all and idempotence (no duplicate on a retry, so a broker's
    message counters can be compared exactly), spread over ``partitions`` round-robin, stamped ``timestamp_ms`` (0:
    now; a past time makes them expired for time-based retention); returns the value bytes sent."""
    producer = Producer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "enable.idempotence": True,
            "linger.ms": 5,
            "compression.type": "none",
            "log_level": 3,
        }
    )
    failures: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    payload = b"x" * size
    for i in range(count):
        partition = i % partitions if partitions else -1  # -1: librdkafka's partitioner chooses
        while True:
            try:
                producer.produce(topic, payload, partition=partition, timestamp=timestamp_ms, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
    remaining = producer.flush(60)
    if remaining or failures:
        raise KafkaException(f"{remaining} records undelivered, failures: {failures[:3]}")
    return count * size
