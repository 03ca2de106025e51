"""One background worker per cluster: runs its collection cycle on the cluster's interval, publishes snapshots.

Each cluster has its own thread, so a slow or unreachable cluster (whose requests wait for their timeouts) never
delays another. The Kafka client libraries are synchronous (confluent-kafka futures, kafka-python), so threads
are the honest model; the cycle itself issues its many requests concurrently through the client.
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


class ClusterWorker:
    def __init__(self, collector: ClusterCollector, store: SnapshotStore, clock: Clock):
        self.collector = collector
        self._store = store
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._labels: Mapping[str, str] = collector.cluster.static_labels()
        self._rendered: RenderedSnapshot | None = None

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

    def _loop(self) -> None:
        interval = self.collector.interval
        try:
            while not self._stop.is_set():
                started = self._clock.monotonic()
                try:
                    self.run_once()
                except Exception:  # a bug in one cycle must not end the worker: log it and try again next interval
                    log.exception("cycle crashed", extra={"cluster": self.name})
                elapsed = self._clock.monotonic() - started
                if elapsed > interval:
                    log.warning("cycle longer than the interval", extra={"cluster": self.name, "seconds": elapsed})
                self._stop.wait(max(0.0, interval - elapsed))
        finally:
            # the thread that uses the clients closes them: never under a cycle still running, even when the
            # exporter stopped waiting for this worker
            self.collector.close()

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
