"""What a handler knows about the request it answers: which cluster, which broker, which API version."""

from __future__ import annotations

from dataclasses import dataclass

from kafka_obs.sandbox.model.cluster import ClusterModel


@dataclass(frozen=True)
class RequestContext:
    cluster: ClusterModel
    broker_id: int
    api_version: int
    client_id: str | None
    cache: dict[object, object]
    """Per-cluster cache of encoded or built answers, keyed with ``cluster.version`` by the handlers using it."""
