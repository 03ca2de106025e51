"""The Prometheus and Alertmanager clients against scripted HTTP transports."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from kafka_obs.clock import ManualClock
from kafka_obs.webhook.escalation import Escalator, escalation_alert
from kafka_obs.webhook.verification import PrometheusQuerier, Verifier


def querier(body: dict[str, Any] | None, status: int = 200) -> PrometheusQuerier:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query"
        if body is None:
            raise httpx.ConnectError("refused")
        return httpx.Response(status, json=body)

    return PrometheusQuerier(
        "http://prom", client=httpx.Client(base_url="http://prom", transport=httpx.MockTransport(handle))
    )


def vector(*values: str) -> dict[str, Any]:
    result = [{"metric": {"i": str(i)}, "value": [0, v]} for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


@pytest.mark.parametrize(
    ("body", "holds"),
    [
        (vector("12"), True),
        (vector(), False),  # a comparison filtered everything out
        ({"status": "success", "data": {"resultType": "scalar", "result": [0, "1"]}}, True),
        ({"status": "success", "data": {"resultType": "scalar", "result": [0, "0"]}}, False),
        ({"status": "error", "errorType": "bad_data", "error": "parse error"}, False),
        (None, False),  # unreachable
    ],
)
def test_query_outcomes(body: dict[str, Any] | None, holds: bool) -> None:
    assert querier(body).query("x").holds is holds


def test_verifier_polls_until_deadline() -> None:
    clock = ManualClock()

    def sleep(seconds: float) -> bool:
        clock.advance(seconds)
        return False

    result = Verifier(querier(vector()), clock, sleep).verify("x", deadline=clock.now() + 30, interval=5)
    assert not result.passed
    assert result.polls == 7  # t = 0, 5, ..., 30
    assert result.seconds == 30


def test_escalation_retries_5xx_not_4xx() -> None:
    calls: list[str] = []
    answers = {"/api/v2/alerts": [503, 503, 200], "/hook": [400]}

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(answers[request.url.path].pop(0))

    client = httpx.Client(transport=httpx.MockTransport(handle))
    escalator = Escalator("http://am", "http://chat/hook", retries=3, sleep=lambda _s: None, client=client)
    alert = escalation_alert(
        {"alertname": "KafkaConsumerLagHigh", "cluster": "a"}, playbook="p", outcome="rolled_back",
        summary="s", detail="d", now=0.0, source_url="",
    )  # fmt: skip
    result = escalator.escalate(alert)
    assert calls == ["/api/v2/alerts"] * 3 + ["/hook"]
    assert result.delivered == ["alertmanager"]
    assert result.errors == ["webhook: HTTP 400: "]
    assert alert["labels"] == {"alertname": "RemediationFailed", "original_alertname": "KafkaConsumerLagHigh",
                               "cluster": "a", "playbook": "p", "outcome": "rolled_back"}  # fmt: skip
    assert json.dumps(alert)  # serialisable as sent
