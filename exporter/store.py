"""Where workers publish rendered snapshots and the HTTP server reads scrape bodies.

Publishing swaps one reference under a lock. A scrape body is assembled only when some cluster's snapshot (or its
freshness) changed, then cached per format and encoding, so the cost of ``/metrics`` does not depend on Kafka at
all and, between cycles, is a dictionary lookup and a socket write.

The bodies scraped since the previous publication are assembled again by the publishing thread (the cluster's
worker, the canary), right after it publishes: the first scrape after a cycle finds its body ready instead of
building it. Assembling is cheap anyway (the chunks were compressed by the worker that rendered them, see
:mod:`.deflate`; a gzipped body is a join of compressed bytes), but a plain body must decompress every chunk.
A format or encoding nobody asked for since the previous publication is not built ahead: it costs nothing until a
scrape asks for it.

Besides each cluster's snapshot, side sources that run on their own clock (the end-to-end canary,
:mod:`kafka_obs.exporter.canary`) publish *parts*: rendered families served after the cluster's snapshot, whatever
its freshness (they report their own health), and replaced as a whole at each publication.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from kafka_obs.clock import Clock
from kafka_obs.exporter.exposition import RenderedFamilies, assemble
from kafka_obs.exporter.snapshot import ClusterSnapshot, RenderedSnapshot

BodyKey = tuple[tuple[tuple[str, int, bool], ...], int]
Variant = tuple[bool, bool]
"""(OpenMetrics, gzipped)."""


class SnapshotStore:
    def __init__(self, clusters: Sequence[str], clock: Clock):
        self.clusters = list(clusters)
        self._clock = clock
        self._rendered: dict[str, RenderedSnapshot] = {}
        self._lock = threading.Lock()
        self._body_lock = threading.Lock()
        self._body_key: BodyKey | None = None
        self._bodies: dict[Variant, bytes] = {}
        self._asked: set[Variant] = set()
        """Variants scraped since the last publication: the ones the next publication builds ahead."""
        self._parts: dict[str, dict[str, RenderedFamilies]] = {}
        self._parts_version = 0
        self.assemblies = 0
        """Bodies assembled so far, ahead or at a scrape (the tests' witness that a scrape did no work)."""

    def publish(self, rendered: RenderedSnapshot) -> None:
        with self._lock:
            self._rendered[rendered.snapshot.cluster] = rendered
        self._build_ahead()

    def publish_part(self, cluster: str, source: str, families: RenderedFamilies) -> None:
        """Replace what ``source`` serves for ``cluster`` (e.g. the canary's series, on the canary's own clock)."""
        with self._lock:
            self._parts.setdefault(cluster, {})[source] = families
            self._parts_version += 1
        self._build_ahead()

    def latest(self, cluster: str) -> RenderedSnapshot | None:
        with self._lock:
            return self._rendered.get(cluster)

    def snapshots(self) -> dict[str, ClusterSnapshot]:
        with self._lock:
            return {name: r.snapshot for name, r in self._rendered.items()}

    def ready(self) -> bool:
        """Every cluster has completed (or failed) at least one cycle."""
        with self._lock:
            return all(name in self._rendered for name in self.clusters)

    def body(self, *, openmetrics: bool, gzipped: bool = False) -> bytes:
        with self._body_lock:
            self._asked.add((openmetrics, gzipped))
            return self._body((openmetrics, gzipped))

    def _build_ahead(self) -> None:
        """In the publishing thread: the bodies scraped since the previous publication, for the next scrapes."""
        with self._body_lock:
            asked, self._asked = self._asked, set()
            for variant in sorted(asked):
                self._body(variant)

    def _body(self, variant: Variant) -> bytes:
        """The body of ``variant`` for what is published now, from the cache or assembled (``_body_lock`` held)."""
        now = self._clock.now()
        with self._lock:
            current = [self._rendered[name] for name in self.clusters if name in self._rendered]
            parts = {name: list(sources.values()) for name, sources in self._parts.items()}
            version = self._parts_version
        key: BodyKey = (
            tuple((r.snapshot.cluster, r.snapshot.sequence, r.snapshot.is_fresh(now)) for r in current),
            version,
        )
        if key != self._body_key:
            self._body_key = key
            self._bodies = {}
        cached = self._bodies.get(variant)
        if cached is None:
            chunks: list[RenderedFamilies] = []
            for r, (_, _, fresh) in zip(current, key[0], strict=True):
                chunks.extend([r.always, r.kafka, r.plugins] if fresh else [r.always, r.plugins])
            for name in self.clusters:
                chunks.extend(parts.get(name, ()))
            openmetrics, gzipped = variant
            cached = self._bodies[variant] = assemble(chunks, openmetrics=openmetrics, gzipped=gzipped)
            self.assemblies += 1
        return cached
