"""ListOffsets: earliest (-2), latest (-1), max timestamp (-3) and by timestamp, answered by partition leaders."""

from __future__ import annotations

from typing import Any

from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse

from kafka_obs.sandbox.model.cluster import TopicState
from kafka_obs.sandbox.protocol import errors
from kafka_obs.sandbox.protocol.context import RequestContext

LATEST = -1
EARLIEST = -2
MAX_TIMESTAMP = -3

_TopicResponse = ListOffsetsResponse.ListOffsetsTopicResponse
_PartitionResponse = ListOffsetsResponse.ListOffsetsTopicResponse.ListOffsetsPartitionResponse


def handle_list_offsets(ctx: RequestContext, request: ListOffsetsRequest) -> ListOffsetsResponse:
    cluster = ctx.cluster
    topics = []
    with cluster.lock:
        now = cluster.sync()
        for requested in request.topics:
            topic = cluster.topics.get(requested.name)
            partitions = []
            indexes = [rp.partition_index for rp in requested.partitions]
            answered: set[int] = set()
            for rp in requested.partitions:
                index = rp.partition_index
                if index in answered:
                    continue
                answered.add(index)
                if topic is not None and indexes.count(index) > 1:
                    # Kafka answers a partition asked for twice in one request once, with INVALID_REQUEST
                    partitions.append(_PartitionResponse(partition_index=index, error_code=errors.INVALID_REQUEST))
                else:
                    partitions.append(_answer(ctx, topic, index, rp.timestamp, now))
            topics.append(_TopicResponse(name=requested.name, partitions=partitions))
    return ListOffsetsResponse[ctx.api_version](throttle_time_ms=0, topics=topics)


def _answer(ctx: RequestContext, topic: TopicState | None, index: int, ts: int, now: float) -> Any:
    """One partition's answer, by its leader; the caller holds the cluster's lock."""
    cluster = ctx.cluster
    if topic is None or not 0 <= index < len(topic.partitions):
        return _PartitionResponse(partition_index=index, error_code=errors.UNKNOWN_TOPIC_OR_PARTITION)
    p = topic.partitions[index]
    if p.leader != ctx.broker_id:
        error = errors.LEADER_NOT_AVAILABLE if p.leader < 0 else errors.NOT_LEADER_OR_FOLLOWER
        return _PartitionResponse(partition_index=index, error_code=error)
    if ts == LATEST:
        offset, timestamp = cluster.log_end(p, now), -1
    elif ts == EARLIEST:
        offset, timestamp = cluster.log_start(p, now), -1
    elif ts == MAX_TIMESTAMP:
        end = cluster.log_end(p, now)
        if end > cluster.log_start(p, now):
            offset, timestamp = end - 1, int(cluster.time_of_offset(p, end - 1) * 1000)
        else:
            offset, timestamp = -1, -1
    elif ts >= 0:
        offset, timestamp = cluster.offset_for_timestamp(p, ts, now)
    else:
        return _PartitionResponse(partition_index=index, error_code=errors.UNSUPPORTED_VERSION)
    return _PartitionResponse(
        partition_index=index,
        error_code=errors.NONE,
        old_style_offsets=[offset],
        timestamp=timestamp,
        offset=offset,
        leader_epoch=p.leader_epoch,
    )
