"""Wire-level behaviour: Kafka error codes for bad requests, and a bad frame closes only its own connection."""

from __future__ import annotations

import socket
import struct

import pytest
from kafka.protocol.admin.groups import DescribeGroupsRequest, DescribeGroupsResponse
from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse
from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse

from kafka_obs.sandbox.protocol.dispatch import SERVED_VERSIONS
from kafka_obs.sandbox.runtime import Sandbox
from tests.kafka_wire import roundtrip
from tests.sandbox.conftest import cluster_truth


def _connect(sb: Sandbox, broker_id: int) -> socket.socket:
    broker = next(b for b in cluster_truth(sb)["brokers"] if b["id"] == broker_id)
    sock = socket.create_connection((broker["host"], broker["port"]), timeout=5)
    return sock


def test_api_versions_advertises_exactly_what_is_served(sandbox: Sandbox) -> None:
    with _connect(sandbox, 1) as sock:
        response = roundtrip(
            sock, ApiVersionsRequest[3](client_software_name="t", client_software_version="1"), ApiVersionsResponse[3]
        )
    assert response.error_code == 0
    assert {k.api_key: (k.min_version, k.max_version) for k in response.api_keys} == SERVED_VERSIONS


def test_unsupported_version_gets_error_35_not_a_closed_connection(sandbox: Sandbox) -> None:
    _, hi = SERVED_VERSIONS[MetadataRequest.API_KEY]
    assert hi < MetadataRequest.max_version
    with _connect(sandbox, 1) as sock:
        response = roundtrip(sock, MetadataRequest[hi + 1](topics=None), MetadataResponse[hi + 1])
        assert response.error_code == 35
        # Unsupported ApiVersions answers v0 with the supported list, as Kafka does.
        with pytest.raises(ValueError, match="Invalid version"):
            ApiVersionsRequest[ApiVersionsRequest.max_version + 1]
        ok = roundtrip(sock, MetadataRequest[hi](topics=None), MetadataResponse[hi], correlation_id=8)
        assert ok.cluster_id == cluster_truth(sandbox)["cluster_id"]


def test_unknown_topic_partition_and_not_leader(sandbox: Sandbox) -> None:
    truth = cluster_truth(sandbox)
    partition = truth["topics"]["orders"]["partitions"][0]
    follower = next(b for b in partition["replicas"] if b != partition["leader"])
    T = ListOffsetsRequest.ListOffsetsTopic
    P = ListOffsetsRequest.ListOffsetsTopic.ListOffsetsPartition
    request = ListOffsetsRequest[7](
        replica_id=-1,
        isolation_level=0,
        topics=[
            T(name="orders", partitions=[P(partition_index=0, timestamp=-1), P(partition_index=99, timestamp=-1)]),
            T(name="nope", partitions=[P(partition_index=0, timestamp=-1)]),
        ],
    )
    with _connect(sandbox, follower) as sock:
        response = roundtrip(sock, request, ListOffsetsResponse[7])
    codes = {(t.name, p.partition_index): p.error_code for t in response.topics for p in t.partitions}
    assert codes == {("orders", 0): 6, ("orders", 99): 3, ("nope", 0): 3}


def test_not_coordinator(sandbox: Sandbox) -> None:
    coordinator = cluster_truth(sandbox)["groups"]["orders-processor"]["coordinator"]
    other = next(b for b in (1, 2, 3) if b != coordinator)
    with _connect(sandbox, other) as sock:
        response = roundtrip(sock, DescribeGroupsRequest[5](groups=["orders-processor"]), DescribeGroupsResponse[5])
    assert response.groups[0].error_code == 16
    assert response.groups[0].group_state == ""  # as Kafka: the broker knows nothing of the group, not "Dead"


def test_a_partition_asked_for_twice_is_answered_once_with_invalid_request(sandbox: Sandbox) -> None:
    """As Kafka 4.4 does (tests/realkafka/test_sandbox_differential.py); the other partitions are answered."""
    leader = cluster_truth(sandbox)["topics"]["orders"]["partitions"][0]["leader"]
    T = ListOffsetsRequest.ListOffsetsTopic
    P = ListOffsetsRequest.ListOffsetsTopic.ListOffsetsPartition
    partitions = [
        P(partition_index=0, timestamp=-1),
        P(partition_index=0, timestamp=-2),
        P(partition_index=99, timestamp=-1),
    ]
    request = ListOffsetsRequest[7](replica_id=-1, isolation_level=0, topics=[T(name="orders", partitions=partitions)])
    with _connect(sandbox, leader) as sock:
        response = roundtrip(sock, request, ListOffsetsResponse[7])
    assert [(p.partition_index, p.error_code) for t in response.topics for p in t.partitions] == [(0, 42), (99, 3)]


@pytest.mark.parametrize(
    "garbage", [struct.pack(">i", 2**30) + b"x", struct.pack(">i", -4), struct.pack(">i", 6) + b"\xff" * 6]
)
def test_bad_frames_close_only_their_connection(
    sandbox: Sandbox, garbage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with _connect(sandbox, 1) as good, _connect(sandbox, 1) as bad:
        bad.sendall(garbage)
        bad.settimeout(5)
        assert bad.recv(1) == b""  # closed by the sandbox
        response = roundtrip(good, MetadataRequest[12](topics=None), MetadataResponse[12])
        assert response.cluster_id == cluster_truth(sandbox)["cluster_id"]
    assert any("bad request" in r.getMessage() for r in caplog.records)
