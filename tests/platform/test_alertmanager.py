"""alertmanager/alertmanager.yml in a real Alertmanager: routing (self-healable alerts to the webhook with its token,
RemediationFailed and the rest to humans) and inhibition, read back through Alertmanager's own API."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from kafka_obs.platform import wiring
from kafka_obs.platform.processes import ManagedProcess, find_binary, free_port, http_ok, wait_until
from tests.http_stub import StubHandler, serving

SHIPPED = wiring.ShippedConfigs()
TOKEN = "routing-test-token"


def test_amtool_accepts_the_committed_file() -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool is not on PATH (make tools installs it)")
    result = subprocess.run(
        [amtool, "check-config", str(SHIPPED.alertmanager)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 inhibit rules" in result.stdout


class Recorder:
    """Stands in for the webhook: records each notification and the Authorization header it came with."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []

    @contextmanager
    def serving(self) -> Iterator[str]:
        recorder = self

        class Handler(StubHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.received.append((self.headers.get("Authorization", ""), json.loads(body)))
                self.reply(202)

        with serving(Handler) as port:
            yield f"http://127.0.0.1:{port}/alerts"

    def alertnames(self) -> set[str]:
        return {a["labels"]["alertname"] for _auth, body in self.received for a in body["alerts"]}


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Recorder]]:
    binary = find_binary("prometheus-alertmanager")
    if binary is None:
        pytest.skip("prometheus-alertmanager is not on PATH (make tools installs it)")
    tmp = tmp_path_factory.mktemp("am")
    token = tmp / "token"
    token.write_text(TOKEN)
    recorder = Recorder()
    with recorder.serving() as hook_url:
        config = wiring.alertmanager(
            wiring.load_yaml(SHIPPED.alertmanager),
            webhook_url=hook_url,
            credentials_file=str(token),
            timings=wiring.RouteTimings(group_wait="1s", group_interval="1s", repeat_interval="1h"),
        )
        path = wiring.dump_yaml(config, tmp / "alertmanager.yml")
        address = f"127.0.0.1:{free_port()}"
        process = ManagedProcess(
            "alertmanager",
            [
                binary,
                f"--config.file={path}",
                f"--storage.path={tmp / 'data'}",
                f"--web.listen-address={address}",
                "--cluster.listen-address=",
            ],
            tmp / "alertmanager.log",
            ready=lambda: http_ok(f"http://{address}/-/ready"),
        )
        with process:
            yield f"http://{address}", recorder


def post(url: str, *alerts: dict[str, str]) -> None:
    now = datetime.now(UTC)
    payload = [
        {"labels": labels, "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=10)).isoformat()}
        for labels in alerts
    ]
    httpx.post(f"{url}/api/v2/alerts", json=payload, timeout=10).raise_for_status()


def state(url: str, **labels: str) -> dict[str, Any]:
    """The one alert with exactly these labels, as Alertmanager's API shows it (receivers, status.inhibitedBy)."""
    matchers = [f'{k}="{v}"' for k, v in labels.items()]
    found = [a for a in httpx.get(f"{url}/api/v2/alerts", params={"filter": matchers}, timeout=10).json()
             if a["labels"] == labels]  # fmt: skip
    assert len(found) == 1, found
    return dict(found[0])


def receivers(alert: dict[str, Any]) -> list[str]:
    return sorted(r["name"] for r in alert["receivers"])


def test_routing_sends_self_healable_alerts_to_the_webhook_and_escalations_to_humans(
    alertmanager: tuple[str, Recorder],
) -> None:
    url, recorder = alertmanager
    lag = {"alertname": "KafkaConsumerLagHigh", "cluster": "r1", "consumergroup": "g", "topic": "t",
           "environment": "production", "severity": "warning"}  # fmt: skip
    disk = {"alertname": "KafkaBrokerDiskPressure", "cluster": "r1", "broker": "1", "environment": "production",
            "severity": "warning"}  # fmt: skip
    page = {"alertname": "KafkaSLOBurnRatePage", "cluster": "r1", "slo": "consumer-lag", "environment": "production",
            "severity": "critical"}  # fmt: skip
    failed = {"alertname": "RemediationFailed", "cluster": "r1", "consumergroup": "g", "severity": "warning",
              "original_alertname": "KafkaConsumerLagHigh", "outcome": "rolled_back"}  # fmt: skip
    offline = {"alertname": "KafkaOfflinePartitions", "cluster": "r1", "environment": "production",
               "severity": "critical"}  # fmt: skip
    post(url, lag, disk, page, failed, offline)
    assert receivers(state(url, **lag)) == ["kafka-obs-webhook"]
    assert receivers(state(url, **disk)) == ["kafka-obs-webhook"]
    assert receivers(state(url, **page)) == ["humans", "kafka-obs-webhook"]  # the webhook acts, people are paged
    assert receivers(state(url, **failed)) == ["humans"]
    assert receivers(state(url, **offline)) == ["humans"]
    wait_until(
        lambda: {"KafkaConsumerLagHigh", "KafkaBrokerDiskPressure", "KafkaSLOBurnRatePage"} <= recorder.alertnames(),
        30,
        "the webhook notifications",
    )
    assert "RemediationFailed" not in recorder.alertnames()  # never back to the automation
    assert "KafkaOfflinePartitions" not in recorder.alertnames()
    assert {auth for auth, _body in recorder.received} == {f"Bearer {TOKEN}"}
    assert all(body["version"] == "4" for _auth, body in recorder.received)


def test_an_unreachable_cluster_inhibits_that_clusters_other_alerts(alertmanager: tuple[str, Recorder]) -> None:
    url, _recorder = alertmanager
    unreachable = {"alertname": "KafkaClusterUnreachable", "cluster": "u1", "environment": "production",
                   "severity": "critical"}  # fmt: skip
    urp = {"alertname": "KafkaUnderReplicatedPartitions", "cluster": "u1", "environment": "production",
           "severity": "warning"}  # fmt: skip
    lag = {"alertname": "KafkaConsumerLagHigh", "cluster": "u1", "consumergroup": "g", "topic": "t",
           "environment": "production", "severity": "warning"}  # fmt: skip
    elsewhere = {**urp, "cluster": "u2"}
    post(url, unreachable, urp, lag, elsewhere)

    def inhibited_by(labels: dict[str, str]) -> list[str]:
        return list(state(url, **labels)["status"]["inhibitedBy"])

    wait_until(lambda: bool(inhibited_by(urp)) and bool(inhibited_by(lag)), 15, "the inhibition")
    source = state(url, **unreachable)["fingerprint"]
    assert inhibited_by(urp) == [source]
    assert inhibited_by(lag) == [source]
    assert state(url, **urp)["status"]["state"] == "suppressed"
    assert inhibited_by(elsewhere) == []  # another cluster is not explained by it
    assert inhibited_by(unreachable) == []  # it does not inhibit itself


def test_a_page_inhibits_the_ticket_of_the_same_slo(alertmanager: tuple[str, Recorder]) -> None:
    url, _recorder = alertmanager
    base = {"cluster": "p1", "environment": "production", "slo": "consumer-lag"}
    page = {**base, "alertname": "KafkaSLOBurnRatePage", "severity": "critical"}
    ticket = {**base, "alertname": "KafkaSLOBurnRateTicket", "severity": "warning"}
    other_slo = {**ticket, "slo": "broker-availability"}
    other_env = {**ticket, "environment": "staging"}
    post(url, page, ticket, other_slo, other_env)
    wait_until(lambda: bool(state(url, **ticket)["status"]["inhibitedBy"]), 15, "the ticket to be inhibited")
    assert state(url, **ticket)["status"]["inhibitedBy"] == [state(url, **page)["fingerprint"]]
    assert state(url, **other_slo)["status"]["inhibitedBy"] == []
    assert state(url, **other_env)["status"]["inhibitedBy"] == []


def test_the_rendered_config_changes_only_the_webhook_address_and_token(tmp_path: Path) -> None:
    shipped = wiring.load_yaml(SHIPPED.alertmanager)
    rendered = wiring.alertmanager(shipped, webhook_url="http://127.0.0.1:1/alerts", credentials_file="/run/token")
    hook = next(r for r in rendered["receivers"] if r["name"] == "kafka-obs-webhook")["webhook_configs"][0]
    assert hook["url"] == "http://127.0.0.1:1/alerts"
    assert hook["http_config"]["authorization"] == {"type": "Bearer", "credentials_file": "/run/token"}
    for key in ("route", "inhibit_rules", "global"):
        assert rendered[key] == shipped[key]
    amtool = shutil.which("amtool")
    if amtool is not None:
        path = wiring.dump_yaml(rendered, tmp_path / "am.yml")
        assert subprocess.run([amtool, "check-config", str(path)], capture_output=True, check=False).returncode == 0
