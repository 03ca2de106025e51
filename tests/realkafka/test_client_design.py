"""Issue 13 item 6, re-decided on real Kafka: does librdkafka's committed-offsets call crash on a coordinator move?

The exporter's docstrings record that confluent-kafka's ``list_consumer_group_offsets`` crashed the process when a
coordinator answered NOT_COORDINATOR — seen against the sandbox. Here the same call runs in a loop, in a child
process (a crash must not take pytest with it), while the group's coordinator broker shuts down on real Kafka.
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
    from confluent_kafka import ConsumerGroupTopicPartitions
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": sys.argv[1]})
    groups = sys.argv[2].split(",")
    ok = failed = 0
    end = time.monotonic() + float(sys.argv[3])
    while time.monotonic() < end:
        for group in groups:
            try:
                admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(timeout=10)
                ok += 1
            except Exception:
                failed += 1
    print("ok", ok, "failed", failed, flush=True)
    """
)


def test_librdkafka_committed_offsets_survive_a_coordinator_shutdown(world: World, healthy: KafkaCluster) -> None:
    kafka = healthy
    groups = [CLASSIC, KIP848, OFFSETS_ONLY]
    described = world.admin.describe_consumer_groups(groups)
    coordinator = described[OFFSETS_ONLY].result(timeout=10).coordinator.id
    loop = subprocess.Popen(
        [sys.executable, "-c", LOOP, kafka.bootstrap_servers, ",".join(groups), "15"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    time.sleep(3)
    kafka.stop_node(coordinator)  # the coordinator moves; the old one answers NOT_COORDINATOR while it shuts down
    out, _ = loop.communicate(timeout=120)
    assert loop.returncode == 0, f"librdkafka's process died with status {loop.returncode}: {out}"
    ok = int(out.split()[1])
    assert ok > 100, out
