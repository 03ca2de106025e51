"""Verification: a PromQL expression polled against Prometheus's HTTP API until it holds or a deadline passes.

"Holds" follows Prometheus's own alerting convention inverted: a comparison such as ``lag < 1000`` filters the
vector, so the expression holds when the result is non-empty (a scalar holds when it is non-zero). A query error
or an unreachable Prometheus never counts as success: the poll goes on until the deadline, then fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from kafka_obs.clock import Clock


@dataclass(frozen=True)
class QueryOutcome:
    holds: bool
    detail: str
    series: tuple[dict[str, str], ...] = ()
    """The vector's series (labels plus ``value``), for the audit log's evidence; empty for scalars and errors."""


@dataclass(frozen=True)
class VerificationResult:
    passed: bool
    polls: int
    seconds: float
    last: str
    cancelled: bool = False


class Querier(Protocol):
    def query(self, expr: str) -> QueryOutcome: ...


class PrometheusQuerier:
    def __init__(
        self, base_url: str, *, timeout: float = 5.0, token: str | None = None, client: httpx.Client | None = None
    ):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = client or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, headers=headers)

    def query(self, expr: str) -> QueryOutcome:
        try:
            response = self.client.get("/api/v1/query", params={"query": expr})
            body: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return QueryOutcome(False, f"prometheus unreachable: {type(exc).__name__}: {exc}")
        if body.get("status") != "success":
            return QueryOutcome(False, f"query error: {body.get('errorType')}: {body.get('error')}")
        data = body.get("data") or {}
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar" and isinstance(result, list):
            value = float(result[1])
            return QueryOutcome(value != 0, f"scalar {value}")
        if kind == "vector":
            samples = {str(item.get("metric", {})): item.get("value", [0, "?"])[1] for item in result or []}
            series = tuple(
                {**item.get("metric", {}), "value": str(item.get("value", [0, "?"])[1])} for item in result or []
            )
            return QueryOutcome(
                bool(result), f"{len(result or [])} series {dict(list(samples.items())[:5])}", series[:20]
            )
        return QueryOutcome(False, f"unexpected result type {kind}")

    def close(self) -> None:
        self.client.close()


class QueryRouter:
    """Picks the Prometheus an alert's verification asks, by one alert label (``prometheus.route_by``).

    In a federated layout the raw series a verification reads live only in the regional Prometheus that raised the
    alert, and that Prometheus's external labels ride on the alert; without the label (or with an unknown value)
    the default Prometheus answers.
    """

    def __init__(self, default: Querier, label: str | None = None, routes: Mapping[str, Querier] | None = None):
        self.default = default
        self.label = label
        self.routes = dict(routes or {})

    def pick(self, labels: Mapping[str, str] | None) -> tuple[str, Querier]:
        """(a name for the audit log, the querier) for an alert with these labels."""
        value = (labels or {}).get(self.label) if self.label else None
        if value is not None and value in self.routes:
            return f"{self.label}={value}", self.routes[value]
        return "default", self.default

    def close(self) -> None:
        for querier in {id(q): q for q in (self.default, *self.routes.values())}.values():
            close = getattr(querier, "close", None)
            if close is not None:
                close()


class Verifier:
    def __init__(self, querier: Querier | QueryRouter, clock: Clock, sleep: Callable[[float], bool]):
        """``sleep(seconds)`` returns True when the process is stopping (so a shutdown is not held up)."""
        self.router = querier if isinstance(querier, QueryRouter) else QueryRouter(querier)
        self.clock = clock
        self.sleep = sleep

    def check(self, expr: str, labels: Mapping[str, str] | None = None) -> QueryOutcome:
        """One query, no polling: a playbook's pre-condition (``require``) is a fact at the moment of acting."""
        return self.router.pick(labels)[1].query(expr)

    def source(self, labels: Mapping[str, str] | None) -> str:
        """Which Prometheus :meth:`verify` asks for an alert with these labels (recorded in the audit log)."""
        return self.router.pick(labels)[0]

    def verify(
        self,
        expr: str,
        *,
        deadline: float,
        interval: float,
        initial_delay: float = 0.0,
        still_wanted: Callable[[], bool] = lambda: True,
        labels: Mapping[str, str] | None = None,
    ) -> VerificationResult:
        """Poll ``expr`` every ``interval`` until it holds, ``deadline`` (wall-clock) passes, or it is unwanted.

        ``labels`` are the alert's: they pick the Prometheus to ask (:class:`QueryRouter`)."""
        querier = self.router.pick(labels)[1]
        started = self.clock.monotonic()
        polls = 0
        last = "not queried"
        if initial_delay > 0 and self.sleep(min(initial_delay, max(0.0, deadline - self.clock.now()))):
            return VerificationResult(False, polls, self.clock.monotonic() - started, "stopping", cancelled=True)
        while True:
            if not still_wanted():
                return VerificationResult(False, polls, self.clock.monotonic() - started, last, cancelled=True)
            outcome = querier.query(expr)
            polls += 1
            last = outcome.detail
            if outcome.holds:
                return VerificationResult(True, polls, self.clock.monotonic() - started, last)
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                return VerificationResult(False, polls, self.clock.monotonic() - started, last)
            if self.sleep(min(interval, remaining)):
                return VerificationResult(False, polls, self.clock.monotonic() - started, "stopping", cancelled=True)
