"""kafka-obs next to its peers (kafka_exporter, kminion) on the same Kafka, under the same scrape load.

One real 3-broker KRaft cluster (kafka_obs.platform.realkafka) is filled with PARTITIONS partitions and GROUPS
consumer groups with committed offsets (the kafka_exporter#336 shape); then the sandbox's ``scale`` fleet runs in
its own process with broker JMX (6 brokers, 2,500 partitions, 2,000 groups with 20,000 committed offsets). Against
each, every exporter in turn runs alone, on loopback:

- time to a complete /metrics: from its start until one body has offsets or lag for every consumer group, and the
  exporter's CPU seconds until then (one full collection, start-up included);
- 10 concurrent scrapers (in their own process, Prometheus's ``Accept-Encoding: gzip``) for WINDOW seconds:
  scrape p50/p99, timeouts (30 s, as a default Prometheus scrape_timeout would be shorter still);
- CPU seconds per minute of the exporter process over that window and its peak RSS (VmHWM);
- Kafka requests counted on the broker side: the brokers' own
  ``kafka.network:type=RequestMetrics,name=RequestsPerSec,request=*`` counters read over JMX before and after the
  window, minus an idle window with no exporter (the cluster's own heartbeats and fetches; none on the sandbox,
  whose brokers count the requests they receive in the same MBeans).

A peer that cannot produce a complete /metrics (it exits, or never names every group) is recorded with the error and
the last lines of its log instead of numbers.

The peers are NOT part of this repository: build them from their public sources yourself and pass their binaries:
``KAFKA_EXPORTER_BIN=/path/kafka_exporter KMINION_BIN=/path/kminion make bench`` (and KAFKA_EXPORTER_VERSION,
KMINION_VERSION: the tag or commit you built, recorded with the results). A peer whose variable is unset is
skipped. Sizes: PEERS_PARTITIONS (2500), PEERS_GROUPS (2000) on real Kafka, PEERS_WINDOW seconds (60). Results:
ratios kafka-obs ÷ peer in bench/results/peers-realkafka.json and peers-sandbox-scale.json.

Usage: .venv/bin/python bench/bench_peers.py [--only realkafka|sandbox]   (default: both, one after the other)
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import multiprocessing as mp
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import machine  # bench/machine.py: load averages and a note measured, not asserted
import psutil
import scaled_fleet
import yaml
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_obs.exporter.jmx import JmxHelper
from kafka_obs.exporter.jmx.query import JmxClient, Query, service_url
from kafka_obs.platform.processes import ManagedProcess, ProcessError, free_port, kafka_obs_command, wait_until
from kafka_obs.platform.realkafka import KafkaCluster
from kafka_obs.sandbox import fleet as fleet_files

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SCRAPERS = 10
SCRAPE_TIMEOUT = 30.0
PARTITIONS_PER_TOPIC = 50
GROUP_NAME = "bench-group-{:05d}"
SANDBOX_GROUPS = rb"reader-[a-h]-\d{3}"
"""The ``scale`` fleet's 2,000 groups: 8 families of 250 (sandbox/fleets/scale.yaml)."""
COMPLETE_TIMEOUT = 600.0
AXES = [
    "time_to_complete_metrics_s",
    "cpu_seconds_to_complete_metrics",
    "scrape_p50_ms",
    "scrape_p99_ms",
    "cpu_seconds_per_minute",
    "cpu_ms_per_scrape",
    "peak_rss_mb",
    "kafka_requests_per_scrape",
    "kafka_requests_per_minute",
]
REQUESTS_PATTERN = "kafka.network:type=RequestMetrics,name=RequestsPerSec,*"
FETCH_SUBCOUNTS = ("FetchConsumer", "FetchFollower")
"""Kafka counts every Fetch twice: under ``request=Fetch`` and again as a consumer's or a follower's fetch. Totals
leave these two out, so a fetch is one request."""


def group_re(names: bytes) -> re.Pattern[bytes]:
    """A group counts as exported once a series of its committed offsets or lag names it (every exporter has one)."""
    return re.compile(rb"^[a-z_]*(?:offset|lag)[a-z_]*\{[^}]*(" + names + rb")", re.MULTILINE)


@dataclass(frozen=True)
class Target:
    """The Kafka the exporters are pointed at: its brokers, their JMX ports (for the broker-side request counts),
    how many groups a complete /metrics names and what their names look like."""

    brokers: list[str]
    jmx_ports: list[int]
    groups: int
    group_names: re.Pattern[bytes]
    server_pid: int | None = None
    """The one process serving every broker (the sandbox): its CPU is the brokers' cost of each exporter."""
    counts_lag: float = 0.0
    """How old a count read over JMX can be: Kafka's meters are live; the sandbox publishes its brokers' counts every
    second (and a publication takes a moment on a busy machine). Counts are read this long after the event they
    close, so they include every request sent before it."""

    def server_cpu(self) -> float | None:
        if self.server_pid is None:
            return None
        times = psutil.Process(self.server_pid).cpu_times()
        return float(times.user + times.system)


@dataclass(frozen=True)
class Sizes:
    partitions: int
    groups: int
    window: float
    offsets_per_group: int = PARTITIONS_PER_TOPIC
    """Each group commits on this many partitions of its topic (the peers' shape: all 50)."""

    @classmethod
    def from_env(cls) -> Sizes:
        return cls(
            int(os.environ.get("PEERS_PARTITIONS", "2500")),
            int(os.environ.get("PEERS_GROUPS", "2000")),
            float(os.environ.get("PEERS_WINDOW", "60")),
        )


def fill(cluster: KafkaCluster, sizes: Sizes) -> None:
    """Topics of 50 partitions (RF 1: the brokers' work is the exporters', not replication), one record per
    partition, and GROUPS groups that each committed offsets on ``offsets_per_group`` partitions of one topic."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    topics = [f"bench-{i:03d}" for i in range(max(1, sizes.partitions // PARTITIONS_PER_TOPIC))]
    for future in admin.create_topics([NewTopic(t, PARTITIONS_PER_TOPIC, 1) for t in topics]).values():
        future.result(120)
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "linger.ms": 50})
    for topic in topics:
        for partition in range(PARTITIONS_PER_TOPIC):
            producer.produce(topic, b"x", partition=partition)
    if producer.flush(120) != 0:
        raise SystemExit("could not produce the seed records")

    def commit(i: int) -> None:
        """Errors come back per partition, not raised (the offsets topic may still be loading): retry them."""
        topic = topics[i % len(topics)]
        offsets = [TopicPartition(topic, p, 1) for p in range(min(sizes.offsets_per_group, PARTITIONS_PER_TOPIC))]
        request = ConsumerGroupTopicPartitions(GROUP_NAME.format(i), offsets)
        for _ in range(30):
            answer = admin.alter_consumer_group_offsets([request])[request.group_id].result(60)
            if not any(tp.error for tp in answer.topic_partitions):
                return
            time.sleep(1.0)
        raise SystemExit(f"could not commit offsets for {request.group_id}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(commit, range(sizes.groups)))


def broker_requests(target: Target, client: JmxClient) -> dict[str, float]:
    """The brokers' own request counters (Count of RequestsPerSec), summed over brokers and API versions."""
    totals: dict[str, float] = {}
    for jmx_port in target.jmx_ports:
        rows = client.query(service_url("127.0.0.1", jmx_port), [Query(REQUESTS_PATTERN, ("Count",))], timeout=60)
        for row in rows:
            request = re.search(r"request=([^,]+)", row.object_name)
            if request and isinstance(row.value, int | float):
                totals[request.group(1)] = totals.get(request.group(1), 0.0) + float(row.value)
    return totals


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in sorted(after) if after.get(k, 0.0) > before.get(k, 0.0)}


def scrape_worker(port: int, seconds: float, out: Any) -> None:
    """SCRAPERS threads scraping back to back for ``seconds``: latencies of complete answers, and timeouts."""
    latencies: list[float] = []
    timeouts = [0]
    errors = [0]
    deadline = time.monotonic() + seconds

    def one() -> None:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SCRAPE_TIMEOUT)
                conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status != 200:
                    errors[0] += 1
                    continue
                latencies.append(time.perf_counter() - start)
            except TimeoutError:
                timeouts[0] += 1
            except OSError:
                errors[0] += 1
                time.sleep(0.1)

    threads = [threading.Thread(target=one) for _ in range(SCRAPERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put({"latencies": latencies, "timeouts": timeouts[0], "errors": errors[0]})


def body(port: int) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SCRAPE_TIMEOUT)
    conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return gzip.decompress(data) if response.getheader("Content-Encoding") == "gzip" else data


def percentile(values: list[float], q: float) -> float | None:
    """None when no scrape completed in the window (every one timed out): there is no latency to report."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def peer_version(binary: str) -> str:
    for flag in ("--version", "version"):
        try:
            out = subprocess.run([binary, flag], capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = (out.stdout + out.stderr).strip().splitlines()
        if out.returncode == 0 and text:
            return text[0][:200]
    return "unknown (no --version)"


def commands(brokers: list[str], workdir: Path) -> dict[str, tuple[list[str], int]]:
    """How each exporter is pointed at the cluster and where it serves, on loopback only; peers only when their
    binary is given. kafka-obs is not given the JMX ports: the peers read no JMX, and the request counts are ours."""
    config = workdir / "clusters.yaml"
    config.write_text(
        json.dumps(
            {
                "clusters": [
                    {
                        "name": "bench",
                        "region": "local",
                        "environment": "bench",
                        "brokers": brokers,
                        "priority": "critical",
                    }
                ]
            }
        )
    )
    port = free_port()
    out = {
        "kafka-obs": (
            [
                *kafka_obs_command(),
                "exporter",
                "--config.file",
                str(config),
                "--web.listen-address",
                f"127.0.0.1:{port}",
            ],
            port,
        )
    }
    if binary := os.environ.get("KAFKA_EXPORTER_BIN"):
        port = free_port()
        argv = [binary, *(f"--kafka.server={b}" for b in brokers), f"--web.listen-address=127.0.0.1:{port}"]
        out["kafka_exporter"] = ([*argv, "--kafka.version=4.0.0"], port)
    if binary := os.environ.get("KMINION_BIN"):
        port = free_port()
        kminion = workdir / "kminion.json"  # YAML is a superset of JSON
        kminion.write_text(
            json.dumps(
                {
                    "kafka": {"brokers": brokers},
                    "minion": {"consumerGroups": {"scrapeMode": "adminApi"}, "endToEnd": {"enabled": False}},
                    "exporter": {"host": "127.0.0.1", "port": port},
                }
            )
        )
        out["kminion"] = ([binary], port)
    return out


def measure(
    name: str, *, argv: list[str], port: int, target: Target, window: float, jmx: JmxClient, workdir: Path
) -> dict[str, Any]:
    env = {"CONFIG_FILEPATH": str(workdir / "kminion.json")} if name == "kminion" else None
    ctx = mp.get_context("spawn")
    requests_before = broker_requests(target, jmx)
    server_before = target.server_cpu()
    started = time.monotonic()
    process = ManagedProcess(name, argv, workdir / f"{name}.log", env=env).start()
    try:
        assert process.pid is not None
        proc = psutil.Process(process.pid)

        def complete() -> bool:
            if not process.alive():
                raise ProcessError(f"{name} exited with status {process.returncode}")
            try:
                return len(set(target.group_names.findall(body(port)))) >= target.groups
            except OSError:
                return False

        what = f"{name}: a /metrics naming all {target.groups} groups"
        try:
            wait_until(complete, COMPLETE_TIMEOUT, what, interval=1.0)
        except (TimeoutError, ProcessError) as exc:
            # no number to report: what failed, in the peer's own words
            log = (workdir / f"{name}.log").read_text(errors="replace").splitlines()
            return {"failed": str(exc), "log_tail": log[-20:]}
        time_to_complete = time.monotonic() - started
        cpu0 = proc.cpu_times()
        server0 = target.server_cpu()
        time.sleep(target.counts_lag)  # the peers collect on a scrape: none is in flight now
        requests0 = broker_requests(target, jmx)
        queue = ctx.Queue()
        scraper = ctx.Process(target=scrape_worker, args=(port, window, queue))
        t0 = time.monotonic()
        scraper.start()
        result = queue.get(timeout=window + 120)
        scraper.join(30)
        elapsed = time.monotonic() - t0
        cpu1 = proc.cpu_times()
        server1 = target.server_cpu()
        time.sleep(target.counts_lag)
        requests1 = broker_requests(target, jmx)
        with open(f"/proc/{process.pid}/status") as status:
            hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    finally:
        process.stop(15)
    latencies = result["latencies"]
    window_requests = delta(requests0, requests1)
    scrapes = len(latencies)
    cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    server: dict[str, float] = {}
    if server_before is not None and server0 is not None and server1 is not None:
        server["sandbox_cpu_seconds_to_complete_metrics"] = round(server0 - server_before, 2)
        server["sandbox_cpu_seconds_per_minute"] = round((server1 - server0) / elapsed * 60, 2)
    return {
        "time_to_complete_metrics_s": round(time_to_complete, 2),
        "cpu_seconds_to_complete_metrics": round(cpu0.user + cpu0.system, 2),
        "scrapes": scrapes,
        "scrape_p50_ms": ms(percentile(latencies, 0.5)),
        "scrape_p99_ms": ms(percentile(latencies, 0.99)),
        "timeouts": result["timeouts"],
        "errors": result["errors"],
        "cpu_seconds_per_minute": round(cpu / elapsed * 60, 2),
        # the fast server answers far more scrapes in the window: CPU per scrape compares work, not throughput
        "cpu_ms_per_scrape": round(cpu / scrapes * 1000, 3) if scrapes else None,
        "peak_rss_mb": round(hwm / 1024, 1),
        "window_s": round(elapsed, 1),
        "broker_requests_in_window": window_requests,
        "broker_requests_start_to_complete": delta(requests_before, requests0),
        **server,
    }


def minus_idle(raw: dict[str, float], idle: dict[str, float], window: float, idle_window: float) -> float:
    """Requests the exporter caused in the window: the total minus the idle cluster's own traffic, scaled (a fetch
    counted once, see FETCH_SUBCOUNTS)."""

    def total(counts: dict[str, float]) -> float:
        return sum(v for k, v in counts.items() if k not in FETCH_SUBCOUNTS)

    return max(0.0, total(raw) - window / idle_window * total(idle))


def ratios_over_peers(results: dict[str, Any], axes: list[str]) -> dict[str, dict[str, float | None]]:
    """kafka-obs ÷ peer per axis; None where either side has no value (a peer with no completed scrape) or 0."""
    ours = results["kafka-obs"]

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 4) if a is not None and b else None

    return {
        peer: {axis: ratio(ours.get(axis), r.get(axis)) for axis in axes}
        for peer, r in results.items()
        if peer != "kafka-obs"
    }


def compare(target: Target, window: float, jmx: JmxClient, workdir: Path) -> dict[str, Any]:
    """An idle window, then each exporter alone against ``target``: the results part of the output file."""
    idle0, i0, server0 = broker_requests(target, jmx), time.monotonic(), target.server_cpu()
    time.sleep(min(30.0, window))
    idle1, idle_window, server1 = broker_requests(target, jmx), time.monotonic() - i0, target.server_cpu()
    idle: dict[str, Any] = {"window_s": round(idle_window, 1), "requests": delta(idle0, idle1)}
    if server0 is not None and server1 is not None:  # the sandbox's own work: simulation and JMX publishing
        idle["sandbox_cpu_seconds_per_minute"] = round((server1 - server0) / idle_window * 60, 2)
    versions = {"kafka-obs": "this commit"}
    results: dict[str, Any] = {}
    for name, (argv, port) in commands(target.brokers, workdir).items():
        if name != "kafka-obs":
            # the builder knows the tag or commit; the binaries' own --version is often empty for local builds
            versions[name] = os.environ.get(f"{name.upper().replace('-', '_')}_VERSION") or peer_version(argv[0])
        print(f"== {name}", flush=True)
        r = results[name] = measure(name, argv=argv, port=port, target=target, window=window, jmx=jmx, workdir=workdir)
        if "failed" not in r:
            caused = minus_idle(r["broker_requests_in_window"], idle["requests"], r["window_s"], idle_window)
            r["kafka_requests_per_scrape"] = round(caused / r["scrapes"], 3) if r["scrapes"] else None
            r["kafka_requests_per_minute"] = round(caused / r["window_s"] * 60, 1)
        print(json.dumps(r, indent=2), flush=True)
    return {
        "load": {"concurrent_scrapers": SCRAPERS, "accept_encoding": "gzip", "window_s": window},
        "idle_cluster_requests": idle,
        "versions": versions,
        "results": results,
        "ratios_kafka_obs_over_peer": ratios_over_peers(results, AXES),
    }


def on_real_kafka(sizes: Sizes, jmx: JmxClient, workdir: Path) -> dict[str, Any]:
    with KafkaCluster.start(3, heap="512m", timeout=240) as cluster:
        t0 = time.monotonic()
        fill(cluster, sizes)
        fill_s = time.monotonic() - t0
        brokers = [node.address for node in cluster.nodes]
        target = Target(
            brokers, [node.jmx_port for node in cluster.nodes], sizes.groups, group_re(rb"bench-group-\d{5}")
        )
        compared = compare(target, sizes.window, jmx, workdir)
    cluster_description = {
        "brokers": 3,
        "kafka": "4.4.0 (KRaft, kafka_obs.platform.realkafka)",
        "partitions": sizes.partitions,
        "consumer_groups_with_offsets": sizes.groups,
        "fill_seconds": round(fill_s, 1),
    }
    return {"cluster": cluster_description, **compared}


def on_sandbox(window: float, jmx: JmxClient, workdir: Path) -> dict[str, Any]:
    """The ``scale`` fleet in its own process (so its CPU is not an exporter's), with broker JMX on."""
    (plan,) = fleet_files.load("scale").clusters
    groups = len({deployment.group for deployment in plan.deployments})
    config = workdir / "sandbox-clusters.yaml"
    sandbox, start_s = scaled_fleet.start_sandbox("scale", config, jmx=True)
    try:
        written: list[dict[str, Any]] = []

        def config_written() -> bool:  # the file appears before its last byte is written
            written[:] = yaml.safe_load(config.read_text(encoding="utf-8"))["clusters"]
            brokers, ports = len(written[0]["brokers"]), len(written[0].get("jmx_ports", ()))
            return brokers == len(plan.brokers) and ports in (0, brokers)

        wait_until(config_written, 30, f"a complete {config}")
        (cluster,) = written
        if "jmx_ports" not in cluster:
            raise SystemExit("the sandbox serves no broker JMX (is java on PATH?): no broker-side request counts")
        target = Target(
            cluster["brokers"], cluster["jmx_ports"], groups, group_re(SANDBOX_GROUPS), sandbox.pid, counts_lag=3.0
        )
        compared = compare(target, window, jmx, workdir)
    finally:
        scaled_fleet.stop_sandbox(sandbox)
    cluster_description = {
        "brokers": len(plan.brokers),
        "kafka": "kafka-obs sandbox of this commit, sandbox/fleets/scale.yaml (a simulator over the Kafka protocol)",
        "partitions": sum(topic.partitions for topic in plan.topics),
        "consumer_groups_with_offsets": groups,
        "sandbox_start_seconds": round(start_s, 1),
    }
    return {"cluster": cluster_description, **compared}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", choices=("realkafka", "sandbox"), help="one of the two runs (default: real Kafka, then the sandbox)"
    )
    args = parser.parse_args(argv)
    sizes = Sizes.from_env()
    jmx = JmxHelper()  # the exporter's own JMX client: one helper JVM, closed at the end
    runs = {
        "realkafka": (lambda workdir: on_real_kafka(sizes, jmx, workdir), RESULTS / "peers-realkafka.json"),
        "sandbox": (lambda workdir: on_sandbox(sizes.window, jmx, workdir), RESULTS / "peers-sandbox-scale.json"),
    }
    try:
        for name, (run, path) in runs.items():
            if args.only not in (None, name):
                continue
            load = machine.snapshot()
            out = run(Path(tempfile.mkdtemp(prefix=f"bench-peers-{name}-")))
            out["environment"] = machine.describe(load, machine.snapshot())
            RESULTS.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(out, indent=2) + "\n")
            print(f"wrote {path.relative_to(ROOT)}")
            print(json.dumps(out["ratios_kafka_obs_over_peer"], indent=2))
    finally:
        jmx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
