"""A started platform on the sandbox's small fleet for the closed-loop tests, and ways to look through it.

The stack is :class:`kafka_obs.platform.stack.Stack` — the demo's — built from the committed Prometheus and
Alertmanager configs, with only test-sized timings changed: one-second scrapes and evaluations, 2-second SLO slices
over a 6-hour period (tests/platform/slos.yaml, generated with `kafka-obs rules generate`), alert `for` capped at
4 s, Alertmanager group_wait 1 s and group_interval 5 s, a one-second webhook grace period and verification
polled every second.
The sandbox runs in this process so a test can inject faults directly and read the ground truth.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, ResourceType

from kafka_obs.platform import wiring
from kafka_obs.platform.processes import find_binary, kafka_obs_command, wait_until
from kafka_obs.platform.stack import Stack, StackOptions
from kafka_obs.sandbox.runtime import Sandbox

HERE = Path(__file__).resolve().parent
TEST_SLOS = HERE / "slos.yaml"
ALERT_FOR_CAP = 4

FAST = StackOptions(
    intervals=wiring.Intervals(scrape="1s", evaluation="1s"),
    # group_interval 5s: a resolved notification waits for its group's next flush, as in production (5m there),
    # so a verification polling every second still gets to see the recovery before the alert is over
    route_timings=wiring.RouteTimings(group_wait="1s", group_interval="5s", repeat_interval="1h"),
    guardrails={"grace_period": "1s"},
    webhook_worker={"poll_interval": 0.2},
)


def require_engines() -> None:
    for binary in ("prometheus", "prometheus-alertmanager"):
        if find_binary(binary) is None:
            pytest.skip(f"{binary} is not on PATH (make tools installs it)")


def generate_rules(out: Path, slos: Path = TEST_SLOS) -> Path:
    """`kafka-obs rules generate` for the test SLOs, then every alert's `for` capped (the expressions unchanged)."""
    subprocess.run([*kafka_obs_command(), "rules", "generate", "--slos", str(slos), "--out", str(out)],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    for path in [*out.glob("*.yml"), *out.glob("global/*.yml")]:
        wiring.dump_yaml(wiring.cap_alert_for(wiring.load_yaml(path), ALERT_FOR_CAP), path)
    return out


def fast_playbooks(**verify: Any) -> dict[str, Any]:
    shipped = wiring.load_yaml(wiring.ShippedConfigs().playbooks)
    return wiring.playbooks_with_verification(shipped, **verify)


@dataclass
class Loop:
    """The running platform: the sandbox, the stack, and HTTP helpers over Prometheus, Alertmanager and the webhook."""

    sandbox: Sandbox
    stack: Stack

    # ---- Prometheus --------------------------------------------------------------------------------------------

    def regional(self, region: str) -> str:
        return f"http://{self.stack.regional[region]}"

    @property
    def global_url(self) -> str:
        return f"http://{self.stack.global_address}"

    @staticmethod
    def query(url: str, expr: str) -> list[dict[str, Any]]:
        body = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
        assert body["status"] == "success", (expr, body)
        return list(body["data"]["result"])

    def value(self, url: str, expr: str) -> float | None:
        result = self.query(url, expr)
        return float(result[0]["value"][1]) if result else None

    def alerts(self, url: str, alertname: str, **labels: str) -> list[dict[str, Any]]:
        """Firing alerts in a Prometheus (its /api/v1/alerts), by name and labels."""
        body = httpx.get(f"{url}/api/v1/alerts", timeout=10).json()
        return [
            a
            for a in body["data"]["alerts"]
            if a["labels"].get("alertname") == alertname
            and a["state"] == "firing"
            and all(a["labels"].get(k) == v for k, v in labels.items())
        ]

    # ---- Alertmanager ------------------------------------------------------------------------------------------

    @property
    def alertmanager_url(self) -> str:
        return f"http://{self.stack.alertmanager_address}"

    def am_alerts(self, *matchers: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.alertmanager_url}/api/v2/alerts", params={"filter": list(matchers)}, timeout=10)
        response.raise_for_status()
        return list(response.json())

    # ---- webhook -----------------------------------------------------------------------------------------------

    def webhook(self, path: str, **params: Any) -> Any:
        response = httpx.get(
            f"http://{self.stack.webhook_address}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.stack.token}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def remediations(self, **labels: str) -> list[dict[str, Any]]:
        rows = self.webhook("/remediations")
        rows = rows.get("remediations", rows) if isinstance(rows, dict) else rows
        return [r for r in rows if all(r.get("labels", {}).get(k) == v for k, v in labels.items())]

    def audit(self, remediation_id: int | None = None, incident_id: int | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 1000}
        if remediation_id is not None:
            params["remediation_id"] = remediation_id
        if incident_id is not None:
            params["incident_id"] = incident_id
        return list(self.webhook("/actions", **params)["records"])

    # ---- sandbox -----------------------------------------------------------------------------------------------

    def deployment(self, cluster: str, name: str) -> dict[str, Any]:
        return dict(self.sandbox.truth()["clusters"][cluster]["deployments"][name])

    def topic_config(self, cluster: str, topic: str) -> dict[str, tuple[str, bool]]:
        """DescribeConfigs over the Kafka protocol: name → (value, set on the topic)."""
        admin = AdminClient({"bootstrap.servers": self.sandbox.bootstrap_servers(cluster)})
        [future] = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
        return {
            k: (v.value, int(v.source) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value) for k, v in future.result(10).items()
        }

    def disk_used(self, cluster: str, broker: int) -> float:
        [b] = [b for b in self.sandbox.truth()["clusters"][cluster]["brokers"] if b["id"] == broker]
        return 1 - b["disk_usable_bytes"] / b["disk_total_bytes"]


def wait_for(check: Callable[[], Any], timeout: float, what: str, show: Callable[[], Any] | None = None) -> None:
    """Poll a real condition; on a timeout, ``show()`` says what there was instead."""
    try:
        wait_until(lambda: bool(check()), timeout, what, interval=0.5)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; have: {show() if show else check()}") from None


@contextmanager
def started_loop(
    fleet: str = "small",
    *,
    deployments: list[tuple[str, str]] | None = None,
    playbooks: dict[str, Any] | None = None,
    guardrails: dict[str, Any] | None = None,
    prepare: Callable[[Sandbox], None] = lambda _sb: None,
    joining: list[wiring.JoiningCluster] | None = None,
    slos: Path = TEST_SLOS,
    canary: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[Loop]:
    """The sandbox in-process plus the whole stack as real processes; everything stopped and removed afterwards.
    ``joining`` clusters (real Kafka) are monitored and remediated alongside the sandbox's; ``canary`` turns the
    end-to-end canary on for the named clusters, with those settings."""
    require_engines()
    with tempfile.TemporaryDirectory(prefix="kafka-obs-loop-") as tmp:
        workdir = Path(tmp)
        rules = generate_rules(workdir / "rules", slos)
        sandbox = Sandbox.start(fleet)
        stack: Stack | None = None
        try:
            prepare(sandbox)
            document = wiring.demo_clusters(
                wiring.load_yaml(sandbox.write_clusters_yaml(workdir / "sandbox.yaml")), "1s"
            )
            truth = sandbox.truth()
            wiring.join(truth, document, joining or [])
            for entry in document["clusters"]:
                if entry["name"] in (canary or {}):
                    entry["canary"] = {"enabled": True, **(canary or {})[entry["name"]]}
            clusters = wiring.dump_yaml(document, workdir / "clusters.yaml")
            options = StackOptions(
                **{
                    **FAST.__dict__,
                    "rules": rules,
                    "deployments": deployments,
                    "playbooks": playbooks,
                    "guardrails": guardrails or FAST.guardrails,
                },
            )
            stack = Stack(workdir / "stack", clusters, truth, sandbox.control_url, options)
            stack.start()
            loop = Loop(sandbox, stack)
            for region in stack.regions:
                wait_for(
                    functools.partial(loop.query, loop.regional(region), "slo:sli_total:slice"),
                    60,
                    f"the first SLO slices in {region}",
                )
            yield loop
        finally:
            if stack is not None:
                stack.stop()
            sandbox.stop()


def elapsed(since: float) -> float:
    return round(time.monotonic() - since, 1)
