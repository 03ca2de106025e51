"""`kafka-obs demo --kafka real`: a real three-node Apache Kafka cluster joins the sandbox fleet, is collected (admin
API and JMX) and evaluated like the others, is in the webhook's allowlists, and is gone after Ctrl-C; without Java
the command says what to do and starts nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psutil
import pytest
import yaml

from kafka_obs.platform import demo_kafka
from kafka_obs.platform.processes import find_binary, kafka_obs_command, wait_until
from tests.platform.test_demo import (
    assert_nothing_left,
    command_line,
    descendants,
    printed_urls,
    query,
    start_demo,
    stop_demo,
)

REGION = "us-east-1"
"""The first region of the ``small`` fleet: the real cluster joins it."""


def test_without_java_the_demo_says_what_to_do_and_starts_nothing(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = subprocess.run(
        [*kafka_obs_command(), "demo", "--kafka", "real", "--workdir", str(workdir)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": str(tmp_path)},  # no java on it
    )
    assert result.returncode == 2, result.stderr
    assert "--kafka real needs Apache Kafka's jars and Java" in result.stderr
    assert "java is not on PATH" in result.stderr
    assert "make kafka" in result.stderr
    assert "Traceback" not in result.stderr
    assert not workdir.exists()


def test_the_real_kafka_entry_is_a_valid_cluster_of_the_fleet() -> None:
    from kafka_obs.config.clusters import Cluster
    from kafka_obs.platform.realkafka import KafkaCluster, KafkaNode

    nodes = [KafkaNode(i, 9000 + i, 9100 + i, 9200 + i, Path(f"/nonexistent/node-{i}")) for i in (1, 2, 3)]
    real = demo_kafka.RealKafka(KafkaCluster(nodes, Path("/nonexistent"), "id", "classpath"), REGION)
    cluster = Cluster.model_validate(real.cluster_entry())
    assert (cluster.name, cluster.region, cluster.environment) == ("real-kafka", REGION, "production")
    assert cluster.jmx_ports == [9201, 9202, 9203]
    assert real.joining().topics == {"payments": "critical", "clickstream": "low"}


@pytest.mark.realkafka
@pytest.mark.skipif(not (find_binary("prometheus") and find_binary("prometheus-alertmanager")), reason="make tools")
def test_a_real_cluster_joins_the_demo_and_leaves_nothing_behind(tmp_path: Path) -> None:
    demo, workdir, log = start_demo(tmp_path, "--fleet", "small", "--kafka", "real", timeout=300)
    children: list[psutil.Process] = []
    try:
        assert "real Apache Kafka: cluster 'real-kafka'" in log.read_text()
        urls = printed_urls(log)
        assert demo.pid is not None
        children = descendants(demo.pid)
        prom = urls[f"Prometheus ({REGION})"]
        real = '{cluster="real-kafka"}'

        def value(expr: str) -> float | None:
            result = query(prom, expr)
            return float(result[0]["value"][1]) if result else None

        # admin API: three brokers, the demo topics, both groups committing behind the producer
        wait_until(lambda: value(f"kafka_cluster_up{real}") == 1, 120, "the real cluster collected")
        assert value(f"kafka_brokers{real}") == 3
        wait_until(
            lambda: value('count(kafka_consumergroup_current_offset{cluster="real-kafka"} > 0)') == 9,
            120,
            "both groups' commits on all 9 partitions",
        )
        assert (value('sum(kafka_topic_partition_current_offset{cluster="real-kafka",topic="payments"})') or 0) > 0
        # broker JMX, from the real MBeans: messages in per broker
        wait_until(
            lambda: (
                value('count(kafka_server_brokertopicmetrics_messagesin_total{cluster="real-kafka",topic=""} > 0)') == 3
            ),
            120,
            "JMX messages-in from each broker",
        )
        # evaluated by the same rules as the sandbox's clusters
        wait_until(lambda: value(f"cluster:kafka_health_score:ratio{real}") == 1, 120, "the real cluster's health")
        # remediated like the others where only Kafka is needed: the non-critical topic is in the retention allowlist
        webhook = yaml.safe_load((workdir / "webhook.yaml").read_text())
        assert webhook["kafka"]["clusters"]["real-kafka"] == {"topics": {"allow": ["clickstream"]}}
        names = [name for name in map(command_line, children) if name is not None]
        assert sum(n.startswith("java") for n in names) >= 3  # the three Kafka nodes (and the JMX helper)
    finally:
        stop_demo(demo, 90)
    assert_nothing_left(children, workdir)
