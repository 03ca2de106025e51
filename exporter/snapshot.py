"""The immutable result of one cluster's collection cycle, and its rendering.

A snapshot is never modified after it is built: the worker builds a new one per cycle and swaps it into the
:class:`~kafka_obs.exporter.store.SnapshotStore`; the HTTP server only ever reads the bytes rendered from it.
Series are held in three parts because they age differently:

* ``kafka`` — series read from Kafka by the admin stages. After a failed cycle they are still served (with
  ``kafka_cluster_up 0``) until the last success is older than two intervals, then dropped, never served stale.
* ``plugins`` — series of plug-in collectors (JMX), fresh from this cycle; they report their own health.
* ``always`` — ``kafka_cluster_up``, ``kafka_cluster_info`` and the exporter's own series.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kafka_obs.exporter.exposition import RenderedFamilies, render_samples
from kafka_obs.exporter.families import Family


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    cluster: str
    sequence: int
    """Increases by one per cycle; the store's body cache is keyed on it."""
    up: bool
    completed_at: float
    last_success: float | None
    stale_after: float | None
    """Clock time after which the ``kafka`` part is no longer served; ``None`` before the first success."""
    kafka: tuple[Family, ...]
    plugins: tuple[Family, ...]
    always: tuple[Family, ...]
    error: str | None = None
    duration: float = 0.0

    def families(self, now: float) -> tuple[Family, ...]:
        """What a scrape at ``now`` sees, as families (tests and the landing page use this; scrapes use bytes)."""
        return self.always + (self.kafka if self.is_fresh(now) else ()) + self.plugins

    def is_fresh(self, now: float) -> bool:
        return self.stale_after is not None and now <= self.stale_after


@dataclass(frozen=True, slots=True)
class RenderedSnapshot:
    snapshot: ClusterSnapshot
    kafka: RenderedFamilies
    plugins: RenderedFamilies
    always: RenderedFamilies


def render_snapshot(
    snapshot: ClusterSnapshot, static_labels: Mapping[str, str], previous: RenderedSnapshot | None = None
) -> RenderedSnapshot:
    """Render once per cycle. A failed cycle reuses the previous rendering of the (unchanged) Kafka series, and
    any family equal to the previous cycle's keeps its rendering (:func:`.exposition.render_samples`)."""
    if previous is not None and previous.snapshot.kafka is snapshot.kafka:
        kafka = previous.kafka
    else:
        kafka = render_samples(static_labels, snapshot.kafka, previous.kafka if previous else None)
    return RenderedSnapshot(
        snapshot,
        kafka,
        render_samples(static_labels, snapshot.plugins, previous.plugins if previous else None),
        render_samples(static_labels, snapshot.always, previous.always if previous else None),
    )
