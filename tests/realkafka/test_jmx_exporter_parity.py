"""Our JMX series against prometheus/jmx_exporter's, read from the same real broker at the same time.

One KRaft node runs with jmx_exporter's Java agent (Maven Central, ``make kafka``) and the project's published
Kafka KRaft rules (tests/realkafka/data/). The agent is scraped, then our exporter runs one cycle with its JMX
plug-in against the node's JMX port, then the agent is scraped again. Every series we produce must exist in the
agent's output under the same name and labels (ours carry ``broker`` on top: the agent's broker is its scrape
target), and its value must lie between the agent's two readings (counters and gauges alike, widened only for the
gauges that move on their own). A series that deliberately differs is listed in :data:`DOCUMENTED`, and the test
checks that docs/metrics.md explains each of them.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_obs.clock import ManualClock
from kafka_obs.config.clusters import FleetConfig
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin
from kafka_obs.exporter.jmx import JmxHelper, jmx_collectors
from kafka_obs.platform.processes import free_port, wait_until
from kafka_obs.platform.realkafka import KafkaCluster, KafkaNode, KafkaUnavailableError, jmx_exporter_agent
from kafka_obs.rules import bundle
from kafka_obs.rules.loading import load_slos
from tests.dashboards.grafana import JMX_PREFIXES, load_shape, queries, series_names
from tests.exporter.scrape import Series, parse

pytestmark = pytest.mark.realkafka

RULES = Path(__file__).with_name("data") / "jmx_exporter-kafka-kraft-3_0_0.yml"
DOCS = Path(__file__).parents[2] / "docs" / "metrics.md"
SLOS = Path(__file__).parents[2] / "rules" / "slos.yaml"
CLUSTER = "parity"
TOPIC = "parity-orders"

DOCUMENTED: dict[str, str] = {
    # our name -> the agent's name for the same MBean (docs/metrics.md, "Differences from jmx_exporter")
    "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent": (
        "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent"
    ),
    # Kafka 4.x's split pools, the same MeanRate-vs-one-minute choice
    "kafka_server_kafkarequesthandlerpool_brokerrequesthandleravgidlepercent": (
        "kafka_server_kafkarequesthandlerpool_brokerrequesthandleravgidle_percent"
    ),
    "kafka_server_kafkarequesthandlerpool_controllerrequesthandleravgidlepercent": (
        "kafka_server_kafkarequesthandlerpool_controllerrequesthandleravgidle_percent"
    ),
    "jvm_gc_collection_seconds_total": "jvm_gc_collection_seconds_sum",
    "jvm_gc_collections_total": "jvm_gc_collection_seconds_count",
}
"""Our series that deliberately differ from the agent's; each must be explained in docs/metrics.md."""

SAME_VALUE = {"jvm_gc_collection_seconds_total", "jvm_gc_collections_total"}
"""Documented differences of name only: their values are compared under the agent's name."""

OURS_ONLY = {"kafka_jmx_up", "kafka_jmx_scrape_duration_seconds"}
"""Our exporter's own health of the JMX read: no MBean behind them, so the agent has no counterpart."""

VOLATILE = {"jvm_memory_used_bytes"}
"""Gauges that move between two reads on their own (allocation): only their presence and sign are compared."""


@pytest.fixture(scope="module")
def broker() -> Iterator[tuple[KafkaCluster, int]]:
    try:
        agent = jmx_exporter_agent()
    except KafkaUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)
    port = free_port()

    def with_agent(node: KafkaNode) -> list[str]:
        return [f"-javaagent:{agent}=127.0.0.1:{port}:{RULES}"]

    with KafkaCluster.start(1, node_options=with_agent, timeout=180.0) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
        admin.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1)])[TOPIC].result(30)
        producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "linger.ms": 5})
        for i in range(300):
            producer.produce(TOPIC, key=str(i).encode(), value=b"x" * 100)
        assert producer.flush(30) == 0
        yield cluster, port


def scrape_agent(port: int) -> Series:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        return parse(response.read())


def our_series(cluster: KafkaCluster) -> Series:
    node = cluster.nodes[0]
    fleet = FleetConfig.model_validate(
        {
            "clusters": [
                {
                    "name": CLUSTER,
                    "region": "local",
                    "environment": "test",
                    "brokers": [node.address],
                    "jmx_ports": [node.jmx_port],
                    "jmx": {
                        "partition_sizes": True,
                        "topic_meters": True,
                    },  # the whole catalogue, per-partition log sizes included
                    "priority": "low",
                }
            ]
        }
    )
    helper = JmxHelper()
    exporter = Exporter(
        fleet,
        clock=ManualClock(),
        client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=10),
        plugin_factories=[jmx_collectors(helper)],
    )
    try:
        exporter.collect_once()
        snapshot = exporter.store.snapshots()[CLUSTER]
        return {
            (f.name, frozenset(zip(f.metric.labels, labels, strict=True))): value
            for f in snapshot.plugins
            for labels, value in f.samples
        }
    finally:
        exporter.stop()
        helper.close()


def compare(before: Series, ours: Series, after: Series, broker_id: str) -> list[str]:
    """Every difference between our series and the agent's, as readable lines (empty when they agree)."""
    problems = []
    for (name, labels), value in sorted(ours.items(), key=lambda kv: (kv[0][0], sorted(kv[0][1]))):
        if name in OURS_ONLY or (name in DOCUMENTED and name not in SAME_VALUE):
            continue
        # Prometheus stores an empty label as no label: topic="" (our broker-wide series) is the agent's no-topic
        plain = {k: v for k, v in labels if v != ""}
        if plain.pop("broker", None) != broker_id:
            problems.append(f"{name}{dict(labels)}: broker label is not {broker_id}")
        theirs = DOCUMENTED.get(name, name)
        key = (theirs, frozenset(plain.items()))
        if key not in before or key not in after:
            candidates = sorted({repr(dict(ls)) for n, ls in after if n == theirs})[:3]
            problems.append(f"{name}{plain}: not in the agent's output (the agent has {theirs} with {candidates})")
            continue
        low, high = sorted((before[key], after[key]))
        if name in VOLATILE:
            if (value < 0) != (low < 0):
                problems.append(f"{name}{plain}: ours {value}, agent {low}..{high}")
        elif not low - 1e-9 <= value <= high + 1e-9:
            problems.append(f"{name}{plain}: ours {value}, agent {low}..{high}")
    return problems


def test_every_jmx_series_of_ours_is_jmx_exporters(broker: tuple[KafkaCluster, int]) -> None:
    cluster, port = broker
    wait_until(lambda: bool(scrape_agent(port)), 30.0, "jmx_exporter agent answering")
    before = scrape_agent(port)
    ours = our_series(cluster)
    after = scrape_agent(port)

    assert ours[("kafka_jmx_up", frozenset({("broker", "1")}))] == 1
    compared = [k for k in ours if k[0] not in OURS_ONLY and k[0] not in DOCUMENTED]
    # the comparison covers the catalogue's every family, per topic and per partition too, not a token few
    assert {n for n, _ in compared} >= {
        "kafka_server_brokertopicmetrics_bytesin_total",
        "kafka_server_brokertopicmetrics_messagesin_total",
        "kafka_server_replicamanager_partitioncount",
        "kafka_network_requestmetrics_totaltimems",
        "kafka_log_log_size",
        "jvm_memory_used_bytes",
    }
    assert any(dict(ls).get("topic") == TOPIC for _, ls in compared)
    problems = compare(before, ours, after, "1")
    assert problems == [], "\n".join(problems)


def test_every_documented_difference_is_real_and_explained(broker: tuple[KafkaCluster, int]) -> None:
    """A difference listed here must still exist (else follow the agent and drop it from the list) and be
    explained in docs/metrics.md next to the agent's name."""
    cluster, port = broker
    agent_names = {name for name, _ in scrape_agent(port)}
    our_names = {name for name, _ in our_series(cluster)}
    docs = DOCS.read_text()
    for ours, theirs in DOCUMENTED.items():
        assert ours in our_names
        assert ours not in agent_names, f"the agent now has {ours}: follow it and drop the documented difference"
        assert theirs in agent_names
        assert ours in docs, f"docs/metrics.md must explain {ours}"
        assert theirs in docs, f"docs/metrics.md must name the agent's {theirs}"


def test_the_agent_serves_every_jmx_series_the_agent_shape_reads(broker: tuple[KafkaCluster, int]) -> None:
    """The rules and dashboards generated with ``jmx_source: agent`` read only what the real agent serves, with the
    label values their selectors match, and the agent's series leave the scrape config's target labels free."""
    _, port = broker
    agent = scrape_agent(port)
    spec = load_slos(SLOS).model_copy(update={"jmx_source": "agent"})
    expressions = [r.expr for f in bundle.rule_files(spec) for g in f.groups for r in g.rules]
    expressions += [q.expr for q in queries(load_shape("agent"))]
    read = {name for expr in expressions for name in series_names(expr) if name.startswith(JMX_PREFIXES)}
    assert len(read) >= 8, read
    assert read <= {name for name, _ in agent}, f"not served by the agent: {sorted(read - {n for n, _ in agent})}"

    def served(name: str, **labels: str | None) -> bool:
        return any(n == name and all(dict(ls).get(k) == v for k, v in labels.items()) for n, ls in agent)

    assert served("kafka_network_requestmetrics_totaltimems", request="Produce", quantile="0.99")
    assert served("kafka_server_brokertopicmetrics_bytesin_total", topic=None)  # broker-wide: no topic label
    assert served("kafka_server_brokertopicmetrics_messagesin_total", topic=None)
    assert served("jvm_memory_used_bytes", area="heap")
    assert served("jvm_memory_max_bytes", area="heap")
    clashing = {
        (n, k) for n, ls in agent for k, _ in ls if k in {"cluster", "region", "environment", "job", "instance"}
    }
    assert not clashing, f"agent labels a target label would rename to exported_*: {sorted(clashing)[:5]}"
