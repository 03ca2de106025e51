"""What broker JMX costs the exporter: per broker read, and for a whole fleet, JMX on against JMX off.

``batch`` — one broker's read through the long-lived JMX helper against the sandbox's JMX responder, for a broker
the size of a busy production broker (100 topics, 600 partition logs) and a near-empty one: the helper JVM's CPU
per read (psutil, the helper process only), this process's CPU to parse the rows, wall time, and the one-time cost
of starting the helper and opening the connection.

``fleet`` — the exporter as a user runs it (``kafka-obs exporter``, its own process tree, so the helper JVM is
counted) against ``kafka-obs sandbox --fleet acme --jmx`` (15 brokers, each with a JMX port), twice on the same
sandbox: with ``jmx_ports`` in clusters.yaml and without. After a warm-up (every cluster's first cycle, the helper's
start), the process tree's CPU seconds over the window: CPU seconds, not wall time, because the machine is shared.
``--exporter`` runs another build of the exporter (e.g. the jmxquery one, from a separate virtualenv) through the
same harness, for a before/after.

    .venv/bin/python bench/bench_jmx.py            # both, as `make bench` runs it
    .venv/bin/python bench/bench_jmx.py batch [--runs 20] [--out bench/results/jmx-batch.json]
    .venv/bin/python bench/bench_jmx.py fleet [--seconds 60] [--settle 0] [--exporter CMD] [--label NAME]
        [--out bench/results/jmx-fleet-acme.json]
    .venv/bin/python bench/bench_jmx.py realkafka [--seconds 60] [--settle 0] [--shape small|peers]
        [--out bench/results/jmx-realkafka.json]

``--settle SECONDS`` starts the window that long after the first cycle, for both exporters: the helper JVM runs its
first minutes partly interpreted (C1 compiles RMI's serialization paths only after a few reads), so the first
minute measures start-up, and a window after a few minutes measures what a long-running exporter costs.

``realkafka`` — ``fleet``'s measurement on a real 3-broker Kafka 4.4 cluster started by the project's launcher:
JMX on against JMX off. ``--shape small`` (40 topics of 3 partitions, RF 3, with traffic) or ``--shape peers``
(the cluster the peers are measured on: 2,500 partitions, 2,000 groups with committed offsets).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import resource
import shlex
import statistics
import sys
import tempfile
import time
import urllib.request
from functools import partial
from pathlib import Path
from typing import Any

import machine  # bench/machine.py: load averages and a note measured, not asserted
import psutil
import yaml
from bench_peers import fill
from bench_realkafka import SHAPE as PEERS_SHAPE
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_obs.exporter.jmx import JmxHelper
from kafka_obs.exporter.jmx.catalogue import batch_queries
from kafka_obs.exporter.jmx.helper import JVM_OPTIONS
from kafka_obs.exporter.jmx.query import service_url
from kafka_obs.exporter.jmx.series import SeriesBuilder
from kafka_obs.platform.processes import ManagedProcess, free_port, http_ok, kafka_obs_command, wait_until
from kafka_obs.platform.realkafka import KafkaCluster
from kafka_obs.sandbox.jmx import BrokerJmxState, JmxResponder, RequestLatency, TopicTraffic, kafka_beans

TOPICS = 100
PARTITIONS_PER_TOPIC = 6
SMALL_TOPICS = 3
"""A near-empty broker: what a read costs beyond the MBeans themselves."""
WARMUP_TIMEOUT = 180.0


# -- one broker ---------------------------------------------------------------------------------------------------


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


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_reads(helper: JmxHelper, url: str, runs: int) -> dict[str, Any]:
    queries = batch_queries()
    builder = SeriesBuilder()
    helper.query(url, queries, timeout=60)  # connect (and start the helper) outside the measurement
    assert helper.pid is not None
    jvm = psutil.Process(helper.pid)
    walls, jvm_cpus, python_cpus, rows, samples = [], [], [], 0, 0
    for _ in range(runs):
        jvm0, own0, wall0 = cpu_seconds(jvm), own_cpu(), time.perf_counter()
        result = helper.query(url, queries, timeout=60)
        families = builder.families("1", result)
        walls.append(time.perf_counter() - wall0)
        jvm_cpus.append(cpu_seconds(jvm) - jvm0)
        python_cpus.append(own_cpu() - own0)
        rows, samples = len(result), sum(len(f.samples) for f in families)
    return {
        "runs": runs,
        "rows_per_read": rows,
        "samples_per_read": samples,
        "wall_seconds": {"median": statistics.median(walls), "min": min(walls), "max": max(walls)},
        "helper_jvm_cpu_seconds": {
            "median": statistics.median(jvm_cpus),
            "min": min(jvm_cpus),
            "max": max(jvm_cpus),
        },
        "python_cpu_seconds_median": statistics.median(python_cpus),
    }


def bench_batch(args: argparse.Namespace) -> dict[str, Any]:
    load_before = machine.snapshot()
    with JmxResponder.start() as responder:
        port = responder.open_broker("bench/1")
        beans = kafka_beans(broker_state())
        responder.publish("bench/1", beans)
        small_port = responder.open_broker("bench/small")
        responder.publish("bench/small", kafka_beans(broker_state(SMALL_TOPICS)))
        helper = JmxHelper()
        try:
            own0, wall0 = own_cpu(), time.perf_counter()
            helper.query(service_url("127.0.0.1", port), batch_queries(), timeout=60)
            first_wall = time.perf_counter() - wall0
            assert helper.pid is not None
            first = {
                "what": "helper JVM start + first connection + first read of the big broker",
                "wall_seconds": first_wall,
                "helper_jvm_cpu_seconds": cpu_seconds(psutil.Process(helper.pid)),
                "python_cpu_seconds": own_cpu() - own0,
            }
            big = measure_reads(helper, service_url("127.0.0.1", port), args.runs)
            small = measure_reads(helper, service_url("127.0.0.1", small_port), args.runs)
            connections = helper.connections_opened
        finally:
            helper.close()
    return {
        "benchmark": "one broker's JMX read through the long-lived JMX helper (one kept connection) against the "
        "sandbox JMX responder",
        "jvm_options": list(JVM_OPTIONS),
        "queries_per_read": len(batch_queries()),
        "first_read": first,
        "big_broker": {"topics": TOPICS, "partition_logs": TOPICS * PARTITIONS_PER_TOPIC, "mbeans": len(beans), **big},
        "small_broker": {"topics": SMALL_TOPICS, "partition_logs": SMALL_TOPICS * PARTITIONS_PER_TOPIC, **small},
        "connections_opened": connections,
        "machine": machine.describe(load_before, machine.snapshot()),
    }


# -- a fleet ------------------------------------------------------------------------------------------------------


def tree_cpu(root: psutil.Process) -> float:
    """CPU seconds of ``root`` and every descendant, living or already reaped."""
    times = root.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in root.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):  # reaped since the listing: now in children_*
            total += cpu_seconds(child)
    return float(total)


def tree_rss_mb(root: psutil.Process) -> float:
    rss = root.memory_info().rss
    for child in root.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            rss += child.memory_info().rss
    return rss / 1e6


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return str(response.read().decode())


def cycles(text: str) -> dict[str, int]:
    """Cycles so far per cluster: each cycle sends exactly one Metadata request (docs/performance.md)."""
    pattern = r'^kafka_exporter_kafka_requests_total\{([^}]*api="Metadata"[^}]*)\} (\S+)'
    out = {}
    for labels, value in re.findall(pattern, text, re.MULTILINE):
        cluster = re.search(r'cluster="([^"]*)"', labels)
        if cluster:
            out[cluster.group(1)] = int(float(value))
    return out


def run_exporter(
    command: list[str],
    config: Path,
    workdir: Path,
    *,
    name: str,
    seconds: float,
    expect_jmx: int,
    expect_clusters: int = 5,
    settle: float = 0.0,
) -> dict[str, Any]:
    port = free_port()
    argv = [*command, "exporter", "--config.file", str(config), "--web.listen-address", f"127.0.0.1:{port}"]
    exporter = ManagedProcess(
        name,
        argv,
        workdir / f"{name}.log",
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/metrics"),
        cwd=workdir,  # not the checkout: `python -m kafka_obs` of another build must not import this one
    )
    with exporter:
        assert exporter.pid is not None
        root = psutil.Process(exporter.pid)
        started = time.monotonic()

        def warm() -> bool:
            """Every cluster up and every broker's JMX read once (whether it answered in time or not)."""
            text = metrics(port)
            clusters = re.findall(r"^kafka_cluster_up\{[^}]*\} 1", text, re.MULTILINE)
            jmx_read = re.findall(r"^kafka_jmx_up\{[^}]*\} [01]", text, re.MULTILINE)
            return len(clusters) == expect_clusters and len(jmx_read) == expect_jmx

        wait_until(warm, WARMUP_TIMEOUT, f"{name}: every cluster's first cycle", interval=0.5)
        warmup = {"seconds": time.monotonic() - started, "tree_cpu_seconds": tree_cpu(root)}
        time.sleep(settle)  # steady state: the helper JVM's JIT has compiled RMI's serialization paths by then
        before = cycles(metrics(port))
        cpu0, own0, wall0 = tree_cpu(root), cpu_seconds(root), time.monotonic()
        time.sleep(seconds)
        cpu1, own1, wall1 = tree_cpu(root), cpu_seconds(root), time.monotonic()
        text = metrics(port)
        after = cycles(text)
        return {
            "command": shlex.join(argv),
            "warmup": warmup,
            "settle_seconds": settle,
            "window_seconds": round(wall1 - wall0, 2),
            "tree_cpu_seconds": round(cpu1 - cpu0, 3),
            "exporter_python_cpu_seconds": round(own1 - own0, 3),
            "children_cpu_seconds": round((cpu1 - cpu0) - (own1 - own0), 3),
            "cluster_cycles_in_window": sum(after[c] - before.get(c, 0) for c in after),
            "tree_processes": 1 + len(root.children(recursive=True)),
            "tree_rss_mb": round(tree_rss_mb(root), 1),
            "jmx_up_brokers": len(re.findall(r"^kafka_jmx_up\{[^}]*\} 1", text, re.MULTILINE)),
        }


def after(settle: float) -> str:
    """When the window starts, for the results' description."""
    first = "after every cluster's first cycle"
    return f"{settle:g} s {first}" if settle else first


def bench_fleet(args: argparse.Namespace) -> dict[str, Any]:
    load_before = machine.snapshot()
    workdir = Path(tempfile.mkdtemp(prefix="bench-jmx-"))
    with_jmx = workdir / "clusters-jmx.yaml"
    argv = [*kafka_obs_command(), "sandbox", "--fleet", args.fleet, "--control", "127.0.0.1:0", "--jmx"]
    sandbox = ManagedProcess(
        "sandbox",
        [*argv, "--write-config", str(with_jmx)],
        workdir / "sandbox.log",
        ready=lambda: with_jmx.is_file() and "jmx_ports" in with_jmx.read_text(),
    )
    with sandbox:
        config = yaml.safe_load(with_jmx.read_text())
        brokers = sum(len(c["brokers"]) for c in config["clusters"])
        without_jmx = workdir / "clusters-nojmx.yaml"
        for cluster in config["clusters"]:
            cluster.pop("jmx_ports", None)
        without_jmx.write_text(yaml.safe_dump(config, sort_keys=False))
        command = shlex.split(args.exporter) if args.exporter else kafka_obs_command()
        run = partial(run_exporter, command, workdir=workdir, seconds=args.seconds, settle=args.settle)
        off = run(without_jmx, name="exporter-jmx-off", expect_jmx=0)
        on = run(with_jmx, name="exporter-jmx-on", expect_jmx=brokers)
    return {
        "benchmark": f"exporter process tree CPU over {args.seconds:g} s on the sandbox's {args.fleet} fleet, broker "
        f"JMX on (jmx_ports) vs off, same sandbox, {after(args.settle)}",
        "label": args.label,
        "fleet": args.fleet,
        "brokers_with_jmx": brokers,
        "jmx_off": off,
        "jmx_on": on,
        "ratio_on_over_off": round(on["tree_cpu_seconds"] / max(off["tree_cpu_seconds"], 1e-9), 2),
        "target_ratio_max": 1.5,
        "machine": machine.describe(load_before, machine.snapshot()),
    }


STEADY_SETTLE = 300.0
"""Five minutes: in the helper's profile (docs/performance.md) a read's cost stops falling from about the fifth."""
SETTLE_HELP = "seconds to wait after the first cycle before the window (steady state; 0: the first minute)"
REAL_TOPICS, REAL_PARTITIONS = 40, 3
"""The real cluster's shape for ``realkafka``: 40 topics of 3 partitions (RF 3), each with traffic, so every broker
has per-topic meters and partition logs like a small production cluster."""


SHAPES = {
    "small": f"{REAL_TOPICS} topics x {REAL_PARTITIONS} partitions, RF 3",
    "peers": f"the peers' shape: {PEERS_SHAPE.partitions:,} partitions, {PEERS_SHAPE.groups:,} groups with "
    f"{PEERS_SHAPE.offsets_per_group} committed offsets each, RF 1",
}
"""``small``: a near-empty cluster, where the admin API's cycle costs ~35 ms, so the ratio compares JMX with
almost nothing. ``peers``: the cluster issue #14 measures the peers on (bench_peers.py, bench_realkafka.py),
where the admin API's work is a real cluster's. JMX's cost per broker is the same on both (the default catalogue
has no per-topic or per-partition MBeans)."""


def fill_small(kafka: KafkaCluster) -> None:
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    topics = [f"bench-{i:02d}" for i in range(REAL_TOPICS)]
    for future in admin.create_topics([NewTopic(t, REAL_PARTITIONS, 3) for t in topics]).values():
        future.result(120)
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "linger.ms": 20})
    for topic in topics:
        for _ in range(100):
            producer.produce(topic, b"x" * 200)
    if producer.flush(120) != 0:
        raise SystemExit("could not produce the seed records")


def bench_realkafka(args: argparse.Namespace) -> dict[str, Any]:
    """``fleet``'s measurement on a real 3-broker Kafka (kafka_obs.platform.realkafka): JMX on vs off."""
    load_before = machine.snapshot()
    workdir = Path(tempfile.mkdtemp(prefix="bench-jmx-real-"))
    with KafkaCluster.start(3) as kafka:
        if args.shape == "peers":
            fill(kafka, PEERS_SHAPE)
        else:
            fill_small(kafka)
        cluster = {
            "name": "real",
            "region": "bench",
            "environment": "bench",
            "priority": "critical",
            "brokers": [node.address for node in kafka.nodes],
        }
        without_jmx, with_jmx = workdir / "clusters-nojmx.yaml", workdir / "clusters-jmx.yaml"
        without_jmx.write_text(yaml.safe_dump({"clusters": [cluster]}, sort_keys=False))
        jmx = {**cluster, "jmx_ports": [node.jmx_port for node in kafka.nodes]}
        with_jmx.write_text(yaml.safe_dump({"clusters": [jmx]}, sort_keys=False))
        command = kafka_obs_command()
        run = partial(
            run_exporter, command, workdir=workdir, seconds=args.seconds, expect_clusters=1, settle=args.settle
        )
        off = run(without_jmx, name="exporter-jmx-off", expect_jmx=0)
        on = run(with_jmx, name="exporter-jmx-on", expect_jmx=len(kafka.nodes))
    return {
        "benchmark": f"exporter process tree CPU over {args.seconds:g} s on a real 3-broker Kafka 4.4 cluster "
        f"({SHAPES[args.shape]}), broker JMX on vs off, {after(args.settle)}",
        "label": args.label,
        "shape": args.shape,
        "brokers_with_jmx": len(kafka.nodes),
        "jmx_off": off,
        "jmx_on": on,
        "ratio_on_over_off": round(on["tree_cpu_seconds"] / max(off["tree_cpu_seconds"], 1e-9), 2),
        "target_ratio_max": 1.5,
        "machine": machine.describe(load_before, machine.snapshot()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what")
    batch = sub.add_parser("batch", help="one broker's read through the helper")
    batch.add_argument("--runs", type=int, default=20)
    batch.add_argument("--out", default="bench/results/jmx-batch.json")
    fleet = sub.add_parser("fleet", help="exporter CPU, JMX on vs off, on a sandbox fleet")
    fleet.add_argument("--fleet", default="acme")
    fleet.add_argument("--seconds", type=float, default=60.0)
    fleet.add_argument("--settle", type=float, default=0.0, help=SETTLE_HELP)
    fleet.add_argument("--exporter", help="command that runs kafka-obs (default: this checkout's)")
    fleet.add_argument("--label", default="kafka-obs JMX helper (one long-lived JVM)")
    fleet.add_argument("--out", default=None, help="default bench/results/jmx-fleet-<fleet>.json")
    real = sub.add_parser("realkafka", help="exporter CPU, JMX on vs off, on a real 3-broker Kafka")
    real.add_argument("--seconds", type=float, default=60.0)
    real.add_argument("--settle", type=float, default=0.0, help=SETTLE_HELP)
    real.add_argument("--shape", choices=sorted(SHAPES), default="small", help="what the cluster holds")
    real.add_argument("--label", default="kafka-obs JMX helper (one long-lived JVM)")
    real.add_argument("--out", default="bench/results/jmx-realkafka.json")
    steady = ["--settle", str(STEADY_SETTLE)]
    everything = [
        ["batch"],
        ["fleet"],
        ["fleet", *steady, "--out", "bench/results/jmx-fleet-acme-steady.json"],
        ["realkafka"],
        # 300 s, not 60: CPU time is counted in 10 ms ticks and the real cluster's JMX-off base is ~0.07 s a minute,
        # so over 60 s one tick moved the ratio by 0.14; the ratio is per window, whatever its length.
        ["realkafka", *steady, "--seconds", "300", "--out", "bench/results/jmx-realkafka-steady.json"],
        ["realkafka", "--shape", "peers", *steady, "--seconds", "300",
         "--out", "bench/results/jmx-realkafka-peers-shape-steady.json"],
    ]  # fmt: skip
    runs = [sys.argv[1:]] if sys.argv[1:] else everything  # `make bench`: the first minute and the steady state
    for argv in runs:
        args = parser.parse_args(argv)
        if args.what == "fleet":
            result = bench_fleet(args)
            out = Path(args.out or f"bench/results/jmx-fleet-{args.fleet}.json")
        elif args.what == "realkafka":
            result = bench_realkafka(args)
            out = Path(args.out)
        else:
            result = bench_batch(args)
            out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
