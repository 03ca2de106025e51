"""Cost of the rules bundle in a real Prometheus, on the sandbox's ``acme`` fleet (5 clusters, 3 regions).

Starts the sandbox (with broker JMX when a JDK is present), one exporter, and Prometheus 2.42 loading the
bundle generated for that fleet, lets it run for a few minutes, then records from Prometheus' own metrics:
per rule group, ``prometheus_rule_group_last_duration_seconds`` (max and mean over the run) and the samples
each evaluation produced; the series the recording rules created (per record name); the head series overall;
and the alerts firing at the end (the acme fleet has a consumer falling behind and one scaled to zero).

This measures a fresh Prometheus: the 30-day ranges hold minutes of data, so the long-window rules cost less
here than at steady state. The period ratio reads 720 pre-summed buckets whatever the period holds (see
docs/rules.md, "The period ratio, cheaply"), which is what keeps that steady-state cost bounded.

    .venv/bin/python bench/bench_rules.py [--minutes 5] [--out bench/results/rules-acme.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import machine  # bench/machine.py: load averages and a note measured, not asserted

from kafka_obs.rules import bundle
from kafka_obs.rules.loading import fleet_environments, load_slos
from kafka_obs.sandbox.runtime import Sandbox

REPO = Path(__file__).resolve().parent.parent
SCRAPE_INTERVAL = "15s"
RULE_PREFIXES = r"slo:.+|cluster:.+|region:.+|global:.+"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def query(prom: str, expr: str) -> list[dict[str, Any]]:
    body = json.loads(get(f"{prom}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"))
    return list(body["data"]["result"])


def wait_for(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            get(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer")


def prometheus_config(path: Path, exporter: str, prometheus_addr: str, rules_dir: Path) -> None:
    path.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
                # both levels, as a single Prometheus loads them (regional *.yml and cross-region global/*.yml)
                "rule_files": [str(rules_dir / "*.yml"), str(rules_dir / "global" / "*.yml")],
                "scrape_configs": [
                    {"job_name": "kafka-obs-exporter", "static_configs": [{"targets": [exporter]}]},
                    # Prometheus' own metrics: the rule groups' evaluation durations
                    {"job_name": "prometheus", "static_configs": [{"targets": [prometheus_addr]}]},
                ],
            }
        )
    )


def sample_groups(prom: str, samples: dict[str, dict[str, list[float]]]) -> None:
    for metric in ("prometheus_rule_group_last_duration_seconds", "prometheus_rule_group_last_evaluation_samples"):
        for item in query(prom, metric):
            group = item["metric"]["rule_group"].split(";", 1)[-1]
            samples.setdefault(group, {}).setdefault(metric, []).append(float(item["value"][1]))


def summarise(samples: dict[str, dict[str, list[float]]], rules: dict[str, int]) -> dict[str, Any]:
    out = {}
    for group, metrics in sorted(samples.items()):
        durations = [d for d in metrics.get("prometheus_rule_group_last_duration_seconds", []) if d > 0]
        produced = metrics.get("prometheus_rule_group_last_evaluation_samples", [])
        out[group] = {
            "rules": rules.get(group),
            "duration_seconds_max": max(durations, default=None),
            "duration_seconds_mean": statistics.fmean(durations) if durations else None,
            "samples_per_evaluation": max(produced, default=None),
        }
    return out


def run(minutes: float, fleet: str) -> dict[str, Any]:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        raise SystemExit("prometheus is not installed (make tools)")
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as tmp_name:
        tmp = Path(tmp_name)
        with Sandbox.start(fleet, jmx=True) as sandbox:
            clusters = sandbox.write_clusters_yaml(tmp / "clusters.yaml")
            n_clusters = len(sandbox.fleet_config().clusters)
            spec = load_slos(REPO / "rules" / "slos.yaml", fleet_environments=fleet_environments(clusters))
            rules_dir = tmp / "rules"
            files = bundle.build(spec)
            bundle.write(rules_dir, files)
            rules_per_group = {
                group.name: len(group.rules) for rule_file in bundle.rule_files(spec) for group in rule_file.groups
            }
            exporter_addr = f"127.0.0.1:{free_port()}"
            prom_addr = f"127.0.0.1:{free_port()}"
            prom_url = f"http://{prom_addr}"
            config = tmp / "prometheus.yml"
            prometheus_config(config, exporter_addr, prom_addr, rules_dir)
            logs = (tmp / "exporter.log").open("w"), (tmp / "prometheus.log").open("w")
            exporter = subprocess.Popen(
                [str(REPO / ".venv" / "bin" / "kafka-obs"), "exporter", "--config.file", str(clusters),
                 "--web.listen-address", exporter_addr],
                stdout=logs[0], stderr=subprocess.STDOUT,
            )  # fmt: skip
            prom = subprocess.Popen(
                [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
                 f"--web.listen-address={prom_addr}"],
                stdout=logs[1], stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                deadline = time.monotonic() + 120
                wait_for(f"http://{exporter_addr}/ready", deadline)
                wait_for(f"{prom_url}/-/ready", deadline)
                started = time.monotonic()
                samples: dict[str, dict[str, list[float]]] = {}
                while time.monotonic() - started < minutes * 60:
                    time.sleep(30)
                    sample_groups(prom_url, samples)
                    print(f"  {time.monotonic() - started:5.0f}s  groups sampled: {len(samples)}", file=sys.stderr)
                recorded = {
                    item["metric"]["__name__"]: int(float(item["value"][1]))
                    for item in query(prom_url, f'count by (__name__) ({{__name__=~"{RULE_PREFIXES}"}})')
                }
                head = query(prom_url, "prometheus_tsdb_head_series")
                raw = query(prom_url, 'count({job="kafka-obs-exporter"})')
                firing = query(prom_url, 'ALERTS{alertstate="firing"}')
                total_eval = query(prom_url, "sum(prometheus_rule_group_last_duration_seconds)")
            finally:
                for process in (prom, exporter):
                    process.terminate()
                for process in (prom, exporter):
                    try:
                        process.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
                for log in logs:
                    log.close()
        return {
            "fleet": fleet,
            "clusters": n_clusters,
            "run_minutes": minutes,
            "scrape_and_default_evaluation_interval": SCRAPE_INTERVAL,
            "rule_files": sorted(files),
            "rules_total": sum(rules_per_group.values()),
            "groups": summarise(samples, rules_per_group),
            "all_groups_last_duration_seconds_sum": float(total_eval[0]["value"][1]) if total_eval else None,
            "recorded_series_by_name": dict(sorted(recorded.items())),
            "recorded_series_total": sum(recorded.values()),
            "exporter_series": int(float(raw[0]["value"][1])) if raw else None,
            "head_series": int(float(head[0]["value"][1])) if head else None,
            "alerts_firing": sorted({a["metric"]["alertname"] for a in firing}),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--fleet", default="acme")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "rules-acme.json"))
    args = parser.parse_args()
    load_before = machine.snapshot()
    result = run(args.minutes, args.fleet)
    result["machine"] = {
        **machine.describe(load_before, machine.snapshot()),
        "prometheus": subprocess.run(
            ["prometheus", "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("rules_total", "recorded_series_total", "alerts_firing")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
