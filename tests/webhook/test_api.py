"""Bad inputs get the right status and change nothing; good ones are stored before the 2xx."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from .conftest import AUTH, REPO, Harness, alert, notification


def _without(key: str) -> dict[str, Any]:
    body = notification(alert())
    del body[key]
    return body


def _alert_with(**changes: Any) -> dict[str, Any]:
    return notification({**alert(), **changes})


MALFORMED: list[tuple[str, bytes, str]] = [
    ("not json", b"{nope", ""),
    ("json but not an object", b"[1, 2]", ""),
    ("wrong version", json.dumps({**notification(alert()), "version": "3"}).encode(), "version"),
    ("no alerts field", json.dumps(_without("alerts")).encode(), "alerts"),
    ("empty alerts", json.dumps({**notification(alert()), "alerts": []}).encode(), "alerts"),
    ("alert status unknown", json.dumps(_alert_with(status="burning")).encode(), "alerts[0].status"),
    ("startsAt not a time", json.dumps(_alert_with(startsAt="yesterday")).encode(), "alerts[0].startsAt"),
    ("startsAt without zone", json.dumps(_alert_with(startsAt="2026-01-01T00:00:00")).encode(), "alerts[0].startsAt"),
    ("no fingerprint", json.dumps(_alert_with(fingerprint="")).encode(), "alerts[0].fingerprint"),
    ("labels not strings", json.dumps(_alert_with(labels={"alertname": "X", "n": 1})).encode(), "alerts[0].labels.n"),
    ("no alertname", json.dumps(_alert_with(labels={"cluster": "alpha"})).encode(), "alerts[0].labels"),
    (
        "truncatedAlerts negative",
        json.dumps({**notification(alert()), "truncatedAlerts": -1}).encode(),
        "truncatedAlerts",
    ),
]


@pytest.mark.parametrize(("body", "path"), [(b, p) for _, b, p in MALFORMED], ids=[n for n, _, _ in MALFORMED])
def test_malformed_payloads_get_422_with_the_field_path(harness: Harness, body: bytes, path: str) -> None:
    response = harness.client.post("/alerts", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422
    paths = [d["path"] for d in response.json()["detail"]]
    if path:
        assert path in paths
    assert harness.store.notification_count() == 0
    harness.run()
    assert harness.scaler.applied == []
    assert harness.metric("kafka_obs_webhook_notifications_total", status="invalid") == 1


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer wrong",
        "Bearer test-token-and-more",
        "bearer",
        "Token test-token",
        _basic("am", "test-token"),
        "Basic !!!",
    ],
)
def test_wrong_credentials_get_401_and_nothing_is_stored(harness: Harness, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = harness.client.post("/alerts", json=notification(alert()), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert harness.store.notification_count() == 0
    for path in ("/actions", "/remediations", "/admin/status", "/actions/export", "/actions/verify"):
        assert harness.client.get(path, headers=headers).status_code == 401
    assert harness.client.post("/admin/pause", headers=headers).status_code == 401
    assert not harness.store.paused()


def test_basic_auth(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(auth={"bearer_token": None, "basic": {"username": "am", "password": "s3cret"}})
    assert (
        h.client.post(
            "/alerts", json=notification(alert()), headers={"Authorization": _basic("am", "nope")}
        ).status_code
        == 401
    )
    assert (
        h.client.post(
            "/alerts", json=notification(alert()), headers={"Authorization": _basic("xx", "s3cret")}
        ).status_code
        == 401
    )
    ok = h.client.post("/alerts", json=notification(alert()), headers={"Authorization": _basic("am", "s3cret")})
    assert ok.status_code == 202
    assert h.store.notification_count() == 1


def test_oversized_by_content_length(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(limits={"max_body_bytes": 4096})
    big = notification(*(alert() for _ in range(40)))
    assert len(json.dumps(big)) > 4096
    response = h.client.post("/alerts", json=big, headers=AUTH)
    assert response.status_code == 413
    assert h.store.notification_count() == 0


def test_oversized_chunked_body_is_cut_off_while_streaming(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(limits={"max_body_bytes": 4096})
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(1000):  # 1 MB, no Content-Length
            sent += 1024
            yield b" " * 1024

    response = h.client.post("/alerts", content=chunks(), headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert h.store.notification_count() == 0
    assert h.metric("kafka_obs_webhook_notifications_total", status="too_large") == 1


def test_unknown_alert_name_is_stored_and_nothing_runs(harness: Harness) -> None:
    response = harness.post(alert("SomethingElseEntirely"))
    assert response.status_code == 202
    assert response.json()["remediations"] == []
    assert response.json()["incidents_new"] == 1
    harness.run()
    assert harness.scaler.applied == []
    assert harness.store.notification_count() == 1
    [record] = harness.client.get("/actions", headers=AUTH, params={"event": "incident_received"}).json()["records"]
    assert record["data"]["labels"]["alertname"] == "SomethingElseEntirely"


def test_firing_group_with_a_resolved_alert_is_handled_per_alert(harness: Harness) -> None:
    first = alert(fingerprint="0000000000000f01")
    harness.post(first)
    response = harness.post({**first, "status": "resolved"}, alert(consumergroup="clicks-aggregator"))
    body = response.json()
    assert body["cancelled"] == [1]
    assert [r["state"] for r in body["remediations"]] == ["queued"]


def test_store_failure_answers_503_so_alertmanager_retries(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(harness.store, "enqueue_many", broken)
    response = harness.post(alert())
    assert response.status_code == 503
    assert harness.metric("kafka_obs_webhook_notifications_total", status="store_failed") == 1


def test_actions_are_filterable_and_exported_as_json_lines(harness: Harness) -> None:
    harness.post(alert())
    harness.run()
    page = harness.client.get("/actions", headers=AUTH, params={"remediation_id": 1}).json()
    assert [r["event"] for r in page["records"]][-1] == "succeeded"
    assert {r["remediation_id"] for r in page["records"]} == {1}
    limited = harness.client.get("/actions", headers=AUTH, params={"limit": 2}).json()
    assert len(limited["records"]) == 2
    assert limited["next_after_seq"] == limited["records"][-1]["seq"]
    export = harness.client.get("/actions/export", headers=AUTH)
    assert export.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert [r["seq"] for r in lines] == list(range(1, len(lines) + 1))
    assert harness.client.get("/actions/verify", headers=AUTH).json()["ok"] is True
    [rem] = harness.client.get("/remediations", headers=AUTH, params={"state": "succeeded"}).json()
    assert rem["before"][0]["before"] == {"replicas": 3}


def test_metrics_and_openapi(harness: Harness) -> None:
    harness.post(alert())
    text = harness.client.get("/metrics").text
    for name in (
        "kafka_obs_webhook_queue_depth 1.0",
        "kafka_obs_webhook_actions_in_flight 0.0",
        "kafka_obs_webhook_paused 0.0",
    ):
        assert name in text
    schema = harness.client.get("/openapi.json").json()
    body = schema["paths"]["/alerts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Notification"}
    assert "Alert" in schema["components"]["schemas"]


def test_credentials_are_checked_before_size_and_shape(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(limits={"max_body_bytes": 1024})
    assert h.client.post("/alerts", content=b"x" * 5000).status_code == 401
    assert h.client.post("/alerts", content=b"{nope").status_code == 401
    assert h.metric("kafka_obs_webhook_notifications_total", status="unauthorized") == 2


def test_counters_exist_at_zero_before_their_first_increment(harness: Harness) -> None:
    """increase() cannot see a series born at 1: a dashboard would never show a playbook's first remediation."""
    sample = harness.service.metrics.registry.get_sample_value
    for playbook in harness.service.playbooks:
        assert sample("kafka_obs_webhook_escalations_total", {"playbook": playbook.name}) == 0.0
        for action in playbook.actions:
            for result in ("applied", "failed", "rolled_back", "rollback_failed", "dry_run"):
                labels = {"playbook": playbook.name, "action": action.type, "result": result}
                assert sample("kafka_obs_webhook_actions_total", labels) == 0.0, labels
    first = {"playbook": "high_consumer_lag", "alertname": "KafkaConsumerLagHigh"}
    assert sample("kafka_obs_webhook_remediations_total", {**first, "result": "succeeded"}) is None
    harness.post(alert())  # the alert name is known once a remediation is stored
    for result in ("succeeded", "failed", "rolled_back", "cancelled", "refused", "dry_run", "interrupted"):
        assert sample("kafka_obs_webhook_remediations_total", {**first, "result": result}) == 0.0, result


def _alertmanager_alert(n: int) -> dict[str, Any]:
    """An alert as Alertmanager sends it for our rules: ~380 bytes (the issue's 10,000-alert group was 3.8 MB)."""
    return {
        **alert(fingerprint=f"{n:016x}", consumergroup=f"group-{n}", environment="production"),
        "annotations": {"summary": f"Consumer group group-{n} lags on orders.", "runbook_url": "docs/runbook.md#lag"},
    }


def test_a_10000_alert_group_as_alertmanager_sends_it_is_accepted(harness: Harness) -> None:
    body = json.dumps(notification(*(_alertmanager_alert(n) for n in range(10_000)))).encode()
    assert len(body) > 3_500_000
    response = harness.client.post("/alerts", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 202, response.text[:300]
    assert response.json()["alerts"] == 10_000
    assert response.json()["incidents_new"] == 10_000


def test_a_long_annotation_within_the_body_limit_is_accepted(harness: Harness) -> None:
    long = {**alert(), "annotations": {"description": "x" * 20_000}}
    assert harness.post(long).status_code == 202


def test_one_bad_alert_is_rejected_alone_and_recorded(harness: Harness) -> None:
    bad = {**alert(fingerprint="00000000000000b1"), "startsAt": "yesterday"}
    response = harness.post(alert(), bad, alert(consumergroup="clicks-aggregator"))
    assert response.status_code == 202
    body = response.json()
    assert (body["alerts"], body["incidents_new"]) == (2, 2)
    [rejected] = body["rejected"]
    assert (rejected["index"], rejected["fingerprint"]) == (1, "00000000000000b1")
    assert [e["path"] for e in rejected["errors"]] == ["alerts[1].startsAt"]
    [record] = harness.client.get("/actions", headers=AUTH, params={"event": "alerts_rejected"}).json()["records"]
    assert record["data"]["alerts"] == body["rejected"]
    assert harness.metric("kafka_obs_webhook_alerts_rejected_total") == 1
    harness.run()
    assert len(harness.scaler.applied) == 2  # the good alerts of the group were acted on


def test_snake_case_twins_of_alertmanager_keys_are_unknown_keys_and_ignored(harness: Harness) -> None:
    # The schema names only Alertmanager's keys (externalURL, startsAt, ...); any other key is allowed and ignored,
    # so a snake_case twin of any type must neither be read in place of the real field nor refuse the group.
    # The optional camelCase keys are left out: that is when a twin would be read in their place.
    optional = ("truncatedAlerts", "groupLabels", "commonLabels", "commonAnnotations", "externalURL")
    an_alert = {k: v for k, v in alert().items() if k not in ("endsAt", "generatorURL", "annotations")}
    body = {k: v for k, v in notification({**an_alert, "ends_at": 1, "generator_url": 7}).items() if k not in optional}
    body |= {"external_url": 0, "truncated_alerts": "x", "common_labels": [1], "group_labels": 2}
    response = harness.client.post("/alerts", json=body, headers=AUTH)
    assert response.status_code == 202, response.text
    assert response.json()["rejected"] == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (json.dumps({**notification(alert()), "truncatedAlerts": "3"}), "not a string"),
        (json.dumps(notification(alert()))[:-1] + ', "status": "resolved"}', "appears more than once"),
    ],
    ids=["string-for-a-number", "duplicate-key"],
)
def test_no_coercion_and_no_duplicate_keys(harness: Harness, body: str, reason: str) -> None:
    response = harness.client.post("/alerts", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert reason in response.json()["detail"][0]["msg"]
    assert harness.store.notification_count() == 0


def test_the_shipped_alertmanager_config_caps_alerts_per_notification_below_the_body_limit(harness: Harness) -> None:
    shipped = yaml.safe_load((REPO / "alertmanager" / "alertmanager.yml").read_text())
    [webhook] = [r for r in shipped["receivers"] if r["name"] == "kafka-obs-webhook"]
    max_alerts = webhook["webhook_configs"][0]["max_alerts"]
    assert 0 < max_alerts <= 1000  # 0 would mean unlimited
    # even with a long description on every alert, a full notification fits the default body limit 4 times over
    heavy = {**_alertmanager_alert(0), "annotations": {"description": "x" * 1500}}
    assert 4 * max_alerts * len(json.dumps(heavy)) < harness.config.limits.max_body_bytes


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_alerts_only_take_json(harness: Harness, content_type: str | None) -> None:
    """A browser can be made to post text/plain or a form cross-site without a preflight; JSON it cannot."""
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    body = json.dumps(notification(alert())).encode()
    response = harness.client.post("/alerts", content=body, headers=headers)
    assert response.status_code == 415
    assert harness.store.notification_count() == 0
    ok = harness.client.post(
        "/alerts", content=body, headers={**AUTH, "Content-Type": "application/json; charset=utf-8"}
    )
    assert ok.status_code == 202


def test_both_content_length_and_chunked_is_refused(harness: Harness) -> None:
    headers = {**AUTH, "Content-Type": "application/json", "Content-Length": "2", "Transfer-Encoding": "chunked"}
    response = harness.client.post("/alerts", content=b"{}", headers=headers)
    assert response.status_code == 400
    assert "Transfer-Encoding" in response.json()["detail"]
    assert harness.store.notification_count() == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/actions", {"limit": "lots"}),
        ("/actions", {"remediation_id": "-1"}),
        ("/remediations", {"state": "nonsense"}),
        ("/nothing-here", {}),
    ],
)
def test_credentials_are_checked_before_query_parameters(harness: Harness, path: str, params: dict[str, str]) -> None:
    response = harness.client.get(path, params=params)
    assert response.status_code == 401
    assert "detail" in response.json()
    assert "loc" not in response.text  # no schema detail for an unauthenticated caller
    assert harness.client.get(path, params=params, headers=AUTH).status_code in {404, 422}


def test_healthz_says_503_when_the_store_cannot_take_writes(harness: Harness) -> None:
    assert harness.client.get("/healthz").status_code == 200
    harness.store._conn.execute("PRAGMA query_only = 1")  # what a read-only or failing disk looks like to SQLite
    response = harness.client.get("/healthz")
    assert response.status_code == 503
    assert "cannot take writes" in response.json()["detail"]
    assert harness.post(alert()).status_code == 503  # and Alertmanager retries the notification


def test_the_api_kill_switch_works_while_the_store_is_broken(harness: Harness) -> None:
    harness.post(alert())
    harness.store._conn.execute("PRAGMA query_only = 1")
    response = harness.client.post("/admin/pause", headers=AUTH)
    assert response.status_code == 200
    assert (response.json()["paused"], response.json()["persisted"]) == (True, False)
    harness.store._conn.execute("PRAGMA query_only = 0")  # the disk comes back; the operator's pause still holds
    harness.run()
    assert harness.scaler.applied == []
    assert "paused" in (harness.store.remediations()[0].reason or "")


def test_a_held_write_lock_gets_a_quick_503_not_a_hang(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(store={"busy_timeout": "1s"})
    other = sqlite3.connect(h.store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # e.g. someone's sqlite3 shell in a write transaction
    try:
        started = time.monotonic()
        response = h.post(alert())
        waited = time.monotonic() - started
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert response.status_code == 503
    assert waited < 3
    assert h.post(alert()).status_code == 202


def test_metrics_still_answer_when_the_store_cannot_be_read(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, int]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(harness.store, "counts", broken)
    response = harness.client.get("/metrics")
    assert response.status_code == 200
    assert "kafka_obs_webhook_store_readable 0.0" in response.text
    assert "kafka_obs_webhook_queue_depth" not in response.text
