"""Cost of one broker's JMX batch: CPU seconds and wall time of the jmxquery JVM launch, and of the parsing.

Runs against the sandbox's JMX responder with a broker the size of a busy production broker (100 topics,
600 partition logs) and a near-empty one (the fixed cost of a launch), and compares the JVM options the collector
uses with the JVM's defaults. CPU is the children's user+system time from ``getrusage`` (the JVM), plus this
process's time for parsing.

    .venv/bin/python bench/bench_jmx.py [--runs 10] [--out bench/results/jmx-batch.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import time
from pathlib import Path

import machine  # bench/machine.py: load averages and a note measured, not asserted

from kafka_obs.exporter.jmx.catalogue import batch_queries
from kafka_obs.exporter.jmx.query import DEFAULT_JVM_OPTIONS, JmxQueryClient, service_url
from kafka_obs.exporter.jmx.series import SeriesBuilder
from kafka_obs.sandbox.jmx import BrokerJmxState, JmxResponder, RequestLatency, TopicTraffic, kafka_beans

TOPICS = 100
PARTITIONS_PER_TOPIC = 6
SMALL_TOPICS = 3
"""A near-empty broker: what the JVM launch, class loading and the RMI handshake cost on their own."""


def broker_state(n_topics: int = TOPICS) -> BrokerJmxState:
    topics = {
        f"topic-{i:03d}": TopicTraffic(bytes_in=i * 1000, bytes_out=i * 3000, messages_in=i) for i in range(n_topics)
    }
    return BrokerJmxState(
        broker_id=1,
        topics=topics,
        partition_count=n_topics * PARTITIONS_PER_TOPIC,
        log_sizes={(t, p): 1 << 20 for t in topics for p in range(PARTITIONS_PER_TOPIC)},
        request_latency={"Produce": RequestLatency(1, {"p99": 5.0})},
        gc={"G1 Young Generation": (10, 100), "G1 Old Generation": (0, 0)},
    )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(client: JmxQueryClient, url: str, runs: int) -> dict[str, object]:
    queries = batch_queries()
    builder = SeriesBuilder()
    walls, cpus, parse_cpus, rows, samples = [], [], [], 0, 0
    for _ in range(runs):
        cpu0, wall0 = children_cpu(), time.perf_counter()
        result = client.query(url, queries, timeout=60)
        walls.append(time.perf_counter() - wall0)
        cpus.append(children_cpu() - cpu0)
        parse0 = own_cpu()
        families = builder.families("1", result)
        parse_cpus.append(own_cpu() - parse0)
        rows = len(result)
        samples = sum(len(f.samples) for f in families)
    return {
        "runs": runs,
        "rows_per_batch": rows,
        "samples_per_batch": samples,
        "wall_seconds": {"median": statistics.median(walls), "min": min(walls), "max": max(walls)},
        "jvm_cpu_seconds": {"median": statistics.median(cpus), "min": min(cpus), "max": max(cpus)},
        "parse_cpu_seconds_median": statistics.median(parse_cpus),
    }


def jvm_startup_only(java_options: tuple[str, ...], runs: int) -> dict[str, float]:
    """``java -version``-like floor: what any per-cycle JVM launch costs before it does any work."""
    cpus, walls = [], []
    for _ in range(runs):
        cpu0, wall0 = children_cpu(), time.perf_counter()
        subprocess.run(["java", *java_options, "-version"], capture_output=True, check=True)
        walls.append(time.perf_counter() - wall0)
        cpus.append(children_cpu() - cpu0)
    return {"wall_seconds_median": statistics.median(walls), "cpu_seconds_median": statistics.median(cpus)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", default="bench/results/jmx-batch.json")
    args = parser.parse_args()
    load_before = machine.snapshot()
    with JmxResponder.start() as responder:
        port = responder.open_broker("bench/1")
        beans = kafka_beans(broker_state())
        responder.publish("bench/1", beans)
        url = service_url("127.0.0.1", port)
        tuned = measure(JmxQueryClient(), url, args.runs)
        defaults = measure(JmxQueryClient(jvm_options=()), url, args.runs)
        small_port = responder.open_broker("bench/small")
        responder.publish("bench/small", kafka_beans(broker_state(SMALL_TOPICS)))
        small = measure(JmxQueryClient(), service_url("127.0.0.1", small_port), args.runs)
    result = {
        "benchmark": "one broker's JMX batch (jmxquery 0.6 jar, one JVM launch) against the sandbox JMX responder",
        "broker": {"topics": TOPICS, "partition_logs": TOPICS * PARTITIONS_PER_TOPIC, "mbeans": len(beans)},
        "queries_per_batch": len(batch_queries()),
        "collector_jvm_options": {"options": list(DEFAULT_JVM_OPTIONS), **tuned},
        "jvm_default_options": defaults,
        "small_broker_collector_options": {
            "topics": SMALL_TOPICS,
            "partition_logs": SMALL_TOPICS * PARTITIONS_PER_TOPIC,
            **small,
        },
        "jvm_startup_floor": {
            "collector_options": jvm_startup_only(DEFAULT_JVM_OPTIONS, args.runs),
            "default_options": jvm_startup_only((), args.runs),
        },
        "machine": machine.describe(load_before, machine.snapshot()),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
