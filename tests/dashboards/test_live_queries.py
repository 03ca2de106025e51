"""Every panel's PromQL against a real Prometheus fed by the exporter on the sandbox, with the generated rules loaded.

A panel whose query returns nothing is a bug, not a pass. The executive overview's numbers are compared with the
sandbox's ground truth before and after a broker stop (active brokers per cluster, the health score drop).

Not covered here: the panels that read only the self-healing webhook's metrics (listed by `_webhook_only`): they
need a webhook that has run remediations, so tests/platform/test_closed_loop.py checks them after its scenarios.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kafka_obs.dashboards.build import SOURCE_DIR
from kafka_obs.platform.processes import ManagedProcess, free_port, http_ok, kafka_obs_command
from tests.dashboards.grafana import Query, load_all, queries, substitute

pytestmark = pytest.mark.e2e

REPO = SOURCE_DIR.parent
VALUES = {
    "datasource": "prometheus",
    "region": ".*",
    "environment": ".*",
    "cluster": ".*",
    "consumergroup": ".*",
    "topic": ".*",
    "topn": "10",
    "slo": ".*",
    "playbook": ".*",
    "__rate_interval": "1m",
    "__range": "1h",
}
STOPPED = ("alpha", 1)


def _wait(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, ValueError):  # not listening yet, or not ready to answer JSON
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


class Prom:
    def __init__(self, url: str):
        self.url = url

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.post(f"{self.url}/api/v1/query", data={"query": expr}, timeout=10)
        body = response.json()
        assert body.get("status") == "success", (expr, body)
        return list(body["data"]["result"])


def _fast_rule_files(tmp: Path) -> list[str]:
    """The generated rules of both levels (regional and global/, as one Prometheus loads them), unchanged except the
    SLO groups' 1m slice interval, shortened to 1s so the SLO series (burn rates, time to exhaustion) appear within
    seconds of a fault rather than minutes."""
    paths = []
    generated = REPO / "rules" / "generated"
    for source in sorted([*generated.glob("*.yml"), *generated.glob("global/*.yml")]):
        document = yaml.safe_load(source.read_text())
        for group in document["groups"]:
            if "interval" in group:
                group["interval"] = "1s"
        path = tmp / source.relative_to(generated).as_posix().replace("/", "-")
        path.write_text(yaml.safe_dump(document))
        paths.append(str(path))
    assert paths, "rules/generated/*.yml missing: run `kafka-obs rules generate`"
    return paths


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Prom]]:
    from kafka_obs.sandbox.jmx.feed import SandboxJmx
    from kafka_obs.sandbox.runtime import Sandbox

    tmp = tmp_path_factory.mktemp("live")
    processes: list[ManagedProcess] = []
    sandbox = Sandbox.start("small")
    jmx = SandboxJmx.start(sandbox, refresh_interval=1.0)
    try:
        clusters = sandbox.write_clusters_yaml(tmp / "clusters.yaml")
        config = yaml.safe_load(clusters.read_text())
        config["intervals"] = {p: "1s" for p in ("critical", "high", "medium", "low")}
        for cluster in config["clusters"]:  # the cluster dashboard's canary panels need a canary to read
            cluster["canary"] = {"enabled": True, "interval": "1s", "sla": "5s"}
        clusters.write_text(yaml.safe_dump(config))
        exporter = f"127.0.0.1:{free_port()}"
        processes.append(
            ManagedProcess(
                "exporter",
                [*kafka_obs_command(), "exporter", "--config.file", str(clusters), "--web.listen-address", exporter],
                tmp / "exporter.log",
                ready=lambda: http_ok(f"http://{exporter}/healthz"),
            ).start()
        )
        prometheus_config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": _fast_rule_files(tmp),
            "scrape_configs": [{"job_name": "kafka-obs", "static_configs": [{"targets": [exporter]}]}],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config))
        address = f"127.0.0.1:{free_port()}"
        processes.append(
            ManagedProcess(
                "prometheus",
                [
                    "prometheus",
                    f"--config.file={tmp / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp / 'data'}",
                    f"--web.listen-address={address}",
                ],
                tmp / "prometheus.log",
                ready=lambda: http_ok(f"http://{address}/-/ready"),
            ).start()
        )
        prom = Prom(f"http://{address}")
        _wait("the exporter's first cycles", lambda: len(prom.query("kafka_cluster_up == 1")) == 2)
        _wait("JMX counters", lambda: bool(prom.query("kafka_jmx_up == 1")))
        _wait("the recording rules", lambda: len(prom.query("cluster:kafka_health_score:ratio")) == 2)
        yield sandbox, prom
    finally:
        for process in reversed(processes):
            process.stop()
        jmx.stop()
        sandbox.stop()


def _truth_brokers_up(sandbox: Any) -> dict[str, int]:
    return {name: sum(1 for b in c["brokers"] if b["up"]) for name, c in sandbox.truth()["clusters"].items()}


def _truth_health(sandbox: Any) -> float:
    clusters = sandbox.truth()["clusters"].values()
    healthy = [
        all(len(p["isr"]) >= len(p["replicas"]) for t in c["topics"].values() for p in t["partitions"])
        for c in clusters
    ]
    return 100 * sum(healthy) / len(healthy)


def _executive(title: str, ref_id: str = "A") -> str:
    dashboard = load_all()["kafka-obs-executive.json"]
    (panel,) = [p for p in dashboard["panels"] if p["title"] == title]
    (target,) = [t for t in panel["targets"] if t["refId"] == ref_id]
    return substitute(target["expr"], VALUES)


def _webhook_only(query: Query) -> bool:
    return "kafka_obs_webhook_" in query.expr


def test_executive_numbers_match_the_sandbox_before_and_after_a_broker_stop(stack: tuple[Any, Prom]) -> None:
    sandbox, prom = stack
    active = _executive("Clusters by region", "C")
    health = _executive("Platform health score")

    def brokers() -> dict[str, int]:
        return {r["metric"]["cluster"]: int(float(r["value"][1])) for r in prom.query(active)}

    def score() -> float | None:
        """The widget's value; None for a blank widget, which the rules must never produce while clusters exist."""
        result = prom.query(health)
        return float(result[0]["value"][1]) if result else None

    assert brokers() == _truth_brokers_up(sandbox)
    assert _truth_health(sandbox) == 100
    _wait("the health score of a healthy fleet", lambda: score() == 100)

    sandbox.stop_broker(*STOPPED)
    expected = _truth_brokers_up(sandbox)
    assert expected[STOPPED[0]] == 2
    _wait("the stopped broker to leave kafka_brokers", lambda: brokers() == expected)
    truth = _truth_health(sandbox)
    assert truth == 50  # alpha has under-replicated partitions, beta does not
    seen: list[float | None] = []

    def dropped() -> bool:
        seen.append(score())
        return seen[-1] is not None and math.isclose(seen[-1], truth)

    _wait("the health score to drop", dropped)
    assert None not in seen, f"the health score went blank during the broker outage: {seen}"


def test_every_panel_query_returns_data(stack: tuple[Any, Prom]) -> None:
    """Runs after the broker stop, so the burn-rate and time-to-exhaustion series exist (they are absent while
    nothing burns)."""
    sandbox, prom = stack
    if _truth_brokers_up(sandbox)[STOPPED[0]] == 3:
        sandbox.stop_broker(*STOPPED)
    checked = [q for q in queries(load_all()) if not _webhook_only(q)]
    assert len(checked) > 50

    def empty() -> list[str]:
        return [q.where for q in checked if not prom.query(substitute(q.expr, VALUES))]

    with contextlib.suppress(AssertionError):  # rate windows and SLO slices need a few evaluations after the fault
        _wait("every panel to have data", lambda: not empty(), timeout=45)
    assert not empty(), f"panels without data: {empty()}"
