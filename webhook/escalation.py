"""Escalation back through Alertmanager, so humans hear about a failed remediation through their normal routing.

A ``RemediationFailed`` alert carries the incident's labels (so existing routes and inhibitions apply), with
``alertname`` replaced and the original kept in ``original_alertname``, plus ``playbook`` and ``outcome``. It is
posted to Alertmanager's ``/api/v2/alerts`` (retried with backoff: an escalation matters more than a
notification) and, optionally, to a plain webhook URL as JSON.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from kafka_obs.webhook.models import utc_iso

log = logging.getLogger(__name__)

ALERTNAME = "RemediationFailed"


@dataclass(frozen=True)
class EscalationResult:
    delivered: list[str]
    errors: list[str]

    @property
    def ok(self) -> bool:
        return bool(self.delivered) and not self.errors


def escalation_alert(
    labels: dict[str, str], *, playbook: str, outcome: str, summary: str, detail: str, now: float, source_url: str
) -> dict[str, Any]:
    alert_labels = {k: v for k, v in labels.items() if k != "alertname"}
    alert_labels.update(
        alertname=ALERTNAME, original_alertname=labels.get("alertname", ""), playbook=playbook, outcome=outcome
    )
    return {
        "labels": alert_labels,
        "annotations": {"summary": summary, "description": detail[:4000]},
        "startsAt": utc_iso(now),
        "generatorURL": source_url,
    }


class Escalator:
    def __init__(
        self,
        alertmanager_url: str | None,
        webhook_url: str | None = None,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        token: str | None = None,
        sleep: Callable[[float], Any] = time.sleep,
        client: httpx.Client | None = None,
    ):
        self.alertmanager_url = alertmanager_url.rstrip("/") if alertmanager_url else None
        self.webhook_url = webhook_url
        self.retries = retries
        self.sleep = sleep
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = client or httpx.Client(timeout=timeout, headers=headers)

    @property
    def configured(self) -> bool:
        return bool(self.alertmanager_url or self.webhook_url)

    def _post(self, url: str, payload: Any) -> str | None:
        error = None
        for attempt in range(self.retries):
            try:
                response = self.client.post(url, json=payload)
                if response.status_code < 300:
                    return None
                error = f"HTTP {response.status_code}: {response.text[:200]}"
                if 400 <= response.status_code < 500:
                    return error  # a permanent refusal; retrying will not help
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < self.retries:
                self.sleep(0.5 * 2**attempt)
        return error

    def escalate(self, alert: dict[str, Any]) -> EscalationResult:
        delivered, errors = [], []
        if self.alertmanager_url:
            error = self._post(f"{self.alertmanager_url}/api/v2/alerts", [alert])
            (errors.append(f"alertmanager: {error}") if error else delivered.append("alertmanager"))
        if self.webhook_url:
            error = self._post(self.webhook_url, {"kind": ALERTNAME, **alert})
            (errors.append(f"webhook: {error}") if error else delivered.append("webhook"))
        if not self.configured:
            errors.append("no escalation target configured (alertmanager.url / alertmanager.webhook_url)")
        for error in errors:
            log.error("escalation failed", extra={"error": error, "labels": alert.get("labels")})
        return EscalationResult(delivered, errors)

    def close(self) -> None:
        self.client.close()
