"""Fixtures for the exporter's unit tests: a fake cluster, a ManualClock and a fleet config built in code."""

from __future__ import annotations

from typing import Any

import pytest

from kafka_obs.clock import ManualClock
from kafka_obs.config.clusters import FleetConfig
from tests.exporter.fakes import FakeKafka


def fleet(*clusters: dict[str, Any], **extra: Any) -> FleetConfig:
    return FleetConfig.model_validate({"clusters": list(clusters), **extra})


def cluster_config(name: str = "alpha", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "region": "eu-west-1",
        "environment": "production",
        "brokers": ["b1:9092", "b2:9092", "b3:9092"],
        "priority": "critical",
        **extra,
    }


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def kafka(clock: ManualClock) -> FakeKafka:
    fake = FakeKafka(clock=clock)
    fake.add_topic("orders", 3)
    fake.add_topic("payments", 2, retention_ms="86400000", cleanup_policy="compact")
    return fake
