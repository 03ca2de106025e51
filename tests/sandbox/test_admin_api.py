"""confluent-kafka's AdminClient against the sandbox: every answer equals the sandbox's ground truth."""

from __future__ import annotations

from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaException,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, OffsetSpec, ResourceType

from kafka_obs.sandbox.runtime import Sandbox
from tests.sandbox.conftest import CLUSTER, cluster_truth

TIMEOUT = 10


def _metadata_view(admin: AdminClient) -> dict[str, list[tuple[int, int, list[int], list[int]]]]:
    md = admin.list_topics(timeout=TIMEOUT)
    return {
        name: sorted((p.id, p.leader, list(p.replicas), list(p.isrs)) for p in topic.partitions.values())
        for name, topic in md.topics.items()
    }


def _truth_view(truth: dict) -> dict[str, list[tuple[int, int, list[int], list[int]]]]:
    return {
        name: [(p["partition"], p["leader"], p["replicas"], p["isr"]) for p in topic["partitions"]]
        for name, topic in truth["topics"].items()
    }


def test_metadata_equals_truth(sandbox: Sandbox, admin: AdminClient) -> None:
    truth = cluster_truth(sandbox)
    md = admin.list_topics(timeout=TIMEOUT)
    assert md.cluster_id == truth["cluster_id"]
    assert md.controller_id == truth["controller"]
    assert {b.id: (b.host, b.port) for b in md.brokers.values()} == {
        b["id"]: (b["host"], b["port"]) for b in truth["brokers"] if b["up"]
    }
    assert _metadata_view(admin) == _truth_view(truth)


def test_describe_cluster_and_topics(sandbox: Sandbox, admin: AdminClient) -> None:
    truth = cluster_truth(sandbox)
    cluster = admin.describe_cluster(request_timeout=TIMEOUT).result()
    assert cluster.cluster_id == truth["cluster_id"]
    assert cluster.controller.id == truth["controller"]
    assert sorted(n.id for n in cluster.nodes) == [b["id"] for b in truth["brokers"]]
    futures = admin.describe_topics(TopicCollection(["orders", "no-such-topic"]), request_timeout=TIMEOUT)
    orders = futures["orders"].result()
    assert [(p.id, p.leader.id) for p in orders.partitions] == [
        (p["partition"], p["leader"]) for p in truth["topics"]["orders"]["partitions"]
    ]
    error = futures["no-such-topic"].exception()
    assert isinstance(error, KafkaException)
    assert error.args[0].code() == 3  # UNKNOWN_TOPIC_OR_PARTITION


def _list_offsets(admin: AdminClient, spec: OffsetSpec, topic: str, partitions: int) -> dict[int, int]:
    futures = admin.list_offsets({TopicPartition(topic, p): spec for p in range(partitions)}, request_timeout=TIMEOUT)
    return {tp.partition: f.result().offset for tp, f in futures.items()}


def test_list_offsets_equal_truth_and_advance_with_the_clock(sandbox: Sandbox, admin: AdminClient) -> None:
    for _ in range(2):
        truth = cluster_truth(sandbox)
        for name, topic in truth["topics"].items():
            n = len(topic["partitions"])
            assert _list_offsets(admin, OffsetSpec.earliest(), name, n) == {
                p["partition"]: p["log_start_offset"] for p in topic["partitions"]
            }
            assert _list_offsets(admin, OffsetSpec.latest(), name, n) == {
                p["partition"]: p["log_end_offset"] for p in topic["partitions"]
            }
        sandbox.clock.advance(120)  # type: ignore[attr-defined]
    after = cluster_truth(sandbox)["topics"]["orders"]["partitions"]
    assert all(
        a["log_end_offset"] > b["log_end_offset"]
        for a, b in zip(after, truth["topics"]["orders"]["partitions"], strict=True)
    )


def test_list_offsets_by_timestamp(sandbox: Sandbox, admin: AdminClient) -> None:
    truth = cluster_truth(sandbox)["topics"]["orders"]["partitions"][0]
    now_ms = int(sandbox.clock.now() * 1000)
    hour_ago = now_ms - 3_600_000
    result = admin.list_offsets(
        {TopicPartition("orders", 0): OffsetSpec.for_timestamp(hour_ago)}, request_timeout=TIMEOUT
    )[TopicPartition("orders", 0)].result()
    assert truth["log_start_offset"] < result.offset < truth["log_end_offset"]
    assert result.timestamp >= hour_ago
    # The orders topic produces ~50/s over 6 partitions: an hour is roughly 30,000 messages per partition.
    assert 20_000 < truth["log_end_offset"] - result.offset < 40_000
    future = admin.list_offsets({TopicPartition("orders", 0): OffsetSpec.for_timestamp(now_ms + 60_000)})
    assert future[TopicPartition("orders", 0)].result().offset == -1


def test_groups_equal_truth(sandbox: Sandbox, admin: AdminClient) -> None:
    truth = cluster_truth(sandbox)["groups"]
    listed = admin.list_consumer_groups(request_timeout=TIMEOUT).result()
    assert not listed.errors
    states = {g.group_id: g.state for g in listed.valid}
    assert states == {name: ConsumerGroupState[g["state"].upper()] for name, g in truth.items()}
    types = {g.group_id: g.type.name.lower() for g in listed.valid}
    assert types == {name: g["group_type"] for name, g in truth.items()}
    assert types["clicks-aggregator"] == "consumer"  # the KIP-848 group of the small fleet

    described = admin.describe_consumer_groups(list(truth), request_timeout=TIMEOUT)
    for name, future in described.items():
        group = future.result()
        expected = truth[name]
        assert group.state == ConsumerGroupState[expected["state"].upper()]
        assert group.coordinator.id == expected["coordinator"]
        members: dict[str, dict[str, list[int]]] = {
            m.client_id: {tp.topic: [] for tp in m.assignment.topic_partitions} for m in group.members
        }
        for m in group.members:
            for tp in m.assignment.topic_partitions:
                members[m.client_id][tp.topic].append(tp.partition)
        assert members == {m["client_id"]: m["assignment"] for m in expected["members"]}
    assert len(truth["orders-processor"]["members"]) == 3
    assert truth["payments-audit"]["state"] == "Empty"


def test_committed_offsets_equal_truth(sandbox: Sandbox, admin: AdminClient) -> None:
    sandbox.clock.advance(300)  # type: ignore[attr-defined]
    truth = cluster_truth(sandbox)["groups"]
    for name, group in truth.items():
        result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(name)], request_timeout=TIMEOUT)
        partitions = result[name].result().topic_partitions
        got: dict[str, dict[str, int]] = {}
        for tp in partitions:
            got.setdefault(tp.topic, {})[str(tp.partition)] = tp.offset
        assert got == group["offsets"], name


def test_lag_appears_when_production_outruns_consumption(sandbox: Sandbox) -> None:
    def lag(group: str, topic: str) -> int:
        truth = cluster_truth(sandbox)
        ends = {str(p["partition"]): p["log_end_offset"] for p in truth["topics"][topic]["partitions"]}
        return sum(ends[p] - o for p, o in truth["groups"][group]["offsets"][topic].items())

    before_clicks, before_orders = lag("clicks-aggregator", "clicks"), lag("orders-processor", "orders")
    sandbox.clock.advance(600)  # type: ignore[attr-defined]
    # clicks: 200/s produced, 2 replicas x 50/s consumed -> lag grows by ~100/s.
    assert 50_000 < lag("clicks-aggregator", "clicks") - before_clicks < 70_000
    # orders: 50/s produced, 3 x 30/s capacity -> caught up.
    assert before_orders == 0
    assert lag("orders-processor", "orders") == 0


def test_describe_configs_equal_truth(sandbox: Sandbox, admin: AdminClient) -> None:
    truth = cluster_truth(sandbox)["topics"]
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in truth]
    for resource, future in admin.describe_configs(resources, request_timeout=TIMEOUT).items():
        configs = future.result()
        assert {k: v.value for k, v in configs.items()} == truth[resource.name]["config"]
    orders = admin.describe_configs([ConfigResource(ResourceType.TOPIC, "orders")])
    entry = next(iter(orders.values())).result()["retention.ms"]
    assert not entry.is_default
    missing = admin.describe_configs([ConfigResource(ResourceType.TOPIC, "no-such-topic")], request_timeout=TIMEOUT)
    assert next(iter(missing.values())).exception() is not None


def test_describe_log_dirs_v4_sizes_and_disk(sandbox: Sandbox) -> None:
    """confluent-kafka has no DescribeLogDirs; kafka-python's admin client speaks it (v4, total/usable bytes)."""
    from kafka.admin import KafkaAdminClient

    client = KafkaAdminClient(bootstrap_servers=sandbox.bootstrap_servers(CLUSTER), request_timeout_ms=10_000)
    try:
        answers = client.describe_log_dirs()
    finally:
        client.close()
    truth = cluster_truth(sandbox)
    brokers = {b["id"]: b for b in truth["brokers"]}
    sizes = {(name, p["partition"]): p["size_bytes"] for name, t in truth["topics"].items() for p in t["partitions"]}
    seen = set()
    for answer in answers:
        broker = brokers[answer["broker"]]
        (log_dir,) = answer["log_dirs"]
        assert log_dir["log_dir"] == broker["log_dir"]
        assert log_dir["total_bytes"] == broker["disk_total_bytes"]
        assert log_dir["usable_bytes"] == broker["disk_usable_bytes"]
        for topic in log_dir["topics"]:
            for p in topic["partitions"]:
                assert p["partition_size"] == sizes[(topic["name"], p["partition_index"])]
                seen.add(answer["broker"])
    assert seen == set(brokers)
