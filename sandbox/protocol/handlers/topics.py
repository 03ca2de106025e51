"""CreateTopics: what a client that manages its own topic needs (the exporter's end-to-end canary creates one).

Explicit replica assignments and ``num_partitions``/``replication_factor`` are both served; a topic created this
way has no simulated traffic, only the records clients produce. Topic configs in the request are not applied
(the sandbox's defaults hold), and the answer says so only through DescribeConfigs.
"""

from __future__ import annotations

from typing import Any

from kafka.protocol.admin.topics import CreateTopicsRequest, CreateTopicsResponse

from kafka_obs.sandbox.model.cluster import SandboxError, TopicExists
from kafka_obs.sandbox.protocol import errors
from kafka_obs.sandbox.protocol.context import RequestContext

_Result = CreateTopicsResponse.CreatableTopicResult


def _assignment(ctx: RequestContext, topic: Any) -> list[list[int]]:
    if topic.assignments:
        ordered = sorted(topic.assignments, key=lambda a: a.partition_index)
        if [a.partition_index for a in ordered] != list(range(len(ordered))):
            raise SandboxError("partition indexes of the assignment must be 0..n-1")
        return [list(a.broker_ids) for a in ordered]
    brokers = sorted(ctx.cluster.live_brokers())
    factor = topic.replication_factor if topic.replication_factor > 0 else min(3, len(brokers))
    count = topic.num_partitions if topic.num_partitions > 0 else 1
    if factor > len(brokers):
        raise SandboxError(f"replication factor {factor} is larger than the {len(brokers)} available brokers")
    return [[brokers[(p + k) % len(brokers)] for k in range(factor)] for p in range(count)]


def handle_create_topics(ctx: RequestContext, request: CreateTopicsRequest) -> CreateTopicsResponse:
    results = []
    for topic in request.topics:
        error, message = errors.NONE, None
        try:
            assignment = _assignment(ctx, topic)
            if not request.validate_only:
                ctx.cluster.create_topic(topic.name, assignment)
        except TopicExists as exc:
            error, message = errors.TOPIC_ALREADY_EXISTS, str(exc)
        except SandboxError as exc:
            error, message = errors.INVALID_REPLICA_ASSIGNMENT, str(exc)
        results.append(_Result(name=topic.name, error_code=error, error_message=message))
    return CreateTopicsResponse[ctx.api_version](throttle_time_ms=0, topics=results)
