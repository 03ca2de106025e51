"""Clocks. Everything time-based takes one, so tests are deterministic and fast.

The sandbox's simulation, the exporter's lag-seconds estimation and the webhook's cooldowns all read time through a
:class:`Clock`; a test can hand one :class:`ManualClock` to the sandbox and the exporter alike and move both with
``advance()``.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock seconds since the epoch (what Kafka timestamps and Prometheus samples use)."""
        ...

    def monotonic(self) -> float:
        """Seconds for measuring durations and scheduling; never goes backwards."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to. Thread-safe: the sandbox serves from its own thread."""

    def __init__(self, start: float = 1_767_225_600.0):  # 2026-01-01T00:00:00Z
        self._lock = threading.Lock()
        self._now = start
        self._start = start

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._now - self._start

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds
