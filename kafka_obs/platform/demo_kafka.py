"""The real Apache Kafka cluster ``kafka-obs demo --kafka real`` adds to the sandbox fleet.

The sandbox stays the demo's default because it starts five clusters in a second; with ``--kafka real`` one
three-node KRaft cluster of the Kafka the tests cover (``make kafka`` resolves it from Maven Central) joins the
fleet as one more production cluster of the first region: collected by that region's exporter (admin API and
broker JMX), evaluated by the same rules and SLOs, shown on the same dashboards, and remediated by the webhook
where a remediation needs only Kafka (the disk-pressure playbook lowers a non-critical topic's retention over the
Kafka protocol). Scaling a consumer group needs a Kubernetes deployment, which only the sandbox simulates, so the
real cluster's groups are not in the webhook's deployment allowlist.

Traffic comes from a producer (acks=all) and one consumer group per topic, in a thread of the demo process
(librdkafka does the work in its own threads): cheaper on a laptop than a JVM per load generator, and real produce
rates, commits and lag for the dashboards. One group uses the KIP-848 consumer protocol, the other the classic one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_obs.platform.realkafka import KafkaCluster, KafkaUnavailableError, classpath
from kafka_obs.platform.wiring import JoiningCluster

CLUSTER = "real-kafka"
NODES = 3


@dataclass(frozen=True)
class DemoTopic:
    name: str
    partitions: int
    criticality: str
    """``critical`` topics are never in the webhook's retention allowlist (lowering retention deletes data)."""
    records_per_second: int
    group: str
    """The consumer group that reads it, committing as it goes."""
    group_protocol: str
    config: Mapping[str, str] = field(default_factory=dict)


TOPICS = (
    DemoTopic("payments", 6, "critical", 50, "payments-processor", "consumer", {"min.insync.replicas": "2"}),
    DemoTopic("clickstream", 3, "low", 200, "clickstream-aggregator", "classic", {"retention.ms": "604800000"}),
)


class RealKafkaUnavailable(RuntimeError):
    """Java or Kafka's resolved jars are missing; the message says what to run."""


def check_available() -> None:
    """Fail at once, before anything starts, when real Kafka cannot run here."""
    try:
        classpath()
    except KafkaUnavailableError as exc:
        raise RealKafkaUnavailable(f"--kafka real needs Apache Kafka's jars and Java: {exc}") from None


@dataclass
class RealKafka:
    """The started cluster and its load generators; :meth:`stop` ends them all and removes the cluster's data."""

    kafka: KafkaCluster
    region: str
    traffic: Traffic | None = None

    def cluster_entry(self) -> dict[str, Any]:
        """The ``clusters.yaml`` entry: every node's listener and JMX port, collected like a critical cluster."""
        return {
            "name": CLUSTER,
            "region": self.region,
            "environment": "production",
            "priority": "critical",
            "brokers": [node.address for node in self.kafka.nodes],
            "jmx_ports": [node.jmx_port for node in self.kafka.nodes],
        }

    def joining(self) -> JoiningCluster:
        """How it joins the sandbox fleet's clusters.yaml and the webhook's allowlists."""
        return JoiningCluster(self.cluster_entry(), {t.name: t.criticality for t in TOPICS})

    def dead(self) -> list[str]:
        nodes = [f"{CLUSTER} node {n.node_id}" for n in self.kafka.nodes if not n.alive()]
        traffic = [] if self.traffic is None or self.traffic.alive() else [f"{CLUSTER} traffic ({self.traffic.error})"]
        return nodes + traffic

    def stop(self) -> None:
        if self.traffic is not None:
            self.traffic.stop()
        self.kafka.close()


def start(workdir: Path, region: str, *, timeout: float = 180.0) -> RealKafka:
    """Format and start the cluster under ``workdir``, create the demo topics, start the traffic."""
    check_available()
    workdir.mkdir(parents=True, exist_ok=True)
    kafka = KafkaCluster.create(NODES, directory=workdir)
    real = RealKafka(kafka, region)
    try:
        kafka.format()
        kafka.start_all(timeout=timeout)
        create_topics(kafka)
        real.traffic = Traffic(kafka.bootstrap_servers)
        real.traffic.start()
    except BaseException:
        real.stop()
        raise
    return real


def create_topics(kafka: KafkaCluster) -> None:
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers, "log_level": 3})
    wanted = [NewTopic(t.name, t.partitions, NODES, config=dict(t.config)) for t in TOPICS]
    for future in admin.create_topics(wanted, operation_timeout=30).values():
        future.result(timeout=60)


class Traffic:
    """Produces to every demo topic at its rate and consumes each with its group, until :meth:`stop`."""

    def __init__(self, bootstrap: str, tick: float = 0.1):
        self._bootstrap = bootstrap
        self._tick = tick
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-kafka-traffic", daemon=True)
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        quiet = {"log_level": 3}
        producer = Producer({"bootstrap.servers": self._bootstrap, "acks": "all", "linger.ms": 5, **quiet})
        consumers = []
        for topic in TOPICS:
            consumer = Consumer(
                {
                    "bootstrap.servers": self._bootstrap,
                    "group.id": topic.group,
                    "group.protocol": topic.group_protocol,
                    "auto.offset.reset": "earliest",
                    **quiet,
                }
            )
            consumer.subscribe([topic.name])
            consumers.append(consumer)
        payload = b"x" * 200
        try:
            while not self._stopping.is_set():
                started = time.monotonic()
                for topic in TOPICS:
                    for _ in range(max(1, round(topic.records_per_second * self._tick))):
                        producer.produce(topic.name, payload)
                producer.poll(0)
                for consumer in consumers:
                    consumer.consume(num_messages=10_000, timeout=0)
                self._stopping.wait(max(0.0, self._tick - (time.monotonic() - started)))
        except Exception as exc:  # reported by RealKafka.dead(): the demo stops rather than limp on
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            producer.flush(5)
            for consumer in consumers:
                consumer.close()
