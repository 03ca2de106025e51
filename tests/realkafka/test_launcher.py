"""The launcher itself: a ready cluster is what it claims, and nothing outlives a killed test process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from kafka_obs.platform.processes import wait_until
from kafka_obs.platform.realkafka import TEST_SPEED, KafkaCluster

pytestmark = pytest.mark.realkafka


def test_every_node_is_a_registered_broker_with_its_own_jmx_port(kafka: KafkaCluster) -> None:
    md = kafka.metadata()
    assert sorted(md.brokers) == [1, 2, 3]
    assert {f"{b.host}:{b.port}" for b in md.brokers.values()} == {n.address for n in kafka.nodes}
    assert md.cluster_id == kafka.cluster_id
    assert md.controller_id in {1, 2, 3}
    assert len({n.jmx_port for n in kafka.nodes} | {n.port for n in kafka.nodes}) == 6
    for node in kafka.nodes:
        with socket.create_connection(("127.0.0.1", node.jmx_port), timeout=2.0):
            pass


def test_test_speed_settings_are_in_force(kafka: KafkaCluster) -> None:
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    resource = ConfigResource(ResourceType.BROKER, "1")
    entries = admin.describe_configs([resource])[resource].result(timeout=10)
    for key in ("group.initial.rebalance.delay.ms", "log.retention.check.interval.ms", "log.segment.bytes"):
        assert entries[key].value == TEST_SPEED[key]
    assert entries["log.cleaner.dedupe.buffer.size"].value == str(8 * 1024 * 1024)


WATCHED = textwrap.dedent(
    """
    import sys, time
    from kafka_obs.platform.realkafka import KafkaCluster
    cluster = KafkaCluster.create(1)
    cluster.format()
    cluster.start_all()
    print(cluster.directory, cluster.nodes[0].pid, flush=True)
    time.sleep(300)
    """
)


def test_a_killed_test_process_leaves_no_jvm_and_no_directory(tmp_path: Path) -> None:
    """SIGKILL the process that started a cluster: its watchdog kills the JVMs and removes the directory."""
    out = tmp_path / "out"
    with out.open("w") as sink:
        parent = subprocess.Popen([sys.executable, "-c", WATCHED], stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: bool(out.read_text().strip()) or parent.poll() is not None, 120, "a one-node cluster")
        assert parent.poll() is None, out.read_text()
        directory, pid = out.read_text().split()[:2]
        assert Path(directory).is_dir()
        os.kill(int(pid), 0)  # the JVM runs
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (Path(directory).exists() or _alive(int(pid))):
        time.sleep(0.2)
    assert not _alive(int(pid)), "the broker JVM outlived the killed test process"
    assert not Path(directory).exists(), "the cluster's directory outlived the killed test process"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too: its parent (the watchdog) may not have reaped it yet
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False
