"""Broker JMX as a plug-in collector of the exporter's per-cluster cycle.

Per cycle and per broker: ONE read with every pattern of the catalogue, through the exporter's one long-lived JMX
helper (shared by every cluster, one kept connection per broker); the brokers of a cluster are read concurrently,
each bounded by the cluster's ``jmx.timeout``, so a hung broker costs its own timeout and never delays the others.
A broker that cannot be read
gives ``kafka_jmx_up{broker} 0`` and one log line naming the reason (never a credential); the other brokers, and
the cycle's admin series, are unaffected.

The ``broker`` label is the Kafka broker id, as every other series of the exporter uses it. It comes from the
broker's own ``kafka.server:type=app-info,id=N`` MBean when it answers; for a broker that does not answer, from
the cycle's Metadata (matching the configured ``host:port``), else from the id it reported last time, else the
configured address, so that ``kafka_jmx_up 0`` still names the broker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kafka_obs.config.clusters import Cluster
from kafka_obs.exporter.catalogue import MetricDef
from kafka_obs.exporter.collectors import ClusterFacts
from kafka_obs.exporter.families import Family, FamilyBuilder
from kafka_obs.exporter.jmx.catalogue import batch_queries, rules_for
from kafka_obs.exporter.jmx.query import JmxClient, JmxError, Row, service_url
from kafka_obs.exporter.jmx.series import BROKER, SeriesBuilder

log = logging.getLogger(__name__)

JMX_UP = MetricDef(
    "kafka_jmx_up",
    "gauge",
    (BROKER,),
    "1 when the broker's JMX batch of this cycle succeeded, 0 when it could not be read (down, refused, wrong "
    "credentials, timeout).",
    "JMX",
)
JMX_SCRAPE_DURATION = MetricDef(
    "kafka_jmx_scrape_duration_seconds",
    "gauge",
    (BROKER,),
    "Wall time of the broker's JMX read in this cycle (every MBean pattern over the kept connection).",
    "JMX",
)


@dataclass(frozen=True)
class _Endpoint:
    bootstrap: str
    """The broker's ``host:port`` in clusters.yaml: what the Metadata's advertised addresses are matched with."""
    host: str
    port: int


@dataclass(frozen=True)
class BrokerResult:
    """One broker's batch: its rows, or the error that prevented reading them."""

    endpoint: _Endpoint
    rows: tuple[Row, ...] | None
    error: JmxError | None
    seconds: float


class JmxCollector:
    """Implements the exporter's ``Collector`` protocol for one cluster. Holds only per-cluster state."""

    name = "jmx"

    def __init__(
        self,
        cluster: Cluster,
        *,
        client: JmxClient,
        series: SeriesBuilder | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        max_workers: int = 8,
    ):
        self._cluster = cluster
        self._client = client
        rules = rules_for(partition_sizes=cluster.jmx.partition_sizes, topic_meters=cluster.jmx.topic_meters)
        self._series = series or SeriesBuilder(rules)
        self._monotonic = monotonic
        self._queries = batch_queries(rules)
        endpoints = cluster.jmx_endpoints()  # empty when the cluster has no jmx_ports
        self._endpoints = [
            _Endpoint(bootstrap, host, port)
            for bootstrap, (host, port) in zip(cluster.brokers, endpoints, strict=False)
        ]
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, min(max_workers, len(self._endpoints))), thread_name_prefix=f"jmx-{cluster.name}"
        )
        self._known_ids: dict[str, str] = {}
        self._failing: set[str] = set()
        self._lock = threading.Lock()

    @property
    def definitions(self) -> tuple[MetricDef, ...]:
        """Every family this collector can produce (for documentation and tests)."""
        return (JMX_UP, JMX_SCRAPE_DURATION, *self._series.definitions)

    def collect(self, facts: ClusterFacts) -> Iterable[Family]:
        if not self._endpoints:
            return ()
        metadata_ids = _ids_by_address(facts)
        results = list(self._pool.map(self._query, self._endpoints))
        out = FamilyBuilder()
        for result in results:
            bootstrap = result.endpoint.bootstrap
            if result.rows is not None:
                broker = self._series.broker_id(result.rows) or metadata_ids.get(bootstrap)
                broker = broker or self._known(bootstrap) or bootstrap
                self._remember(bootstrap, broker)
                out.extend(self._series.families(broker, result.rows))
            else:
                broker = metadata_ids.get(bootstrap) or self._known(bootstrap) or bootstrap
            out.add(JMX_UP, 1 if result.rows is not None else 0, broker)
            out.add(JMX_SCRAPE_DURATION, round(result.seconds, 6), broker)
            self._report(result, broker)
        return out.build()

    def close(self) -> None:
        """Only this cluster's threads: the JMX client is shared by every cluster and closed by its owner."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _query(self, endpoint: _Endpoint) -> BrokerResult:
        settings = self._cluster.jmx
        started = self._monotonic()
        try:
            rows = self._client.query(
                service_url(endpoint.host, endpoint.port),
                self._queries,
                timeout=settings.timeout,
                username=settings.username.get_secret_value() if settings.username else None,
                password=settings.password.get_secret_value() if settings.password else None,
            )
        except JmxError as exc:
            return BrokerResult(endpoint, None, exc, self._monotonic() - started)
        return BrokerResult(endpoint, tuple(rows), None, self._monotonic() - started)

    def _report(self, result: BrokerResult, broker: str) -> None:
        """Log a broker's failure when it starts (and at debug while it lasts), and its recovery."""
        endpoint = result.endpoint
        context = {"cluster": self._cluster.name, "broker": broker, "jmx": f"{endpoint.host}:{endpoint.port}"}
        with self._lock:
            was_failing = endpoint.bootstrap in self._failing
            if result.error is None:
                self._failing.discard(endpoint.bootstrap)
            else:
                self._failing.add(endpoint.bootstrap)
        if result.error is not None:
            level = logging.DEBUG if was_failing else logging.WARNING
            log.log(
                level,
                "broker JMX unreadable",
                extra={**context, "reason": result.error.reason, "err": str(result.error)},
            )
        elif was_failing:
            log.info("broker JMX readable again", extra=context)

    def _known(self, bootstrap: str) -> str | None:
        with self._lock:
            return self._known_ids.get(bootstrap)

    def _remember(self, bootstrap: str, broker: str) -> None:
        with self._lock:
            self._known_ids[bootstrap] = broker


def _ids_by_address(facts: ClusterFacts) -> Mapping[str, str]:
    """Broker id per advertised ``host:port`` from this cycle's Metadata, when it succeeded."""
    if facts.metadata is None:
        return {}
    return {broker.address: str(broker.id) for broker in facts.metadata.brokers}


def jmx_collectors(client: JmxClient) -> Callable[[Cluster], Sequence[JmxCollector]]:
    """The exporter's plug-in factory: a JMX collector for each cluster that lists ``jmx_ports``, all reading
    through ``client`` (one :class:`~kafka_obs.exporter.jmx.helper.JmxHelper` per process, closed by the caller)."""

    def factory(cluster: Cluster) -> list[JmxCollector]:
        return [JmxCollector(cluster, client=client)] if cluster.jmx_ports else []

    return factory
