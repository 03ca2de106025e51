"""Group requests routed per coordinator, against the sandbox (real kafka-python connections, real wire protocol).

The sandbox moves a group's coordinator to the next live broker when its broker stops, and answers
NOT_COORDINATOR from any other broker, so these tests see exactly what a client sees on a coordinator move.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kafka_obs.clock import ManualClock
from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin
from kafka_obs.exporter.model import GroupDescription

sandbox_runtime = pytest.importorskip("kafka_obs.sandbox.runtime")


@pytest.fixture
def alpha() -> Iterator[tuple[Any, ConfluentKafkaAdmin]]:
    clock = ManualClock()
    with sandbox_runtime.Sandbox.start("small", clock=clock) as sb:
        cluster = next(c for c in sb.fleet_config().clusters if c.name == "alpha")
        admin = ConfluentKafkaAdmin(cluster, timeout=2.0)
        try:
            yield sb, admin
        finally:
            admin.close()


def truth_offsets(sb: Any, group: str) -> dict[tuple[str, int], int]:
    offsets = sb.truth()["clusters"]["alpha"]["groups"][group]["offsets"]
    return {(t, int(p)): o for t, parts in offsets.items() for p, o in parts.items()}


def delta(before: dict[str, int], after: dict[str, int], api: str) -> int:
    return after.get(api, 0) - before.get(api, 0)


def test_coordinator_move_is_followed_within_one_call(alpha) -> None:  # type: ignore[no-untyped-def]
    sb, admin = alpha
    groups = sorted(sb.truth()["clusters"]["alpha"]["groups"])
    first = admin.committed_offsets(groups)
    assert first == {g: truth_offsets(sb, g) for g in groups}

    coordinators = {g: sb.truth()["clusters"]["alpha"]["groups"][g]["coordinator"] for g in groups}
    moved_broker = coordinators["orders-processor"]
    sb.stop_broker("alpha", moved_broker)
    moved = sorted(g for g, b in coordinators.items() if b == moved_broker)
    new = {g: sb.truth()["clusters"]["alpha"]["groups"][g]["coordinator"] for g in groups}
    assert all(new[g] != moved_broker for g in moved)

    before = admin.requests_total()
    second = admin.committed_offsets(groups)
    after = admin.requests_total()
    assert second == {g: truth_offsets(sb, g) for g in groups}  # nothing lost, nothing stale
    # the moved groups are re-resolved in one batched FindCoordinator and asked again at once: no new client
    # (a bootstrap would add Metadata/ApiVersions), no request per group
    assert delta(before, after, "FindCoordinator") == 1
    live_coordinators = len(set(coordinators.values()))
    assert delta(before, after, "OffsetFetch") <= live_coordinators + 1
    assert delta(before, after, "ApiVersions") <= 1  # at most the connection to the new coordinator

    # the next call knows the new coordinators: no FindCoordinator at all
    before = admin.requests_total()
    assert admin.committed_offsets(groups) == {g: truth_offsets(sb, g) for g in groups}
    after = admin.requests_total()
    assert delta(before, after, "FindCoordinator") == 0
    assert delta(before, after, "OffsetFetch") == len(set(new.values()))


def test_every_coordinator_down_fails_every_group_bounded(alpha) -> None:  # type: ignore[no-untyped-def]
    sb, admin = alpha
    groups = sorted(sb.truth()["clusters"]["alpha"]["groups"])
    admin.committed_offsets(groups)
    for broker in (1, 2, 3):
        sb.stop_broker("alpha", broker)
    answers = admin.committed_offsets(groups)
    assert set(answers) == set(groups)
    assert all(isinstance(a, Exception) for a in answers.values())


def test_describe_errors_are_per_group(alpha) -> None:  # type: ignore[no-untyped-def]
    sb, admin = alpha
    answers = admin.describe_groups(["orders-processor", "no-such-group"])
    orders = answers["orders-processor"]
    assert isinstance(orders, GroupDescription)
    truth = sb.truth()["clusters"]["alpha"]["groups"]["orders-processor"]
    assert (orders.state, orders.members) == (truth["state"], len(truth["members"]))
    # Kafka answers an unknown group as Dead with no members, not as an error
    unknown = answers["no-such-group"]
    assert isinstance(unknown, GroupDescription)
    assert unknown.state == "Dead"
