"""The exporter on real Apache Kafka at the ``scale`` fleet's 1x shape, the real-Kafka point next to the sandbox's
curve; results to bench/results/scale-real-kafka.json.

A real 3-broker KRaft cluster (kafka_obs.platform.realkafka, the Kafka the tests cover) is filled like the sandbox's
1x point: 2,500 partitions, 2,000 consumer groups, 10 committed offsets each (20,000), by bench_peers.fill. Then
bench_scale measures it exactly as it measures a sandbox size (``--bootstrap``, in a fresh exporter process): first
and steady cycles (wall and exporter CPU), Kafka requests per cycle per API, RSS, /metrics p50/p99 under 10
concurrent gzip scrapers, body sizes. The brokers run on the same 2 cores, so wall times include Kafka's own work;
CPU seconds are the exporter's.

Usage: .venv/bin/python bench/bench_realkafka.py
"""

from __future__ import annotations

import json
import sys
import time

import bench_scale
import machine  # bench/machine.py: load averages and a note measured, not asserted
from bench_peers import Sizes, fill

from kafka_obs.platform.realkafka import KafkaCluster

SHAPE = Sizes(partitions=2_500, groups=2_000, window=0, offsets_per_group=10)


def main() -> int:
    load = machine.snapshot()
    with KafkaCluster.start(3) as cluster:
        started = time.monotonic()
        fill(cluster, SHAPE)
        fill_seconds = time.monotonic() - started
        result = bench_scale.run_child(["--bootstrap", cluster.bootstrap_servers])
    result = {
        "benchmark": "exporter on real Apache Kafka at the scale fleet's 1x shape (the sandbox curve's first point)",
        "kafka": "4.4.0, 3 KRaft nodes on loopback (kafka_obs.platform.realkafka)",
        "shape": {"partitions": SHAPE.partitions, "groups": SHAPE.groups, "offsets_per_group": SHAPE.offsets_per_group},
        "fill_seconds": round(fill_seconds, 1),
        **result,
        "environment": machine.describe(load, machine.snapshot()),
    }
    path = bench_scale.RESULTS / "scale-real-kafka.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path.relative_to(bench_scale.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
