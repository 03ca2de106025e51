"""DescribeLogDirs: the broker's one log dir, each hosted replica's size, and the dir's total and usable bytes.

Encoded here rather than through kafka-python's data objects: the exporter asks each broker for all its replicas
every cycle (75,000 at 10x the ``scale`` fleet).
"""

from __future__ import annotations

import struct

from kafka.protocol.admin.cluster import DescribeLogDirsRequest, DescribeLogDirsResponse

from kafka_obs.sandbox.model.cluster import LOG_DIR
from kafka_obs.sandbox.protocol import errors, wire
from kafka_obs.sandbox.protocol.context import RequestContext


class _Encoder:
    """DescribeLogDirsResponse at one version (1-4), byte-identical to kafka-python's encoding."""

    def __init__(self, version: int):
        self.version = version
        self.compact = DescribeLogDirsResponse.flexible_version_q(version)
        self.tags = wire.NO_TAGS if self.compact else b""
        # partition index, size, offset lag 0, not a future replica[, no tags]
        self.partition = struct.Struct(">iqqb" + ("B" if self.compact else "")).pack

    def body(self, by_topic: dict[str, list[tuple[int, int]]], total: int, usable: int) -> bytes:
        compact, tags, partition = self.compact, self.tags, self.partition
        extra = (0,) if compact else ()
        topics = [
            wire.string(name, compact)
            + wire.array([partition(index, size, 0, 0, *extra) for index, size in rows], compact)
            + tags
            for name, rows in by_topic.items()
        ]
        result = wire.int16(errors.NONE) + wire.string(LOG_DIR, compact) + wire.array(topics, compact)
        if self.version >= 4:
            result += wire.int64(total) + wire.int64(usable)
        head = wire.int32(0) + (wire.int16(errors.NONE) if self.version >= 3 else b"")
        return head + wire.array([result + tags], compact) + tags


_ENCODERS = {v: _Encoder(v) for v in range(1, 5)}


def handle_describe_log_dirs(ctx: RequestContext, request: DescribeLogDirsRequest) -> wire.Encoded:
    cluster = ctx.cluster
    with cluster.lock:
        now = cluster.sync()
        wanted: dict[str, set[int]] | None = None
        if request.topics is not None:
            wanted = {t.topic: set(t.partitions) for t in request.topics}
        sizes = cluster.replica_sizes(ctx.broker_id, now)  # every hosted replica: the disk's usage needs them all
        by_topic: dict[str, list[tuple[int, int]]] = {}
        for p, size in sizes:
            if wanted is None or p.index in wanted.get(p.topic, ()):
                by_topic.setdefault(p.topic, []).append((p.index, size))
        total, _, usable = cluster.disk(ctx.broker_id, now, log_bytes=sum(size for _, size in sizes))
    encoder = _ENCODERS[ctx.api_version]
    return wire.Encoded(encoder.body(by_topic, total, usable), flexible=encoder.compact)
