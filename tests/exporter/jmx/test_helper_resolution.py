"""The helper keeps the ObjectNames a batch resolved to, and still sees MBeans come and go.

Against the sandbox's JMX responder over real JMX/RMI: a broker's names are resolved (``queryNames`` per pattern,
absent exact names remembered) on the first read and kept for ``resolve_every`` reads or ``resolve_max_age``;
a new MBean appears by the next resolution, a vanished one is gone from the very next read, a reconnect resolves
again. Per-topic patterns (``keep_names`` false: Kafka creates those MBeans lazily) are resolved on every read.
``JmxHelper.resolutions`` counts the reads that resolved (the helper says so in each reply).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from kafka_obs.exporter.jmx import JmxError, JmxHelper
from kafka_obs.exporter.jmx.catalogue import batch_queries, rules_for
from kafka_obs.exporter.jmx.query import Query, service_url
from kafka_obs.sandbox.jmx import BrokerJmxState, JmxResponder, TopicTraffic, kafka_beans

EVERY = 3
QUERIES = batch_queries(rules_for(partition_sizes=True, topic_meters=True))
BYTES_IN = "kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,topic={}"
GC = "java.lang:type=GarbageCollector,name={}"
UNDER_MIN_ISR = "kafka.server:type=ReplicaManager,name=UnderMinIsrPartitionCount"


def state(*topics: str, gc: tuple[str, ...] = ("G1 Young Generation",)) -> BrokerJmxState:
    return BrokerJmxState(
        broker_id=7, topics={t: TopicTraffic(bytes_in=10) for t in topics}, gc=dict.fromkeys(gc, (1, 10))
    )


@pytest.fixture
def broker(responder: JmxResponder, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A broker of its own per test (its name and JMX URL): tests change its MBeans."""
    name = f"resolve/{request.node.name}"
    port = responder.open_broker(name)
    responder.publish(name, kafka_beans(state("orders")))
    yield name, service_url("127.0.0.1", port)
    responder.close_broker(name)


@pytest.fixture
def helper() -> Iterator[JmxHelper]:
    client = JmxHelper(resolve_every=EVERY)
    yield client
    client.close()


def names(helper: JmxHelper, url: str, queries: list[Query] = QUERIES) -> set[str]:
    return {row.object_name for row in helper.query(url, queries, timeout=20)}


def test_names_are_resolved_once_per_resolve_every_reads(helper: JmxHelper, broker: tuple[str, str]) -> None:
    _, url = broker
    for read in range(1, 2 * EVERY + 2):
        assert BYTES_IN.format("orders") in names(helper, url)
        assert helper.resolutions == 1 + (read - 1) // EVERY, f"read {read}"
    assert helper.connections_opened == 1


def test_a_new_mbean_of_a_kept_pattern_appears_by_the_next_resolution(
    helper: JmxHelper, responder: JmxResponder, broker: tuple[str, str]
) -> None:
    name, url = broker
    names(helper, url)  # resolves: one collector
    responder.publish(name, kafka_beans(state("orders", gc=("G1 Young Generation", "G1 Old Generation"))))
    seen = [GC.format("G1 Old Generation") in names(helper, url) for _ in range(EVERY)]
    assert seen == [False] * (EVERY - 1) + [True], "read from the next resolution on"
    assert helper.resolutions == 2


def test_a_new_topics_mbean_is_read_at_once(
    helper: JmxHelper, responder: JmxResponder, broker: tuple[str, str]
) -> None:
    """Kafka creates a topic's meters at its first produce or fetch: they must not wait for a resolution."""
    name, url = broker
    names(helper, url)
    responder.publish(name, kafka_beans(state("orders", "payments")))
    assert BYTES_IN.format("payments") in names(helper, url)
    assert helper.resolutions == 1


def test_a_vanished_mbean_of_a_kept_pattern_is_gone_from_the_next_read(
    helper: JmxHelper, responder: JmxResponder, broker: tuple[str, str]
) -> None:
    name, url = broker
    responder.publish(name, kafka_beans(state("orders", gc=("Copy", "MarkSweepCompact"))))
    assert GC.format("MarkSweepCompact") in names(helper, url)
    responder.publish(name, kafka_beans(state("orders", gc=("Copy", "G1 Old Generation"))))
    got = names(helper, url)
    assert GC.format("MarkSweepCompact") not in got
    assert GC.format("G1 Old Generation") in got, "the pattern is resolved again at once, so what appeared is read too"
    assert GC.format("Copy") in got
    assert helper.resolutions == 1  # only that pattern, inside the read: the batch's next resolution is unchanged


def test_an_absent_exact_name_is_asked_again_at_the_next_resolution(
    helper: JmxHelper, responder: JmxResponder, broker: tuple[str, str]
) -> None:
    name, url = broker
    responder.remove_bean(name, UNDER_MIN_ISR)  # an older Kafka without it
    assert UNDER_MIN_ISR not in names(helper, url)
    responder.publish(name, kafka_beans(state("orders")))  # upgraded in place (the sandbox can; Kafka restarts)
    seen = [UNDER_MIN_ISR in names(helper, url) for _ in range(EVERY)]
    assert seen == [False] * (EVERY - 1) + [True]


def test_a_reconnect_resolves_again(helper: JmxHelper, responder: JmxResponder, broker: tuple[str, str]) -> None:
    name, url = broker
    names(helper, url)
    responder.close_broker(name)  # a broker restart: a read while it is down breaks the kept connection
    with pytest.raises(JmxError):
        names(helper, url)
    responder.open_broker(name)
    responder.publish(name, kafka_beans(state("orders", gc=("G1 Young Generation", "G1 Old Generation"))))
    assert GC.format("G1 Old Generation") in names(helper, url)
    assert (helper.connections_opened, helper.resolutions) == (2, 2)


def test_names_older_than_the_max_age_are_resolved_again(responder: JmxResponder, broker: tuple[str, str]) -> None:
    _, url = broker
    helper = JmxHelper(resolve_every=1000, resolve_max_age=0.5)
    try:
        names(helper, url)
        names(helper, url)
        assert helper.resolutions == 1
        time.sleep(0.6)
        names(helper, url)
        assert helper.resolutions == 2
    finally:
        helper.close()


def test_two_batches_on_one_broker_each_read_their_own_names(helper: JmxHelper, broker: tuple[str, str]) -> None:
    """Two clusters' catalogues on one JMX endpoint: switching batches resolves, never reads the other's names."""
    _, url = broker
    default = batch_queries(rules_for(partition_sizes=False, topic_meters=False))
    assert BYTES_IN.format("orders") in names(helper, url)
    assert BYTES_IN.format("orders") not in names(helper, url, default)
    assert BYTES_IN.format("orders") in names(helper, url)
    assert helper.resolutions == 3


def test_only_per_topic_patterns_are_resolved_on_every_read() -> None:
    queries = {q.pattern: q.keep_names for q in QUERIES}
    assert not queries["kafka.server:type=BrokerTopicMetrics,name=BytesOutPerSec,*"]
    assert not queries["kafka.log:type=Log,name=Size,*"]
    assert queries["java.lang:type=GarbageCollector,*"]
    assert queries["kafka.server:type=app-info,*"]


def test_resolve_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="resolve_every"):
        JmxHelper(resolve_every=0)
