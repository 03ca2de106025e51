"""Verification: a PromQL expression polled against Prometheus's HTTP API until it holds or a deadline passes.

"Holds" follows Prometheus's own alerting convention inverted: a comparison such as ``lag < 1000`` filters the
vector, so the expression holds when the result is non-empty (a scalar holds when it is non-zero). A query error
or an unreachable Prometheus never counts as success: the poll goes on until the deadline, then fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from kafka_obs.clock import Clock


@dataclass(frozen=True)
class QueryOutcome:
    holds: bool
    detail: str


@dataclass(frozen=True)
class VerificationResult:
    passed: bool
    polls: int
    seconds: float
    last: str
    cancelled: bool = False


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
            return QueryOutcome(bool(result), f"{len(result or [])} series {dict(list(samples.items())[:5])}")
        return QueryOutcome(False, f"unexpected result type {kind}")

    def close(self) -> None:
        self.client.close()


class Verifier:
    def __init__(self, querier: PrometheusQuerier, clock: Clock, sleep: Callable[[float], bool]):
        """``sleep(seconds)`` returns True when the process is stopping (so a shutdown is not held up)."""
        self.querier = querier
        self.clock = clock
        self.sleep = sleep

    def verify(
        self,
        expr: str,
        *,
        deadline: float,
        interval: float,
        initial_delay: float = 0.0,
        still_wanted: Callable[[], bool] = lambda: True,
    ) -> VerificationResult:
        """Poll ``expr`` every ``interval`` until it holds, ``deadline`` (wall-clock) passes, or it is unwanted."""
        started = self.clock.monotonic()
        polls = 0
        last = "not queried"
        if initial_delay > 0 and self.sleep(min(initial_delay, max(0.0, deadline - self.clock.now()))):
            return VerificationResult(False, polls, self.clock.monotonic() - started, "stopping", cancelled=True)
        while True:
            if not still_wanted():
                return VerificationResult(False, polls, self.clock.monotonic() - started, last, cancelled=True)
            outcome = self.querier.query(expr)
            polls += 1
            last = outcome.detail
            if outcome.holds:
                return VerificationResult(True, polls, self.clock.monotonic() - started, last)
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                return VerificationResult(False, polls, self.clock.monotonic() - started, last)
            if self.sleep(min(interval, remaining)):
                return VerificationResult(False, polls, self.clock.monotonic() - started, "stopping", cancelled=True)
