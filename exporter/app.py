"""Wires a fleet into a running exporter: one collector and worker per cluster, one store, one HTTP server.

Everything is injected (clock, client factory, plug-in collectors), so tests build the same object with a
ManualClock and fakes, and drive cycles with :meth:`Exporter.collect_once` instead of background threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from kafka_obs.clock import Clock
from kafka_obs.config.clusters import Cluster, FleetConfig
from kafka_obs.exporter.client import KafkaAdmin
from kafka_obs.exporter.collectors import Collector
from kafka_obs.exporter.cycle import ClusterCollector
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
    ):
        self.fleet = fleet
        self.clock = clock
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
        self.server: ExporterHTTPServer | None = None

    def collect_once(self) -> None:
        """One cycle of every cluster, in this thread (tests, ``--once`` style tools)."""
        for worker in self.workers.values():
            worker.run_once()

    def serve(self, host: str, port: int) -> ExporterHTTPServer:
        self.server = ExporterHTTPServer((host, port), self.store, self.clock)
        self.server.start()
        log.info("listening", extra={"address": f"{host}:{self.server.port}"})
        return self.server

    def start_workers(self) -> None:
        for worker in self.workers.values():
            worker.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        for worker in self.workers.values():
            worker.stop()
