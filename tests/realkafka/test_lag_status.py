"""Lag evaluation on real Kafka: a real consumer that commits, then stops while messages keep arriving, is rated STOP
(no member, offsets frozen over the whole window, lag > 0) — from the exporter's own observations, without reading
``__consumer_offsets``.
"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer

from kafka_obs.clock import SystemClock
from kafka_obs.config.clusters import FleetConfig
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin
from kafka_obs.platform.processes import wait_until
from kafka_obs.platform.realkafka import KafkaCluster
from tests.exporter.scrape import Series, parse, value
from tests.realkafka.support import cluster_entry, create_topic, produce

pytestmark = pytest.mark.realkafka

WINDOW = 3
STATUSES = ("OK", "WARN", "REWIND", "STALL", "STOP")


def statuses(series: Series, group: str) -> dict[str, float | None]:
    return {s: value(series, "kafka_consumergroup_status", consumergroup=group, status=s) for s in STATUSES}


def test_a_real_consumer_that_stops_is_rated_stop(healthy: KafkaCluster) -> None:
    topic, group = f"lag-status-{uuid.uuid4().hex[:6]}", f"stops-{uuid.uuid4().hex[:6]}"
    create_topic(healthy, topic, partitions=3)
    produce(healthy, topic, 300, 100, partitions=3)

    consumer = Consumer(
        {
            "bootstrap.servers": healthy.bootstrap_servers,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "log_level": 3,
        }
    )
    consumer.subscribe([topic])
    consumed = 0
    try:
        while consumed < 100:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                consumed += 1
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()  # leaves the group: no member, committed offsets stay
    produce(healthy, topic, 100, 100, partitions=3)  # messages keep arriving: lag > 0 and growing

    entry = {**cluster_entry(healthy, "lagged"), "jmx_ports": None, "lag_evaluation": {"window": WINDOW}}
    exporter = Exporter(
        FleetConfig.model_validate({"clusters": [entry]}),
        clock=SystemClock(),
        client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=10),
    )
    try:
        seen: list[dict[str, float | None]] = []

        def stopped() -> bool:
            exporter.collect_once()
            series = parse(exporter.store.body(openmetrics=False))
            seen.append(statuses(series, group))
            return seen[-1]["STOP"] == 1

        wait_until(stopped, 120, f"{group} to be rated STOP")
    finally:
        exporter.stop()
    # a full window of observations before the verdict (OK while the window fills), and a state set: one status at 1
    assert len(seen) >= WINDOW, seen
    assert seen[0]["STOP"] == 0, seen
    assert seen[-1] == {"OK": 0, "WARN": 0, "REWIND": 0, "STALL": 0, "STOP": 1}, seen
