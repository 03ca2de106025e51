"""Consumer groups: FindCoordinator, ListGroups, DescribeGroups, OffsetFetch, OffsetCommit and DeleteGroups.

Every group has one coordinator broker (:meth:`ClusterModel.coordinator`); asking another broker gets
NOT_COORDINATOR, exactly the error a client must handle when a coordinator moves after a broker stops.
"""

from __future__ import annotations

from typing import Any

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
from kafka.protocol.consumer.metadata import ConsumerProtocolAssignment, ConsumerProtocolSubscription
from kafka.protocol.metadata.find_coordinator import FindCoordinatorRequest, FindCoordinatorResponse

from kafka_obs.sandbox.model.cluster import ClusterModel, GroupState
from kafka_obs.sandbox.protocol import errors
from kafka_obs.sandbox.protocol.context import RequestContext

ASSIGNORS = {"classic": "range", "consumer": "uniform"}
"""What DescribeGroups reports as the protocol (assignor) of each group type."""


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


def handle_list_groups(ctx: RequestContext, request: ListGroupsRequest) -> ListGroupsResponse:
    cluster = ctx.cluster
    states = {s.lower() for s in (getattr(request, "states_filter", None) or [])}
    types = {t.lower() for t in (getattr(request, "types_filter", None) or [])}
    Listed = ListGroupsResponse.ListedGroup
    with cluster.lock:
        cluster.sync()
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
    return ListGroupsResponse[ctx.api_version](throttle_time_ms=0, error_code=errors.NONE, groups=listed)


def _describe(ctx: RequestContext, name: str) -> Any:
    cluster = ctx.cluster
    Described = DescribeGroupsResponse.DescribedGroup
    Member = DescribeGroupsResponse.DescribedGroup.DescribedGroupMember
    error = _coordinator_error(cluster, name, ctx.broker_id)
    group = cluster.groups.get(name)
    if error or group is None:
        # Kafka: an unknown group at its coordinator is "Dead" with no error; a broker that is not the coordinator
        # knows nothing of the group and leaves the state empty (checked against Kafka 4.4)
        state = "" if error else "Dead"
        return Described(
            error_code=error, group_id=name, group_state=state, protocol_type="", protocol_data="", members=[]
        )
    state = cluster.group_state(group)
    members = []
    if state == "Stable":
        for m in cluster.members(group):
            topics: dict[str, list[int]] = {}
            for topic, index in m.assignment:
                topics.setdefault(topic, []).append(index)
            deployment = cluster.deployments[group.deployment] if group.deployment else None
            subscription = ConsumerProtocolSubscription(
                version=0, topics=list(deployment.topics if deployment else topics), user_data=None
            )
            assignment = ConsumerProtocolAssignment(
                version=0,
                assigned_partitions=[
                    ConsumerProtocolAssignment.TopicPartition(topic=t, partitions=ps) for t, ps in topics.items()
                ],
                user_data=None,
            )
            members.append(
                Member(
                    member_id=m.member_id,
                    group_instance_id=None,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    member_metadata=bytes(subscription.encode(version=0)),
                    member_assignment=bytes(assignment.encode(version=0)),
                )
            )
    return Described(
        error_code=errors.NONE,
        group_id=name,
        group_state=state,
        protocol_type=group.protocol_type,
        protocol_data=ASSIGNORS.get(group.group_type, "range") if state == "Stable" else "",
        members=members,
    )


def handle_describe_groups(ctx: RequestContext, request: DescribeGroupsRequest) -> DescribeGroupsResponse:
    with ctx.cluster.lock:
        ctx.cluster.sync()
        described = [_describe(ctx, name) for name in request.groups]
    return DescribeGroupsResponse[ctx.api_version](throttle_time_ms=0, groups=described)


def _fetch_group(
    ctx: RequestContext, name: str, requested: list[tuple[str, list[int]]] | None, now: float
) -> tuple[int, list[tuple[str, list[tuple[int, int, str]]]]]:
    """(group error, [(topic, [(partition, committed offset, metadata)])])."""
    cluster = ctx.cluster
    error = _coordinator_error(cluster, name, ctx.broker_id)
    if error:
        return error, []
    group: GroupState | None = cluster.groups.get(name)
    offsets = cluster.group_offsets(group, now) if group is not None else {}
    result: dict[str, list[tuple[int, int, str]]] = {}
    if requested is None:
        for (topic, index), value in sorted(offsets.items()):
            assert group is not None
            result.setdefault(topic, []).append((index, value, group.offsets[(topic, index)].metadata))
    else:
        for topic, indexes in requested:
            rows = result.setdefault(topic, [])
            for index in indexes:
                if (topic, index) in offsets:
                    assert group is not None
                    rows.append((index, offsets[(topic, index)], group.offsets[(topic, index)].metadata))
                else:
                    rows.append((index, -1, ""))
    return errors.NONE, list(result.items())


def handle_offset_fetch(ctx: RequestContext, request: OffsetFetchRequest) -> OffsetFetchResponse:
    cluster = ctx.cluster
    R = OffsetFetchResponse
    with cluster.lock:
        now = cluster.sync()
        if ctx.api_version >= 8:
            groups = []
            for g in request.groups:
                wanted = None if g.topics is None else [(t.name, list(t.partition_indexes)) for t in g.topics]
                error, topics = _fetch_group(ctx, g.group_id, wanted, now)
                groups.append(
                    R.OffsetFetchResponseGroup(
                        group_id=g.group_id,
                        error_code=error,
                        topics=[
                            R.OffsetFetchResponseGroup.OffsetFetchResponseTopics(
                                name=topic,
                                partitions=[
                                    R.OffsetFetchResponseGroup.OffsetFetchResponseTopics.OffsetFetchResponsePartitions(
                                        partition_index=i,
                                        committed_offset=o,
                                        committed_leader_epoch=-1,
                                        metadata=m,
                                        error_code=errors.NONE,
                                    )
                                    for i, o, m in rows
                                ],
                            )
                            for topic, rows in topics
                        ],
                    )
                )
            return R[ctx.api_version](throttle_time_ms=0, groups=groups)
        wanted = None if request.topics is None else [(t.name, list(t.partition_indexes)) for t in request.topics]
        error, topics = _fetch_group(ctx, request.group_id, wanted, now)
    Topic = R.OffsetFetchResponseTopic
    Partition = R.OffsetFetchResponseTopic.OffsetFetchResponsePartition
    return R[ctx.api_version](
        throttle_time_ms=0,
        error_code=error,
        topics=[
            Topic(
                name=topic,
                partitions=[
                    Partition(
                        partition_index=i, committed_offset=o, committed_leader_epoch=-1, metadata=m, error_code=error
                    )
                    for i, o, m in rows
                ],
            )
            for topic, rows in topics
        ],
    )


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
