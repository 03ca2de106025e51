"""Stopping the exporter: all workers are signalled first and joined against one shared deadline."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from kafka_obs.clock import ManualClock
from kafka_obs.config.clusters import Cluster
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.model import ClusterMetadata
from tests.exporter.conftest import cluster_config, fleet
from tests.exporter.fakes import FakeKafka

HANG = 10.0
"""How long a hung cluster's Metadata call blocks unless released: far beyond any stop timeout used here."""


@dataclass
class HungKafka(FakeKafka):
    """A cluster whose Metadata request hangs, like a broker that accepts connections and never answers."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def metadata(self) -> ClusterMetadata:
        self.entered.set()
        self.release.wait(HANG)
        return super().metadata()


def build(clock: ManualClock) -> tuple[Exporter, dict[str, FakeKafka]]:
    names = ["fast-1", "fast-2", "hung-1", "hung-2", "hung-3"]
    clients: dict[str, FakeKafka] = {n: HungKafka() if n.startswith("hung") else FakeKafka() for n in names}
    for client in clients.values():
        client.add_topic("orders", 3)

    def factory(cluster: Cluster) -> FakeKafka:
        return clients[cluster.name]

    return Exporter(fleet(*(cluster_config(n) for n in names)), clock=clock, client_factory=factory), clients


def test_stop_waits_for_the_slowest_worker_once_not_for_each(clock: ManualClock) -> None:
    exporter, clients = build(clock)
    hung = {n: c for n, c in clients.items() if isinstance(c, HungKafka)}
    exporter.start_workers()
    try:
        for client in hung.values():
            assert client.entered.wait(5)
        deadline = time.monotonic() + 5
        while not all(exporter.store.latest(n) for n in ("fast-1", "fast-2")) and time.monotonic() < deadline:
            time.sleep(0.01)

        started = time.monotonic()
        busy = exporter.stop(timeout=1.0)
        took = time.monotonic() - started
        # three hung workers joined one after another would take >= 3 s; one shared deadline takes ~1 s
        assert took < 2.0, took
        assert sorted(busy) == sorted(hung)
        # the idle workers ended and closed their clients; the hung ones still hold theirs, mid-cycle
        assert clients["fast-1"].closed
        assert clients["fast-2"].closed
        assert not any(c.closed for c in hung.values())
    finally:
        for client in hung.values():
            client.release.set()
    # a hung worker closes its own client once its cycle ends, and does not start another
    for name, client in hung.items():
        exporter.workers[name].join(time.monotonic() + 5)
        assert client.closed
        assert client.calls.count("metadata") == 1


def test_stop_without_started_workers_closes_every_client(clock: ManualClock) -> None:
    exporter, clients = build(clock)
    for client in clients.values():
        if isinstance(client, HungKafka):
            client.release.set()
    exporter.collect_once()
    assert exporter.stop(timeout=1.0) == []
    assert all(c.closed for c in clients.values())
