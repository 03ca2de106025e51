"""The production :class:`~kafka_obs.exporter.canary.CanaryClient`: confluent-kafka's AdminClient, a Producer with
``acks=all`` and a Consumer used with ``assign()`` only.

The clients are the canary's own (not the collection cycle's admin client): they live on the canary's thread,
and a producer blocked on a broker that does not answer must not delay a collection cycle. The cluster's ``kafka:``
properties (SASL, SSL, …) are passed through unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, ElectionType, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as CkTopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from kafka_obs.config.clusters import Cluster
from kafka_obs.exporter.canary import CanaryError, CanaryPartition, DeliveryReport, TopicLayout

_librdkafka_log = logging.getLogger("kafka_obs.exporter.canary.librdkafka")


def _error_text(exc: BaseException) -> str:
    error = exc.args[0] if exc.args else None
    return error.str() if isinstance(error, KafkaError) else str(exc)


class ConfluentCanaryClient:
    def __init__(self, cluster: Cluster, *, timeout: float = 10.0):
        self._timeout = timeout
        base: dict[str, Any] = dict(cluster.client_properties())
        base.setdefault("client.id", "kafka-obs-canary")
        base["logger"] = _librdkafka_log  # through the exporter's logging (format, redaction), not raw stderr
        self._admin = AdminClient(base)
        sla_ms = max(1, round(cluster.canary.sla * 1000))
        self._producer = Producer(
            {
                **base,
                "acks": "all",
                "linger.ms": 0,
                # a message not delivered within the SLA is lost anyway; failing it then frees the queue
                "message.timeout.ms": sla_ms,
                "enable.idempotence": False,
            }
        )
        self._consumer = Consumer(
            {
                **base,
                # assign() only: no group is joined and nothing is committed; librdkafka still wants an id
                "group.id": f"kafka-obs-canary-{cluster.name}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "latest",
                "fetch.wait.max.ms": 50,
            }
        )

    def layout(self, topic: str) -> TopicLayout:
        self._admin.poll(0)  # serve the admin client's log queue (its lines reach the logger only when polled)
        try:
            md = self._admin.list_topics(topic=topic, timeout=self._timeout)
        except KafkaException as exc:
            raise CanaryError(f"metadata: {_error_text(exc)}") from None
        brokers = tuple(sorted(md.brokers))
        described = md.topics.get(topic)
        missing = (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC)
        if described is None or (described.error is not None and described.error.code() in missing):
            return TopicLayout(brokers, None)
        if described.error is not None:
            raise CanaryError(f"metadata of {topic!r}: {described.error.str()}")
        partitions = tuple(
            CanaryPartition(p.id, p.leader, tuple(p.replicas))
            for p in sorted(described.partitions.values(), key=lambda p: p.id)
        )
        return TopicLayout(brokers, partitions)

    def _wait(self, futures: dict[Any, Any], what: str) -> None:
        for future in futures.values():
            try:
                future.result(timeout=self._timeout)
            except KafkaException as exc:
                if isinstance(exc.args[0], KafkaError) and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    continue  # another exporter created it first
                raise CanaryError(f"{what}: {_error_text(exc)}") from None

    def create_topic(self, topic: str, assignment: Sequence[Sequence[int]]) -> None:
        # librdkafka reads num_partitions=-1 as "the broker default", which excludes an explicit assignment
        new = NewTopic(topic, len(assignment), replication_factor=-1, replica_assignment=[list(r) for r in assignment])
        self._wait(self._admin.create_topics([new], request_timeout=self._timeout), f"creating {topic!r}")

    def add_partitions(self, topic: str, total: int, assignment: Sequence[Sequence[int]]) -> None:
        new = NewPartitions(topic, total, replica_assignment=[list(r) for r in assignment])
        self._wait(
            self._admin.create_partitions([new], request_timeout=self._timeout), f"adding partitions to {topic!r}"
        )

    def elect_preferred(self, topic: str, partitions: Sequence[int]) -> None:
        future = self._admin.elect_leaders(
            ElectionType.PREFERRED, [CkTopicPartition(topic, p) for p in partitions], request_timeout=self._timeout
        )
        try:
            future.result(timeout=self._timeout)
        except KafkaException as exc:
            raise CanaryError(f"preferred leader election on {topic!r}: {_error_text(exc)}") from None

    def produce(self, topic: str, partition: int, value: bytes, on_delivery: DeliveryReport) -> None:
        def report(error: KafkaError | None, message: Any) -> None:
            latency = message.latency() if message is not None else None
            on_delivery(None if error is None else error.str(), latency)

        self._producer.produce(topic, value=value, partition=partition, on_delivery=report)

    def poll(self, timeout: float) -> None:
        self._producer.poll(timeout)

    def assign(self, topic: str, partitions: Sequence[int]) -> None:
        """Start at each partition's log end as of now, read before returning: ``OFFSET_END`` would be resolved
        only when the consumer first fetches, after the first round's messages, which would then count as lost."""
        current = {tp.partition: tp.offset for tp in self._consumer.assignment()}
        start = []
        for p in partitions:
            if p in current:
                start.append(CkTopicPartition(topic, p, current[p]))
                continue
            try:
                _, high = self._consumer.get_watermark_offsets(CkTopicPartition(topic, p), timeout=self._timeout)
            except KafkaException as exc:
                raise CanaryError(f"log end of {topic}[{p}]: {_error_text(exc)}") from None
            start.append(CkTopicPartition(topic, p, high if high >= 0 else OFFSET_END))
        self._consumer.assign(start)

    def consume(self, timeout: float) -> list[tuple[int, bytes]]:
        # poll() returns as soon as one message is there (consume() would wait for a full batch or the timeout,
        # adding its wait to the round trip); what else has arrived is then taken without waiting
        first = self._consumer.poll(timeout)
        if first is None:
            return []
        messages = [first, *self._consumer.consume(num_messages=1000, timeout=0)]
        out = []
        for m in messages:
            partition, value = m.partition(), m.value()
            if m.error() is None and partition is not None and value is not None:
                out.append((partition, value))
        return out

    def close(self) -> None:
        self._producer.flush(0)
        self._consumer.close()
