"""Produce, Fetch, OffsetCommit and DeleteGroups with confluent-kafka's Producer, Consumer and AdminClient."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_obs.sandbox.runtime import Sandbox
from tests.sandbox.conftest import CLUSTER, cluster_truth
from tests.sandbox.test_admin_api import TIMEOUT


def _produce(sb: Sandbox, topic: str, partition: int, values: list[bytes], **config: object) -> list[tuple]:
    producer = Producer({"bootstrap.servers": sb.bootstrap_servers(CLUSTER), "log_level": 3, **config})
    reports: list[tuple] = []
    for i, value in enumerate(values):
        producer.produce(
            topic,
            key=b"k%d" % i,
            value=value,
            partition=partition,
            on_delivery=lambda err, msg: reports.append((err, msg.offset())),
        )
    assert producer.flush(TIMEOUT) == 0
    return reports


def _consume(sb: Sandbox, topic: str, partition: int, offset: int, count: int, **config: object) -> list:
    consumer = Consumer(
        {
            "bootstrap.servers": sb.bootstrap_servers(CLUSTER),
            "group.id": "test-reader",
            "enable.auto.commit": False,
            "log_level": 3,
            **config,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        messages: list = []
        deadline = time.monotonic() + TIMEOUT
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                messages.append(message)
        return messages
    finally:
        consumer.close()


def test_produced_messages_are_read_back(sandbox: Sandbox) -> None:
    values = [b"hello %d" % i for i in range(20)]
    reports = _produce(sandbox, "scratch", 0, values, acks="all")
    assert all(err is None for err, _ in reports)
    start = cluster_truth(sandbox)["topics"]["scratch"]["partitions"][0]["log_start_offset"]
    assert [offset for _, offset in reports] == list(range(start, start + 20))
    assert cluster_truth(sandbox)["topics"]["scratch"]["partitions"][0]["log_end_offset"] == start + 20
    messages = _consume(sandbox, "scratch", 0, start, 20)
    assert [m.value() for m in messages] == values
    assert [m.key() for m in messages] == [b"k%d" % i for i in range(20)]
    assert [m.offset() for m in messages] == [offset for _, offset in reports]


def test_produce_interleaves_with_simulated_traffic(sandbox: Sandbox) -> None:
    """On a topic with simulated traffic, a produced record gets the next offset and is read back verbatim."""
    before = cluster_truth(sandbox)["topics"]["orders"]["partitions"][2]["log_end_offset"]
    leader = cluster_truth(sandbox)["topics"]["orders"]["partitions"][2]["leader"]
    reports = _produce(sandbox, "orders", 2, [b"real order"])
    assert reports == [(None, before)]
    sandbox.clock.advance(5)  # type: ignore[attr-defined]
    after = cluster_truth(sandbox)["topics"]["orders"]["partitions"][2]["log_end_offset"]
    assert after > before + 1
    messages = _consume(sandbox, "orders", 2, before - 2, 5)
    assert [m.offset() for m in messages] == list(range(before - 2, before + 3))
    assert messages[2].value() == b"real order"
    assert all(len(m.value()) == 512 for i, m in enumerate(messages) if i != 2)  # synthetic, topic's size
    assert sandbox.cluster(CLUSTER).broker_stats(leader).produce_requests_total > 0


def test_produce_with_acks_all_needs_min_isr(sandbox: Sandbox) -> None:
    replicas = cluster_truth(sandbox)["topics"]["payments"]["partitions"][0]["replicas"]
    sandbox.shrink_isr(CLUSTER, "payments", 0, [replicas[0]])  # payments has min.insync.replicas=2
    reports = _produce(sandbox, "payments", 0, [b"x"], acks="all", retries=0, **{"message.timeout.ms": 3000})
    ((error, _),) = reports
    assert error is not None
    assert error.name() == "NOT_ENOUGH_REPLICAS"
    reports = _produce(sandbox, "payments", 0, [b"x"], acks=1)
    assert reports[0][0] is None


def test_commit_from_a_client_is_fetched_back(sandbox: Sandbox, admin: AdminClient) -> None:
    _produce(sandbox, "scratch", 1, [b"a", b"b", b"c"])
    consumer = Consumer(
        {"bootstrap.servers": sandbox.bootstrap_servers(CLUSTER), "group.id": "committer", "log_level": 3}
    )
    try:
        consumer.commit(offsets=[TopicPartition("scratch", 1, 2)], asynchronous=False)
        committed = consumer.committed([TopicPartition("scratch", 1)], timeout=TIMEOUT)
        assert committed[0].offset == 2
    finally:
        consumer.close()
    group = cluster_truth(sandbox)["groups"]["committer"]
    assert group["offsets"] == {"scratch": {"1": 2}}
    assert group["state"] == "Empty"
    # A simulated group with live members refuses commits from a stranger (UNKNOWN_MEMBER_ID).
    intruder = Consumer(
        {"bootstrap.servers": sandbox.bootstrap_servers(CLUSTER), "group.id": "orders-processor", "log_level": 3}
    )
    try:
        try:
            intruder.commit(offsets=[TopicPartition("orders", 0, 1)], asynchronous=False)
            raised = None
        except KafkaException as exc:
            raised = exc
        assert raised is not None
        assert raised.args[0].name() == "UNKNOWN_MEMBER_ID"
    finally:
        intruder.close()
    assert cluster_truth(sandbox)["groups"]["orders-processor"]["offsets"]["orders"]["0"] != 1


def test_delete_groups(sandbox: Sandbox, admin: AdminClient) -> None:
    futures = admin.delete_consumer_groups(["payments-audit", "orders-processor", "no-such-group"])
    assert futures["payments-audit"].result() is None
    non_empty = futures["orders-processor"].exception()
    not_found = futures["no-such-group"].exception()
    assert non_empty is not None
    assert not_found is not None
    assert non_empty.args[0].name() == "NON_EMPTY_GROUP"
    assert not_found.args[0].name() == "GROUP_ID_NOT_FOUND"
    groups = cluster_truth(sandbox)["groups"]
    assert "payments-audit" not in groups
    assert "orders-processor" in groups
    # Resuming a deployment whose group was deleted starts a fresh group at the log end.
    sandbox.scale_deployment(CLUSTER, "payments-audit", 1)
    truth = cluster_truth(sandbox)
    ends = {str(p["partition"]): p["log_end_offset"] for p in truth["topics"]["payments"]["partitions"]}
    assert truth["groups"]["payments-audit"]["offsets"]["payments"] == ends
