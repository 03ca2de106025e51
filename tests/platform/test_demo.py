"""`kafka-obs demo` as a user runs it: a subprocess on the acme fleet, checked through the URLs it prints, then
stopped with Ctrl-C (SIGINT) — every process it started must be gone and its work directory removed."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from kafka_obs.platform.processes import ManagedProcess, find_binary, kafka_obs_command, wait_until

pytestmark = pytest.mark.e2e

URL_LINE = re.compile(r"^  (?P<name>\S.*?)\s{2,}(?P<url>http://\S+)$")


def printed_urls(log: Path) -> dict[str, str]:
    return {m["name"]: m["url"] for m in map(URL_LINE.match, log.read_text().splitlines()) if m}


def query(url: str, expr: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def command_line(process: psutil.Process) -> str | None:
    """The first words of a child's command line, or None for one that already ended (the list is taken once, and
    short-lived children such as a JVM started for one request come and go)."""
    try:
        return " ".join(process.cmdline()[:3])
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None


def still_running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def start_demo(tmp_path: Path, *flags: str, timeout: float) -> tuple[ManagedProcess, Path, Path]:
    """`kafka-obs demo FLAGS --workdir DIR` as a user runs it, until it prints that it is ready; with its work
    directory and its output file."""
    workdir = tmp_path / "demo"
    log = tmp_path / "demo.out"
    demo = ManagedProcess(
        "demo",
        [*kafka_obs_command(), "demo", *flags, "--workdir", str(workdir)],
        log,
        ready=lambda: "kafka-obs demo ready" in log.read_text(),
        env={"PYTHONUNBUFFERED": "1"},
    )
    demo.start(timeout=timeout)
    return demo, workdir, log


def stop_demo(demo: ManagedProcess, timeout: float) -> None:
    """Ctrl-C, as a user stops it; it must exit 0 on its own."""
    demo.signal(signal.SIGINT)
    wait_until(lambda: not demo.alive(), timeout, "the demo to stop after Ctrl-C")
    assert demo.stop() == 0, demo.tail(40)


def assert_nothing_left(children: list[psutil.Process], workdir: Path) -> None:
    left = [p for p in children if still_running(p)]
    assert left == [], [command_line(p) for p in left]
    assert not workdir.exists()


@pytest.mark.skipif(not (find_binary("prometheus") and find_binary("prometheus-alertmanager")), reason="make tools")
def test_demo_runs_the_federated_platform_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    demo, workdir, log = start_demo(tmp_path, "--fleet", "acme", timeout=120)
    children: list[psutil.Process] = []
    try:
        urls = printed_urls(log)
        assert demo.pid is not None
        children = descendants(demo.pid)
        truth = httpx.get(f"{urls['Sandbox control API']}/fleet", timeout=10).json()
        regions = sorted({c["region"] for c in truth["clusters"].values()})
        assert len(truth["clusters"]) == 5
        assert len(regions) == 3
        # one exporter per region, each scraped by its own region's Prometheus, and only its region's clusters
        for region in regions:
            prom, exporter = urls[f"Prometheus ({region})"], urls[f"Exporter ({region})"]
            expected = sorted(n for n, c in truth["clusters"].items() if c["region"] == region)

            def scraped(prom: str = prom, exporter: str = exporter, expected: list[str] = expected) -> bool:
                up = query(prom, 'up{job="kafka-obs-exporter"} == 1')
                clusters = sorted(r["metric"]["cluster"] for r in query(prom, "kafka_cluster_up == 1"))
                return [r["metric"]["instance"] for r in up] == [exporter.split("/")[2]] and clusters == expected

            wait_until(scraped, 90, f"the {region} Prometheus to scrape its exporter")
        # the global Prometheus federates the regions' cluster: series for all five clusters, and aggregates them
        global_prom = urls["Prometheus (global)"]

        def federated() -> bool:
            series = query(global_prom, 'count by (cluster, prometheus) ({__name__=~"cluster:.+"})')
            seen = {r["metric"]["cluster"]: r["metric"]["prometheus"] for r in series}
            return seen == {n: f"regional-{c['region']}" for n, c in truth["clusters"].items()}

        wait_until(federated, 120, "federated cluster: series of all five clusters in the global Prometheus")
        wait_until(
            lambda: [r["value"][1] for r in query(global_prom, "global:kafka_health_score:ratio")] == ["1"],
            90,
            "the global health score",
        )
        assert httpx.get(f"{urls['Alertmanager']}/-/ready", timeout=5).status_code == 200
        assert httpx.get(f"{urls['Webhook']}/healthz", timeout=5).status_code == 200
        names = [name for name in map(command_line, children) if name is not None]
        assert any("prometheus-alertmanager" in n for n in names)
        assert sum("kafka-obs" in n and "exporter" in n for n in names) == 3
    finally:
        stop_demo(demo, 60)
    assert "kafka-obs demo: stopped" in log.read_text()
    assert len(children) >= 10  # sandbox (+ its JVM), webhook, alertmanager, 3 exporters, 4 Prometheus
    assert_nothing_left(children, workdir)


def test_demo_refuses_a_work_directory_with_files(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("mine")
    result = subprocess.run(
        [*kafka_obs_command(), "demo", "--workdir", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "not empty" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "mine"


def test_demo_is_a_kafka_obs_command() -> None:
    from kafka_obs.cli import build_parser

    args = build_parser().parse_args(["demo", "--keep"])
    assert (args.fleet, args.keep, args.workdir) == ("acme", True, None)
