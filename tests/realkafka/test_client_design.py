"""Issue 13 item 6, re-decided on real Kafka: committed offsets while the group coordinator shuts down.

librdkafka's ``list_consumer_group_offsets`` (confluent-kafka) was first seen crashing against the sandbox. Against
Apache Kafka 4.4 it crashes too: in a loop across a coordinator's shutdown the process died with SIGSEGV (status
-11) in one of two runs, and ``list_consumer_groups`` aborted the exporter in the kill test (docs/testing.md). So
the exporter keeps its own committed-offsets path (kafka-python's connections, batched per coordinator, one adapter:
``exporter/kafka_python.py``). This test runs that path — the exporter's client, exactly as a cycle calls it — in a
child process (a crash must not take pytest with it) while the coordinator broker shuts down, and requires it to
survive and keep answering. Swapping librdkafka's call back in makes it fail (in about half the runs).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from kafka_obs.platform.realkafka import KafkaCluster
from tests.realkafka.world import CLASSIC, KIP848, OFFSETS_ONLY, World

pytestmark = pytest.mark.realkafka

LOOP = textwrap.dedent(
    """
    import sys, time
    from kafka_obs.config.clusters import Cluster
    from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin
    cluster = Cluster(name="real", region="local", environment="test", brokers=sys.argv[1].split(","))
    client = ConfluentKafkaAdmin(cluster, timeout=5.0)
    groups = sys.argv[2].split(",")
    ok = failed = 0
    end = time.monotonic() + float(sys.argv[3])
    while time.monotonic() < end:
        for group, answer in client.committed_offsets(groups).items():
            if isinstance(answer, Exception):
                failed += 1
            else:
                ok += 1
    after = client.committed_offsets(groups)
    print("ok", ok, "failed", failed, "after", sum(not isinstance(a, Exception) for a in after.values()), flush=True)
    client.close()
    """
)


def test_the_exporters_committed_offsets_survive_a_coordinator_shutdown(world: World, healthy: KafkaCluster) -> None:
    kafka = healthy
    groups = [CLASSIC, KIP848, OFFSETS_ONLY]
    described = world.admin.describe_consumer_groups(groups)
    coordinator = described[OFFSETS_ONLY].result(timeout=10).coordinator.id
    loop = subprocess.Popen(
        [sys.executable, "-c", LOOP, kafka.bootstrap_servers, ",".join(groups), "12"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    time.sleep(3)
    kafka.stop_node(coordinator)  # the coordinator moves; the old one answers NOT_COORDINATOR while it shuts down
    out, _ = loop.communicate(timeout=120)
    assert loop.returncode == 0, f"the committed-offsets loop died with status {loop.returncode}: {out}"
    words = out.split()
    assert int(words[1]) > 30, out  # kept answering across the move
    assert int(words[5]) == len(groups), f"not every group answers after the move: {out}"
