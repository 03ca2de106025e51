"""What a handler knows about the request it answers: which cluster, which broker, which API version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast

from kafka_obs.sandbox.model.cluster import ClusterModel

T = TypeVar("T")


@dataclass(frozen=True)
class RequestContext:
    cluster: ClusterModel
    broker_id: int
    api_version: int
    client_id: str | None
    cache: dict[object, object]
    """Per-cluster cache of encoded or built answers, shared by the cluster's brokers; see :meth:`cached`."""

    def cached(self, kind: object, build: Callable[[], T]) -> T:
        """The cache entry ``kind`` as of the cluster's current :attr:`~ClusterModel.version`, built when missing or
        older; each kind holds one version only. Every event (broker, ISR, config, deployment, group, topic change)
        bumps the version, so an entry built only from what events change is never stale; nothing that moves with
        the clock or with produced records may be cached here. Call under the cluster's lock."""
        version = self.cluster.version
        entry = self.cache.get(kind)
        if isinstance(entry, tuple) and entry[0] == version:
            return cast(T, entry[1])
        value = build()
        self.cache[kind] = (version, value)
        return value
