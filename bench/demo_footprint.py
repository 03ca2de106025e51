"""Footprint of a running ``kafka-obs demo --fleet acme``: what each process costs and what Prometheus holds.

The operator's handbook (docs/handbook/) sizes and prices the platform from these numbers, so they are read from
the real processes rather than estimated: RSS and CPU of every process of the demo (found through /proc by the
demo's work directory on their command lines; an exporter's CPU includes the jmxquery JVMs it launched and
reaped), and from each Prometheus' HTTP API its series, samples appended per second, rules and their evaluation
time, plus the cost model's recorded series and the per-topic data the cost analysis reads.

    .venv/bin/kafka-obs demo --fleet acme --workdir /tmp/design-demo &     # wait 3-5 minutes
    .venv/bin/python bench/demo_footprint.py --workdir /tmp/design-demo [--window 60] \
        [--out bench/results/demo-acme-footprint.json]

Counts and sizes are stable; CPU seconds depend on what else runs on the machine, which the result records.
Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import machine  # bench/machine.py: load averages and a note measured, not asserted

REPO = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
RULE_SERIES = r"slo:.+|cluster:.+|region:.+|global:.+"

REGIONAL_QUERIES: dict[str, str] = {
    # what the cost analysis reads; each is quoted in docs/handbook/cost.md
    "cost_dollars_per_day": "cluster:kafka_cost_dollars:per_day",
    "ingress_cost_dollars_per_day": "cluster:kafka_ingress_cost_dollars:per_day",
    "storage_cost_dollars_per_day": "cluster:kafka_storage_cost_dollars:per_day",
    "bytes_in_per_second": "cluster:kafka_bytes_in:rate5m",
    "messages_in_per_second": "cluster:kafka_messages_in:rate5m",
    "log_dir_bytes": "cluster:kafka_log_dir_size_bytes:sum",
    "disk_total_bytes": "sum by (cluster) (kafka_log_dir_total_bytes)",
    "partitions": "sum by (cluster) (kafka_topic_partitions)",
    "topics": "count by (cluster) (kafka_topic_partitions)",
    "consumer_groups": "count by (cluster) (kafka_consumergroup_members)",
    "exporter_series_per_cluster": 'count by (cluster) ({job="kafka-obs-exporter", cluster!=""})',
    "topic_retention_ms": "kafka_topic_config_retention_ms",
    "topic_log_size_bytes": "kafka_topic_log_size_bytes",
    "topic_replicas": "max by (cluster, topic) (kafka_topic_partition_replicas)",
    "topic_partitions": "kafka_topic_partitions",
    "topic_cleanup_policy": "kafka_topic_config_info",
    "topic_messages_in_per_second": "sum by (cluster, topic) (rate(kafka_topic_partition_current_offset[5m]))",
    # bytes per message as stored (one copy): what compression would shrink
    "topic_bytes_per_message": "sum by (cluster, topic) (kafka_topic_log_size_bytes) / sum by (cluster, topic) "
    "(kafka_topic_partition_current_offset - kafka_topic_partition_oldest_offset)",
    # ingress in bytes/s without broker JMX: messages/s x bytes per stored message, per topic
    "ingress_bytes_per_second_from_offsets": "sum by (cluster) (sum by (cluster, topic) "
    "(rate(kafka_topic_partition_current_offset[5m])) * on (cluster, topic) (sum by (cluster, topic) "
    "(kafka_topic_log_size_bytes) / sum by (cluster, topic) "
    "(kafka_topic_partition_current_offset - kafka_topic_partition_oldest_offset)))",
    # topics no consumer group reads (no committed offset on them)
    "unconsumed_topic_bytes": "sum by (cluster, topic) (kafka_topic_log_size_bytes) unless on (cluster, topic) "
    "group by (cluster, topic) (kafka_consumergroup_lag_sum)",
    # the most consumers any group runs on the topic: more partitions than this sit without a consumer of their own
    "topic_max_consumers": "max by (cluster, topic) (group by (cluster, consumergroup, topic) "
    "(kafka_consumergroup_lag_sum) * on (cluster, consumergroup) group_left kafka_consumergroup_members)",
    "group_members": "kafka_consumergroup_members",
    "group_max_lag_seconds": "kafka_consumergroup_max_lag_seconds",
    "jmx_up": "kafka_jmx_up",
    "series_per_partition": 'count({job="kafka-obs-exporter", partition!=""}) / sum(kafka_topic_partitions)',
}
"""name → PromQL asked of every regional Prometheus (results keep their labels)."""


@dataclass(frozen=True)
class Proc:
    pid: int
    role: str
    listen: str | None


def get(url: str, timeout: float = 10.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # loopback URLs of the demo
        return bytes(response.read())


def query(prom: str, expr: str) -> list[dict[str, Any]]:
    body = json.loads(get(f"{prom}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"))
    return list(body["data"]["result"])


def scalar(prom: str, expr: str) -> float | None:
    result = query(prom, expr)
    return float(result[0]["value"][1]) if result else None


def vector(prom: str, expr: str) -> list[dict[str, Any]]:
    """The result as plain rows: its labels (without __name__) and a float value."""
    rows = []
    for item in query(prom, expr):
        labels = {k: v for k, v in item["metric"].items() if k not in ("__name__", "job", "instance", "prometheus")}
        rows.append({**labels, "value": float(item["value"][1])})
    return sorted(rows, key=lambda row: sorted((k, str(v)) for k, v in row.items()))


CLUSTER_ATTRIBUTES = ("environment", "region")
"""Labels every series of a cluster carries: with a `cluster` column they repeat the fleet file, so tables drop them."""


def table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows as columns + one list per row: the per-topic results are most of the file, and a row per line keeps
    them readable and diffable (the labels are the same for every row of one query)."""
    keys = {key for row in rows for key in row if key != "value"}
    if "cluster" in keys:
        keys -= set(CLUSTER_ATTRIBUTES)
    columns = [*sorted(keys), "value"]
    return {"columns": columns, "rows": [[row.get(column) for column in columns] for row in rows]}


def dumps(value: Any, indent: int = 0) -> str:
    """JSON with objects spread over lines and lists of scalars or of flat rows kept on one line each."""
    pad = "  " * (indent + 1)
    if isinstance(value, dict) and value:
        items = [f"{pad}{json.dumps(key)}: {dumps(item, indent + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(value, list) and value and all(isinstance(item, list) for item in value):
        return "[\n" + ",\n".join(pad + json.dumps(item) for item in value) + "\n" + "  " * indent + "]"
    return json.dumps(value)


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def flag(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def role_of(args: list[str]) -> str | None:
    joined = " ".join(args)
    if "prometheus-alertmanager" in joined:
        return "alertmanager"
    if args and args[0].endswith("prometheus"):
        config = flag(args, "--config.file") or ""
        match = re.search(r"prometheus-(.+)\.yml$", config)
        return f"prometheus-{match.group(1)}" if match else "prometheus"
    for sub in ("exporter", "webhook", "sandbox"):
        if f"kafka-obs {sub}" in joined:
            region = flag(args, "--region")
            return f"{sub}-{region}" if region else sub
    return None


def discover(workdir: Path) -> list[Proc]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        args = cmdline(int(entry.name))
        if not any(str(workdir) in arg for arg in args):
            continue
        role = role_of(args)
        if role is not None:
            found.append(Proc(int(entry.name), role, flag(args, "--web.listen-address") or flag(args, "--control")))
    return sorted(found, key=lambda p: p.role)


def children(pid: int) -> list[int]:
    """Direct and indirect children (the sandbox's JMX responder JVM is one)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out += [int(entry.name), *children(int(entry.name))]
    return out


def cpu_ticks(pid: int) -> int:
    """utime + stime of the process and of the children it has reaped (jmxquery JVMs of an exporter)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime (0-based after the name)


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    return [pid, *children(pid)]


def measure_processes(procs: list[Proc], window: float) -> dict[str, Any]:
    before = {p.pid: sum(cpu_ticks(q) for q in tree(p.pid)) for p in procs}
    time.sleep(window)
    out = {}
    for p in procs:
        pids = tree(p.pid)
        after = sum(cpu_ticks(q) for q in pids)
        out[p.role] = {
            "pid": p.pid,
            "listen": p.listen,
            "processes": len(pids),
            "rss_bytes": rss_bytes(p.pid),
            "rss_bytes_with_children": sum(rss_bytes(q) for q in pids),
            "cpu_seconds": round((after - before[p.pid]) / TICKS, 2),
        }
    return {"window_seconds": window, "by_role": out}


def measure_prometheus(url: str, regional: bool) -> dict[str, Any]:
    groups = vector(url, "prometheus_rule_group_last_duration_seconds")
    out: dict[str, Any] = {
        "url": url,
        "series_all": scalar(url, 'count({__name__=~".+"})'),
        "head_series": scalar(url, "prometheus_tsdb_head_series"),
        "series_by_job": {
            row.get("job_", "?"): row["value"]
            for row in vector(url, 'label_replace(count by (job) ({__name__=~".+"}), "job_", "$1", "job", "(.*)")')
        },
        "rule_series": scalar(url, f'count({{__name__=~"{RULE_SERIES}"}})'),
        "samples_appended_per_second": scalar(url, "rate(prometheus_tsdb_head_samples_appended_total[2m])"),
        "scraped_samples_per_scrape": scalar(url, "sum(scrape_samples_scraped)"),
        "rules": scalar(url, "sum(prometheus_rule_group_rules)"),
        "rule_groups": len(groups),
        "rule_eval_seconds_per_round": scalar(url, "sum(prometheus_rule_group_last_duration_seconds)"),
        "rule_eval_seconds_max_group": max(groups, key=lambda row: row["value"], default=None),
        "rss_bytes": scalar(url, 'process_resident_memory_bytes{job="prometheus"}'),
        "wal_bytes": scalar(url, "prometheus_tsdb_wal_storage_size_bytes"),
        "head_chunks": scalar(url, "prometheus_tsdb_head_chunks"),
        "alerts_firing": sorted({row.get("alertname", "") for row in vector(url, 'ALERTS{alertstate="firing"}')}),
    }
    if regional:
        out["cost_and_fleet"] = {name: table(vector(url, expr)) for name, expr in REGIONAL_QUERIES.items()}
    else:
        out["global_series"] = {
            name: vector(url, name)
            for name in (
                "global:kafka_cost_dollars:per_day",
                "region:kafka_cost_dollars:per_day",
                "global:kafka_health_score:ratio",
                "global:kafka_log_dir_size_bytes:sum",
                "global:kafka_bytes_in:rate5m",
            )
        }
    return out


def git_commit() -> str:
    run = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return run.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="the --workdir of the running demo")
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which CPU is measured")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "demo-acme-footprint.json")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    procs = discover(workdir)
    if not any(p.role.startswith("prometheus") for p in procs):
        raise SystemExit(f"no Prometheus of a demo running in {workdir} (start: kafka-obs demo --workdir {workdir})")
    load_before = machine.snapshot()
    processes = measure_processes(procs, args.window)
    proms = {
        p.role.removeprefix("prometheus-"): measure_prometheus(f"http://{p.listen}", p.role != "prometheus-global")
        for p in procs
        if p.role.startswith("prometheus") and p.listen
    }
    tsdb_bytes = {
        path.name: sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        for path in sorted(workdir.glob("prometheus-*-data"))
    }
    result = {
        "what": "footprint of `kafka-obs demo --fleet acme` read from the running processes and their Prometheus",
        "commit": git_commit(),
        "prometheus_version": subprocess.run(
            ["prometheus", "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0],
        "processes": processes,
        "prometheus": proms,
        "tsdb_directory_bytes": tsdb_bytes,
        "machine": machine.describe(load_before, machine.snapshot()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(result) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
