"""The sandbox agrees with Kafka: the same admin requests, sent over a plain socket with kafka-python's protocol
classes to the sandbox and to real Apache Kafka 4.4, decode to the same responses field by field.

Compared: error codes, names, partition indexes, states, config values and sources, the shape of everything else.
Not compared (they differ by construction): node ids, hosts, ports, cluster and topic ids, throttle times, error
messages (wording), log-dir paths and sizes, offsets and timestamps (only whether each is -1 or a real offset), and
replica lists (only their length). Each case names the broker it goes to the same way on both sides (the
partition's leader, the group's coordinator, a broker that is not), so routing errors are compared too.

Both sides hold the same state: the sandbox's ``scratch`` topic of the small fleet's ``alpha`` cluster (2 partitions,
3 replicas, no data) is created on Kafka alike, and a group ``diff-offsets`` that only has a committed offset is
committed on both with OffsetCommit. Differences kept on purpose are listed in docs/sandbox.md.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kafka.protocol.admin.cluster import DescribeLogDirsRequest, DescribeLogDirsResponse
from kafka.protocol.admin.configs import (
    DescribeConfigsRequest,
    DescribeConfigsResponse,
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
)
from kafka.protocol.admin.groups import (
    DescribeGroupsRequest,
    DescribeGroupsResponse,
    ListGroupsRequest,
    ListGroupsResponse,
)
from kafka.protocol.consumer.fetch import FetchRequest, FetchResponse
from kafka.protocol.consumer.group import (
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
)
from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse
from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kafka.protocol.metadata.find_coordinator import FindCoordinatorRequest, FindCoordinatorResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse

from kafka_obs.exporter.jmx import JmxHelper, Query
from kafka_obs.platform.realkafka import KafkaCluster
from kafka_obs.sandbox.runtime import Sandbox
from tests.kafka_wire import recv_exactly, roundtrip
from tests.realkafka.support import create_topic

pytestmark = pytest.mark.realkafka

TOPIC, GROUP, NO_GROUP, NO_TOPIC = "scratch", "diff-offsets", "diff-nobody", "diff-no-such-topic"
CONFIG_KEYS = ["cleanup.policy", "retention.ms", "min.insync.replicas", "retention.bytes"]

IDS = {"node_id", "host", "port", "cluster_id", "controller_id", "topic_id", "leader_id", "leader_epoch", "rack"}
IGNORED = {"throttle_time_ms", "error_message", "log_dir", "size", "total_bytes", "usable_bytes", "offset_lag"}
OFFSETS = {"offset", "committed_offset", "timestamp", "committed_leader_epoch"}
ID_LISTS = {"replica_nodes", "isr_nodes", "offline_replicas"}
REQUESTS_PER_SEC = "kafka.network:type=RequestMetrics,name=RequestsPerSec,*"


@dataclass
class Side:
    """One of the two systems under comparison: its brokers' addresses and JMX ports by id."""

    name: str
    brokers: dict[int, tuple[str, int]]
    jmx_ports: dict[int, int]
    publish_jmx: Callable[[], None]
    """Makes the JMX endpoints current (the sandbox publishes its model's numbers; Kafka's are always live)."""

    def request_counts(self, broker: int, client: JmxHelper) -> dict[str, int]:
        """``{ObjectName: Count}`` of the broker's RequestsPerSec meters, as bench/bench_peers.py reads them."""
        self.publish_jmx()
        url = f"service:jmx:rmi:///jndi/rmi://127.0.0.1:{self.jmx_ports[broker]}/jmxrmi"
        rows = client.query(url, [Query(REQUESTS_PER_SEC, ("Count",))], timeout=30)
        return {row.object_name: int(row.value) for row in rows}

    def send(self, broker: int, request: Any, response_class: Any) -> Any:
        with socket.create_connection(self.brokers[broker], timeout=10) as sock:
            return roundtrip(sock, request, response_class)

    def any_broker(self) -> int:
        return min(self.brokers)

    def leader(self, topic: str, partition: int) -> int:
        md = self.send(self.any_broker(), metadata([topic]), MetadataResponse[12])
        [found] = [t for t in md.topics if t.name == topic]
        return int(next(p.leader_id for p in found.partitions if p.partition_index == partition))

    def follower(self, topic: str, partition: int) -> int:
        return min(b for b in self.brokers if b != self.leader(topic, partition))

    def coordinator(self, group: str) -> int:
        """The group's coordinator. A fresh Kafka answers COORDINATOR_NOT_AVAILABLE (15) until the first request has
        made it create ``__consumer_offsets`` and elect its leaders: polled, as every client does."""
        deadline = time.monotonic() + 30
        while True:
            request = FindCoordinatorRequest[4](key_type=0, coordinator_keys=[group])
            [coordinator] = self.send(self.any_broker(), request, FindCoordinatorResponse[4]).coordinators
            if coordinator.error_code == 0:
                return int(coordinator.node_id)
            assert coordinator.error_code == 15, (self.name, coordinator)
            assert time.monotonic() < deadline, (self.name, coordinator)
            time.sleep(0.2)

    def not_coordinator(self, group: str) -> int:
        return min(b for b in self.brokers if b != self.coordinator(group))


def metadata(topics: list[str]) -> Any:
    T = MetadataRequest.MetadataRequestTopic
    return MetadataRequest[12](
        topics=[T(name=t) for t in topics],
        allow_auto_topic_creation=False,
        include_topic_authorized_operations=False,
    )


# ---- normalising a decoded response ------------------------------------------------------------------------------


def normal(value: Any, key: str = "") -> Any:
    """What must agree between the sandbox and Kafka (see the module docstring)."""
    if key in IDS:
        return "<id>"
    if key in OFFSETS:
        return value if value in (-1, None) else "<offset>"
    if key in ID_LISTS:
        return len(value or [])
    if isinstance(value, dict):
        return {k: normal(v, k) for k, v in sorted(value.items()) if k not in IGNORED and not k.startswith("_")}
    if isinstance(value, list | tuple):
        items = [normal(v, key) for v in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=str))
    return value


def decoded(response: Any) -> Any:
    body = response.to_dict() if hasattr(response, "to_dict") else response
    return normal({k: v for k, v in body.items() if k != "header"})


# ---- the cases ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A request, the broker it goes to (chosen per side by role) and how to read the answer."""

    name: str
    broker: Callable[[Side], int]
    request: Callable[[], Any]
    response: Any
    view: Callable[[Any], Any] = decoded


def list_offsets(*partitions: tuple[str, int, int]) -> Any:
    T, P = ListOffsetsRequest.ListOffsetsTopic, ListOffsetsRequest.ListOffsetsTopic.ListOffsetsPartition
    topics: dict[str, list[Any]] = {}
    for topic, partition, timestamp in partitions:
        topics.setdefault(topic, []).append(P(partition_index=partition, timestamp=timestamp))
    return ListOffsetsRequest[7](
        replica_id=-1, isolation_level=0, topics=[T(name=t, partitions=ps) for t, ps in topics.items()]
    )


def offset_fetch(group: str, partitions: list[int] | None) -> Any:
    G = OffsetFetchRequest.OffsetFetchRequestGroup
    T = G.OffsetFetchRequestTopics
    topics = None if partitions is None else [T(name=TOPIC, partition_indexes=partitions)]
    return OffsetFetchRequest[8](groups=[G(group_id=group, topics=topics)], require_stable=False)


def describe_configs(topic: str) -> Any:
    R = DescribeConfigsRequest.DescribeConfigsResource
    return DescribeConfigsRequest[4](
        resources=[R(resource_type=2, resource_name=topic, configuration_keys=CONFIG_KEYS)],
        include_synonyms=False,
        include_documentation=False,
    )


def alter_configs(topic: str, operation: int, value: str | None) -> Any:
    R = IncrementalAlterConfigsRequest.AlterConfigsResource
    C = R.AlterableConfig
    config = C(name="retention.ms", config_operation=operation, value=value)
    return IncrementalAlterConfigsRequest[1](
        resources=[R(resource_type=2, resource_name=topic, configs=[config])], validate_only=False
    )


def log_dirs(*topics: str) -> Any:
    T = DescribeLogDirsRequest.DescribableLogDirTopic
    return DescribeLogDirsRequest[4](topics=[T(topic=t, partitions=[0, 1]) for t in topics])


def only_diff_groups(response: Any) -> Any:
    """ListGroups answers every group of the broker; the sandbox fleet has groups Kafka has not."""
    view = decoded(response)
    view["groups"] = [g for g in view["groups"] if g["group_id"].startswith("diff-")]
    return view


SET, DELETE = 0, 1
DYNAMIC_DEFAULT_BROKER_CONFIG, DEFAULT_CONFIG = 3, 5


def configs_view(response: Any) -> Any:
    """A kept difference (docs/sandbox.md): Kafka 4.x's storage format writes ``min.insync.replicas`` as a
    cluster-wide dynamic default, so a topic without an override reports it from DYNAMIC_DEFAULT_BROKER_CONFIG;
    the sandbox, like a cluster without that record, from DEFAULT_CONFIG. Both mean "inherited", which is all the
    exporter and the webhook read from a source; every other key's source must be equal."""
    view = decoded(response)
    for result in view["results"]:
        for config in result["configs"]:
            if config["name"] == "min.insync.replicas" and config["config_source"] == DYNAMIC_DEFAULT_BROKER_CONFIG:
                config["config_source"] = DEFAULT_CONFIG
    return view


CASES = [
    Case("metadata: a topic and an unknown topic", Side.any_broker, lambda: metadata([TOPIC, NO_TOPIC]),
         MetadataResponse[12]),
    Case("list offsets at the leader: latest, unknown partition, unknown topic", lambda s: s.leader(TOPIC, 0),
         lambda: list_offsets((TOPIC, 0, -1), (TOPIC, 99, -1), (NO_TOPIC, 0, -1)), ListOffsetsResponse[7]),
    Case("list offsets at the leader: earliest", lambda s: s.leader(TOPIC, 0), lambda: list_offsets((TOPIC, 0, -2)),
         ListOffsetsResponse[7]),
    Case("list offsets: one partition asked for twice", lambda s: s.leader(TOPIC, 0),
         lambda: list_offsets((TOPIC, 0, -1), (TOPIC, 0, -2)), ListOffsetsResponse[7]),
    Case("list offsets at a follower: not leader", lambda s: s.follower(TOPIC, 0),
         lambda: list_offsets((TOPIC, 0, -1)), ListOffsetsResponse[7]),
    Case("find coordinator: a group with offsets and an unknown group", Side.any_broker,
         lambda: FindCoordinatorRequest[4](key_type=0, coordinator_keys=[GROUP, NO_GROUP]),
         FindCoordinatorResponse[4]),
    Case("list groups at the coordinator, all states", lambda s: s.coordinator(GROUP),
         lambda: ListGroupsRequest[5](states_filter=[], types_filter=[]), ListGroupsResponse[5], only_diff_groups),
    Case("list groups filtered to Empty", lambda s: s.coordinator(GROUP),
         lambda: ListGroupsRequest[5](states_filter=["Empty"], types_filter=[]), ListGroupsResponse[5],
         only_diff_groups),
    Case("describe a group that only has committed offsets (empty)", lambda s: s.coordinator(GROUP),
         lambda: DescribeGroupsRequest[5](groups=[GROUP], include_authorized_operations=False),
         DescribeGroupsResponse[5]),
    Case("describe an unknown group at its coordinator", lambda s: s.coordinator(NO_GROUP),
         lambda: DescribeGroupsRequest[5](groups=[NO_GROUP], include_authorized_operations=False),
         DescribeGroupsResponse[5]),
    Case("describe a group at a broker that is not its coordinator", lambda s: s.not_coordinator(GROUP),
         lambda: DescribeGroupsRequest[5](groups=[GROUP], include_authorized_operations=False),
         DescribeGroupsResponse[5]),
    Case("offset fetch, all topics", lambda s: s.coordinator(GROUP), lambda: offset_fetch(GROUP, None),
         OffsetFetchResponse[8]),
    Case("offset fetch, committed and uncommitted partitions", lambda s: s.coordinator(GROUP),
         lambda: offset_fetch(GROUP, [0, 1]), OffsetFetchResponse[8]),
    Case("offset fetch of an unknown group", lambda s: s.coordinator(NO_GROUP),
         lambda: offset_fetch(NO_GROUP, None), OffsetFetchResponse[8]),
    Case("offset fetch at a broker that is not the coordinator", lambda s: s.not_coordinator(GROUP),
         lambda: offset_fetch(GROUP, None), OffsetFetchResponse[8]),
    Case("describe configs of a topic", Side.any_broker, lambda: describe_configs(TOPIC), DescribeConfigsResponse[4],
         configs_view),
    Case("describe configs of an unknown topic", Side.any_broker, lambda: describe_configs(NO_TOPIC),
         DescribeConfigsResponse[4]),
    Case("alter configs: set retention.ms", Side.any_broker, lambda: alter_configs(TOPIC, SET, "7200000"),
         IncrementalAlterConfigsResponse[1]),
    Case("alter configs: an invalid value", Side.any_broker, lambda: alter_configs(TOPIC, SET, "soon"),
         IncrementalAlterConfigsResponse[1]),
    Case("alter configs: an unknown topic", Side.any_broker, lambda: alter_configs(NO_TOPIC, SET, "7200000"),
         IncrementalAlterConfigsResponse[1]),
    Case("alter configs: delete the override", Side.any_broker, lambda: alter_configs(TOPIC, DELETE, None),
         IncrementalAlterConfigsResponse[1]),
    Case("describe log dirs of a topic and an unknown topic", Side.any_broker, lambda: log_dirs(TOPIC, NO_TOPIC),
         DescribeLogDirsResponse[4]),
]  # fmt: skip


# ---- the two sides -----------------------------------------------------------------------------------------------


def commit(side: Side) -> None:
    """A group that only has a committed offset (no member ever joined): partition 0 of the topic at offset 0."""
    T = OffsetCommitRequest.OffsetCommitRequestTopic
    P = T.OffsetCommitRequestPartition
    request = OffsetCommitRequest[8](
        group_id=GROUP,
        generation_id_or_member_epoch=-1,
        member_id="",
        group_instance_id=None,
        topics=[T(name=TOPIC, partitions=[P(partition_index=0, committed_offset=0, committed_metadata="")])],
    )
    deadline = time.monotonic() + 30
    # a fresh coordinator answers NOT_COORDINATOR (16) or LOAD_IN_PROGRESS (14) while it takes over, and
    # UNKNOWN_TOPIC_OR_PARTITION (3) until the just-created topic's metadata has reached its broker (CreateTopics
    # returns once the controller committed it; brokers learn it asynchronously, seen on a busy machine)
    while True:
        response = side.send(side.coordinator(GROUP), request, OffsetCommitResponse[8])
        errors = [p.error_code for t in response.topics for p in t.partitions]
        if errors == [0]:
            return
        assert errors in ([3], [14], [16]), (side.name, response)
        assert time.monotonic() < deadline, (side.name, response)
        time.sleep(0.2)


@pytest.fixture(scope="module")
def sides(kafka: KafkaCluster) -> Iterator[tuple[Side, Side]]:
    with Sandbox.start("small", jmx=True, jmx_refresh=None) as sandbox:
        jmx = sandbox.jmx
        assert jmx is not None, "Kafka runs, so a JDK is here: the sandbox must serve JMX"
        truth = sandbox.truth()["clusters"]["alpha"]
        scratch = truth["topics"][TOPIC]
        assert (len(scratch["partitions"]), len(scratch["partitions"][0]["replicas"])) == (2, 3)
        create_topic(kafka, TOPIC, partitions=2, replication=3)
        simulated = Side(
            "sandbox",
            {b["id"]: (b["host"], b["port"]) for b in truth["brokers"]},
            {b["id"]: port for b in truth["brokers"] if (port := jmx.port("alpha", b["id"])) is not None},
            jmx.refresh,
        )
        real = Side(
            "kafka",
            {n.node_id: ("127.0.0.1", n.port) for n in kafka.nodes},
            {n.node_id: n.jmx_port for n in kafka.nodes},
            lambda: None,
        )
        for side in (simulated, real):
            commit(side)
        yield simulated, real


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_sandbox_answers_like_kafka(sides: tuple[Side, Side], case: Case) -> None:
    answers = {side.name: case.view(side.send(case.broker(side), case.request(), case.response)) for side in sides}
    assert answers["sandbox"] == answers["kafka"], json.dumps(answers, indent=1, sort_keys=True, default=str)


def test_api_versions_the_sandbox_advertises_are_within_kafkas(sides: tuple[Side, Side]) -> None:
    """Same error code; every API the sandbox serves, Kafka serves, over at least the sandbox's version range
    (so nothing that works against the sandbox is refused by Kafka for its version)."""
    ranges = {}
    for side in sides:
        request = ApiVersionsRequest[3](client_software_name="kafka-obs-test", client_software_version="1")
        response = side.send(side.any_broker(), request, ApiVersionsResponse[3])
        assert response.error_code == 0, side.name
        ranges[side.name] = {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}
    outside = {
        key: (sandbox, ranges["kafka"].get(key))
        for key, sandbox in ranges["sandbox"].items()
        if key not in ranges["kafka"]
        or not (ranges["kafka"][key][0] <= sandbox[0] <= sandbox[1] <= ranges["kafka"][key][1])
    }
    assert outside == {}


def test_an_unsupported_api_versions_version_gets_error_35_and_the_v0_list(sides: tuple[Side, Side]) -> None:
    """A client newer than the broker sends ApiVersions at a version the broker does not know: Kafka answers in v0
    with UNSUPPORTED_VERSION and its ApiVersions range, so the client can retry at a version both know."""
    answers = {}
    for side in sides:
        request = ApiVersionsRequest[3](client_software_name="kafka-obs-test", client_software_version="1")
        request.with_header(correlation_id=11, client_id="test")
        frame = bytearray(request.encode(header=True, framed=True))
        frame[6:8] = (99).to_bytes(2, "big")  # the header's api_version
        with socket.create_connection(side.brokers[side.any_broker()], timeout=10) as sock:
            sock.sendall(bytes(frame))
            size = int.from_bytes(recv_exactly(sock, 4), "big")
            response = ApiVersionsResponse[0].decode(recv_exactly(sock, size), header=True)
        versions = {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}
        answers[side.name] = (response.header.correlation_id, response.error_code, 18 in versions)
    assert answers["sandbox"] == answers["kafka"] == (11, 35, True)


def consumer_fetch() -> Any:
    T = FetchRequest.FetchTopic
    partition = T.FetchPartition(partition=0, fetch_offset=0, partition_max_bytes=1024)
    return FetchRequest[12](
        replica_id=-1, max_wait_ms=0, min_bytes=0, topics=[T(topic=TOPIC, partitions=[partition])], rack_id=""
    )


def test_both_count_requests_under_the_same_request_metrics_mbeans(
    sides: tuple[Side, Side], jmx_helper: JmxHelper
) -> None:
    """bench/bench_peers.py counts each exporter's Kafka requests on the broker side, from RequestsPerSec, on Kafka
    and on the sandbox alike: the same requests must move the same ObjectNames (request=<ApiKeys name>, version=<v>)
    by the same counts, a consumer's Fetch counted twice (Fetch and FetchConsumer). The versions sent are ones
    Kafka's own inter-broker clients do not use, so replication and heartbeats stay out of the counted meters."""
    sent = [
        (ApiVersionsRequest[3](client_software_name="kafka-obs-test", client_software_version="1"),
         ApiVersionsResponse[3]),
        (metadata([TOPIC]), MetadataResponse[12]),
        (metadata([TOPIC]), MetadataResponse[12]),
        (describe_configs(TOPIC), DescribeConfigsResponse[4]),
        (log_dirs(TOPIC), DescribeLogDirsResponse[4]),
        (ListGroupsRequest[5](states_filter=[], types_filter=[]), ListGroupsResponse[5]),
        (consumer_fetch(), FetchResponse[12]),
    ]  # fmt: skip
    prefix = "kafka.network:type=RequestMetrics,name=RequestsPerSec,"
    expected = {
        f"{prefix}request=ApiVersions,version=3": 1,
        f"{prefix}request=Metadata,version=12": 2,
        f"{prefix}request=DescribeConfigs,version=4": 1,
        f"{prefix}request=DescribeLogDirs,version=4": 1,
        f"{prefix}request=ListGroups,version=5": 1,
        f"{prefix}request=Fetch,version=12": 1,
        f"{prefix}request=FetchConsumer,version=12": 1,
    }
    moved = {}
    for side in sides:
        broker = side.any_broker()
        before = side.request_counts(broker, jmx_helper)
        with socket.create_connection(side.brokers[broker], timeout=10) as sock:
            for i, (request, response_class) in enumerate(sent):
                roundtrip(sock, request, response_class, correlation_id=i + 1)
        after = side.request_counts(broker, jmx_helper)
        moved[side.name] = {name: count - before.get(name, 0) for name, count in after.items() if name in expected}
    assert moved == {"sandbox": expected, "kafka": expected}
