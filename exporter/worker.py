"""One background worker per cluster: runs its collection cycle on the cluster's interval, publishes snapshots.

Each cluster has its own thread, so a slow or unreachable cluster (whose requests wait for their timeouts) never
delays another. The Kafka client libraries are synchronous (confluent-kafka futures, kafka-python), so threads
are the honest model; the cycle itself issues its many requests concurrently through the client.

A worker is supervised by its own thread: a crash anywhere in the loop (not only inside a cycle, which is already
contained) publishes a failed snapshot at once, so the cluster shows ``kafka_cluster_up 0`` and never a frozen
``up 1``, counts ``kafka_exporter_errors_total{stage="worker"}``, logs the traceback, and restarts the loop after a
backoff that doubles from 1 s up to the cluster's interval (capped at a minute) and resets after a good cycle.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from kafka_obs.clock import Clock
from kafka_obs.exporter.cycle import ClusterCollector
from kafka_obs.exporter.snapshot import RenderedSnapshot, render_snapshot
from kafka_obs.exporter.store import SnapshotStore

log = logging.getLogger(__name__)

RESTART_BACKOFF_MIN = 1.0
RESTART_BACKOFF_MAX = 60.0


def restart_backoff(crashes: int, interval: float) -> float:
    """Seconds before restarting after the ``crashes``-th crash in a row: 1, 2, 4, … up to min(interval, 60)."""
    ceiling = max(RESTART_BACKOFF_MIN, min(interval, RESTART_BACKOFF_MAX))
    return min(ceiling, RESTART_BACKOFF_MIN * 2 ** min(crashes - 1, 16))


class ClusterWorker:
    def __init__(self, collector: ClusterCollector, store: SnapshotStore, clock: Clock):
        self.collector = collector
        self._store = store
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._labels: Mapping[str, str] = collector.cluster.static_labels()
        self._rendered: RenderedSnapshot | None = None
        self._crashes = 0
        """Crashes of the loop since the last complete iteration."""

    @property
    def name(self) -> str:
        return self.collector.cluster.name

    def run_once(self) -> RenderedSnapshot:
        """One cycle, rendered and published. Tests with a ManualClock call this directly."""
        snapshot = self.collector.run_cycle()
        self._rendered = render_snapshot(snapshot, self._labels, self._rendered)
        self._store.publish(self._rendered)
        log.info(
            "cycle done",
            extra={
                "cluster": self.name,
                "up": int(snapshot.up),
                "seconds": round(snapshot.duration, 3),
            },
        )
        return self._rendered

    def _cycles(self) -> None:
        interval = self.collector.interval
        while not self._stop.is_set():
            started = self._clock.monotonic()
            try:
                self.run_once()
            except Exception as exc:  # a bug in one cycle must not end the worker: log it, try again next interval
                log.exception("cycle crashed", extra={"cluster": self.name})
                self._publish_failure(f"cycle crashed: {type(exc).__name__}: {exc}")
            elapsed = self._clock.monotonic() - started
            if elapsed > interval:
                log.warning("cycle longer than the interval", extra={"cluster": self.name, "seconds": elapsed})
            self._crashes = 0
            self._stop.wait(max(0.0, interval - elapsed))

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._cycles()
                except Exception as exc:
                    self._crashes += 1
                    delay = restart_backoff(self._crashes, self.collector.interval)
                    log.exception(
                        "worker crashed, restarting",
                        extra={"cluster": self.name, "crashes": self._crashes, "restart_in": delay},
                    )
                    self._publish_failure(f"worker crashed: {type(exc).__name__}: {exc}")
                    self._stop.wait(delay)
        finally:
            if not self._stop.is_set():  # ended by something no handler may catch (e.g. SystemExit): say so
                self._publish_failure("worker stopped unexpectedly")
            # the thread that uses the clients closes them: never under a cycle still running, even when the
            # exporter stopped waiting for this worker
            self.collector.close()

    def _publish_failure(self, error: str) -> None:
        try:
            self._rendered = render_snapshot(self.collector.failed(error), self._labels, self._rendered)
            self._store.publish(self._rendered)
        except Exception:
            log.exception("cannot publish the worker's failure", extra={"cluster": self.name})

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"collect-{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to end after the cycle in progress (at once if it is waiting for the next one)."""
        self._stop.set()

    def join(self, deadline: float) -> bool:
        """Wait until ``deadline`` (``time.monotonic()``) for the loop to end; True when it has (or never ran).

        A worker that never started (tests driving :meth:`run_once`) has its clients closed here instead. Real
        time, not the injected clock: a ManualClock would never reach the deadline.
        """
        if self._thread is None:
            self.collector.close()
            return True
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> bool:
        self.request_stop()
        return self.join(time.monotonic() + timeout)
