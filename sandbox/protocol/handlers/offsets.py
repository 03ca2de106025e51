"""ListOffsets: earliest (-2), latest (-1), max timestamp (-3) and by timestamp, answered by partition leaders."""

from __future__ import annotations

from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse

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
            for rp in requested.partitions:
                index = rp.partition_index
                if topic is None or not 0 <= index < len(topic.partitions):
                    partitions.append(
                        _PartitionResponse(partition_index=index, error_code=errors.UNKNOWN_TOPIC_OR_PARTITION)
                    )
                    continue
                p = topic.partitions[index]
                if p.leader != ctx.broker_id:
                    error = errors.LEADER_NOT_AVAILABLE if p.leader < 0 else errors.NOT_LEADER_OR_FOLLOWER
                    partitions.append(_PartitionResponse(partition_index=index, error_code=error))
                    continue
                ts = rp.timestamp
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
                    partitions.append(_PartitionResponse(partition_index=index, error_code=errors.UNSUPPORTED_VERSION))
                    continue
                partitions.append(
                    _PartitionResponse(
                        partition_index=index,
                        error_code=errors.NONE,
                        old_style_offsets=[offset],
                        timestamp=timestamp,
                        offset=offset,
                        leader_epoch=p.leader_epoch,
                    )
                )
            topics.append(_TopicResponse(name=requested.name, partitions=partitions))
    return ListOffsetsResponse[ctx.api_version](throttle_time_ms=0, topics=topics)
