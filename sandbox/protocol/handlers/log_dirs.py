"""DescribeLogDirs: the broker's one log dir, each hosted replica's size, and the dir's total and usable bytes."""

from __future__ import annotations

from kafka.protocol.admin.cluster import DescribeLogDirsRequest, DescribeLogDirsResponse

from kafka_obs.sandbox.model.cluster import LOG_DIR
from kafka_obs.sandbox.protocol import errors
from kafka_obs.sandbox.protocol.context import RequestContext

_Result = DescribeLogDirsResponse.DescribeLogDirsResult
_Topic = DescribeLogDirsResponse.DescribeLogDirsResult.DescribeLogDirsTopic
_Partition = DescribeLogDirsResponse.DescribeLogDirsResult.DescribeLogDirsTopic.DescribeLogDirsPartition


def handle_describe_log_dirs(ctx: RequestContext, request: DescribeLogDirsRequest) -> DescribeLogDirsResponse:
    cluster = ctx.cluster
    broker_id = ctx.broker_id
    with cluster.lock:
        now = cluster.sync()
        wanted: dict[str, set[int]] | None = None
        if request.topics is not None:
            wanted = {t.topic: set(t.partitions) for t in request.topics}
        topics = []
        for topic in cluster.topics.values():
            if wanted is not None and topic.name not in wanted:
                continue
            partitions = [
                _Partition(
                    partition_index=p.index,
                    partition_size=cluster.size_bytes(p, now),
                    offset_lag=0,
                    is_future_key=False,
                )
                for p in topic.partitions
                if broker_id in p.replicas and (wanted is None or p.index in wanted[topic.name])
            ]
            if partitions:
                topics.append(_Topic(name=topic.name, partitions=partitions))
        total, _, usable = cluster.disk(broker_id, now)
    result = _Result(
        error_code=errors.NONE,
        log_dir=LOG_DIR,
        topics=topics,
        total_bytes=total,
        usable_bytes=usable,
        is_cordoned=False,
    )
    return DescribeLogDirsResponse[ctx.api_version](throttle_time_ms=0, error_code=errors.NONE, results=[result])
