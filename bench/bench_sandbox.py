"""Benchmark: a full admin sweep of the ``scale`` fleet (6 brokers, 2,500 partitions, 2,000 groups) from
confluent-kafka, against ``kafka-obs sandbox`` running as its own process (as the exporter would see it).
``--factors 1,10`` also sweeps ``scale`` with every count multiplied by 10 (bench/scaled_fleet.py: 25,000
partitions, 20,000 groups), writing sandbox-sweep-x10.json; the sandbox's start time is recorded too. Not the
default: this client sends one DescribeGroups (after a FindCoordinator) per group, so at 20,000 groups the sweep
measures librdkafka's per-group requests more than the sandbox; the sandbox's cost at 10x is measured as its CPU
per batched exporter cycle by bench/bench_scale.py.

One sweep = Metadata, ListOffsets earliest + latest for every partition, ListGroups, DescribeGroups for every group,
OffsetFetch for every group. Repeated; the median is written to bench/results/sandbox-sweep.json.
Target: under 5 s, so the sandbox is never the reason an exporter benchmark is slow.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import machine  # bench/machine.py: load averages and a note measured, not asserted
import psutil
import scaled_fleet
import yaml
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "sandbox-sweep.json"
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
TIMEOUT = 300
TARGET_SECONDS = 5.0


def sweep(admin: AdminClient, sandbox: psutil.Process) -> dict[str, float]:
    """One full sweep; returns seconds per stage, and the CPU seconds the sandbox and this client spent on it."""
    stages: dict[str, float] = {}
    sandbox_cpu, client_cpu = _cpu(sandbox), time.process_time()
    t = time.perf_counter()
    metadata = admin.list_topics(timeout=TIMEOUT)
    partitions = [TopicPartition(name, p) for name, topic in metadata.topics.items() for p in topic.partitions]
    stages["metadata"] = time.perf_counter() - t

    t = time.perf_counter()
    for spec in (OffsetSpec.earliest(), OffsetSpec.latest()):
        futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=TIMEOUT)
        for future in futures.values():
            future.result()
    stages["list_offsets"] = time.perf_counter() - t

    t = time.perf_counter()
    listed = admin.list_consumer_groups(request_timeout=TIMEOUT).result()
    groups = [g.group_id for g in listed.valid]
    stages["list_groups"] = time.perf_counter() - t

    t = time.perf_counter()
    for future in admin.describe_consumer_groups(groups, request_timeout=TIMEOUT).values():
        future.result()
    stages["describe_groups"] = time.perf_counter() - t

    t = time.perf_counter()
    # The Python binding takes one group per call; all calls are in flight at once.
    per_group = [
        admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(g)], request_timeout=TIMEOUT)[g] for g in groups
    ]
    for pending in per_group:
        pending.result()
    stages["offset_fetch"] = time.perf_counter() - t
    stages["total"] = sum(stages.values())
    stages["sandbox_cpu"] = _cpu(sandbox) - sandbox_cpu
    stages["client_cpu"] = time.process_time() - client_cpu
    stages["partitions"] = len(partitions)
    stages["groups"] = len(groups)
    return stages


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factors", default="1", help="sizes to sweep, as multiples of the scale fleet")
    failed = [f for f in parser.parse_args(argv).factors.split(",") if not sweep_size(int(f))]
    return 1 if failed else 0


def sweep_size(factor: int) -> bool:
    """Start the sandbox for one size, sweep it, write its result; True when the median meets the target."""
    results = RESULTS if factor == 1 else RESULTS.with_name(f"sandbox-sweep-x{factor}.json")
    load_before = machine.snapshot()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "clusters.yaml"
        fleet = "scale" if factor == 1 else str(scaled_fleet.write_scaled(factor, Path(tmp)))
        process, start_seconds = scaled_fleet.start_sandbox(fleet, config)
        try:
            time.sleep(0.2)
            brokers = yaml.safe_load(config.read_text())["clusters"][0]["brokers"]
            admin = AdminClient({"bootstrap.servers": ",".join(brokers), "log_level": 3})
            sandbox = psutil.Process(process.pid)
            sweep(admin, sandbox)  # warm-up: connections and metadata
            runs = [sweep(admin, sandbox) for _ in range(REPEATS)]
        finally:
            scaled_fleet.stop_sandbox(process)
    totals = [r["total"] for r in runs]
    median = statistics.median(totals)
    result = {
        "benchmark": "sandbox full admin sweep, scale fleet" + (f" x {factor}" if factor > 1 else ""),
        "fleet": {"brokers": 6, "partitions": runs[0]["partitions"], "groups": runs[0]["groups"]},
        "client": "confluent-kafka AdminClient (librdkafka), separate process from the sandbox",
        "repeats": REPEATS,
        "median_seconds": median,
        "min_seconds": min(totals),
        "max_seconds": max(totals),
        "sandbox_cpu_seconds_median": statistics.median(r["sandbox_cpu"] for r in runs),
        "client_cpu_seconds_median": statistics.median(r["client_cpu"] for r in runs),
        "median_stage_seconds": {
            stage: statistics.median(r[stage] for r in runs)
            for stage in ("metadata", "list_offsets", "list_groups", "describe_groups", "offset_fetch")
        },
        "target_seconds": TARGET_SECONDS,
        "sandbox_start_seconds": round(start_seconds, 2),
        "machine": machine.describe(load_before, machine.snapshot()),
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return median < TARGET_SECONDS


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
