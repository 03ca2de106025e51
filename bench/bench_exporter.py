"""Benchmark the exporter on the sandbox's ``acme`` and ``scale`` fleets; results to bench/results/exporter-*.json.

The sandbox runs in a child process (so the exporter's CPU and RSS are its own), the exporter in this process with
the real clients over TCP, and the 10 concurrent scrapers in another child process (so their GIL does not slow
the server). Measured per fleet: collection cycle seconds per cluster (first cycle, which seeds the lag history,
and steady-state cycles), Kafka requests per cycle per API, /metrics latency p50/p99 with 10 concurrent scrapers
(gzip, as Prometheus asks), exporter RSS, exporter CPU seconds per cycle, body size, and the renderer against
prometheus_client on the same families.

Usage: .venv/bin/python bench/bench_exporter.py [acme] [scale]
"""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import machine  # bench/machine.py: load averages and a note measured, not asserted

if TYPE_CHECKING:
    from kafka_obs.exporter.app import Exporter
    from kafka_obs.exporter.snapshot import RenderedSnapshot

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
STEADY_CYCLES = 3
SCRAPERS = 10
SCRAPES_PER_SCRAPER = 30
TARGETS = {"list_offsets_per_cycle_max": "2 x brokers", "cycle_seconds_max": 10, "p99_ms_max": 100, "rss_mb_max": 250}


def run_sandbox(fleet: str, config_path: str, ready: Any, stop: Any) -> None:
    from kafka_obs.sandbox.runtime import Sandbox

    with Sandbox.start(fleet) as sb:
        sb.write_clusters_yaml(config_path)
        ready.set()
        stop.wait()


def scrape_worker(url: str, n: int, out: Any) -> None:
    host, port = url.split(":")
    latencies = []

    def one() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        for _ in range(n):
            start = time.perf_counter()
            conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
            response = conn.getresponse()
            response.read()
            latencies.append(time.perf_counter() - start)
        conn.close()

    threads = [threading.Thread(target=one) for _ in range(SCRAPERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(latencies)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_summary(latencies: list[float]) -> dict[str, Any]:
    """Scrape latencies (seconds) as the results files record them: milliseconds, p50, p99 and max."""
    return {
        "concurrent_scrapers": SCRAPERS,
        "scrapes": len(latencies),
        "p50": round(percentile(latencies, 0.50) * 1000, 2),
        "p99": round(percentile(latencies, 0.99) * 1000, 2),
        "max": round(max(latencies) * 1000, 2),
    }


def compare_renderers(families: tuple[Any, ...], labels: dict[str, str]) -> dict[str, float]:
    """Same families through our renderer and through prometheus_client (private registry, custom collector)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from kafka_obs.exporter.exposition import assemble, render_samples

    start = time.perf_counter()
    ours = assemble([render_samples(labels, families)], openmetrics=False)
    ours_s = time.perf_counter() - start

    class Collector:
        def collect(self) -> Any:
            for f in families:
                names = [*labels, *f.metric.labels]
                cls = CounterMetricFamily if f.metric.type == "counter" else GaugeMetricFamily
                m = cls(f.metric.family, f.metric.help, labels=names)
                for values, value in f.samples:
                    m.add_metric([*labels.values(), *values], value)
                yield m

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector())
    start = time.perf_counter()
    theirs = generate_latest(registry)
    theirs_s = time.perf_counter() - start
    return {
        "ours_seconds": round(ours_s, 4),
        "prometheus_client_seconds": round(theirs_s, 4),
        "ours_bytes": len(ours),
        "prometheus_client_bytes": len(theirs),
    }


def latest_snapshot(exporter: Exporter, cluster: str) -> RenderedSnapshot:
    """The exporter's last rendering of ``cluster``: read after the scrapes, so its absence is a failed run."""
    rendered = exporter.store.latest(cluster)
    if rendered is None:
        raise SystemExit(f"the exporter holds no snapshot of {cluster}")
    return rendered


def bench_fleet(fleet_name: str) -> dict[str, Any]:
    import psutil

    from kafka_obs.clock import SystemClock
    from kafka_obs.config.clusters import load_fleet
    from kafka_obs.exporter.app import Exporter
    from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin

    ctx = mp.get_context("spawn")
    config = Path(tempfile.mkdtemp()) / "clusters.yaml"
    ready, stop = ctx.Event(), ctx.Event()
    sandbox = ctx.Process(target=run_sandbox, args=(fleet_name, str(config), ready, stop), daemon=True)
    sandbox.start()
    if not ready.wait(120):
        raise SystemExit(f"sandbox {fleet_name} did not start")
    process = psutil.Process()
    try:
        fleet = load_fleet(config)
        exporter = Exporter(fleet, clock=SystemClock(), client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=10))
        clusters: dict[str, Any] = {}
        for name, worker in exporter.workers.items():
            brokers = len(worker.collector.cluster.brokers)
            cpu0, t0 = time.process_time(), time.perf_counter()
            first = worker.run_once()
            first_s, first_cpu = time.perf_counter() - t0, time.process_time() - cpu0
            req0 = worker.collector.client.requests_total()
            walls, cpus = [], []
            for _ in range(STEADY_CYCLES):
                cpu0, t0 = time.process_time(), time.perf_counter()
                rendered = worker.run_once()
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - cpu0)
                assert rendered.snapshot.up, rendered.snapshot.error
            req1 = worker.collector.client.requests_total()
            per_cycle = {api: round((req1.get(api, 0) - req0.get(api, 0)) / STEADY_CYCLES, 1) for api in sorted(req1)}
            snap = rendered.snapshot
            clusters[name] = {
                "brokers": brokers,
                "partitions": sum(1 for f in snap.kafka if f.name == "kafka_topic_partition_leader" for _ in f.samples),
                "groups": sum(len(f.samples) for f in snap.kafka if f.name == "kafka_consumergroup_state"),
                "series": sum(len(f.samples) for f in snap.kafka + snap.always),
                "first_cycle_seconds": round(first_s, 3),
                "first_cycle_cpu_seconds": round(first_cpu, 3),
                "first_cycle_up": first.snapshot.up,
                "cycle_seconds": [round(w, 3) for w in walls],
                "cycle_seconds_median": round(statistics.median(walls), 3),
                "cpu_seconds_per_cycle": round(statistics.mean(cpus), 3),
                "requests_per_cycle": per_cycle,
                "list_offsets_per_cycle": per_cycle.get("ListOffsets", 0),
                "list_offsets_target": 2 * brokers,
            }
        body = exporter.store.body(openmetrics=False)
        gz = exporter.store.body(openmetrics=False, gzipped=True)
        server = exporter.serve("127.0.0.1", 0)
        queue = ctx.Queue()
        scraper = ctx.Process(target=scrape_worker, args=(f"127.0.0.1:{server.port}", SCRAPES_PER_SCRAPER, queue))
        scraper.start()
        latencies = queue.get(timeout=600)
        scraper.join(30)
        rss_mb = process.memory_info().rss / 1e6
        biggest = max(exporter.workers.values(), key=lambda w: len(w.collector.cluster.brokers))
        renderer = compare_renderers(
            latest_snapshot(exporter, biggest.name).snapshot.kafka, biggest.collector.cluster.static_labels()
        )
        exporter.stop()
        return {
            "fleet": fleet_name,
            "clusters": clusters,
            "metrics_body_bytes": len(body),
            "metrics_body_gzip_bytes": len(gz),
            "scrape_latency_ms": latency_summary(latencies),
            "exporter_rss_mb": round(rss_mb, 1),
            "renderer_vs_prometheus_client": renderer,
        }
    finally:
        stop.set()
        sandbox.join(30)
        if sandbox.is_alive():
            sandbox.terminate()


def main(argv: list[str]) -> int:
    fleets = argv or ["acme", "scale"]
    for fleet in fleets:
        load = machine.snapshot()
        result = bench_fleet(fleet)
        result["targets_on_scale"] = TARGETS
        result["environment"] = {
            **machine.describe(load, machine.snapshot()),
            "isolation": "sandbox and scrapers in separate processes; CPU and RSS are the exporter's only",
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"exporter-{fleet}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"{fleet}: wrote {path.relative_to(ROOT)}")
        print(json.dumps({k: v for k, v in result.items() if k != "environment"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
