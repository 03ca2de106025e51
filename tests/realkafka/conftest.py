"""One real three-node Apache Kafka cluster for the whole test session (started on first use: ~10-20 s on two cores).

Every test module here sets ``pytestmark = pytest.mark.realkafka``. A missing Java or unresolved jars FAIL the
tests with the message that says what to run (``make kafka``): CI must never pass by skipping real Kafka. Tests that
break the cluster (kill, stop, pause a node) restore it before they end, through :func:`healthy`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from kafka_obs.platform.realkafka import KafkaCluster, KafkaUnavailableError
from tests.realkafka.world import World, build_world


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaCluster]:
    try:
        cluster = KafkaCluster.create(3)
    except KafkaUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        started = time.monotonic()
        cluster.format()
        cluster.start_all(timeout=180.0)
        print(f"\nreal Kafka: 3 nodes ready in {time.monotonic() - started:.1f}s at {cluster.bootstrap_servers}")
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def world(kafka: KafkaCluster) -> Iterator[World]:
    yield from build_world(kafka)


@pytest.fixture
def healthy(kafka: KafkaCluster) -> Iterator[KafkaCluster]:
    """The session cluster, with every node running and every ISR full before and after the test."""
    restore(kafka)
    try:
        yield kafka
    finally:
        restore(kafka)


def restore(kafka: KafkaCluster) -> None:
    for node in kafka.nodes:
        kafka.resume_node(node.node_id)
        if not node.alive():
            kafka.launch(node)
    kafka.wait_ready(timeout=90.0)
