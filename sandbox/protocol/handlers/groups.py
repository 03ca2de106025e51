"""Consumer groups: FindCoordinator, ListGroups, DescribeGroups, OffsetFetch, OffsetCommit and DeleteGroups.

Every group has one coordinator broker (:meth:`ClusterModel.coordinator`); asking another broker gets
NOT_COORDINATOR, exactly the error a client must handle when a coordinator moves after a broker stops.
"""

from __future__ import annotations

import struct

from kafka.protocol.admin.groups import (
    DeleteGroupsRequest,
    DeleteGroupsResponse,
    DescribeGroupsRequest,
    DescribeGroupsResponse,
    ListGroupsRequest,
    ListGroupsResponse,
)
from kafka.protocol.consumer.group import (
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
)
from kafka.protocol.metadata.find_coordinator import FindCoordinatorRequest, FindCoordinatorResponse

from kafka_obs.sandbox.model.cluster import ClusterModel, GroupState, Member
from kafka_obs.sandbox.protocol import errors, wire
from kafka_obs.sandbox.protocol.context import RequestContext

ASSIGNORS = {"classic": "range", "consumer": "uniform"}
"""What DescribeGroups reports as the protocol (assignor) of each group type."""

_AUTHORIZED_OPERATIONS_OMITTED = wire.int32(-(2**31))
"""Kafka's answer when the client did not ask for the authorized operations (INT32_MIN)."""


def _coordinator_error(cluster: ClusterModel, group: str, broker_id: int) -> int:
    coordinator = cluster.coordinator(group)
    if coordinator < 0:
        return errors.COORDINATOR_NOT_AVAILABLE
    return errors.NONE if coordinator == broker_id else errors.NOT_COORDINATOR


def handle_find_coordinator(ctx: RequestContext, request: FindCoordinatorRequest) -> FindCoordinatorResponse:
    cluster = ctx.cluster
    with cluster.lock:
        cluster.sync()
        keys = list(request.coordinator_keys) if ctx.api_version >= 4 else [request.key]
        answers: list[tuple[str, int, str | None, int, str, int]] = []
        for key in keys:
            node = cluster.coordinator(key)
            if node < 0:
                answers.append((key, errors.COORDINATOR_NOT_AVAILABLE, "no live broker", -1, "", -1))
            else:
                broker = cluster.brokers[node]
                answers.append((key, errors.NONE, None, node, broker.host, broker.port))
    if ctx.api_version >= 4:
        Coordinator = FindCoordinatorResponse.Coordinator
        return FindCoordinatorResponse[ctx.api_version](
            throttle_time_ms=0,
            coordinators=[
                Coordinator(key=k, node_id=n, host=h, port=p, error_code=e, error_message=m)
                for k, e, m, n, h, p in answers
            ],
        )
    key, error, message, node, host, port = answers[0]
    return FindCoordinatorResponse[ctx.api_version](
        throttle_time_ms=0, error_code=error, error_message=message, node_id=node, host=host, port=port
    )


def handle_list_groups(ctx: RequestContext, request: ListGroupsRequest) -> wire.Encoded:
    """The groups this broker coordinates. Unfiltered (what a sweep sends), the answer only changes with an event,
    so it is encoded once per model version and broker."""
    cluster = ctx.cluster
    states = frozenset(s.lower() for s in (getattr(request, "states_filter", None) or []))
    types = frozenset(t.lower() for t in (getattr(request, "types_filter", None) or []))
    with cluster.lock:
        cluster.sync()
        if states or types:
            body = _list_groups(ctx, states, types)
        else:
            body = ctx.cached(("list-groups", ctx.broker_id, ctx.api_version), lambda: _list_groups(ctx, states, types))
    return wire.Encoded(body, flexible=ListGroupsResponse.flexible_version_q(ctx.api_version))


def _list_groups(ctx: RequestContext, states: frozenset[str], types: frozenset[str]) -> bytes:
    """The response body, encoded by kafka-python; the caller holds the cluster's lock."""
    cluster = ctx.cluster
    Listed = ListGroupsResponse.ListedGroup
    listed = []
    for group in cluster.groups.values():
        if cluster.coordinator(group.name) != ctx.broker_id:
            continue
        state = cluster.group_state(group)
        if states and state.lower() not in states:
            continue
        if types and group.group_type not in types:
            continue
        listed.append(
            Listed(
                group_id=group.name,
                protocol_type=group.protocol_type,
                group_state=state,
                group_type=group.group_type,
            )
        )
    response = ListGroupsResponse[ctx.api_version](throttle_time_ms=0, error_code=errors.NONE, groups=listed)
    return bytes(response.encode())


def _describe(ctx: RequestContext, name: str) -> bytes:
    """One group's DescribeGroups entry, encoded for the request's version. A described group at its coordinator
    is built once per model version (the version moves with every event that can change it) and then served from
    the cache: a sweep of 20,000 groups asks for all of them every time."""
    cluster = ctx.cluster
    error = _coordinator_error(cluster, name, ctx.broker_id)
    group = cluster.groups.get(name)
    if error or group is None:
        # Kafka: an unknown group at its coordinator is "Dead" with no error; a broker that is not the coordinator
        # knows nothing of the group and leaves the state empty (checked against Kafka 4.4)
        state = "" if error else "Dead"
        return _described_group(
            ctx.api_version, error, name, state=state, protocol_type="", protocol_data="", members=[]
        )
    entries = ctx.cached(("describe-groups", ctx.api_version), dict[str, bytes])
    entry = entries.get(name)
    if entry is None:
        state = cluster.group_state(group)
        stable = state == "Stable"
        entry = entries[name] = _described_group(
            ctx.api_version,
            errors.NONE,
            name,
            state=state,
            protocol_type=group.protocol_type,
            protocol_data=ASSIGNORS.get(group.group_type, "range") if stable else "",
            members=cluster.members(group) if stable else [],
        )
    return entry


def _described_group(
    version: int, error: int, name: str, *, state: str, protocol_type: str, protocol_data: str, members: list[Member]
) -> bytes:
    """DescribeGroupsResponse.DescribedGroup at ``version`` (0-5), byte-identical to kafka-python's encoding."""
    compact = DescribeGroupsResponse.flexible_version_q(version)
    parts = [
        wire.int16(error),
        wire.string(name, compact),
        wire.string(state, compact),
        wire.string(protocol_type, compact),
        wire.string(protocol_data, compact),
        wire.array_length(len(members), compact),
    ]
    for m in members:
        parts.append(wire.string(m.member_id, compact))
        if version >= 4:
            parts.append(wire.string(None, compact))  # group_instance_id: no static membership
        parts += [
            wire.string(m.client_id, compact),
            wire.string(m.client_host, compact),
            wire.data(m.member_metadata, compact),
            wire.data(m.member_assignment, compact),
        ]
        if compact:
            parts.append(wire.NO_TAGS)
    if version >= 3:
        parts.append(_AUTHORIZED_OPERATIONS_OMITTED)
    if compact:
        parts.append(wire.NO_TAGS)
    return b"".join(parts)


def handle_describe_groups(ctx: RequestContext, request: DescribeGroupsRequest) -> wire.Encoded:
    with ctx.cluster.lock:
        ctx.cluster.sync()
        described = [_describe(ctx, name) for name in request.groups]
    version = ctx.api_version
    compact = DescribeGroupsResponse.flexible_version_q(version)
    throttle = wire.int32(0) if version >= 1 else b""
    body = throttle + wire.array(described, compact) + (wire.NO_TAGS if compact else b"")
    return wire.Encoded(body, flexible=compact)


Fetched = list[tuple[str, list[tuple[int, int, str]]]]
"""[(topic, [(partition, committed offset, metadata)])] of one group."""


def _fetch_group(
    ctx: RequestContext,
    name: str,
    requested: list[tuple[str, list[int]]] | None,
    now: float,
    bounds: dict[tuple[str, int], tuple[int, int]],
) -> tuple[int, Fetched]:
    """(group error, its committed offsets); ``bounds`` is the request's memo of partition bounds at ``now``."""
    cluster = ctx.cluster
    error = _coordinator_error(cluster, name, ctx.broker_id)
    if error:
        return error, []
    group: GroupState | None = cluster.groups.get(name)
    if group is None:
        offsets: dict[tuple[str, int], int] = {}
        anchors = {}
    else:
        offsets, anchors = cluster.group_offsets(group, now, bounds), group.offsets
    result: dict[str, list[tuple[int, int, str]]] = {}
    if requested is None:
        for (topic, index), value in sorted(offsets.items()):
            result.setdefault(topic, []).append((index, value, anchors[(topic, index)].metadata))
    else:
        for topic, indexes in requested:
            rows = result.setdefault(topic, [])
            for index in indexes:
                known = offsets.get((topic, index))
                rows.append((index, -1, "") if known is None else (index, known, anchors[(topic, index)].metadata))
    return errors.NONE, list(result.items())


class _OffsetFetchEncoder:
    """OffsetFetchResponse at one version (1-8) from plain tuples, byte-identical to kafka-python's encoding."""

    def __init__(self, version: int):
        self.version = version
        self.compact = OffsetFetchResponse.flexible_version_q(version)
        self.tags = wire.NO_TAGS if self.compact else b""
        # index, offset[, leader epoch -1 from v5]
        self._head = struct.Struct(">iq" + ("i" if version >= 5 else "")).pack
        self._epoch = (-1,) if version >= 5 else ()
        # the usual row, empty metadata, in one pack: head, "" (length 0, compact 1), error[, no tags]
        self._row = struct.Struct(">iq" + ("i" if version >= 5 else "") + ("BhB" if self.compact else "hh")).pack
        self._empty = (1,) if self.compact else (0,)
        self._no_tags = (0,) if self.compact else ()

    def _partition(self, index: int, offset: int, metadata: str, error: int) -> bytes:
        if not metadata:
            return self._row(index, offset, *self._epoch, *self._empty, error, *self._no_tags)
        return (
            self._head(index, offset, *self._epoch)
            + wire.string(metadata, self.compact)
            + wire.int16(error)
            + self.tags
        )

    def topics(self, topics: Fetched, error: int) -> bytes:
        """The topics array; ``error`` is each partition's error code."""
        compact, partition = self.compact, self._partition
        encoded = [
            wire.string(topic, compact)
            + wire.array([partition(i, o, m, error) for i, o, m in rows], compact)
            + self.tags
            for topic, rows in topics
        ]
        return wire.array(encoded, compact)

    def group(self, group_id: str, error: int, topics: Fetched) -> bytes:
        """One entry of v8's groups array."""
        return wire.string(group_id, self.compact) + self.topics(topics, errors.NONE) + wire.int16(error) + self.tags


_OFFSET_FETCH_ENCODERS = {v: _OffsetFetchEncoder(v) for v in range(1, 9)}


def handle_offset_fetch(ctx: RequestContext, request: OffsetFetchRequest) -> wire.Encoded:
    cluster = ctx.cluster
    version = ctx.api_version
    encoder = _OFFSET_FETCH_ENCODERS[version]
    throttle = wire.int32(0) if version >= 3 else b""
    bounds: dict[tuple[str, int], tuple[int, int]] = {}
    with cluster.lock:
        now = cluster.sync()
        if version >= 8:
            groups = []
            for g in request.groups:
                wanted = None if g.topics is None else [(t.name, list(t.partition_indexes)) for t in g.topics]
                error, topics = _fetch_group(ctx, g.group_id, wanted, now, bounds)
                groups.append(encoder.group(g.group_id, error, topics))
            body = throttle + wire.array(groups, encoder.compact) + encoder.tags
            return wire.Encoded(body, flexible=encoder.compact)
        wanted = None if request.topics is None else [(t.name, list(t.partition_indexes)) for t in request.topics]
        error, topics = _fetch_group(ctx, request.group_id, wanted, now, bounds)
    body = throttle + encoder.topics(topics, error) + (wire.int16(error) if version >= 2 else b"") + encoder.tags
    return wire.Encoded(body, flexible=encoder.compact)


def handle_offset_commit(ctx: RequestContext, request: OffsetCommitRequest) -> OffsetCommitResponse:
    cluster = ctx.cluster
    R = OffsetCommitResponse
    results: dict[str, list[tuple[int, int]]] = {}
    with cluster.lock:
        cluster.sync()
        group_error = _coordinator_error(cluster, request.group_id, ctx.broker_id)
        valid: dict[tuple[str, int], tuple[int, str]] = {}
        for topic in request.topics:
            state = cluster.topics.get(topic.name)
            for p in topic.partitions:
                if group_error:
                    error = group_error
                elif state is None or not 0 <= p.partition_index < len(state.partitions):
                    error = errors.UNKNOWN_TOPIC_OR_PARTITION
                else:
                    error = errors.NONE
                    valid[(topic.name, p.partition_index)] = (p.committed_offset, p.committed_metadata or "")
                results.setdefault(topic.name, []).append((p.partition_index, error))
        if valid:
            error = cluster.commit_offsets(
                request.group_id, request.generation_id_or_member_epoch, request.member_id, valid
            )
            if error:
                for topic_name, rows in results.items():
                    results[topic_name] = [(i, error if (topic_name, i) in valid else e) for i, e in rows]
    return R[ctx.api_version](
        throttle_time_ms=0,
        topics=[
            R.OffsetCommitResponseTopic(
                name=name,
                partitions=[
                    R.OffsetCommitResponseTopic.OffsetCommitResponsePartition(partition_index=i, error_code=e)
                    for i, e in rows
                ],
            )
            for name, rows in results.items()
        ],
    )


def handle_delete_groups(ctx: RequestContext, request: DeleteGroupsRequest) -> DeleteGroupsResponse:
    cluster = ctx.cluster
    Result = DeleteGroupsResponse.DeletableGroupResult
    out = []
    with cluster.lock:
        cluster.sync()
        for name in request.groups_names:
            error = _coordinator_error(cluster, name, ctx.broker_id)
            if not error:
                error = cluster.delete_group(name)
            out.append(Result(group_id=name, error_code=error))
    return DeleteGroupsResponse[ctx.api_version](throttle_time_ms=0, results=out)
