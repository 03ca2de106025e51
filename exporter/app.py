"""Wires a fleet into a running exporter: one collector and worker per cluster, one store, one HTTP server.

Everything is injected (clock, client factory, plug-in collectors, the garbage collector's policy), so tests build
the same object with a ManualClock and fakes, and drive cycles with :meth:`Exporter.collect_once` instead of
background threads (which leaves the process's garbage collector as it was).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Sequence

from kafka_obs.clock import Clock
from kafka_obs.config.clusters import Cluster, FleetConfig
from kafka_obs.config.secrets import Redactor
from kafka_obs.exporter.canary import Canary, CanaryClient, CanaryRunner
from kafka_obs.exporter.client import KafkaAdmin
from kafka_obs.exporter.collectors import Collector
from kafka_obs.exporter.cycle import ClusterCollector
from kafka_obs.exporter.gc_policy import GarbageCollector, GcPolicy
from kafka_obs.exporter.server import ExporterHTTPServer
from kafka_obs.exporter.store import SnapshotStore
from kafka_obs.exporter.worker import ClusterWorker

log = logging.getLogger(__name__)

PluginFactory = Callable[[Cluster], Sequence[Collector]]


class Exporter:
    def __init__(
        self,
        fleet: FleetConfig,
        *,
        clock: Clock,
        client_factory: Callable[[Cluster], KafkaAdmin],
        plugin_factories: Sequence[PluginFactory] = (),
        redact: Callable[[str], str] | None = None,
        canary_client_factory: Callable[[Cluster], CanaryClient] | None = None,
        gc_policy: GcPolicy | None = None,
        garbage_collector: GarbageCollector = gc,
    ):
        self.fleet = fleet
        self.gc_policy = gc_policy if gc_policy is not None else GcPolicy()
        """Applied to ``garbage_collector`` when the workers start (:meth:`tune_gc`)."""
        self._garbage_collector = garbage_collector
        self.clock = clock
        self.redact = redact if redact is not None else Redactor.for_configs(fleet)
        """Hides the fleet's secrets in what is served (client errors on the landing page)."""
        self.store = SnapshotStore([c.name for c in fleet.clusters], clock)
        self.workers: dict[str, ClusterWorker] = {}
        for cluster in fleet.clusters:
            plugins = [p for factory in plugin_factories for p in factory(cluster)]
            collector = ClusterCollector(
                cluster,
                interval=fleet.interval_for(cluster),
                client_factory=client_factory,
                clock=clock,
                plugins=plugins,
            )
            self.workers[cluster.name] = ClusterWorker(collector, self.store, clock)
        self.canaries: dict[str, CanaryRunner] = {}
        """End-to-end canaries of the clusters that enable one, each on its own thread (started with the workers)."""
        if canary_client_factory is not None:
            for cluster in fleet.clusters:
                if cluster.canary.enabled:
                    canary = Canary(cluster, canary_client_factory(cluster), clock)
                    self.canaries[cluster.name] = CanaryRunner(canary, self.store, clock)
        self.server: ExporterHTTPServer | None = None

    def collect_once(self) -> None:
        """One cycle of every cluster, in this thread (tests, ``--once`` style tools)."""
        for worker in self.workers.values():
            worker.run_once()

    def serve(self, host: str, port: int) -> ExporterHTTPServer:
        self.server = ExporterHTTPServer((host, port), self.store, self.clock, self.redact)
        self.server.start()
        log.info("listening", extra={"address": f"{host}:{self.server.port}"})
        return self.server

    def tune_gc(self) -> None:
        """Apply the garbage collector's policy (:mod:`.gc_policy`): once start-up is done, before the first cycle.
        Benchmarks that drive cycles themselves call it too, to measure what the service runs."""
        self.gc_policy.apply(self._garbage_collector)
        log.info(
            "garbage collector tuned",
            extra={"young_threshold": self.gc_policy.young_threshold, "frozen": self.gc_policy.freeze_at_start},
        )

    def start_workers(self) -> None:
        self.tune_gc()
        for worker in self.workers.values():
            worker.start()
        for canary in self.canaries.values():
            canary.start()

    def stop(self, timeout: float = 10.0) -> list[str]:
        """Stop serving, then every worker, within ``timeout`` seconds in all; returns the clusters still busy.

        Every worker is signalled first and all are joined against one shared deadline, so shutdown waits for the
        slowest cycle in progress (bounded by ``timeout``), not for the sum of them. A worker still inside a cycle
        at the deadline (a cluster whose requests wait out their timeouts) is left to finish it: its thread is a
        daemon, closes its own clients when the cycle ends, and never delays the process's exit.
        """
        if self.server is not None:
            self.server.stop()
        for worker in self.workers.values():
            worker.request_stop()
        for canary in self.canaries.values():
            canary.request_stop()
        deadline = time.monotonic() + timeout
        busy = [name for name, worker in self.workers.items() if not worker.join(deadline)]
        busy += [f"{name} (canary)" for name, c in self.canaries.items() if not c.join(deadline)]
        if busy:
            log.warning("workers still in a cycle at shutdown, not waited for", extra={"clusters": ",".join(busy)})
        return busy
