"""Broker-side request counts: requests sent to the sandbox over TCP show up in each broker's
``kafka.network:type=RequestMetrics,name=RequestsPerSec,request=<ApiKeys name>,version=<v>`` meter, read over real
JMX with the exporter's JMX client, exactly as ``bench/bench_peers.py`` reads them from real Kafka."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from kafka.protocol.admin.cluster import DescribeLogDirsRequest, DescribeLogDirsResponse
from kafka.protocol.consumer.fetch import FetchRequest, FetchResponse
from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse

from kafka_obs.clock import ManualClock
from kafka_obs.exporter.jmx import JmxHelper, Query
from kafka_obs.sandbox.runtime import Sandbox
from tests.kafka_wire import roundtrip

CLUSTER = "alpha"
PATTERN = "kafka.network:type=RequestMetrics,name=RequestsPerSec,*"
PREFIX = "kafka.network:type=RequestMetrics,name=RequestsPerSec,"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start("small", clock=ManualClock(), control=None, jmx=True, jmx_refresh=None) as sb:
        if sb.jmx is None:
            pytest.skip("no JDK: the sandbox runs without broker JMX")
        yield sb


def send(sb: Sandbox, broker_id: int, *requests: tuple[Any, Any]) -> None:
    broker = next(b for b in sb.truth()["clusters"][CLUSTER]["brokers"] if b["id"] == broker_id)
    with socket.create_connection((broker["host"], broker["port"]), timeout=10) as sock:
        for i, (request, response_class) in enumerate(requests):
            roundtrip(sock, request, response_class, correlation_id=i + 1)


def counts(sb: Sandbox, client: JmxHelper, broker_id: int) -> dict[str, int]:
    """``{"request=X,version=V": Count}`` of a broker's RequestsPerSec meters, with the model's numbers published."""
    assert sb.jmx is not None
    sb.jmx.refresh()
    port = sb.jmx.port(CLUSTER, broker_id)
    assert port is not None
    url = f"service:jmx:rmi:///jndi/rmi://127.0.0.1:{port}/jmxrmi"
    rows = client.query(url, [Query(PATTERN, ("Count",))], timeout=20)
    return {row.object_name.removeprefix(PREFIX): row.value for row in rows}


def metadata(version: int) -> Any:
    return MetadataRequest[version](topics=None, allow_auto_topic_creation=False)


def consumer_fetch(topic: str) -> Any:
    T = FetchRequest.FetchTopic
    P = T.FetchPartition
    partition = P(partition=0, fetch_offset=0, partition_max_bytes=1024)
    return FetchRequest[12](
        replica_id=-1, max_wait_ms=0, min_bytes=0, topics=[T(topic=topic, partitions=[partition])], rack_id=""
    )


def test_each_request_is_counted_per_broker_api_and_version_under_kafkas_names(
    sandbox: Sandbox, jmx_helper: JmxHelper
) -> None:
    assert counts(sandbox, jmx_helper, 1) == {}  # a meter exists once a request of its version has arrived
    api_versions = ApiVersionsRequest[3](client_software_name="kafka-obs-test", client_software_version="1")
    send(
        sandbox,
        1,
        (api_versions, ApiVersionsResponse[3]),
        (metadata(12), MetadataResponse[12]),
        (metadata(12), MetadataResponse[12]),
        (metadata(1), MetadataResponse[1]),
        (DescribeLogDirsRequest[4](topics=None), DescribeLogDirsResponse[4]),
        (consumer_fetch("scratch"), FetchResponse[12]),
    )
    send(sandbox, 2, (metadata(12), MetadataResponse[12]))
    assert counts(sandbox, jmx_helper, 1) == {
        "request=ApiVersions,version=3": 1,
        "request=Metadata,version=12": 2,
        "request=Metadata,version=1": 1,
        "request=DescribeLogDirs,version=4": 1,
        # Kafka counts a fetch under its API's name and again as a consumer's or a follower's fetch
        "request=Fetch,version=12": 1,
        "request=FetchConsumer,version=12": 1,
    }
    assert counts(sandbox, jmx_helper, 2) == {"request=Metadata,version=12": 1}
    assert counts(sandbox, jmx_helper, 3) == {}
    send(sandbox, 1, (metadata(12), MetadataResponse[12]))
    assert counts(sandbox, jmx_helper, 1)["request=Metadata,version=12"] == 3  # a counter: it only grows


def test_the_control_api_view_lists_the_counts(sandbox: Sandbox) -> None:
    send(sandbox, 3, (metadata(12), MetadataResponse[12]))
    assert sandbox.broker_stats(CLUSTER, 3)["requests"] == [{"request": "Metadata", "version": 12, "count": 1}]
