"""Produce and Fetch: real records kept in memory (bounded), synthetic records standing in for simulated traffic.

Fetch long-polls like Kafka: when nothing is available it waits up to ``max_wait_ms`` (capped) before answering
empty, so an idle consumer does not spin against the sandbox.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kafka.protocol.consumer.fetch import FetchRequest, FetchResponse
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse

from kafka_obs.sandbox.model.cluster import ClusterModel, PartitionState
from kafka_obs.sandbox.model.records import InvalidRecords, synthetic_batch
from kafka_obs.sandbox.protocol import errors
from kafka_obs.sandbox.protocol.context import RequestContext

MAX_SYNTHETIC_RECORDS = 500
MAX_FETCH_WAIT_S = 0.5

_PR = ProduceResponse.TopicProduceResponse
_PPR = ProduceResponse.TopicProduceResponse.PartitionProduceResponse
_FR = FetchResponse.FetchableTopicResponse
_FPR = FetchResponse.FetchableTopicResponse.PartitionData


def _leader_error(p: PartitionState, broker_id: int) -> int:
    if p.leader == broker_id:
        return errors.NONE
    return errors.LEADER_NOT_AVAILABLE if p.leader < 0 else errors.NOT_LEADER_OR_FOLLOWER


def handle_produce(ctx: RequestContext, request: ProduceRequest) -> ProduceResponse | None:
    cluster = ctx.cluster
    responses = []
    for topic_data in request.topic_data:
        topic = cluster.topics.get(topic_data.name)
        partitions = []
        for pd in topic_data.partition_data:
            error, base, log_start, message = errors.NONE, -1, -1, None
            if topic is None or not 0 <= pd.index < len(topic.partitions):
                error = errors.UNKNOWN_TOPIC_OR_PARTITION
            else:
                p = topic.partitions[pd.index]
                with cluster.lock:
                    cluster.sync()
                    error = _leader_error(p, ctx.broker_id)
                    if not error and request.acks == -1 and len(p.isr) < cluster.min_isr(p):
                        error = errors.NOT_ENOUGH_REPLICAS
                        message = f"ISR {p.isr} is smaller than min.insync.replicas {cluster.min_isr(p)}"
                    if not error and request.acks not in (-1, 0, 1):
                        error = errors.INVALID_REQUIRED_ACKS
                    if not error:
                        try:
                            base, log_start = cluster.append(p, bytes(pd.records or b""), ctx.broker_id)
                        except InvalidRecords as exc:
                            error, message = errors.CORRUPT_MESSAGE, f"records could not be decoded: {exc}"
                    if error and ctx.broker_id in cluster.brokers:
                        cluster.brokers[ctx.broker_id].failed_produce_requests += 1
            partitions.append(
                _PPR(
                    index=pd.index,
                    error_code=error,
                    base_offset=base,
                    log_append_time_ms=-1,
                    log_start_offset=log_start,
                    record_errors=[],
                    error_message=message,
                )
            )
        responses.append(_PR(name=topic_data.name, partition_responses=partitions))
    if request.acks == 0:
        return None
    return ProduceResponse[ctx.api_version](responses=responses, throttle_time_ms=0)


def _partition_records(cluster: ClusterModel, p: PartitionState, offset: int, max_bytes: int, now: float) -> bytes:
    """Stored batches from ``offset``, or a synthetic batch up to the next stored one."""
    end = cluster.log_end(p, now)
    if offset >= end:
        return b""
    if p.records.covers(offset):
        batches, _ = p.records.batches_from(offset, max_bytes)
        return b"".join(batches)
    next_stored = p.records.next_stored_base(offset)
    limit = end if next_stored is None else min(end, next_stored)
    size = cluster.topics[p.topic].message_bytes
    count = max(1, min(limit - offset, MAX_SYNTHETIC_RECORDS, max(1, max_bytes // max(size, 1))))
    first_ms = int(cluster.time_of_offset(p, offset) * 1000)
    last_ms = int(cluster.time_of_offset(p, offset + count - 1) * 1000)
    step = (last_ms - first_ms) / max(count - 1, 1)
    return synthetic_batch(offset, count, size, [int(first_ms + i * step) for i in range(count)])


def _fetch_once(ctx: RequestContext, request: FetchRequest) -> tuple[list[Any], int]:
    cluster = ctx.cluster
    out = []
    total = 0
    with cluster.lock:
        now = cluster.sync()
        for ft in request.topics:
            topic = cluster.topics.get(ft.topic)
            partitions = []
            for fp in ft.partitions:
                error, hw, start, records = errors.NONE, -1, -1, b""
                if topic is None or not 0 <= fp.partition < len(topic.partitions):
                    error = errors.UNKNOWN_TOPIC_OR_PARTITION
                else:
                    p = topic.partitions[fp.partition]
                    error = _leader_error(p, ctx.broker_id)
                    if not error:
                        hw, start = cluster.log_end(p, now), cluster.log_start(p, now)
                        if not start <= fp.fetch_offset <= hw:
                            error = errors.OFFSET_OUT_OF_RANGE
                        else:
                            budget = max(1, min(fp.partition_max_bytes, request.max_bytes - total))
                            records = _partition_records(cluster, p, fp.fetch_offset, budget, now)
                            total += len(records)
                partitions.append(
                    _FPR(
                        partition_index=fp.partition,
                        error_code=error,
                        high_watermark=hw,
                        last_stable_offset=hw,
                        log_start_offset=start,
                        aborted_transactions=None,
                        preferred_read_replica=-1,
                        records=records,
                    )
                )
            out.append(_FR(topic=ft.topic, partitions=partitions))
    return out, total


async def handle_fetch(ctx: RequestContext, request: FetchRequest) -> FetchResponse:
    responses, size = _fetch_once(ctx, request)
    if size == 0 and request.max_wait_ms > 0:
        await asyncio.sleep(min(request.max_wait_ms / 1000.0, MAX_FETCH_WAIT_S))
        responses, size = _fetch_once(ctx, request)
    return FetchResponse[ctx.api_version](throttle_time_ms=0, error_code=errors.NONE, session_id=0, responses=responses)


async def handle_produce_with_faults(ctx: RequestContext, request: ProduceRequest) -> ProduceResponse | None:
    """Produce, answered late when the broker has a produce-delay fault (control API): the records are appended
    after the wait, as a broker with a slow disk or network would."""
    broker = ctx.cluster.brokers.get(ctx.broker_id)
    if broker is not None and broker.produce_delay > 0:
        await asyncio.sleep(broker.produce_delay)
    return handle_produce(ctx, request)
