"""Verification routing: with one Prometheus per region, each alert is verified against the Prometheus named by one
of its labels (the external label every Prometheus attaches to the alerts it sends), else against prometheus.url."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient

from kafka_obs.clock import ManualClock
from kafka_obs.config.loader import ConfigError
from kafka_obs.webhook.config import load_config
from kafka_obs.webhook.service import build_service
from kafka_obs.webhook.verification import QueryOutcome, QueryRouter
from tests.http_stub import StubHandler, serving

from .conftest import AUTH, FakeScaler, RecordingEscalator, alert, enabled_playbooks, make_config, notification


class Named:
    def __init__(self, name: str):
        self.name = name

    def query(self, expr: str) -> QueryOutcome:
        return QueryOutcome(True, self.name)


def test_router_picks_by_label_and_falls_back_to_the_default() -> None:
    default, east, west = Named("default"), Named("east"), Named("west")
    router = QueryRouter(default, "prometheus", {"regional-east": east, "regional-west": west})
    assert router.pick({"prometheus": "regional-west", "cluster": "a"}) == ("prometheus=regional-west", west)
    assert router.pick({"prometheus": "regional-elsewhere"}) == ("default", default)
    assert router.pick({"cluster": "a"}) == ("default", default)
    assert router.pick(None) == ("default", default)
    assert QueryRouter(default).pick({"prometheus": "regional-east"}) == ("default", default)


def test_route_by_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "webhook.yaml"
    path.write_text("auth: {allow_anonymous: true}\nprometheus:\n  route_by: {label: prometheus, urls: {}}\n")
    with pytest.raises(ConfigError, match=r"prometheus\.route_by\.urls"):
        load_config(path)
    path.write_text(
        "auth: {allow_anonymous: true}\n"
        "prometheus:\n  url: http://global:9090\n  route_by: {urls: {regional-eu: 'http://eu:9090'}}\n"
    )
    routes = load_config(path).prometheus.route_by
    assert routes is not None
    assert (routes.label, routes.urls) == ("prometheus", {"regional-eu": "http://eu:9090"})


class FakePrometheus:
    """A real HTTP server answering /api/v1/query: a non-empty vector when ``holds``, and recording each query."""

    def __init__(self, holds: bool):
        self.holds = holds
        self.queries: list[str] = []

    @contextmanager
    def serving(self) -> Iterator[str]:
        fake = self

        class Handler(StubHandler):
            def do_GET(self) -> None:
                queries = parse_qs(urlparse(self.path).query).get("query", [])
                fake.queries.extend(queries)
                # the playbook's pre-condition: the group is rated WARN (alive and too slow) in both
                warn = any("kafka_consumergroup_status" in q for q in queries)
                result = [{"metric": {"status": "WARN"}, "value": [0, "1"]}] if fake.holds or warn else []
                self.reply(
                    200, json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
                )

        with serving(Handler) as port:
            yield f"http://127.0.0.1:{port}"


def test_the_service_verifies_each_alert_where_its_series_live(tmp_path: Path) -> None:
    """The regional Prometheus holds the lag series (the query holds there); the global one has none (it would fail).
    An alert from the region is verified there and succeeds; an alert without the label goes to the default."""
    regional, global_ = FakePrometheus(holds=True), FakePrometheus(holds=False)
    with regional.serving() as regional_url, global_.serving() as global_url:
        config = make_config(
            tmp_path,
            prometheus={
                "url": global_url,
                "route_by": {"label": "prometheus", "urls": {"regional-east": regional_url}},
            },
            guardrails={"grace_period": "1s", "cooldown": "1s"},
        )
        clock = ManualClock()
        scaler = FakeScaler()

        def sleep(seconds: float) -> bool:
            clock.advance(seconds)
            return False  # never stopping

        service = build_service(
            config,
            enabled_playbooks("high_consumer_lag"),
            clock=clock,
            backends={"scale_deployment": scaler},
            escalator=RecordingEscalator(),  # type: ignore[arg-type]
            sleep=sleep,
        )
        assert service.app is not None
        client = TestClient(service.app)
        try:
            routed = alert("KafkaSLOBurnRatePage", consumergroup="orders-processor", prometheus="regional-east")
            assert client.post("/alerts", json=notification(routed), headers=AUTH).status_code == 202
            clock.advance(2)
            service.worker.run_until_idle()
            unrouted = alert("KafkaSLOBurnRatePage", consumergroup="clicks-aggregator", topic="clicks")
            assert client.post("/alerts", json=notification(unrouted), headers=AUTH).status_code == 202
            clock.advance(2)
            service.worker.run_until_idle()
            states = {r.labels["consumergroup"]: str(r.state) for r in service.store.remediations()}
            assert states == {"orders-processor": "succeeded", "clicks-aggregator": "rolled_back"}
            checks = [q for q in regional.queries if "kafka_consumergroup_status" in q]
            verifications = [q for q in regional.queries if q not in checks]
            assert len(checks) == 2  # the pre-condition and its evidence are asked where the series live too
            assert len(verifications) == 1
            assert 'consumergroup="orders-processor"' in verifications[0]
            assert global_.queries
            assert all('consumergroup="clicks-aggregator"' in q for q in global_.queries)
            started = client.get("/actions", params={"event": "verification_started"}, headers=AUTH).json()
            assert [r["data"]["prometheus"] for r in started["records"]] == ["prometheus=regional-east", "default"]
        finally:
            client.close()
            service.close()
