"""Fixtures: a fresh small fleet per test on a manual clock, and confluent-kafka clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from kafka_obs.clock import ManualClock
from kafka_obs.sandbox.runtime import Sandbox

CLUSTER = "alpha"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[Sandbox]:
    with Sandbox.start("small", clock=clock) as sb:
        yield sb


@pytest.fixture
def admin(sandbox: Sandbox) -> AdminClient:
    return AdminClient({"bootstrap.servers": sandbox.bootstrap_servers(CLUSTER), "log_level": 3})


def cluster_truth(sb: Sandbox, cluster: str = CLUSTER) -> dict[str, Any]:
    return sb.truth()["clusters"][cluster]
