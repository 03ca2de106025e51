"""Collectors, one module per concern (cluster metadata, offsets, groups and lag, configs, log dirs).

Each module has a *fetch* part that talks to :class:`~kafka_obs.exporter.client.KafkaAdmin` in as few requests as
the protocol allows, and a pure *series* part that turns the fetched facts into families. The cycle
(:mod:`kafka_obs.exporter.cycle`) runs them in the order correctness needs (committed offsets before log-end
offsets). Further collectors, such as broker JMX, implement :class:`Collector` and are handed the cycle's facts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from kafka_obs.config.clusters import Cluster
from kafka_obs.exporter.families import Family
from kafka_obs.exporter.model import ClusterMetadata


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    """What a plug-in collector may use: the cluster's config and, when the Metadata request succeeded, its brokers."""

    cluster: Cluster
    metadata: ClusterMetadata | None
    now: float


class Collector(Protocol):
    """A further source of series for one cluster (e.g. broker JMX), run once per cycle after the admin stages.

    ``collect`` runs in the cluster's worker thread; it should bound its own time (timeouts) and report its health
    as series of its own (e.g. ``kafka_jmx_up``). An exception is counted as
    ``kafka_exporter_errors_total{stage=<name>}`` and the cycle carries on without its series.
    """

    name: str

    def collect(self, facts: ClusterFacts) -> Iterable[Family]: ...

    def close(self) -> None: ...
