"""The exporter against real Apache Kafka, series by series, compared with independent readers.

The readers are a fresh librdkafka AdminClient (metadata, offsets, configs, groups) and Kafka's own Java tools
(``kafka-log-dirs``, ``kafka-metadata-quorum``). The topics and groups (``world``, tests/realkafka/world.py) are
built with real clients. Nothing is produced while a comparison runs, so "the same moment" is exact; the race
between log-end offsets and commits is tested separately, with producers at full speed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions

from kafka_obs.platform.processes import wait_until
from tests.exporter.scrape import value
from tests.realkafka.world import (
    CLASSIC,
    CLUSTER,
    DELETED,
    KIP848,
    OFFSETS_ONLY,
    World,
    cycle,
    exporter_for,
    independent,
    labels,
    log_dir_sizes,
    of,
)

pytestmark = pytest.mark.realkafka

STATE = {"STABLE": "Stable", "EMPTY": "Empty", "DEAD": "Dead"}


def test_every_topic_and_group_series_equals_what_independent_clients_read(world: World) -> None:
    exporter = exporter_for(world.kafka)
    try:
        cycle(exporter)
        series = cycle(exporter)
        truth = independent(world)
        controllers = {value(cycle(exporter), "kafka_controller_id", cluster=CLUSTER) for _ in range(4)}
    finally:
        exporter.stop()

    assert value(series, "kafka_cluster_up", cluster=CLUSTER) == 1
    assert controllers == {truth["kafka_controller_id"][frozenset()]}, "the controller id must not flap"
    differences = []
    for name, want in truth.items():
        if name.startswith("_") or name == "kafka_consumergroup_state":
            continue
        got = of(series, name)
        wrong = {tuple(sorted(k)): (got.get(k), v) for k, v in want.items() if got.get(k) != v}
        extra = sorted(tuple(sorted(k)) for k in got.keys() - want.keys())
        if wrong or extra:
            differences.append(f"{name}: (exporter, reader) {dict(list(wrong.items())[:3])} extra {extra[:3]}")
    assert not differences, "exporter differs from the independent reader:\n" + "\n".join(differences)
    # states are Kafka's names (Stable, Empty); the group type says which protocol
    states = of(series, "kafka_consumergroup_state")
    want_states = {
        k - {("state", s)} | {("state", STATE.get(s, s))}
        for k in truth["kafka_consumergroup_state"]
        for s in [dict(k)["state"]]
    }
    assert set(states) == want_states
    assert states[labels(consumergroup=CLASSIC, state="Stable", type="classic")] == 1
    assert states[labels(consumergroup=KIP848, state="Stable", type="consumer")] == 1
    assert states[labels(consumergroup=OFFSETS_ONLY, state="Empty", type="classic")] == 1
    members = of(series, "kafka_consumergroup_members")
    assert members[labels(consumergroup=CLASSIC)] == 2
    assert members[labels(consumergroup=KIP848)] == 1  # KE#533 reports 0 for KIP-848 groups
    assert members[labels(consumergroup=OFFSETS_ONLY)] == 0
    assert not [k for k in series if ("consumergroup", DELETED) in k[1]], "a deleted group is still reported"
    assert (
        of(series, "kafka_consumergroup_current_offset")[labels(consumergroup=OFFSETS_ONLY, topic="audit", partition=0)]
        == 100
    )
    # the classic and KIP-848 groups committed what they read: lag sums equal log-end minus committed
    lag_sum = of(series, "kafka_consumergroup_lag_sum")
    lags = truth["kafka_consumergroup_lag"]
    for group in (CLASSIC, KIP848, OFFSETS_ONLY):
        for topic in {dict(k)["topic"] for k in lags if ("consumergroup", group) in k}:
            want = sum(v for k, v in lags.items() if ("consumergroup", group) in k and ("topic", topic) in k)
            assert lag_sum[labels(consumergroup=group, topic=topic)] == want


def test_log_dir_sizes_equal_kafka_log_dirs(world: World) -> None:
    exporter = exporter_for(world.kafka)
    try:
        cycle(exporter)
        series = cycle(exporter)
        sizes = log_dir_sizes(world.kafka)
        again = cycle(exporter)
    finally:
        exporter.stop()
    got = {(dict(k)["broker"], dict(k)["log_dir"]): v for k, v in of(series, "kafka_log_dir_size_bytes").items()}
    got_again = {(dict(k)["broker"], dict(k)["log_dir"]): v for k, v in of(again, "kafka_log_dir_size_bytes").items()}
    assert got == got_again, "log dirs changed during the comparison (something is producing)"
    assert got == sizes
    assert all(v > 0 for v in got.values())
    for key in of(series, "kafka_log_dir_total_bytes"):
        assert of(series, "kafka_log_dir_usable_bytes")[key] <= of(series, "kafka_log_dir_total_bytes")[key]
    # the topic's size is the sum of its partitions' leader replicas, as DescribeLogDirs reports them
    assert of(series, "kafka_topic_log_size_bytes")[labels(topic="orders")] > 6 * 600 * 100


def test_lag_is_never_negative_while_producers_run_at_full_speed(world: World, tmp_path: Path) -> None:
    """KE#76: log-end read before the commits gives committed > log-end. Compared unclamped, series by series.

    Kafka's own load generators run the race, each in its own JVM (no GIL shared with the exporter): a producer at
    10,000 records/s and a consumer group committing every 100 ms, right behind the log end.
    """
    kafka = world.kafka
    config = tmp_path / "racer.properties"
    config.write_text("auto.commit.interval.ms=100\nauto.offset.reset=earliest\ngroup.protocol=consumer\n")
    consumer = kafka.tool(
        "org.apache.kafka.tools.ConsumerPerformance",
        *("--topic", "orders", "--group", "racer", "--messages", "100000000", "--consumer.config", str(config)),
    )
    producer = kafka.tool(
        "org.apache.kafka.tools.ProducerPerformance",
        *("--topic", "orders", "--num-records", "100000000", "--record-size", "50", "--throughput", "10000"),
        *("--producer-props", f"bootstrap.servers={kafka.bootstrap_servers}", "acks=1", "linger.ms=1"),
        bootstrap=False,
    )
    exporter = exporter_for(kafka)
    checked = 0
    committed_values: set[float] = set()
    log_end_totals: list[float] = []  # the orders topic's log end per cycle: it grows while the producer runs

    def racer_committed() -> bool:
        request = [ConsumerGroupTopicPartitions("racer")]
        answer = world.admin.list_consumer_group_offsets(request)["racer"].result(timeout=5)
        return sum(tp.offset > 0 for tp in answer.topic_partitions) >= 3

    try:
        wait_until(racer_committed, 90, "the racing group's first commits")
        deadline = time.monotonic() + 60  # three observed cycles; a slow machine takes longer, not fewer
        while checked < 18 and time.monotonic() < deadline:
            series = cycle(exporter)
            ends = of(series, "kafka_topic_partition_current_offset")
            log_end_totals.append(sum(v for k, v in ends.items() if ("topic", "orders") in k))
            for key, committed in of(series, "kafka_consumergroup_current_offset").items():
                if ("consumergroup", "racer") not in key:
                    continue
                end = ends[key - {("consumergroup", "racer")}]
                assert committed <= end, f"committed {committed} > log-end {end} for {sorted(key)}"
                committed_values.add(committed)
                checked += 1
            assert all(v >= 0 for v in of(series, "kafka_consumergroup_lag").values())
            assert all(v >= 0 for v in of(series, "kafka_consumergroup_lag_seconds").values())
        assert producer.alive(), producer.tail()
        assert consumer.alive(), consumer.tail()
    finally:
        producer.stop()
        consumer.stop()
        exporter.stop()
    assert log_end_totals[-1] > log_end_totals[0], f"the producer did not run: log ends {log_end_totals}"
    assert checked >= 18, "the racing group's offsets were not observed in three cycles"
    assert len(committed_values) >= 6, "the racing group was not observed committing"
