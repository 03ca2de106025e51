"""The sandbox's JMX responder, read with the exporter's own JMX client (its helper JVM) over real JMX/RMI."""

from __future__ import annotations

import socket

import pytest

from kafka_obs.clock import ManualClock
from kafka_obs.config.clusters import load_fleet
from kafka_obs.exporter.jmx import JmxError, JmxHelper, Query
from kafka_obs.sandbox.jmx import (
    Bean,
    BrokerJmxState,
    JavaUnavailable,
    JmxResponder,
    RequestLatency,
    ResponderError,
    TopicTraffic,
    kafka_beans,
    object_name,
)
from kafka_obs.sandbox.jmx.build import JavaTools, compiled_classes
from kafka_obs.sandbox.runtime import Sandbox


def url(port: int) -> str:
    return f"service:jmx:rmi:///jndi/rmi://127.0.0.1:{port}/jmxrmi"


def read(
    client: JmxHelper, port: int, *queries: str, username: str | None = None, password: str | None = None
) -> dict[str, object]:
    """``{"ObjectName/Attribute[/key]": value}`` through the exporter's JMX helper."""
    batch = [Query(pattern, (attribute,)) for pattern, attribute in (q.rsplit("/", 1) for q in queries)]
    rows = client.query(url(port), batch, timeout=20, username=username, password=password)
    return {"/".join(filter(None, (row.object_name, row.attribute, row.key))): row.value for row in rows}


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


STATE = BrokerJmxState(
    broker_id=7,
    topics={
        "orders": TopicTraffic(bytes_in=1_000, bytes_out=3_000, messages_in=10, produce_requests=4),
        "payments": TopicTraffic(bytes_in=250, messages_in=5, failed_produce_requests=1, bytes_in_per_second=12.5),
    },
    under_replicated_partitions=3,
    partition_count=40,
    leader_count=13,
    active_controller=True,
    offline_partitions=2,
    request_latency={"Produce": RequestLatency(count=99, percentiles_ms={"p50": 1.5, "p99": 42.0})},
    request_handler_idle_ratio=0.75,
    network_processor_idle_ratio=0.5,
    log_sizes={("orders", 0): 123_456, ("orders", 1): 7},
    heap_used_bytes=300_000_000,
    heap_max_bytes=1_000_000_000,
    gc={"G1 Young Generation": (17, 420)},
)


def test_a_broker_serves_the_fed_values_under_kafkas_object_names(
    responder: JmxResponder, jmx_helper: JmxHelper
) -> None:
    port = responder.open_broker("values/7")
    responder.publish("values/7", kafka_beans(STATE))
    got = read(
        jmx_helper,
        port,
        "kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec/Count",
        "kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,topic=payments/Count",
        "kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,topic=payments/OneMinuteRate",
        "kafka.server:type=BrokerTopicMetrics,name=FailedProduceRequestsPerSec/Count",
        "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions/Value",
        "kafka.controller:type=KafkaController,name=ActiveControllerCount/Value",
        "kafka.controller:type=KafkaController,name=OfflinePartitionsCount/Value",
        "kafka.network:type=RequestMetrics,name=TotalTimeMs,request=Produce/99thPercentile",
        "kafka.server:type=KafkaRequestHandlerPool,name=RequestHandlerAvgIdlePercent/OneMinuteRate",
        "kafka.log:type=Log,name=Size,topic=orders,partition=0/Value",
        "java.lang:type=Memory/HeapMemoryUsage",
        "java.lang:type=GarbageCollector,name=G1 Young Generation/CollectionTime",
        "kafka.server:type=app-info,id=7/Version",
    )
    assert got == {
        "kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec/Count": 1_250,  # all topics = the sum
        "kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,topic=payments/Count": 250,
        "kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,topic=payments/OneMinuteRate": 12.5,
        "kafka.server:type=BrokerTopicMetrics,name=FailedProduceRequestsPerSec/Count": 1,
        "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions/Value": 3,
        "kafka.controller:type=KafkaController,name=ActiveControllerCount/Value": 1,
        "kafka.controller:type=KafkaController,name=OfflinePartitionsCount/Value": 2,
        "kafka.network:type=RequestMetrics,name=TotalTimeMs,request=Produce/99thPercentile": 42.0,
        "kafka.server:type=KafkaRequestHandlerPool,name=RequestHandlerAvgIdlePercent/OneMinuteRate": 0.75,
        "kafka.log:type=Log,name=Size,topic=orders,partition=0/Value": 123_456,
        "java.lang:type=Memory/HeapMemoryUsage/committed": 1_000_000_000,
        "java.lang:type=Memory/HeapMemoryUsage/init": 1_000_000_000,
        "java.lang:type=Memory/HeapMemoryUsage/max": 1_000_000_000,
        "java.lang:type=Memory/HeapMemoryUsage/used": 300_000_000,
        "java.lang:type=GarbageCollector,name=G1 Young Generation/CollectionTime": 420,
        "kafka.server:type=app-info,id=7/Version": "3.7.0",
    }


def test_brokers_are_isolated_and_updates_are_seen(responder: JmxResponder, jmx_helper: JmxHelper) -> None:
    a = responder.open_broker("iso/1")
    b = responder.open_broker("iso/2")
    assert a != b
    urp = "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions"
    responder.set_beans("iso/1", [Bean("gauge", urp, {"Value": 5})])
    assert read(jmx_helper, a, f"{urp}/Value") == {f"{urp}/Value": 5}
    assert read(jmx_helper, b, f"{urp}/Value") == {}
    responder.set_beans("iso/1", [Bean("gauge", urp, {"Value": 0})])
    assert read(jmx_helper, a, f"{urp}/Value") == {f"{urp}/Value": 0}


def test_publish_unregisters_what_disappeared(responder: JmxResponder, jmx_helper: JmxHelper) -> None:
    port = responder.open_broker("gone/1")
    responder.publish("gone/1", kafka_beans(STATE))
    pattern = "kafka.log:type=Log,name=Size,*/Value"
    assert len(read(jmx_helper, port, pattern)) == 2
    responder.publish("gone/1", kafka_beans(BrokerJmxState(broker_id=1, log_sizes={("orders", 1): 9})))
    assert read(jmx_helper, port, pattern) == {"kafka.log:type=Log,name=Size,topic=orders,partition=1/Value": 9}


def test_a_stopped_broker_stops_listening_and_comes_back_on_the_same_port(
    responder: JmxResponder, jmx_helper: JmxHelper
) -> None:
    port = responder.open_broker("stop/1")
    name = "kafka.controller:type=KafkaController,name=ActiveControllerCount"
    responder.set_beans("stop/1", [Bean("gauge", name, {"Value": 1})])
    responder.close_broker("stop/1")
    assert not responder.is_open("stop/1")
    assert not listening(port)
    responder.set_beans("stop/1", [Bean("gauge", name, {"Value": 0})])  # the simulation carries on meanwhile
    assert responder.open_broker("stop/1") == port
    assert listening(port)
    assert read(jmx_helper, port, f"{name}/Value") == {f"{name}/Value": 0}


def test_credentials_are_enforced(responder: JmxResponder, jmx_helper: JmxHelper) -> None:
    port = responder.open_broker("auth/1", username="monitor", password='s3 cr"et')
    name = "kafka.server:type=ReplicaManager,name=LeaderCount"
    responder.set_beans("auth/1", [Bean("gauge", name, {"Value": 4})])
    assert read(jmx_helper, port, f"{name}/Value", username="monitor", password='s3 cr"et') == {f"{name}/Value": 4}
    for username, password in (("monitor", "wrong"), (None, None)):
        with pytest.raises(JmxError) as refused:
            read(jmx_helper, port, f"{name}/Value", username=username, password=password)
        assert refused.value.reason == "authentication"


def test_bad_commands_are_refused_with_a_reason(responder: JmxResponder) -> None:
    responder.open_broker("bad/1")
    with pytest.raises(ResponderError, match="unknown broker"):
        responder.set_beans("never-opened", [Bean("gauge", "a:type=B", {"Value": 1})])
    with pytest.raises(ResponderError, match="no attribute 'Count'"):
        responder.set_beans("bad/1", [Bean("gauge", "a:type=B", {"Count": 1})])
    with pytest.raises(ResponderError, match="is a gauge, not a meter"):
        responder.set_beans("bad/1", [Bean("meter", "a:type=B", {"Count": 1})])
    with pytest.raises(ResponderError, match="already open"):
        responder.open_broker("bad/1")
    with pytest.raises(ValueError, match="not a plain ObjectName value"):
        object_name("kafka.log", topic="a,b")
    assert responder.running  # errors never take the JVM down


def test_without_a_jdk_the_error_says_what_is_missing(tmp_path) -> None:
    with pytest.raises(JavaUnavailable, match="java and javac not found"):
        JavaTools.find(java=str(tmp_path / "no-java"), javac=str(tmp_path / "no-javac"))


def test_the_compiled_responder_is_cached_by_source_hash(responder: JmxResponder, tmp_path) -> None:
    tools = JavaTools.find()
    first = compiled_classes(tools)
    assert compiled_classes(tools) == first
    assert (first / "JmxResponder.class").is_file()


def test_stop_ends_the_jvm() -> None:
    jmx = JmxResponder.start()
    port = jmx.open_broker("x/1")
    jmx.stop()
    assert not jmx.running
    assert not listening(port)
    with pytest.raises(ResponderError, match="not running"):
        jmx.open_broker("x/2")


def test_the_sandbox_serves_jmx_for_every_broker_and_writes_the_ports(tmp_path) -> None:

    with Sandbox.start("small", clock=ManualClock(), control=None, jmx=True, jmx_refresh=None) as sb:
        assert sb.jmx is not None
        fleet = load_fleet(sb.write_clusters_yaml(tmp_path / "clusters.yaml"))
        for cluster in fleet.clusters:
            assert cluster.jmx_ports is not None
            assert all(listening(port) for port in cluster.jmx_ports)
        alpha = next(c for c in fleet.clusters if c.name == "alpha")
        assert alpha.jmx_ports is not None
        sb.stop_broker("alpha", 1)
        assert not listening(alpha.jmx_ports[0])
        sb.start_broker("alpha", 1)
        assert listening(alpha.jmx_ports[0])


def test_without_java_the_sandbox_runs_without_jmx_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path
) -> None:

    monkeypatch.setenv("PATH", str(tmp_path))  # no java, no javac
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with Sandbox.start("small", clock=ManualClock(), control=None, jmx=True) as sb:
        assert sb.jmx is None
        assert "jmx_ports" not in sb.write_clusters_yaml(tmp_path / "clusters.yaml").read_text()
    (record,) = [r for r in caplog.records if r.getMessage() == "running without broker JMX"]
    assert "java and javac not found" in record.reason  # type: ignore[attr-defined]
