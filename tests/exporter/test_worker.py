"""A worker that crashes never leaves a frozen ``kafka_cluster_up 1``: it publishes ``up 0``, counts, and restarts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from kafka_obs.clock import ManualClock
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.snapshot import RenderedSnapshot
from kafka_obs.exporter.worker import restart_backoff
from tests.exporter.conftest import cluster_config, fleet
from tests.exporter.fakes import FakeKafka
from tests.exporter.scrape import parse, value


class ArmedClock(ManualClock):
    """A ManualClock whose next ``monotonic()`` raises once when armed: a failure outside any cycle's own handler
    (what ``interval: 1.0e+300`` did to the worker's timer, OverflowError, before intervals were bounded)."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = threading.Event()

    def monotonic(self) -> float:
        if self.armed.is_set():
            self.armed.clear()
            raise OverflowError("timeout value is too large")
        return super().monotonic()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def up(exporter: Exporter) -> float | None:
    return value(parse(exporter.store.body(openmetrics=False)), "kafka_cluster_up", cluster="alpha")


def worker_errors(exporter: Exporter) -> float | None:
    return value(parse(exporter.store.body(openmetrics=False)), "kafka_exporter_errors_total", stage="worker")


def test_worker_crash_turns_up_to_0_counts_it_and_restarts(kafka: FakeKafka) -> None:
    clock = ArmedClock()
    exporter = Exporter(fleet(cluster_config("alpha", interval=1)), clock=clock, client_factory=lambda c: kafka)
    worker = exporter.workers["alpha"]
    exporter.start_workers()
    try:
        wait_for(lambda: exporter.store.latest("alpha") is not None)
        assert up(exporter) == 1
        assert worker_errors(exporter) == 0
        first = exporter.store.latest("alpha")
        assert first is not None

        clock.armed.set()  # the worker's next look at its clock, between two cycles, raises
        wait_for(lambda: worker_errors(exporter) == 1)
        crashed = exporter.store.latest("alpha")
        assert crashed is not None
        assert crashed.snapshot.up is False
        assert crashed.snapshot.error == "worker crashed: OverflowError: timeout value is too large"
        assert up(exporter) == 0

        # restarted after the first backoff (1 s): collecting again, on the same thread
        wait_for(lambda: up(exporter) == 1)
        assert worker._thread is not None
        assert worker._thread.is_alive()
        assert worker_errors(exporter) == 1
    finally:
        assert exporter.stop(timeout=5) == []


def test_a_cycle_that_cannot_be_published_shows_up_0_not_the_last_good_cycle(
    clock: ManualClock, kafka: FakeKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = Exporter(fleet(cluster_config("alpha", interval=1)), clock=clock, client_factory=lambda c: kafka)
    worker = exporter.workers["alpha"]
    worker.run_once()
    assert up(exporter) == 1
    publish = exporter.store.publish
    calls = []

    def fail_once(rendered: RenderedSnapshot) -> None:
        calls.append(rendered)
        if len(calls) == 1:
            raise MemoryError("rendering the body")
        publish(rendered)

    monkeypatch.setattr(exporter.store, "publish", fail_once)
    exporter.start_workers()
    try:
        wait_for(lambda: len(calls) >= 2)
        latest = exporter.store.latest("alpha")
        assert latest is not None
        assert latest.snapshot.error == "cycle crashed: MemoryError: rendering the body"
        assert up(exporter) == 0
    finally:
        exporter.stop(timeout=5)


def test_restart_backoff_doubles_up_to_the_interval_capped_at_a_minute() -> None:
    assert [restart_backoff(n, 30) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert restart_backoff(10, 300) == 60
    assert restart_backoff(1000, 300) == 60
    assert restart_backoff(3, 1) == 1
