"""The responses the sandbox encodes itself (DescribeGroups, OffsetFetch, ListOffsets, DescribeLogDirs) or caches
encoded (ListGroups) are byte-identical to kafka-python's encoding of the same answer, at every version the sandbox
advertises, flexible versions included.

Each test answers a request through the dispatcher (in process, on a manual clock, so nothing moves between the
answer and the reference) and compares the whole frame with the one kafka-python encodes from a response object
built from the same model — the way the handlers built their answers before they wrote bytes themselves.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kafka.protocol.admin.cluster import DescribeLogDirsRequest, DescribeLogDirsResponse
from kafka.protocol.admin.groups import (
    DescribeGroupsRequest,
    DescribeGroupsResponse,
    ListGroupsRequest,
    ListGroupsResponse,
)
from kafka.protocol.consumer.group import OffsetFetchRequest, OffsetFetchResponse
from kafka.protocol.consumer.metadata import ConsumerProtocolAssignment, ConsumerProtocolSubscription
from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse

from kafka_obs.clock import ManualClock
from kafka_obs.sandbox import fleet as fleet_files
from kafka_obs.sandbox.model.cluster import ClusterModel
from kafka_obs.sandbox.protocol.dispatch import SERVED_VERSIONS, Dispatcher

CORRELATION_ID = 4242
DescribableLogDirTopic = DescribeLogDirsRequest.DescribableLogDirTopic


@pytest.fixture
def cluster() -> ClusterModel:
    plan = fleet_files.load("small")
    model = ClusterModel(plan.clusters[0], plan, ManualClock())
    model.clock.advance(90)  # type: ignore[attr-defined]  # offsets moved since the start
    # a group committed by a real client, with commit metadata (not a deployment: no members)
    model.commit_offsets("tool", -1, "", {("orders", 0): (5, "checkpoint é"), ("orders", 2): (7, "")})
    return model


def served(request: Any) -> list[int]:
    low, high = SERVED_VERSIONS[request.API_KEY]
    return list(range(low, high + 1))


@pytest.fixture
def dispatcher(cluster: ClusterModel) -> Dispatcher:
    """One per test, as one per cluster in the sandbox: its cache lives across the test's requests."""
    return Dispatcher(cluster)


def answer(dispatcher: Dispatcher, request: Any, version: int, broker_id: int) -> bytes:
    request.API_VERSION = version
    request.with_header(correlation_id=CORRELATION_ID, client_id="test")
    frame = bytes(request.encode(header=True))
    response = asyncio.run(dispatcher.handle(frame, broker_id))
    assert response is not None
    return response


def reference(response: Any) -> bytes:
    response.with_header(correlation_id=CORRELATION_ID)
    return bytes(response.encode(header=True, framed=True))


def coordinated(cluster: ClusterModel) -> dict[int, list[str]]:
    by_broker: dict[int, list[str]] = {b: [] for b in cluster.brokers}
    for name in cluster.groups:
        by_broker[cluster.coordinator(name)].append(name)
    return by_broker


# ---- DescribeGroups -----------------------------------------------------------------------------------------


def described(cluster: ClusterModel, broker_id: int, names: list[str], version: int) -> Any:
    """What DescribeGroups should answer, as kafka-python objects."""
    Described = DescribeGroupsResponse.DescribedGroup
    Member = DescribeGroupsResponse.DescribedGroup.DescribedGroupMember
    groups = []
    for name in names:
        coordinator = cluster.coordinator(name)
        group = cluster.groups.get(name)
        if coordinator != broker_id or group is None:
            error, state = (16, "") if coordinator != broker_id else (0, "Dead")
            groups.append(
                Described(
                    error_code=error, group_id=name, group_state=state, protocol_type="", protocol_data="", members=[]
                )
            )
            continue
        state = cluster.group_state(group)
        members = []
        for m in cluster.members(group) if state == "Stable" else []:
            by_topic: dict[str, list[int]] = {}
            for topic, index in m.assignment:
                by_topic.setdefault(topic, []).append(index)
            subscription = ConsumerProtocolSubscription(version=0, topics=list(m.subscription), user_data=None)
            TopicPartition = ConsumerProtocolAssignment.TopicPartition
            assignment = ConsumerProtocolAssignment(
                version=0,
                assigned_partitions=[TopicPartition(topic=t, partitions=ps) for t, ps in by_topic.items()],
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
        protocol = {"classic": "range", "consumer": "uniform"}[group.group_type] if state == "Stable" else ""
        groups.append(
            Described(
                error_code=0,
                group_id=name,
                group_state=state,
                protocol_type=group.protocol_type,
                protocol_data=protocol,
                members=members,
            )
        )
    return DescribeGroupsResponse[version](throttle_time_ms=0, groups=groups)


@pytest.mark.parametrize("version", served(DescribeGroupsRequest))
def test_describe_groups_is_byte_identical(cluster: ClusterModel, dispatcher: Dispatcher, version: int) -> None:
    names = [*cluster.groups, "no-such-group"]  # every group at every broker: coordinator, not, unknown
    for broker_id in cluster.brokers:
        request = DescribeGroupsRequest(groups=names, include_authorized_operations=False)
        ours = answer(dispatcher, request, version, broker_id)
        assert ours == reference(described(cluster, broker_id, names, version))
        # the second answer comes from the per-group cache and must be the same bytes
        assert answer(dispatcher, request, version, broker_id) == ours


def test_describe_groups_answers_a_rebalance_not_the_cache(cluster: ClusterModel, dispatcher: Dispatcher) -> None:
    name = "orders-processor"
    broker_id = cluster.coordinator(name)
    request = DescribeGroupsRequest(groups=[name], include_authorized_operations=False)
    before = answer(dispatcher, request, 5, broker_id)
    cluster.scale_deployment(name, 2)
    after = answer(dispatcher, request, 5, broker_id)
    assert after != before
    assert after == reference(described(cluster, broker_id, [name], 5))
    decoded = DescribeGroupsResponse[5].decode(after[4:], header=True)
    assignments = [ConsumerProtocolAssignment.decode(m.member_assignment) for m in decoded.groups[0].members]
    assert [sorted(p for tp in a.assigned_partitions for p in tp.partitions) for a in assignments] == [
        [0, 2, 4],
        [1, 3, 5],
    ]


# ---- OffsetFetch --------------------------------------------------------------------------------------------


def fetched(
    cluster: ClusterModel, broker_id: int, name: str, wanted: list[tuple[str, list[int]]] | None
) -> tuple[int, list[tuple[str, list[tuple[int, int, str]]]]]:
    if cluster.coordinator(name) != broker_id:
        return 16, []
    group = cluster.groups.get(name)
    now = cluster.clock.now()
    offsets = cluster.group_offsets(group, now) if group else {}
    rows: dict[str, list[tuple[int, int, str]]] = {}
    if wanted is None:
        for (topic, index), value in sorted(offsets.items()):
            assert group is not None
            rows.setdefault(topic, []).append((index, value, group.offsets[(topic, index)].metadata))
    else:
        for topic, indexes in wanted:
            for index in indexes:
                known = offsets.get((topic, index))
                if known is None:
                    rows.setdefault(topic, []).append((index, -1, ""))
                else:
                    assert group is not None
                    rows.setdefault(topic, []).append((index, known, group.offsets[(topic, index)].metadata))
    return 0, list(rows.items())


WANTED: list[list[tuple[str, list[int]]] | None] = [None, [("orders", [0, 1, 2, 40]), ("nope", [0])]]


@pytest.mark.parametrize("version", served(OffsetFetchRequest))
@pytest.mark.parametrize("wanted", WANTED, ids=["all", "some"])
def test_offset_fetch_is_byte_identical(
    cluster: ClusterModel, dispatcher: Dispatcher, version: int, wanted: list[tuple[str, list[int]]] | None
) -> None:
    R = OffsetFetchResponse
    for broker_id in cluster.brokers:
        for name in [*cluster.groups, "no-such-group"]:
            if version >= 8:
                Group = OffsetFetchRequest.OffsetFetchRequestGroup
                Topics = OffsetFetchRequest.OffsetFetchRequestGroup.OffsetFetchRequestTopics
                topics = None if wanted is None else [Topics(name=t, partition_indexes=ps) for t, ps in wanted]
                request = OffsetFetchRequest(groups=[Group(group_id=name, topics=topics)], require_stable=False)
            else:
                if wanted is None and version < 2:
                    continue  # v1 cannot ask for all topics
                Topic = OffsetFetchRequest.OffsetFetchRequestTopic
                topics = None if wanted is None else [Topic(name=t, partition_indexes=ps) for t, ps in wanted]
                request = OffsetFetchRequest(group_id=name, topics=topics)
            ours = answer(dispatcher, request, version, broker_id)
            error, rows = fetched(cluster, broker_id, name, wanted)
            if version >= 8:
                Topic8 = R.OffsetFetchResponseGroup.OffsetFetchResponseTopics
                Partition8 = Topic8.OffsetFetchResponsePartitions
                expected = R[version](
                    throttle_time_ms=0,
                    groups=[
                        R.OffsetFetchResponseGroup(
                            group_id=name,
                            error_code=error,
                            topics=[
                                Topic8(
                                    name=t,
                                    partitions=[
                                        Partition8(
                                            partition_index=i,
                                            committed_offset=o,
                                            committed_leader_epoch=-1,
                                            metadata=m,
                                            error_code=0,
                                        )
                                        for i, o, m in ps
                                    ],
                                )
                                for t, ps in rows
                            ],
                        )
                    ],
                )
            else:
                Partition = R.OffsetFetchResponseTopic.OffsetFetchResponsePartition
                expected = R[version](
                    throttle_time_ms=0,
                    error_code=error,
                    topics=[
                        R.OffsetFetchResponseTopic(
                            name=t,
                            partitions=[
                                Partition(
                                    partition_index=i,
                                    committed_offset=o,
                                    committed_leader_epoch=-1,
                                    metadata=m,
                                    error_code=error,
                                )
                                for i, o, m in ps
                            ],
                        )
                        for t, ps in rows
                    ],
                )
            assert ours == reference(expected), (name, broker_id)


def test_offset_fetch_covers_committed_metadata(cluster: ClusterModel, dispatcher: Dispatcher) -> None:
    """The fixture's hand-committed group carries metadata (the encoders' slow path), and empty metadata."""
    name = "tool"
    Group = OffsetFetchRequest.OffsetFetchRequestGroup
    request = OffsetFetchRequest(groups=[Group(group_id=name, topics=None)], require_stable=False)
    ours = answer(dispatcher, request, 8, cluster.coordinator(name))
    partitions = OffsetFetchResponse[8].decode(ours[4:], header=True).groups[0].topics[0].partitions
    assert [(p.partition_index, p.committed_offset, p.metadata) for p in partitions] == [
        (0, 5, "checkpoint é"),
        (2, 7, ""),
    ]


# ---- ListOffsets --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", served(ListOffsetsRequest))
def test_list_offsets_is_byte_identical(cluster: ClusterModel, dispatcher: Dispatcher, version: int) -> None:
    Topic = ListOffsetsRequest.ListOffsetsTopic
    Partition = ListOffsetsRequest.ListOffsetsTopic.ListOffsetsPartition
    now_ms = int(cluster.clock.now() * 1000)
    timestamps = [-1, -2, -3, now_ms - 3_600_000, now_ms + 60_000, -7]
    R = ListOffsetsResponse
    for broker_id in cluster.brokers:
        for ts in timestamps:
            asked = [
                Topic(name=t.name, partitions=[Partition(partition_index=p.index, timestamp=ts) for p in t.partitions])
                for t in cluster.topics.values()
            ]
            again = [Partition(partition_index=i, timestamp=ts) for i in (9, 1, 1)]
            asked.append(Topic(name="orders", partitions=again))
            asked.append(Topic(name="nope", partitions=[Partition(partition_index=0, timestamp=ts)]))
            request = ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=asked)
            ours = answer(dispatcher, request, version, broker_id)
            # the reference: what the handler answered before it wrote bytes, decoded from ours row by row
            decoded = R[version].decode(ours[4:], header=True)
            expected = R[version](
                throttle_time_ms=0,
                topics=[
                    R.ListOffsetsTopicResponse(
                        name=t.name,
                        partitions=[
                            R.ListOffsetsTopicResponse.ListOffsetsPartitionResponse(
                                partition_index=p.partition_index,
                                error_code=p.error_code,
                                timestamp=p.timestamp,
                                offset=p.offset,
                                leader_epoch=p.leader_epoch,
                            )
                            for p in t.partitions
                        ],
                    )
                    for t in decoded.topics
                ],
            )
            assert ours == reference(expected)
            *whole, again, unknown = decoded.topics
            assert [(p.partition_index, p.error_code) for p in again.partitions] == [(9, 3), (1, 42)]  # 1 asked twice
            assert [(p.partition_index, p.error_code) for p in unknown.partitions] == [(0, 3)]
            rows = {(t.name, p.partition_index): p for t in whole for p in t.partitions}
            for name, topic in cluster.topics.items():
                for p in topic.partitions:
                    row = rows[(name, p.index)]
                    if p.leader != broker_id:
                        assert (row.error_code, row.offset, row.timestamp) == (6, -1, -1)
                    elif ts == -7:
                        assert row.error_code == 35
                    else:
                        assert row.error_code == 0
                        if version >= 4:
                            assert row.leader_epoch == p.leader_epoch
                        if ts == -1:
                            assert row.offset == cluster.log_end(p, cluster.clock.now())
                        if ts == -2:
                            assert row.offset == cluster.log_start(p, cluster.clock.now())


# ---- DescribeLogDirs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", served(DescribeLogDirsRequest))
@pytest.mark.parametrize("wanted", [None, {"orders": [0, 1, 5, 99], "nope": [0]}], ids=["all", "some"])
def test_describe_log_dirs_is_byte_identical(
    cluster: ClusterModel, dispatcher: Dispatcher, version: int, wanted: dict[str, list[int]] | None
) -> None:
    R = DescribeLogDirsResponse
    cluster.set_disk_usage(1, 0.5)
    for broker_id in cluster.brokers:
        asked = None if wanted is None else [DescribableLogDirTopic(topic=t, partitions=ps) for t, ps in wanted.items()]
        ours = answer(dispatcher, DescribeLogDirsRequest(topics=asked), version, broker_id)
        now = cluster.clock.now()
        topics = []
        for name, topic in cluster.topics.items():
            partitions = [
                R.DescribeLogDirsResult.DescribeLogDirsTopic.DescribeLogDirsPartition(
                    partition_index=p.index,
                    partition_size=cluster.size_bytes(p, now),
                    offset_lag=0,
                    is_future_key=False,
                )
                for p in topic.partitions
                if broker_id in p.replicas and (wanted is None or p.index in wanted.get(name, []))
            ]
            if partitions:
                topics.append(R.DescribeLogDirsResult.DescribeLogDirsTopic(name=name, partitions=partitions))
        total, _, usable = cluster.disk(broker_id, now)
        result = R.DescribeLogDirsResult(
            error_code=0, log_dir="/var/lib/kafka/data", topics=topics, total_bytes=total, usable_bytes=usable
        )
        assert ours == reference(R[version](throttle_time_ms=0, error_code=0, results=[result]))


# ---- ListGroups ---------------------------------------------------------------------------------------------


def listed(cluster: ClusterModel, broker_id: int, version: int, states: set[str]) -> Any:
    groups = [
        ListGroupsResponse.ListedGroup(
            group_id=g.name, protocol_type=g.protocol_type, group_state=cluster.group_state(g), group_type=g.group_type
        )
        for g in cluster.groups.values()
        if cluster.coordinator(g.name) == broker_id and (not states or cluster.group_state(g) in states)
    ]
    return ListGroupsResponse[version](throttle_time_ms=0, error_code=0, groups=groups)


@pytest.mark.parametrize("version", served(ListGroupsRequest))
def test_list_groups_cached_per_model_version(cluster: ClusterModel, dispatcher: Dispatcher, version: int) -> None:
    name = "orders-processor"
    broker_id = cluster.coordinator(name)
    request = ListGroupsRequest(states_filter=[], types_filter=[])
    assert answer(dispatcher, request, version, broker_id) == reference(listed(cluster, broker_id, version, set()))
    cluster.scale_deployment(name, 0)  # Stable -> Empty: the cached answer must not survive the event
    ours = answer(dispatcher, request, version, broker_id)
    assert ours == reference(listed(cluster, broker_id, version, set()))
    if version >= 4:  # the state is in the answer from v4
        assert b"Empty" in ours
        filtered = ListGroupsRequest(states_filter=["Stable"], types_filter=[])
        assert answer(dispatcher, filtered, version, broker_id) == reference(
            listed(cluster, broker_id, version, {"Stable"})
        )
