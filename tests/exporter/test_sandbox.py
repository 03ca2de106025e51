"""The exporter against the sandbox over TCP (real librdkafka and kafka-python clients, real wire protocol).

Every series is compared with the sandbox's ground truth (``sb.truth()``) at the same ManualClock instant, which
the exporter and the simulation share. The oracle below derives the expected series from the truth on its own;
it does not reuse the exporter's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from kafka_obs.clock import ManualClock
from kafka_obs.config.clusters import FleetConfig
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.catalogue import CATALOGUE
from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin
from tests.exporter.scrape import Series, parse, required, value

sandbox_runtime = pytest.importorskip("kafka_obs.sandbox.runtime")

INTERVAL = {"alpha": 30.0, "beta": 120.0}  # critical and medium priorities of the small fleet
ORACLE_SKIPS = {  # checked separately
    "kafka_consumergroup_lag_seconds",
    "kafka_consumergroup_max_lag_seconds",
    "kafka_consumergroup_status",
    "kafka_consumergroup_partition_status",
    "kafka_consumergroup_abandoned",
}
CANARY_SERIES = {m.name for m in CATALOGUE if m.name.startswith("kafka_canary_")}
"""Only where a cluster enables the canary (off by default; tests/exporter/test_canary_sandbox.py)."""
KAFKA_SERIES = {m.name for m in CATALOGUE if not m.always} - ORACLE_SKIPS - CANARY_SERIES


@pytest.fixture
def env() -> Iterator[tuple[Any, Exporter, ManualClock]]:
    clock = ManualClock()
    with sandbox_runtime.Sandbox.start("small", clock=clock) as sb:
        exporter = Exporter(
            sb.fleet_config(), clock=clock, client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=2.0)
        )
        try:
            yield sb, exporter, clock
        finally:
            exporter.stop()


def cycle(exporter: Exporter, clock: ManualClock, seconds: float = 30.0) -> Series:
    clock.advance(seconds)
    exporter.collect_once()
    return parse(exporter.store.body(openmetrics=False))


def expected(truth: dict[str, Any]) -> Series:
    """The Kafka series a correct exporter serves for one cluster, straight from the ground truth."""
    out: Series = {}
    base = {"cluster": truth["name"], "region": truth["region"], "environment": truth["environment"]}

    def put(name: str, v: float, **labels: str) -> None:
        out[(name, frozenset({**base, **labels}.items()))] = v

    up = [b for b in truth["brokers"] if b["up"]]
    put("kafka_brokers", len(up))
    for b in up:
        put("kafka_broker_info", 1, id=str(b["id"]), address=f"{b['host']}:{b['port']}", rack=b["rack"] or "")
    put("kafka_controller_id", truth["controller"])
    parts = [(t, p) for t, topic in truth["topics"].items() for p in topic["partitions"]]
    put("kafka_cluster_offline_partitions", sum(p["leader"] == -1 for _, p in parts))
    put("kafka_cluster_under_replicated_partitions", sum(len(p["isr"]) < len(p["replicas"]) for _, p in parts))
    put(
        "kafka_cluster_under_min_isr_partitions",
        sum(len(p["isr"]) < int(truth["topics"][t]["config"]["min.insync.replicas"]) for t, p in parts),
    )
    up_ids = {b["id"] for b in up}
    ends: dict[tuple[str, int], int] = {}
    for name, topic in truth["topics"].items():
        put("kafka_topic_partitions", len(topic["partitions"]), topic=name)
        config = topic["config"]
        put("kafka_topic_config_retention_ms", int(config["retention.ms"]), topic=name)
        put("kafka_topic_config_retention_bytes", int(config["retention.bytes"]), topic=name)
        put(
            "kafka_topic_config_info",
            1,
            topic=name,
            cleanup_policy=config["cleanup.policy"],
            min_insync_replicas=config["min.insync.replicas"],
        )
        online = [p for p in topic["partitions"] if p["leader"] != -1]  # an offline leader has no size to read
        if online and all(p["leader"] in up_ids for p in online):
            put("kafka_topic_log_size_bytes", sum(p["size_bytes"] for p in online), topic=name)
        for p in topic["partitions"]:
            labels = {"topic": name, "partition": str(p["partition"])}
            if p["leader"] != -1:
                put("kafka_topic_partition_current_offset", p["log_end_offset"], **labels)
                put("kafka_topic_partition_oldest_offset", p["log_start_offset"], **labels)
                ends[(name, p["partition"])] = p["log_end_offset"]
            put("kafka_topic_partition_in_sync_replica", len(p["isr"]), **labels)
            put("kafka_topic_partition_replicas", len(p["replicas"]), **labels)
            put("kafka_topic_partition_leader", p["leader"], **labels)
            put("kafka_topic_partition_leader_is_preferred", int(p["leader"] == p["replicas"][0]), **labels)
            put("kafka_topic_partition_under_replicated_partition", int(len(p["isr"]) < len(p["replicas"])), **labels)
    for b in up:
        labels = {"broker": str(b["id"]), "log_dir": b["log_dir"]}
        size = sum(p["size_bytes"] for _, p in parts if b["id"] in p["replicas"])
        put("kafka_log_dir_size_bytes", size, **labels)
        put("kafka_log_dir_total_bytes", b["disk_total_bytes"], **labels)
        put("kafka_log_dir_usable_bytes", b["disk_usable_bytes"], **labels)
    for group, g in truth["groups"].items():
        put("kafka_consumergroup_state", 1, consumergroup=group, state=g["state"], type=g["group_type"])
        put("kafka_consumergroup_members", len(g["members"]), consumergroup=group)
        sums: dict[str, int] = {}
        for topic, offsets in g["offsets"].items():
            for partition, committed in offsets.items():
                end = ends.get((topic, int(partition)))
                if end is None:
                    continue
                lag = max(0, end - committed)
                labels = {"consumergroup": group, "topic": topic, "partition": partition}
                put("kafka_consumergroup_current_offset", committed, **labels)
                put("kafka_consumergroup_lag", lag, **labels)
                sums[topic] = sums.get(topic, 0) + lag
        for topic, total in sums.items():
            put("kafka_consumergroup_lag_sum", total, consumergroup=group, topic=topic)
    return out


def assert_matches_truth(series: Series, truth: dict[str, Any], cluster: str) -> None:
    want = expected(truth["clusters"][cluster])
    got = {k: v for k, v in series.items() if k[0] in KAFKA_SERIES and ("cluster", cluster) in k[1]}
    missing = sorted((k[0], sorted(k[1])) for k in want.keys() - got.keys())
    extra = sorted((k[0], sorted(k[1])) for k in got.keys() - want.keys())
    wrong = sorted((k[0], sorted(k[1]), got[k], want[k]) for k in want.keys() & got.keys() if got[k] != want[k])
    assert not missing, f"missing series: {missing[:5]}"
    assert not extra, f"series not in the truth: {extra[:5]}"
    assert not wrong, f"wrong values (got, want): {wrong[:5]}"
    assert {k[0] for k in got} == KAFKA_SERIES


def lag_seconds_truth(sb: Any, cluster: str, group: str, topic: str, partition: int, *, now: float) -> float:
    model = sb.cluster(cluster)
    truth = sb.truth()["clusters"][cluster]
    committed = truth["groups"][group]["offsets"][topic][str(partition)]
    end = next(p for p in truth["topics"][topic]["partitions"] if p["partition"] == partition)["log_end_offset"]
    if committed >= end:
        return 0.0
    state = model.topics[topic].partitions[partition]
    return now - model.time_of_offset(state, committed)


def test_every_series_equals_the_truth(env) -> None:
    sb, exporter, clock = env
    cycle(exporter, clock)
    series = cycle(exporter, clock)
    truth = sb.truth()
    for cluster in ("alpha", "beta"):
        assert_matches_truth(series, truth, cluster)
        assert value(series, "kafka_cluster_up", cluster=cluster) == 1
        info = value(series, "kafka_cluster_info", cluster=cluster, cluster_id=truth["clusters"][cluster]["cluster_id"])
        assert info == 1
    # the KIP-848 group is typed and counted like a classic one
    assert value(series, "kafka_consumergroup_state", consumergroup="clicks-aggregator", type="consumer") == 1
    assert value(series, "kafka_consumergroup_members", consumergroup="clicks-aggregator") == 2
    # requests are batched: ListOffsets per cycle ≤ 2 x brokers, once the history is seeded
    before = value(series, "kafka_exporter_kafka_requests_total", cluster="alpha", api="ListOffsets")
    after = value(cycle(exporter, clock), "kafka_exporter_kafka_requests_total", cluster="alpha", api="ListOffsets")
    assert after is not None
    assert before is not None
    assert after - before <= 2 * 3


def test_lag_seconds_match_the_production_time_of_the_committed_record(env) -> None:
    sb, exporter, clock = env
    sb.pause_deployment("alpha", "orders-processor")
    lags, seconds = [], []
    for _ in range(4):
        series = cycle(exporter, clock)
        lags.append(required(series, "kafka_consumergroup_lag_sum", consumergroup="orders-processor", topic="orders"))
        got = required(series, "kafka_consumergroup_lag_seconds", consumergroup="orders-processor", partition="0")
        want = lag_seconds_truth(sb, "alpha", "orders-processor", "orders", 0, now=clock.now())
        assert got == pytest.approx(want, abs=2.0)
        seconds.append(got)
        assert_matches_truth(series, sb.truth(), "alpha")
    assert lags == sorted(lags)
    assert lags[-1] > lags[0]
    assert seconds == sorted(seconds)
    assert seconds[-1] >= seconds[0] + 80
    # a group that was already 10 minutes behind when the exporter started is reported as such at once
    audit = required(
        series, "kafka_consumergroup_lag_seconds", consumergroup="payments-audit", topic="payments", partition="0"
    )
    audit_truth = lag_seconds_truth(sb, "alpha", "payments-audit", "payments", 0, now=clock.now())
    assert audit_truth > 600
    assert audit == pytest.approx(audit_truth, rel=0.02)


def test_broker_stop_and_isr_shrink(env) -> None:
    sb, exporter, clock = env
    before = cycle(exporter, clock)
    leaders_before = {k: v for k, v in before.items() if k[0] == "kafka_topic_partition_leader"}
    sb.stop_broker("alpha", 1)
    series = cycle(exporter, clock)
    truth = sb.truth()
    assert_matches_truth(series, truth, "alpha")
    assert required(series, "kafka_cluster_under_replicated_partitions", cluster="alpha") > 0
    assert value(series, "kafka_brokers", cluster="alpha") == 2
    leaders_after = {k: v for k, v in series.items() if k[0] == "kafka_topic_partition_leader"}
    assert any(leaders_after[k] != v for k, v in leaders_before.items() if v == 1)
    assert 1 not in {v for k, v in leaders_after.items() if ("cluster", "alpha") in k[1]}

    sb.start_broker("alpha", 1)
    sb.shrink_isr("beta", "events", 0, isr=[truth["clusters"]["beta"]["topics"]["events"]["partitions"][0]["leader"]])
    series = cycle(exporter, clock, 1.0)  # before the restarted broker catches up
    truth = sb.truth()
    assert_matches_truth(series, truth, "beta")
    assert value(series, "kafka_topic_partition_in_sync_replica", cluster="beta", topic="events", partition="0") == 1
    assert value(series, "kafka_cluster_under_min_isr_partitions", cluster="beta") == expected_under_min_isr(truth)


def expected_under_min_isr(truth: dict[str, Any]) -> int:
    beta = truth["clusters"]["beta"]["topics"]
    return sum(len(p["isr"]) < int(t["config"]["min.insync.replicas"]) for t in beta.values() for p in t["partitions"])


def test_unreachable_cluster_is_down_and_dropped_others_unaffected(env) -> None:
    sb, exporter, clock = env
    cycle(exporter, clock)
    for broker in (1, 2):
        sb.stop_broker("beta", broker)
    series = cycle(exporter, clock)
    assert value(series, "kafka_cluster_up", cluster="beta") == 0
    assert value(series, "kafka_cluster_up", cluster="alpha") == 1
    assert_matches_truth(series, sb.truth(), "alpha")
    assert value(series, "kafka_topic_partitions", cluster="beta", topic="events") == 3  # < 2 intervals old
    series = cycle(exporter, clock, 2 * INTERVAL["beta"])
    assert value(series, "kafka_cluster_up", cluster="beta") == 0
    assert value(series, "kafka_topic_partitions", cluster="beta", topic="events") is None
    assert required(series, "kafka_exporter_errors_total", cluster="beta", stage="metadata") >= 2
    assert_matches_truth(series, sb.truth(), "alpha")


def test_deleted_group_vanishes(env) -> None:
    sb, exporter, clock = env
    series = cycle(exporter, clock)
    assert value(series, "kafka_consumergroup_members", consumergroup="payments-audit") == 0
    sb.delete_group("alpha", "payments-audit")
    series = cycle(exporter, clock)
    assert not [k for k in series if ("consumergroup", "payments-audit") in k[1]]
    assert_matches_truth(series, sb.truth(), "alpha")


def test_lowered_retention_moves_the_oldest_offset(env) -> None:
    sb, exporter, clock = env
    series = cycle(exporter, clock)
    oldest = value(series, "kafka_topic_partition_oldest_offset", cluster="alpha", topic="orders", partition="0")
    admin = AdminClient({"bootstrap.servers": sb.bootstrap_servers("alpha")})
    resource = ConfigResource(
        ResourceType.TOPIC,
        "orders",
        incremental_configs=[ConfigEntry("retention.ms", "600000", incremental_operation=AlterConfigOpType.SET)],
    )
    admin.incremental_alter_configs([resource])[resource].result(timeout=10)
    series = cycle(exporter, clock, 301)  # past the config cache's refresh period (5 cycles, at least 5 min)
    new_oldest = value(series, "kafka_topic_partition_oldest_offset", cluster="alpha", topic="orders", partition="0")
    assert new_oldest is not None
    assert oldest is not None
    assert new_oldest > oldest
    assert value(series, "kafka_topic_config_retention_ms", cluster="alpha", topic="orders") == 600000
    assert_matches_truth(series, sb.truth(), "alpha")


STATUSES = ("OK", "WARN", "REWIND", "STALL", "STOP")


def group_status(series: Series, cluster: str, group: str) -> str:
    """The one status whose series is 1; the state set must have exactly one."""
    values = {
        s: value(series, "kafka_consumergroup_status", cluster=cluster, consumergroup=group, status=s) for s in STATUSES
    }
    current = [s for s, v in values.items() if v == 1]
    assert len(current) == 1, values
    assert all(values[s] == 0 for s in STATUSES if s not in current), values
    return current[0]


@pytest.fixture
def rated(env: tuple[Any, Exporter, ManualClock]) -> Iterator[tuple[Any, Exporter, ManualClock]]:
    """The same sandbox, watched by an exporter with a 3-cycle evaluation window (clusters.yaml `lag_evaluation`)."""
    sb, _, clock = env
    config = sb.runtime.clusters_config()
    for cluster in config["clusters"]:
        cluster["lag_evaluation"] = {"window": 3, "abandoned_after": "2m"}
    exporter = Exporter(
        FleetConfig.model_validate(config), clock=clock, client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=2.0)
    )
    try:
        yield sb, exporter, clock
    finally:
        exporter.stop()


def test_paused_is_stop_stalled_is_stall_reset_is_rewind_healthy_is_ok(rated) -> None:
    sb, exporter, clock = rated
    sb.pause_deployment("alpha", "orders-processor")  # consumers gone: nothing commits
    series = cycle(exporter, clock)
    assert group_status(series, "alpha", "orders-processor") == "OK"  # one observation is no evidence yet
    for _ in range(2):
        series = cycle(exporter, clock)
    truth = sb.truth()["clusters"]
    assert truth["alpha"]["groups"]["orders-processor"]["members"] == []
    assert group_status(series, "alpha", "orders-processor") == "STOP"
    assert group_status(series, "alpha", "clicks-aggregator") == "WARN"  # 2 x 50/s against 200/s: too slow
    assert group_status(series, "beta", "events-reader") == "OK"  # caught up
    assert group_status(series, "alpha", "payments-audit") == "STOP"  # scaled to zero, 10 minutes behind
    assert value(series, "kafka_consumergroup_abandoned", cluster="alpha", consumergroup="payments-audit") == 0
    assert value(series, "kafka_consumergroup_abandoned", cluster="alpha", consumergroup="orders-processor") == 0

    # clicks-aggregator's consumers stay in the group but stop making progress
    sb.set_consume_rate("alpha", "clicks-aggregator", 0)
    for _ in range(3):
        series = cycle(exporter, clock)
    assert len(sb.truth()["clusters"]["alpha"]["groups"]["clicks-aggregator"]["members"]) == 2
    assert group_status(series, "alpha", "clicks-aggregator") == "STALL"
    codes = [
        value(series, "kafka_consumergroup_partition_status", consumergroup="clicks-aggregator", partition=str(p))
        for p in range(4)
    ]
    assert codes == [3, 3, 3, 3]
    # Empty and not committing since the first cycle, 90 s + 30 s ago: abandoned at 2m
    assert value(series, "kafka_consumergroup_abandoned", cluster="alpha", consumergroup="payments-audit") == 1

    # an offset reset backwards (the admin API, over the wire) on every partition of payments-audit
    committed = sb.truth()["clusters"]["alpha"]["groups"]["payments-audit"]["offsets"]
    admin = AdminClient({"bootstrap.servers": sb.bootstrap_servers("alpha")})
    back = [TopicPartition(t, int(p), o // 2) for t, parts in committed.items() for p, o in parts.items()]
    futures = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions("payments-audit", back)])
    for future in futures.values():
        future.result(timeout=10)
    series = cycle(exporter, clock)
    assert group_status(series, "alpha", "payments-audit") == "REWIND"
    assert value(series, "kafka_consumergroup_abandoned", cluster="alpha", consumergroup="payments-audit") == 0

    # resumed consumers catch up: back to OK once the frozen observations leave the window
    sb.resume_deployment("alpha", "orders-processor")
    for _ in range(3):
        series = cycle(exporter, clock, 120.0)
    assert group_status(series, "alpha", "orders-processor") == "OK"
    assert_matches_truth(series, sb.truth(), "alpha")
