"""Group requests routed per coordinator, against the sandbox (real kafka-python connections, real wire protocol).

The sandbox moves a group's coordinator to the next live broker when its broker stops, and answers
NOT_COORDINATOR from any other broker, so these tests see exactly what a client sees on a coordinator move.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kafka.errors as Errors
import pytest

from kafka_obs.clock import ManualClock
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin, _needs_fallback
from kafka_obs.exporter.coordinators import GroupRetry
from kafka_obs.exporter.model import GroupDescription
from tests.exporter.scrape import Series, parse, value

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


def test_coordinator_move_is_followed_within_one_call(alpha) -> None:
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

    admin.metadata()  # as every cycle does first: the stopped broker is no longer asked FindCoordinator
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


def test_every_coordinator_down_fails_every_group_bounded(alpha) -> None:
    sb, admin = alpha
    groups = sorted(sb.truth()["clusters"]["alpha"]["groups"])
    admin.committed_offsets(groups)
    for broker in (1, 2, 3):
        sb.stop_broker("alpha", broker)
    answers = admin.committed_offsets(groups)
    assert set(answers) == set(groups)
    assert all(isinstance(a, Exception) for a in answers.values())


def test_describe_errors_are_per_group(alpha) -> None:
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


def many_groups_fleet(path: Path, groups: int) -> Path:
    """One 3-broker cluster with ``groups`` consumer groups (a third of them KIP-848), written as a fleet file."""
    deployments = [
        {
            "name": f"d{i:02d}",
            "group": f"group-{i:02d}",
            "topics": ["orders"],
            "replicas": 1 + i % 2,
            "rate": 5,
            **({"protocol": "consumer"} if i % 3 == 0 else {}),
        }
        for i in range(groups)
    ]
    fleet = {
        "clusters": [
            {
                "name": "many",
                "region": "us-east-1",
                "environment": "test",
                "priority": "critical",
                "brokers": 3,
                "topics": [{"name": "orders", "partitions": 6, "rate": 20}],
                "deployments": deployments,
            }
        ]
    }
    out = path / "many-groups.yaml"
    out.write_text(json.dumps(fleet))  # JSON is YAML
    return out


def test_describe_groups_is_batched_per_coordinator(tmp_path: Path) -> None:
    """Fails if DescribeGroups goes back to one request per group (librdkafka's way: 30 groups, 30+ requests)."""
    clock = ManualClock()
    with sandbox_runtime.Sandbox.start(str(many_groups_fleet(tmp_path, 30)), clock=clock) as sb:
        exporter = Exporter(
            sb.fleet_config(), clock=clock, client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=2.0)
        )
        try:
            clock.advance(30)
            exporter.collect_once()
            first = parse(exporter.store.body(openmetrics=False))
            clock.advance(30)
            exporter.collect_once()
            second = parse(exporter.store.body(openmetrics=False))
        finally:
            exporter.stop()
        truth = sb.truth()["clusters"]["many"]["groups"]
    assert len(truth) == 30
    coordinators = len({g["coordinator"] for g in truth.values()})
    assert coordinators > 1

    def sent(series: Series, api: str) -> float:
        return value(series, "kafka_exporter_kafka_requests_total", cluster="many", api=api) or 0

    # first cycle: every group's coordinator found in ONE batched FindCoordinator
    assert sent(first, "FindCoordinator") == 1
    assert sent(first, "DescribeGroups") <= coordinators
    # steady cycle: one DescribeGroups and one OffsetFetch per coordinator, no FindCoordinator
    for api in ("DescribeGroups", "OffsetFetch"):
        assert 1 <= sent(second, api) - sent(first, api) <= coordinators
    assert sent(second, "FindCoordinator") == sent(first, "FindCoordinator")
    # and every group is described correctly, KIP-848 ones included
    for name, group in truth.items():
        assert value(second, "kafka_consumergroup_members", consumergroup=name) == len(group["members"])
        state = value(second, "kafka_consumergroup_state", consumergroup=name, state=group["state"])
        assert state == 1
        kind = value(second, "kafka_consumergroup_state", consumergroup=name, type=group["group_type"])
        assert kind == 1


def test_only_group_errors_fall_back_to_librdkafka() -> None:
    """A KIP-848 group on Kafka 4 answers classic DescribeGroups with GROUP_ID_NOT_FOUND: librdkafka (which speaks
    ConsumerGroupDescribe) gets a second try. A moved, unreachable or slow coordinator does not: it would only
    make librdkafka wait on the same broker."""
    assert _needs_fallback(Errors.GroupIdNotFoundError("group g: not a classic group"))
    assert _needs_fallback(Errors.GroupAuthorizationFailedError("group g"))
    for problem in (
        Errors.KafkaConnectionError("refused"),
        Errors.NodeNotReadyError(1),
        Errors.KafkaTimeoutError(),
        Errors.RequestTimedOutError(),
        Errors.CoordinatorNotAvailableError("group g"),
        GroupRetry("group g: NOT_COORDINATOR"),
    ):
        assert not _needs_fallback(problem), problem
    assert not _needs_fallback(GroupDescription("g", "Stable", 1))
