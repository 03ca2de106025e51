"""Faults change what clients see exactly as the ground truth says: broker stop/start, ISR shrink, paused
deployments, lowered retention, disk usage."""

from __future__ import annotations

import time

from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, OffsetSpec, ResourceType

from kafka_obs.sandbox.runtime import Sandbox
from tests.sandbox.conftest import CLUSTER, cluster_truth
from tests.sandbox.test_admin_api import TIMEOUT, _list_offsets, _metadata_view, _truth_view


def _eventually(check, timeout: float = 10.0):
    """librdkafka refreshes metadata asynchronously after a broker goes away; poll until it agrees."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_broker_stop_moves_leadership_and_shrinks_isr(sandbox: Sandbox, admin: AdminClient) -> None:
    before = cluster_truth(sandbox)
    sandbox.stop_broker(CLUSTER, 1)
    truth = cluster_truth(sandbox)
    assert [b["up"] for b in truth["brokers"]] == [False, True, True]
    for name, topic in truth["topics"].items():
        for p, old in zip(topic["partitions"], before["topics"][name]["partitions"], strict=True):
            assert 1 not in p["isr"] or p["isr"] == [1]
            if 1 in p["replicas"]:
                assert p["offline_replicas"] == [1]
            if old["leader"] == 1:
                assert p["leader"] != 1
                assert p["leader"] == (p["isr"][0] if p["isr"] != [1] else -1)
    assert truth["topics"]["audit"]["partitions"][0]["leader"] == -1  # replication factor 1 on broker 1
    fresh = AdminClient({"bootstrap.servers": sandbox.bootstrap_servers(CLUSTER), "log_level": 3})

    def agrees() -> None:
        md = fresh.list_topics(timeout=TIMEOUT)
        assert sorted(md.brokers) == [2, 3]
        assert _metadata_view(fresh) == _truth_view(cluster_truth(sandbox))

    _eventually(agrees)
    # ListOffsets still answers for partitions that have a leader, and the offline one stops growing.
    offsets = _list_offsets(fresh, OffsetSpec.latest(), "orders", 6)
    assert offsets == {
        p["partition"]: p["log_end_offset"] for p in cluster_truth(sandbox)["topics"]["orders"]["partitions"]
    }
    audit_end = truth["topics"]["audit"]["partitions"][0]["log_end_offset"]
    sandbox.clock.advance(600)  # type: ignore[attr-defined]
    assert cluster_truth(sandbox)["topics"]["audit"]["partitions"][0]["log_end_offset"] == audit_end


def test_broker_start_restores_isr_after_catchup(sandbox: Sandbox, admin: AdminClient) -> None:
    original = _truth_view(cluster_truth(sandbox))
    sandbox.stop_broker(CLUSTER, 2)
    sandbox.clock.advance(30)  # type: ignore[attr-defined]
    sandbox.start_broker(CLUSTER, 2)
    truth = cluster_truth(sandbox)
    assert truth["brokers"][1]["up"]
    assert any(2 not in p["isr"] for t in truth["topics"].values() for p in t["partitions"] if 2 in p["replicas"])
    sandbox.clock.advance(11)  # type: ignore[attr-defined]  # the small fleet's catch-up is 10 s
    assert _truth_view(cluster_truth(sandbox)) == original  # ISR and preferred leaders are back
    _eventually(lambda: _assert_equal(_metadata_view(admin), original))


def _assert_equal(a: object, b: object) -> None:
    assert a == b


def test_shrink_isr_is_visible_and_restorable(sandbox: Sandbox, admin: AdminClient) -> None:
    replicas = cluster_truth(sandbox)["topics"]["payments"]["partitions"][1]["replicas"]
    sandbox.shrink_isr(CLUSTER, "payments", 1, [replicas[1]])
    p = cluster_truth(sandbox)["topics"]["payments"]["partitions"][1]
    assert p["isr"] == [replicas[1]]
    assert p["leader"] == replicas[1]
    _eventually(lambda: _assert_equal(_metadata_view(admin), _truth_view(cluster_truth(sandbox))))
    stats = sandbox.cluster(CLUSTER).broker_stats(replicas[1])
    assert stats.under_replicated_partitions >= 1
    assert stats.under_min_isr_partitions >= 1  # payments has min.insync.replicas=2
    sandbox.clock.advance(60)  # type: ignore[attr-defined]
    assert cluster_truth(sandbox)["topics"]["payments"]["partitions"][1]["isr"] == [replicas[1]]  # pinned
    sandbox.shrink_isr(CLUSTER, "payments", 1, replicas)
    assert cluster_truth(sandbox)["topics"]["payments"]["partitions"][1]["isr"] == replicas


def test_paused_deployment_leaves_group_empty_with_offsets(sandbox: Sandbox, admin: AdminClient) -> None:
    sandbox.pause_deployment(CLUSTER, "orders-processor")
    group = cluster_truth(sandbox)["groups"]["orders-processor"]
    assert group["state"] == "Empty"
    assert group["members"] == []
    frozen = group["offsets"]
    sandbox.clock.advance(600)  # type: ignore[attr-defined]
    truth = cluster_truth(sandbox)
    assert truth["groups"]["orders-processor"]["offsets"] == frozen
    described = admin.describe_consumer_groups(["orders-processor"], request_timeout=TIMEOUT)["orders-processor"]
    assert described.result().state == ConsumerGroupState.EMPTY
    fetched = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions("orders-processor")])
    offsets = {str(tp.partition): tp.offset for tp in fetched["orders-processor"].result().topic_partitions}
    assert offsets == frozen["orders"]
    ends = {str(p["partition"]): p["log_end_offset"] for p in truth["topics"]["orders"]["partitions"]}
    assert sum(ends[p] - o for p, o in frozen["orders"].items()) > 25_000  # 600 s x 50 msg/s of lag
    sandbox.resume_deployment(CLUSTER, "orders-processor")
    assert cluster_truth(sandbox)["groups"]["orders-processor"]["state"] == "Stable"
    sandbox.clock.advance(3600)  # type: ignore[attr-defined]
    truth = cluster_truth(sandbox)
    ends = {str(p["partition"]): p["log_end_offset"] for p in truth["topics"]["orders"]["partitions"]}
    assert all(ends[p] == o for p, o in truth["groups"]["orders-processor"]["offsets"]["orders"].items())


def test_scale_never_has_more_active_consumers_than_partitions(sandbox: Sandbox) -> None:
    sandbox.pause_deployment(CLUSTER, "clicks-aggregator")
    sandbox.clock.advance(600)  # type: ignore[attr-defined]  # build a backlog so consumers run at full speed
    sandbox.scale_deployment(CLUSTER, "clicks-aggregator", 10)  # clicks has 4 partitions
    members = cluster_truth(sandbox)["groups"]["clicks-aggregator"]["members"]
    assert len(members) == 10
    assert sum(1 for m in members if m["assignment"]) == 4
    before = cluster_truth(sandbox)["groups"]["clicks-aggregator"]["offsets"]["clicks"]
    sandbox.clock.advance(10)  # type: ignore[attr-defined]
    after = cluster_truth(sandbox)["groups"]["clicks-aggregator"]["offsets"]["clicks"]
    consumed = sum(after[p] - before[p] for p in before)
    assert 4 * 50 * 10 - 4 <= consumed <= 4 * 50 * 10  # 4 active consumers at 50/s, not 10


def test_lowering_retention_shrinks_logs_and_moves_earliest(sandbox: Sandbox, admin: AdminClient) -> None:
    before = cluster_truth(sandbox)["topics"]["orders"]
    resource = ConfigResource(
        ResourceType.TOPIC,
        "orders",
        incremental_configs=[ConfigEntry("retention.ms", "600000", incremental_operation=AlterConfigOpType.SET)],
    )
    for future in admin.incremental_alter_configs([resource], request_timeout=TIMEOUT).values():
        assert future.result() is None
    after = cluster_truth(sandbox)["topics"]["orders"]
    assert after["config"]["retention.ms"] == "600000"
    for old, new in zip(before["partitions"], after["partitions"], strict=True):
        assert new["log_start_offset"] > old["log_start_offset"]
        assert new["size_bytes"] < old["size_bytes"] / 50  # a day of data down to ten minutes
    earliest = _list_offsets(admin, OffsetSpec.earliest(), "orders", 6)
    assert earliest == {p["partition"]: p["log_start_offset"] for p in after["partitions"]}
    # Raising retention again does not bring deleted data back.
    resource = ConfigResource(
        ResourceType.TOPIC,
        "orders",
        incremental_configs=[ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)],
    )
    for future in admin.incremental_alter_configs([resource], request_timeout=TIMEOUT).values():
        future.result()
    restored = cluster_truth(sandbox)["topics"]["orders"]
    assert restored["config"]["retention.ms"] == "604800000"
    assert [p["log_start_offset"] for p in restored["partitions"]] == [
        p["log_start_offset"] for p in after["partitions"]
    ]


def test_invalid_config_values_are_refused_like_kafka(sandbox: Sandbox, admin: AdminClient) -> None:
    cases = {
        "retention.ms": "-5",
        "min.cleanable.dirty.ratio": "1.5",
        "cleanup.policy": "shred",
        "min.insync.replicas": "0",
        "segment.ms": "soon",
    }
    for name, value in cases.items():
        resource = ConfigResource(
            ResourceType.TOPIC,
            "orders",
            incremental_configs=[ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)],
        )
        error = next(iter(admin.incremental_alter_configs([resource], request_timeout=TIMEOUT).values())).exception()
        assert error is not None, name
        assert error.args[0].code() == 40, name  # INVALID_CONFIG
    assert cluster_truth(sandbox)["topics"]["orders"]["config"]["retention.ms"] == "86400000"
    for name, value in {"cleanup.policy": "compact", "min.insync.replicas": "1", "segment.ms": "3600000"}.items():
        resource = ConfigResource(
            ResourceType.TOPIC,
            "orders",
            incremental_configs=[ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)],
        )
        next(iter(admin.incremental_alter_configs([resource], request_timeout=TIMEOUT).values())).result()
        assert cluster_truth(sandbox)["topics"]["orders"]["config"][name] == value


def test_disk_usage_is_reported_by_truth_and_stats(sandbox: Sandbox) -> None:
    sandbox.set_disk_usage(CLUSTER, 2, 0.9)
    broker = cluster_truth(sandbox)["brokers"][1]
    assert broker["disk_used_bytes"] == int(0.9 * broker["disk_total_bytes"])
    assert broker["disk_usable_bytes"] == broker["disk_total_bytes"] - broker["disk_used_bytes"]
    sandbox.clock.advance(60)  # type: ignore[attr-defined]
    later = cluster_truth(sandbox)["brokers"][1]
    assert later["disk_used_bytes"] > broker["disk_used_bytes"]  # logs keep growing on top


def test_broker_stats_counters_follow_leadership(sandbox: Sandbox) -> None:
    model = sandbox.cluster(CLUSTER)
    first = {b: model.broker_stats(b) for b in (1, 2, 3)}
    sandbox.clock.advance(100)  # type: ignore[attr-defined]
    second = {b: model.broker_stats(b) for b in (1, 2, 3)}
    total_rate = sum(t["rate"] for t in cluster_truth(sandbox)["topics"].values())
    produced = sum(second[b].messages_in_total - first[b].messages_in_total for b in first)
    assert abs(produced - total_rate * 100) <= 20
    assert all(second[b].bytes_in_total >= first[b].bytes_in_total for b in first)
    sandbox.stop_broker(CLUSTER, 1)
    sandbox.clock.advance(100)  # type: ignore[attr-defined]
    third = {b: model.broker_stats(b) for b in (1, 2, 3)}
    assert third[1].messages_in_total == second[1].messages_in_total  # a stopped broker takes no traffic
    assert third[1].leader_count == 0
    assert not third[1].up
    assert all(third[b].messages_in_total >= second[b].messages_in_total for b in first)  # counters never go back
    assert sum(s.active_controller for s in third.values()) == 1
    assert third[2].offline_partitions == 1  # audit, controller is broker 2 now
    assert third[2].isr_shrinks_total + third[3].isr_shrinks_total > 0
