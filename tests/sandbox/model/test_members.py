"""A member's consumer-protocol bytes always describe its current assignment: every rebalance builds new members."""

from __future__ import annotations

from kafka.protocol.consumer.metadata import ConsumerProtocolAssignment, ConsumerProtocolSubscription

from kafka_obs.clock import ManualClock
from kafka_obs.sandbox import fleet as fleet_files
from kafka_obs.sandbox.model.cluster import ClusterModel


def assigned(cluster: ClusterModel, group: str) -> list[list[tuple[str, int]]]:
    """Each member's assignment, decoded from its bytes."""
    out = []
    for member in cluster.members(cluster.groups[group]):
        decoded = ConsumerProtocolAssignment.decode(member.member_assignment)
        out.append([(tp.topic, p) for tp in decoded.assigned_partitions for p in tp.partitions])
        assert out[-1] == list(member.assignment)
        subscription = ConsumerProtocolSubscription.decode(member.member_metadata)
        assert subscription.topics == list(member.subscription)
    return out


def test_member_bytes_follow_every_rebalance() -> None:
    plan = fleet_files.load("small")
    cluster = ClusterModel(plan.clusters[0], plan, ManualClock())
    group = "orders-processor"  # 3 replicas on the 6 partitions of orders
    assert assigned(cluster, group) == [
        [("orders", 0), ("orders", 3)],
        [("orders", 1), ("orders", 4)],
        [("orders", 2), ("orders", 5)],
    ]
    cluster.scale_deployment(group, 2)
    assert assigned(cluster, group) == [[("orders", i) for i in (0, 2, 4)], [("orders", i) for i in (1, 3, 5)]]
    cluster.pause_deployment(group)
    assert assigned(cluster, group) == []
    cluster.resume_deployment(group)
    assert len(assigned(cluster, group)) == 2
    cluster.scale_deployment(group, 7)  # more replicas than partitions: one idle member with nothing assigned
    assert assigned(cluster, group)[-1] == []
    cluster.stop_broker(1)  # any event rebuilds members; the bytes stay those of their assignment
    assert [len(a) for a in assigned(cluster, group)] == [1, 1, 1, 1, 1, 1, 0]
