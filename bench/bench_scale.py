"""The cost curve: the exporter on 1x, 2x, 4x and 10x the ``scale`` fleet; results to bench/results/scale-curve.json.

Each size runs in a fresh exporter process (so RSS is that size's own), against the sandbox in another process
(``kafka-obs sandbox --no-jmx``, so the simulator's CPU is not the exporter's), with the 10 gzip scrapers in a third.
Measured per size: sandbox start time, first cycle (it seeds the lag history) and steady cycles (wall and exporter
CPU seconds, which is the fair measure on a shared machine), requests per cycle per API, the sandbox's CPU per
steady cycle, exporter RSS, /metrics p50/p99 under 10 concurrent gzip scrapers, body sizes. The machine's load
averages go with the results (bench/machine.py). ``bench/plot_scale.py`` draws docs/scale-curve.svg from them.

``--bootstrap HOST:PORT[,...]`` measures one point against a real Kafka cluster instead of the sandbox (for the
real-Kafka point of the curve; the cluster must already hold the fleet's topics and groups): the result is written
to bench/results/scale-real-kafka.json and never mixed into the sandbox curve.

``--keep`` keeps, from the committed results file, the points of the factors not measured in this run (each
marked ``kept_from`` with the time of the run it came from), so a long size (10x) need not be re-run with the others.

Usage: .venv/bin/python bench/bench_scale.py [--factors 1,2,4,10] [--keep] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import machine  # bench/machine.py: load averages and a note measured, not asserted
import psutil
import scaled_fleet
import yaml
from bench_exporter import latency_summary, scrape_worker

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FACTORS = (1, 2, 4, 10)
STEADY_CYCLES = 10
"""Ten, so every lag-status window (10 observations) is full and the RSS is the steady state's, not a warm-up's."""
SCRAPES_PER_SCRAPER = 20
SHAPE = {"brokers": 6, "partitions": 2_500, "groups": 2_000, "committed_offsets": 20_000}
"""The 1x point (sandbox/fleets/scale.yaml); every size multiplies all but the brokers."""
TARGETS = {
    "cpu_seconds_per_cycle_at_4x_max": 2.0,
    "rss_mb_at_4x_max": 300,
    "cycle_seconds_at_10x_max": 60,
    "scrape_p99_ms_at_10x_max": 200,
}


def cpu_seconds(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return times.user + times.system


def measure(config: Path, sandbox_pid: int | None) -> dict[str, Any]:
    """One exporter, this process: cycles, requests, RSS, then /metrics under 10 scrapers."""
    from kafka_obs.clock import SystemClock
    from kafka_obs.config.clusters import load_fleet
    from kafka_obs.exporter.app import Exporter
    from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin

    sandbox = psutil.Process(sandbox_pid) if sandbox_pid else None
    exporter = Exporter(
        load_fleet(config), clock=SystemClock(), client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=120)
    )
    exporter.tune_gc()  # what start_workers does in the service
    worker = next(iter(exporter.workers.values()))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    first = worker.run_once()
    first_wall, first_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    # one scrape as Prometheus makes it (OpenMetrics, gzip) after every cycle: the next publication builds that
    # body ahead, inside the cycle's CPU; the scrape after it only reads the cache
    exporter.store.body(openmetrics=True, gzipped=True)
    requests0 = worker.collector.client.requests_total()
    walls, cpus, sandbox_cpus, scrape_cpus = [], [], [], []
    for _ in range(STEADY_CYCLES):
        sandbox0, cpu0, wall0 = cpu_seconds(sandbox), time.process_time(), time.perf_counter()
        rendered = worker.run_once()
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
        sandbox_cpus.append(cpu_seconds(sandbox) - sandbox0)
        if not rendered.snapshot.up:
            raise SystemExit(f"cycle failed: {rendered.snapshot.error}")
        cpu0 = time.process_time()
        exporter.store.body(openmetrics=True, gzipped=True)
        scrape_cpus.append(time.process_time() - cpu0)
    requests1 = worker.collector.client.requests_total()
    per_cycle = {api: round((requests1[api] - requests0.get(api, 0)) / STEADY_CYCLES, 1) for api in sorted(requests1)}
    snapshot = rendered.snapshot
    rss_after_cycles_mb = psutil.Process().memory_info().rss / 1e6
    gzipped = exporter.store.body(openmetrics=False, gzipped=True)  # what the scrapers get
    body_bytes = len(gzip.decompress(gzipped))  # not the store's plain body: no scraper asks for one
    server = exporter.serve("127.0.0.1", 0)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    scraper = ctx.Process(target=scrape_worker, args=(f"127.0.0.1:{server.port}", SCRAPES_PER_SCRAPER, queue))
    scraper.start()
    latencies = queue.get(timeout=1200)
    scraper.join(30)
    rss_mb = psutil.Process().memory_info().rss / 1e6
    exporter.stop()
    return {
        "partitions": sum(len(f.samples) for f in snapshot.kafka if f.name == "kafka_topic_partition_leader"),
        "groups": sum(len(f.samples) for f in snapshot.kafka if f.name == "kafka_consumergroup_state"),
        "committed_offsets": sum(
            len(f.samples) for f in snapshot.kafka if f.name == "kafka_consumergroup_current_offset"
        ),
        "series": sum(len(f.samples) for f in snapshot.kafka + snapshot.always),
        "first_cycle_seconds": round(first_wall, 3),
        "first_cycle_cpu_seconds": round(first_cpu, 3),
        "first_cycle_up": first.snapshot.up,
        "cycle_seconds": [round(w, 3) for w in walls],
        "cycle_seconds_median": round(statistics.median(walls), 3),
        "cpu_seconds_per_cycle": [round(c, 3) for c in cpus],
        "cpu_seconds_per_cycle_median": round(statistics.median(cpus), 3),
        "first_scrape_after_cycle_cpu_ms": [round(c * 1000, 2) for c in scrape_cpus],
        "sandbox_cpu_seconds_per_cycle_median": round(statistics.median(sandbox_cpus), 3) if sandbox else None,
        "requests_per_cycle": per_cycle,
        "requests_per_cycle_total": round(sum(per_cycle.values()), 1),
        "exporter_rss_mb": round(rss_mb, 1),
        "exporter_rss_mb_after_cycles": round(rss_after_cycles_mb, 1),
        "metrics_body_bytes": body_bytes,
        "metrics_body_gzip_bytes": len(gzipped),
        "scrape_latency_ms": latency_summary(latencies),
    }


def one_size(factor: int, out: Path) -> None:
    """Child process entry: sandbox up, measure, sandbox down, result to ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        fleet = scaled_fleet.write_scaled(factor, Path(tmp))
        config = Path(tmp) / "clusters.yaml"
        sandbox, start_seconds = scaled_fleet.start_sandbox(fleet, config)
        try:
            result = measure(config, sandbox.pid)
        finally:
            scaled_fleet.stop_sandbox(sandbox)
    result = {"factor": factor, "sandbox_start_seconds": round(start_seconds, 2), **result}
    out.write_text(json.dumps(result, indent=2) + "\n")


def real_kafka(bootstrap: str, out: Path) -> None:
    """Child process entry: one point against a real cluster (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "clusters.yaml"
        cluster = {"name": "real", "region": "bench", "environment": "bench", "brokers": bootstrap.split(",")}
        config.write_text(yaml.safe_dump({"clusters": [cluster]}), encoding="utf-8")
        result = measure(config, None)
    out.write_text(json.dumps({"bootstrap": bootstrap, **result}, indent=2) + "\n")


def run_child(args: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run([sys.executable, __file__, *args, "--out", str(out)], check=True, cwd=ROOT)
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def kept_points(path: Path, measured: set[int]) -> list[dict[str, Any]]:
    """The committed points of the factors not in ``measured``, each marked with the run it came from."""
    if not path.exists():
        return []
    previous: dict[str, Any] = json.loads(path.read_text())
    when = previous.get("environment", {}).get("measured_at")
    return [
        {**point, "kept_from": point.get("kept_from", when)}
        for point in previous["points"]
        if int(point["factor"]) not in measured
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factors", default=",".join(map(str, FACTORS)), help="sizes, as multiples of scale")
    parser.add_argument("--bootstrap", help="measure a real Kafka cluster instead of the sandbox")
    parser.add_argument("--keep", action="store_true", help="keep the committed points of the factors not measured")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.out is not None:
        if args.bootstrap:
            real_kafka(args.bootstrap, args.out)
        else:
            one_size(args.one, args.out)
        return 0
    from kafka_obs.exporter.gc_policy import GcPolicy

    RESULTS.mkdir(parents=True, exist_ok=True)
    load = machine.snapshot()
    if args.bootstrap:
        result = run_child(["--bootstrap", args.bootstrap])
        path = RESULTS / "scale-real-kafka.json"
        result["environment"] = machine.describe(load, machine.snapshot())
    else:
        points = []
        path = RESULTS / "scale-curve.json"
        factors = [int(f) for f in args.factors.split(",")]
        kept = kept_points(path, set(factors)) if args.keep else []
        for factor in factors:
            point = run_child(["--one", str(factor)])
            point["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
            print(json.dumps(point), flush=True)
            points.append(point)
            result = {
                "benchmark": "exporter cost against fleet size: sandbox/fleets/scale.yaml with every count multiplied",
                "shape_at_1x": SHAPE,
                "steady_cycles": STEADY_CYCLES,
                "points": sorted(points + kept, key=lambda p: int(p["factor"])),
                "targets": TARGETS,
                "gc_policy": dataclasses.asdict(GcPolicy()),
                "environment": {
                    **machine.describe(load, machine.snapshot()),
                    "isolation": "exporter, sandbox and scrapers in separate processes; CPU and RSS are the exporter's",
                },
            }
            path.write_text(json.dumps(result, indent=2) + "\n")  # after every size: a long run keeps what it has
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
