"""Metadata and DescribeCluster: brokers, controller, topics and partitions with leader, replicas, ISR, offline."""

from __future__ import annotations

import uuid
from typing import Any

from kafka.protocol.admin.cluster import DescribeClusterRequest, DescribeClusterResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse

from kafka_obs.sandbox.protocol import errors
from kafka_obs.sandbox.protocol.context import RequestContext

_Broker = MetadataResponse.MetadataResponseBroker
_Topic = MetadataResponse.MetadataResponseTopic
_Partition = MetadataResponse.MetadataResponseTopic.MetadataResponsePartition
_ZERO_UUID = uuid.UUID(int=0)


def _topic_entry(ctx: RequestContext, name: str) -> Any:
    topic = ctx.cluster.topics[name]
    partitions = []
    for p in topic.partitions:
        error = errors.LEADER_NOT_AVAILABLE if p.leader < 0 else errors.NONE
        partitions.append(
            _Partition(
                error_code=error,
                partition_index=p.index,
                leader_id=p.leader,
                leader_epoch=p.leader_epoch,
                replica_nodes=list(p.replicas),
                isr_nodes=list(p.isr),
                offline_replicas=ctx.cluster.offline_replicas(p),
            )
        )
    return _Topic(error_code=errors.NONE, name=name, topic_id=topic.topic_id, is_internal=False, partitions=partitions)


def _all_topics(ctx: RequestContext) -> list[Any]:
    """Built once per metadata version: the sweep of a 2,500-partition cluster asks for it repeatedly."""
    return ctx.cached("metadata-all", lambda: [_topic_entry(ctx, name) for name in ctx.cluster.topics])


def handle_metadata(ctx: RequestContext, request: MetadataRequest) -> MetadataResponse:
    cluster = ctx.cluster
    with cluster.lock:
        cluster.sync()
        brokers = [
            _Broker(node_id=b.id, host=b.host, port=b.port, rack=b.rack)
            for b in sorted(cluster.brokers.values(), key=lambda b: b.id)
            if b.up
        ]
        if request.topics is None or (ctx.api_version == 0 and not request.topics):
            topics = _all_topics(ctx)
        else:
            topics = []
            for requested in request.topics:
                name = requested.name
                if name is not None and name in cluster.topics:
                    topics.append(_topic_entry(ctx, name))
                else:
                    topics.append(
                        _Topic(
                            error_code=errors.UNKNOWN_TOPIC_OR_PARTITION,
                            name=name,
                            topic_id=getattr(requested, "topic_id", None) or _ZERO_UUID,
                            is_internal=False,
                            partitions=[],
                        )
                    )
        return MetadataResponse[ctx.api_version](
            throttle_time_ms=0,
            brokers=brokers,
            cluster_id=cluster.cluster_id,
            controller_id=cluster.controller(),
            topics=topics,
        )


def handle_describe_cluster(ctx: RequestContext, request: DescribeClusterRequest) -> DescribeClusterResponse:
    cluster = ctx.cluster
    Broker = DescribeClusterResponse.DescribeClusterBroker
    with cluster.lock:
        cluster.sync()
        return DescribeClusterResponse[ctx.api_version](
            throttle_time_ms=0,
            error_code=errors.NONE,
            error_message=None,
            cluster_id=cluster.cluster_id,
            controller_id=cluster.controller(),
            brokers=[
                Broker(broker_id=b.id, host=b.host, port=b.port, rack=b.rack)
                for b in sorted(cluster.brokers.values(), key=lambda b: b.id)
                if b.up
            ],
        )
