"""The collection cycle against a fake cluster: every series equals the fake's state, and the behaviour rules hold."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from kafka_obs.clock import ManualClock
from kafka_obs.config.clusters import Cluster
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.families import Family, FamilyBuilder
from kafka_obs.exporter.lag_seconds import SEED_AGES
from tests.exporter.conftest import cluster_config, fleet
from tests.exporter.fakes import FakeGroup, FakeKafka
from tests.exporter.scrape import Series, count, names, parse, required, value


def make(clock: ManualClock, fakes: dict[str, FakeKafka], **extra: Any) -> Exporter:
    clusters = [cluster_config(name, **extra) for name in fakes]
    return Exporter(fleet(*clusters), clock=clock, client_factory=lambda c: fakes[c.name])


def scrape(exporter: Exporter) -> Series:
    return parse(exporter.store.body(openmetrics=False))


def test_topic_and_partition_series_equal_the_cluster(clock: ManualClock, kafka: FakeKafka) -> None:
    kafka.produce("orders", 0, 120)
    kafka.produce("orders", 2, 7)
    kafka.topics["orders"][1].earliest = 5
    kafka.topics["orders"][1].latest = 9
    kafka.topics["orders"][2].isr = [kafka.topics["orders"][2].leader]
    kafka.topics["payments"][0].leader = kafka.topics["payments"][0].replicas[1]
    kafka.racks = {1: "az1", 2: "az2", 3: "az3"}
    exporter = make(clock, {"alpha": kafka})
    exporter.collect_once()
    s = scrape(exporter)

    base = {"cluster": "alpha", "region": "eu-west-1", "environment": "production"}
    assert value(s, "kafka_cluster_up", **base) == 1
    assert value(s, "kafka_cluster_info", priority="critical", cluster_id="fake-cluster-id", **base) == 1
    assert value(s, "kafka_brokers") == 3
    assert value(s, "kafka_broker_info", id="2", address="b2:9092", rack="az2") == 1
    assert value(s, "kafka_controller_id") == 1
    for topic, parts in kafka.topics.items():
        assert value(s, "kafka_topic_partitions", topic=topic) == len(parts)
        for i, p in parts.items():
            labels = {"topic": topic, "partition": str(i), **base}
            assert value(s, "kafka_topic_partition_current_offset", **labels) == p.latest
            assert value(s, "kafka_topic_partition_oldest_offset", **labels) == p.earliest
            assert value(s, "kafka_topic_partition_in_sync_replica", **labels) == len(p.isr)
            assert value(s, "kafka_topic_partition_replicas", **labels) == len(p.replicas)
            assert value(s, "kafka_topic_partition_leader", **labels) == p.leader
            assert value(s, "kafka_topic_partition_leader_is_preferred", **labels) == int(p.leader == p.replicas[0])
            assert value(s, "kafka_topic_partition_under_replicated_partition", **labels) == int(
                len(p.isr) < len(p.replicas)
            )
    assert value(s, "kafka_cluster_under_replicated_partitions") == 1
    assert value(s, "kafka_cluster_under_min_isr_partitions") == 1  # isr 1 < min.insync.replicas 2
    assert value(s, "kafka_cluster_offline_partitions") == 0
    assert value(s, "kafka_topic_config_retention_ms", topic="payments") == 86_400_000
    assert value(s, "kafka_topic_config_retention_bytes", topic="orders") == -1
    assert value(s, "kafka_topic_config_info", topic="payments", cleanup_policy="compact") == 1


def test_log_dirs_and_topic_size_count_leader_replicas_once(clock: ManualClock, kafka: FakeKafka) -> None:
    kafka.produce("orders", 0, 10, bytes_per_record=100)  # 1000 bytes on each of 3 replicas
    kafka.produce("orders", 1, 5, bytes_per_record=100)
    exporter = make(clock, {"alpha": kafka})
    exporter.collect_once()
    s = scrape(exporter)
    assert value(s, "kafka_topic_log_size_bytes", topic="orders") == 1500
    for broker in kafka.brokers:
        expected = sum(p.size for ps in kafka.topics.values() for p in ps.values() if broker in p.replicas)
        labels = {"broker": str(broker), "log_dir": "/var/lib/kafka/data"}
        assert value(s, "kafka_log_dir_size_bytes", **labels) == expected
        assert value(s, "kafka_log_dir_total_bytes", **labels) == kafka.disk_total
        assert value(s, "kafka_log_dir_usable_bytes", **labels) == kafka.disk_total - expected

    kafka.failing_log_dir_brokers = {kafka.topics["orders"][0].leader}
    exporter.collect_once()
    s = scrape(exporter)
    assert value(s, "kafka_log_dir_size_bytes", broker=str(kafka.topics["orders"][0].leader)) is None
    assert value(s, "kafka_topic_log_size_bytes", topic="orders") is None  # partial sums are not served
    assert value(s, "kafka_cluster_up") == 1
    assert value(s, "kafka_exporter_errors_total", stage="log_dirs") == 1


def test_group_lag_is_read_committed_first_and_never_negative(clock: ManualClock, kafka: FakeKafka) -> None:
    kafka.produce("orders", 0, 100)
    kafka.produce("orders", 1, 50)
    kafka.groups["billing"] = FakeGroup(members=2, committed={("orders", 0): 40, ("orders", 1): 60})
    exporter = make(clock, {"alpha": kafka})
    exporter.collect_once()
    s = scrape(exporter)
    assert kafka.calls.index("committed_offsets") < kafka.calls.index("log_offsets")
    g = {"consumergroup": "billing", "topic": "orders"}
    assert value(s, "kafka_consumergroup_current_offset", partition="0", **g) == 40
    assert value(s, "kafka_consumergroup_lag", partition="0", **g) == 60
    assert value(s, "kafka_consumergroup_lag", partition="1", **g) == 0  # committed 60 > log-end 50: clamped
    assert value(s, "kafka_consumergroup_lag_sum", **g) == 60
    assert value(s, "kafka_consumergroup_members", consumergroup="billing") == 2
    assert value(s, "kafka_consumergroup_state", consumergroup="billing", state="Stable", type="classic") == 1


def test_partition_without_commit_has_no_lag_series(clock: ManualClock, kafka: FakeKafka) -> None:
    kafka.produce("orders", 0, 100)
    kafka.produce("orders", 1, 100)
    kafka.groups["new"] = FakeGroup(committed={("orders", 0): 100})
    exporter = make(clock, {"alpha": kafka})
    exporter.collect_once()
    s = scrape(exporter)
    assert value(s, "kafka_consumergroup_lag", consumergroup="new", partition="0") == 0
    assert value(s, "kafka_consumergroup_lag", consumergroup="new", partition="1") is None
    assert value(s, "kafka_consumergroup_current_offset", consumergroup="new", partition="1") is None
    assert value(s, "kafka_consumergroup_lag_sum", consumergroup="new", topic="orders") == 0


def test_lag_seconds_grow_while_a_group_is_paused(clock: ManualClock, kafka: FakeKafka) -> None:
    kafka.groups["g"] = FakeGroup(committed={("orders", 0): 0})
    exporter = make(clock, {"alpha": kafka})
    seen = []
    for _ in range(6):  # produce 10 records per 30 s cycle; the group does not move
        kafka.produce("orders", 0, 10)
        clock.advance(30)
        exporter.collect_once()
        s = scrape(exporter)
        seen.append(
            (
                required(s, "kafka_consumergroup_lag", consumergroup="g"),
                required(s, "kafka_consumergroup_max_lag_seconds"),
            )
        )
    lags = [lag for lag, _ in seen]
    seconds = [sec for _, sec in seen]
    assert lags == [10, 20, 30, 40, 50, 60]
    assert seconds == sorted(seconds)
    assert seconds[-1] > seconds[1]
    # record 0 was appended at the start (180 s ago), before the first cycle; the history seeded by timestamp
    # dates it between the 2-minute-old seed point and the first cycle: never younger, at most that gap older
    assert 180 <= seconds[-1] <= 180 + 120

    kafka.groups["g"].committed[("orders", 0)] = 60  # the group catches up
    clock.advance(30)
    exporter.collect_once()
    assert value(scrape(exporter), "kafka_consumergroup_lag_seconds", consumergroup="g") == 0


def statuses(s: Series, group: str) -> dict[str, float | None]:
    return {st: value(s, "kafka_consumergroup_status", consumergroup=group, status=st) for st in STATUS_NAMES}


STATUS_NAMES = ("OK", "WARN", "REWIND", "STALL", "STOP")


def test_groups_are_rated_from_the_cycles_window_per_clusters_yaml(clock: ManualClock, kafka: FakeKafka) -> None:
    """window 3 from clusters.yaml: a frozen group with members is STALL, without STOP, a slow one WARN, a healthy
    one OK; every group's state set has exactly one 1, and the OpenMetrics body parses strictly."""
    # partitions out of order: the statuses must still go with their own partition's labels
    kafka.groups["stuck"] = FakeGroup(members=2, committed={("orders", 1): 0, ("orders", 0): 0})
    kafka.groups["gone"] = FakeGroup(state="Empty", members=0, committed={("orders", 0): 0})
    kafka.groups["slow"] = FakeGroup(members=1, committed={("orders", 0): 0})
    kafka.groups["fine"] = FakeGroup(members=1, committed={("orders", 0): 0})
    exporter = make(clock, {"alpha": kafka}, lag_evaluation={"window": 3, "abandoned_after": "1m"})
    seen: list[Series] = []
    for _ in range(3):
        kafka.produce("orders", 0, 10)
        kafka.groups["stuck"].committed[("orders", 1)] = 0
        kafka.groups["slow"].committed[("orders", 0)] += 5  # commits, but lag grows by 5 a cycle
        kafka.groups["fine"].committed[("orders", 0)] = kafka.topics["orders"][0].latest
        clock.advance(30)
        exporter.collect_once()
        seen.append(scrape(exporter))
    first, last = seen[0], seen[-1]
    assert statuses(first, "stuck") == {"OK": 1, "WARN": 0, "REWIND": 0, "STALL": 0, "STOP": 0}  # window not full
    assert statuses(last, "stuck")["STALL"] == 1
    assert statuses(last, "gone")["STOP"] == 1
    assert statuses(last, "slow")["WARN"] == 1
    assert statuses(last, "fine")["OK"] == 1
    for group in ("stuck", "gone", "slow", "fine"):
        assert sum(v or 0 for v in statuses(last, group).values()) == 1
    code = {"consumergroup": "stuck", "topic": "orders"}
    assert value(last, "kafka_consumergroup_partition_status", partition="0", **code) == 3  # lag 30, frozen
    assert value(last, "kafka_consumergroup_partition_status", partition="1", **code) == 0  # nothing to consume
    assert value(seen[1], "kafka_consumergroup_abandoned", consumergroup="gone") == 0  # Empty and idle for 30 s
    assert value(last, "kafka_consumergroup_abandoned", consumergroup="gone") == 1  # idle 60 s: abandoned_after
    assert value(last, "kafka_consumergroup_abandoned", consumergroup="stuck") == 0  # has members
    body = exporter.store.body(openmetrics=True).decode()
    families = {f.name: f for f in parse_openmetrics(body)}
    assert families["kafka_consumergroup_status"].type == "gauge"  # a `status` label: see docs/metrics.md

    # an offset reset backwards is a REWIND at the next cycle, whatever the lag was
    kafka.groups["fine"].committed[("orders", 0)] = 0
    clock.advance(30)
    exporter.collect_once()
    assert statuses(scrape(exporter), "fine")["REWIND"] == 1


def test_a_failed_list_groups_keeps_the_windows(clock: ManualClock, kafka: FakeKafka) -> None:
    kafka.groups["stuck"] = FakeGroup(members=1, committed={("orders", 0): 0})
    exporter = make(clock, {"alpha": kafka}, lag_evaluation={"window": 3})
    kafka.produce("orders", 0, 10)
    for fail in (False, False, True, False):
        kafka.failing_calls = {"list_groups"} if fail else set()
        clock.advance(30)
        exporter.collect_once()
    assert statuses(scrape(exporter), "stuck")["STALL"] == 1


def test_vanished_topics_partitions_and_groups_disappear(clock: ManualClock, kafka: FakeKafka) -> None:
    kafka.groups["a"] = FakeGroup(committed={("payments", 0): 0})
    kafka.groups["b"] = FakeGroup(committed={("orders", 0): 0})
    exporter = make(clock, {"alpha": kafka})
    exporter.collect_once()
    s = scrape(exporter)
    assert count(s, "kafka_topic_partition_current_offset", topic="payments") == 2
    assert value(s, "kafka_consumergroup_members", consumergroup="a") == 1

    del kafka.topics["payments"]
    del kafka.configs["payments"]
    del kafka.groups["b"]
    kafka.topics["orders"].pop(2)
    clock.advance(30)
    exporter.collect_once()
    s = scrape(exporter)
    assert not [k for k in s if ("topic", "payments") in k[1]]
    assert not [k for k in s if ("consumergroup", "b") in k[1]]
    assert value(s, "kafka_topic_partition_current_offset", topic="orders", partition="2") is None
    assert value(s, "kafka_consumergroup_state", consumergroup="a") == 1  # the group stays, its lag on a gone topic not
    assert exporter.workers["alpha"].collector._estimator.__len__() == 2


def test_unreachable_cluster_goes_down_then_its_series_are_dropped(clock: ManualClock, kafka: FakeKafka) -> None:
    other = FakeKafka()
    other.add_topic("logs", 1)
    exporter = make(clock, {"alpha": kafka, "beta": other})  # critical: 30 s interval
    exporter.collect_once()
    kafka.down = True
    clock.advance(30)
    exporter.collect_once()
    s = scrape(exporter)
    assert value(s, "kafka_cluster_up", cluster="alpha") == 0
    assert value(s, "kafka_cluster_up", cluster="beta") == 1
    assert value(s, "kafka_topic_partitions", cluster="alpha", topic="orders") == 3  # still within 2 intervals
    assert value(s, "kafka_exporter_errors_total", cluster="alpha", stage="metadata") == 1

    clock.advance(31)  # last success is now 61 s > 2 x 30 s old: served without its Kafka series
    s = scrape(exporter)
    assert value(s, "kafka_topic_partitions", cluster="alpha", topic="orders") is None
    assert names(s, cluster="alpha") == {
        "kafka_cluster_info",
        "kafka_cluster_up",
        "kafka_exporter_collection_duration_seconds",
        "kafka_exporter_last_success_timestamp_seconds",
        "kafka_exporter_kafka_requests_total",
        "kafka_exporter_errors_total",
    }
    assert value(s, "kafka_topic_partitions", cluster="beta", topic="logs") == 1
    assert exporter.store.ready()

    kafka.down = False
    exporter.collect_once()
    s = scrape(exporter)
    assert value(s, "kafka_cluster_up", cluster="alpha") == 1
    assert value(s, "kafka_topic_partitions", cluster="alpha", topic="orders") == 3
    assert value(s, "kafka_exporter_last_success_timestamp_seconds", cluster="alpha") == clock.now()


def test_cluster_never_reached_is_ready_and_down(clock: ManualClock) -> None:
    dead = FakeKafka(down=True)
    exporter = make(clock, {"alpha": dead})
    assert not exporter.store.ready()
    exporter.collect_once()
    assert exporter.store.ready()
    s = scrape(exporter)
    assert value(s, "kafka_cluster_up") == 0
    assert value(s, "kafka_exporter_last_success_timestamp_seconds") is None
    assert value(s, "kafka_brokers") is None


def test_filters_granularity_and_skip_empty(clock: ManualClock, kafka: FakeKafka) -> None:
    kafka.add_topic("__consumer_offsets", 2)
    kafka.produce("orders", 0, 10)
    kafka.groups["app"] = FakeGroup(committed={("orders", 0): 5, ("payments", 0): 0})
    kafka.groups["app-old"] = FakeGroup(state="Empty", members=0, committed={("orders", 0): 1})
    kafka.groups["console-123"] = FakeGroup(committed={("orders", 0): 1})
    exporter = make(
        clock,
        {"alpha": kafka},
        topics={"deny": ["__.*", "payments"]},
        groups={"deny": ["console-.*"], "skip_empty": True},
        granularity="topic",
    )
    exporter.collect_once()
    s = scrape(exporter)
    assert value(s, "kafka_topic_partitions", topic="orders") == 3
    assert value(s, "kafka_topic_partitions", topic="payments") is None
    assert value(s, "kafka_topic_partitions", topic="__consumer_offsets") is None
    assert count(s, "kafka_topic_partition_current_offset") == 0  # granularity: topic
    assert count(s, "kafka_consumergroup_lag") == 0
    assert value(s, "kafka_consumergroup_lag_sum", consumergroup="app", topic="orders") == 5
    assert value(s, "kafka_consumergroup_lag_sum", consumergroup="app", topic="payments") is None
    assert value(s, "kafka_consumergroup_members", consumergroup="app-old") is None
    assert value(s, "kafka_consumergroup_members", consumergroup="console-123") is None
    assert "describe_groups" in kafka.calls
    assert kafka.requests["OffsetFetch"] == 1
    assert value(s, "kafka_cluster_under_replicated_partitions") == 0  # cluster health counts every topic


def test_consumer_protocol_groups_are_treated_like_classic_ones(clock: ManualClock, kafka: FakeKafka) -> None:
    kafka.produce("orders", 0, 30)
    kafka.groups["kip848"] = FakeGroup(type="consumer", members=3, committed={("orders", 0): 10})
    exporter = make(clock, {"alpha": kafka})
    exporter.collect_once()
    s = scrape(exporter)
    assert value(s, "kafka_consumergroup_members", consumergroup="kip848") == 3
    assert value(s, "kafka_consumergroup_state", consumergroup="kip848", type="consumer") == 1
    assert value(s, "kafka_consumergroup_lag", consumergroup="kip848", partition="0") == 20


def test_a_failing_group_loses_its_lag_only(clock: ManualClock, kafka: FakeKafka) -> None:
    kafka.produce("orders", 0, 30)
    kafka.groups["ok"] = FakeGroup(committed={("orders", 0): 10})
    kafka.groups["bad"] = FakeGroup(committed={("orders", 0): 10})
    kafka.failing_groups = {"bad"}
    exporter = make(clock, {"alpha": kafka})
    exporter.collect_once()
    s = scrape(exporter)
    assert value(s, "kafka_consumergroup_lag", consumergroup="ok") == 20
    assert value(s, "kafka_consumergroup_lag", consumergroup="bad") is None
    assert value(s, "kafka_consumergroup_members", consumergroup="bad") == 1
    assert value(s, "kafka_exporter_errors_total", stage="committed_offsets") == 1
    assert value(s, "kafka_cluster_up") == 1


def test_offline_partitions_are_counted_and_not_asked_for(clock: ManualClock, kafka: FakeKafka) -> None:
    kafka.topics["orders"][1].leader = -1
    kafka.topics["orders"][1].isr = []
    exporter = make(clock, {"alpha": kafka})
    exporter.collect_once()
    s = scrape(exporter)
    assert value(s, "kafka_cluster_offline_partitions") == 1
    assert value(s, "kafka_topic_partition_leader", topic="orders", partition="1") == -1
    assert value(s, "kafka_topic_partition_current_offset", topic="orders", partition="1") is None


def test_requests_are_batched_and_counted(clock: ManualClock, kafka: FakeKafka) -> None:
    for i in range(40):
        kafka.add_topic(f"t{i}", 12)
    for i in range(30):
        kafka.groups[f"g{i}"] = FakeGroup(committed={(f"t{i}", 0): 0})
    exporter = make(clock, {"alpha": kafka})
    exporter.collect_once()
    s = scrape(exporter)
    first_cycle = required(s, "kafka_exporter_kafka_requests_total", api="ListOffsets")
    assert first_cycle <= (2 + len(SEED_AGES)) * len(kafka.brokers)  # new partitions: history seeded once
    assert value(s, "kafka_exporter_kafka_requests_total", api="DescribeConfigs") == 1
    assert value(s, "kafka_exporter_kafka_requests_total", api="Metadata") == 1
    assert value(s, "kafka_exporter_kafka_requests_total", api="OffsetFetch") == 30

    for _ in range(3):
        clock.advance(30)
        exporter.collect_once()
    s = scrape(exporter)
    assert value(s, "kafka_exporter_kafka_requests_total", api="DescribeConfigs") == 1  # slower cadence
    assert value(s, "kafka_exporter_kafka_requests_total", api="Metadata") == 4
    steady = (required(s, "kafka_exporter_kafka_requests_total", api="ListOffsets") - first_cycle) / 3
    assert steady <= 2 * len(kafka.brokers)
    clock.advance(300)
    exporter.collect_once()
    assert value(scrape(exporter), "kafka_exporter_kafka_requests_total", api="DescribeConfigs") == 2


class _Plugin:
    name = "jmx"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[Any] = []

    def collect(self, facts: Any) -> tuple[Family, ...]:
        self.seen.append(facts)
        if self.fail:
            raise RuntimeError("jmx broke")
        from kafka_obs.exporter.catalogue import MetricDef

        out = FamilyBuilder()
        out.add(MetricDef("kafka_jmx_up", "gauge", ("broker",), "test", "JMX"), 1, "1")
        return out.build()

    def close(self) -> None:
        pass


def test_plugins_get_the_facts_and_are_isolated(clock: ManualClock, kafka: FakeKafka) -> None:
    good, bad = _Plugin(), _Plugin(fail=True)

    def plugins(cluster: Cluster) -> list[Any]:
        return [good, bad]

    exporter = Exporter(
        fleet(cluster_config("alpha")), clock=clock, client_factory=lambda c: kafka, plugin_factories=[plugins]
    )
    exporter.collect_once()
    s = scrape(exporter)
    assert good.seen[0].metadata.cluster_id == "fake-cluster-id"
    assert value(s, "kafka_jmx_up", broker="1", cluster="alpha") == 1
    assert value(s, "kafka_exporter_errors_total", stage="jmx") == 1
    assert value(s, "kafka_cluster_up") == 1


def test_history_is_seeded_so_a_restart_does_not_reset_lag_seconds(clock: ManualClock, kafka: FakeKafka) -> None:
    for _ in range(120):  # two hours of 1 record per minute before the exporter starts
        kafka.produce("orders", 0, 1)
        clock.advance(60)
    kafka.groups["slow"] = FakeGroup(committed={("orders", 0): 60})  # record 60 was produced 60 minutes ago
    exporter = make(clock, {"alpha": kafka})
    exporter.collect_once()
    seconds = value(scrape(exporter), "kafka_consumergroup_lag_seconds", consumergroup="slow")
    assert seconds == pytest.approx(3600, abs=120)  # not ~0 ("as old as the exporter")


def test_the_series_of_one_partition_or_committed_offset_share_one_label_tuple(
    clock: ManualClock, kafka: FakeKafka
) -> None:
    """Per-row label tuples (not one per sample) are what keeps a 4x ``scale`` snapshot small: a regression to a
    tuple per sample would triple the objects the garbage collector walks."""
    kafka.produce("orders", 0, 10)
    kafka.groups["billing"] = FakeGroup(committed={("orders", 1): 0, ("orders", 0): 4})
    exporter = Exporter(fleet(cluster_config("alpha")), clock=clock, client_factory=lambda c: kafka)
    exporter.collect_once()
    rendered = exporter.store.latest("alpha")
    assert rendered is not None
    families = {f.name: f for f in rendered.snapshot.kafka}

    def rows(*names: str) -> list[tuple[int, ...]]:
        return [tuple(id(labels) for labels in families[name].labels) for name in names]

    group_rows = rows(
        "kafka_consumergroup_current_offset",
        "kafka_consumergroup_lag",
        "kafka_consumergroup_lag_seconds",
        "kafka_consumergroup_partition_status",
    )
    assert len(group_rows[0]) == 2
    assert group_rows[0] == group_rows[1] == group_rows[2] == group_rows[3]
    assert [labels[2] for labels in families["kafka_consumergroup_partition_status"].labels] == ["0", "1"]
    topic_rows = rows("kafka_topic_partition_leader", "kafka_topic_partition_replicas")
    assert len(topic_rows[0]) == 5
    assert topic_rows[0] == topic_rows[1]
