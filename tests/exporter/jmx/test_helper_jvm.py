"""The real helper JVM against the sandbox's JMX responder: what a long-lived client has to get right.

Connections are kept across cycles and re-opened after a broker restart; a hung broker (its responder JVM
SIGSTOPped) costs its own timeout while the other brokers answer at once; a killed helper is started again on the
next cycle; the password never reaches the helper's command line or environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafka_obs.config.clusters import Cluster
from kafka_obs.exporter.collectors import ClusterFacts
from kafka_obs.exporter.jmx import JmxCollector, JmxError, JmxHelper
from kafka_obs.exporter.jmx.catalogue import batch_queries
from kafka_obs.exporter.jmx.helper import JVM_OPTIONS, find_java
from kafka_obs.exporter.jmx.query import service_url
from kafka_obs.sandbox.jmx import BrokerJmxState, JmxResponder, TopicTraffic, kafka_beans

PASSWORD = 'helper-s3cret "\\ é'  # quote, backslash, non-ASCII: JSON escapes through the helper's own parser
Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def state(broker_id: int) -> BrokerJmxState:
    return BrokerJmxState(
        broker_id=broker_id,
        topics={"orders": TopicTraffic(bytes_in=100 * broker_id)},
        log_sizes={("orders", 0): 1000 + broker_id},
    )


@pytest.fixture(scope="module")
def ports(responder: JmxResponder) -> list[int]:
    opened = []
    for broker_id in (1, 2, 3):
        opened.append(responder.open_broker(f"helper/{broker_id}", username="monitor", password=PASSWORD))
        responder.publish(f"helper/{broker_id}", kafka_beans(state(broker_id)))
    return opened


@pytest.fixture
def helper() -> Iterator[JmxHelper]:
    """A helper of its own per test: these tests kill it and count its connections."""
    client = JmxHelper()
    yield client
    client.close()


def cluster(ports: list[int], timeout: float = 20) -> Cluster:
    return Cluster(
        name="helper",
        region="eu-west",
        environment="production",
        brokers=[f"127.0.0.1:{19092 + i}" for i in range(len(ports))],
        jmx_ports=ports,
        jmx={
            "username": "monitor",
            "password": PASSWORD,
            "timeout": timeout,
            "partition_sizes": True,
            "topic_meters": True,
        },
    )


def cycle(collector: JmxCollector, target: Cluster) -> Series:
    return {
        (f.name, tuple(zip(f.metric.labels, labels, strict=True))): value
        for f in collector.collect(ClusterFacts(target, None, 0.0))
        for labels, value in f.samples
    }


def up(series: Series) -> dict[str, float]:
    return {labels[0][1]: value for (name, labels), value in series.items() if name == "kafka_jmx_up"}


def test_one_connection_per_broker_is_kept_across_cycles(helper: JmxHelper, ports: list[int]) -> None:
    target = cluster(ports)
    collector = JmxCollector(target, client=helper)
    try:
        for _ in range(3):
            assert up(cycle(collector, target)) == {"1": 1, "2": 1, "3": 1}
    finally:
        collector.close()
    assert helper.starts == 1
    assert helper.connections_opened == 3


def test_a_restarted_broker_is_reconnected_in_the_first_cycle_after(
    helper: JmxHelper, responder: JmxResponder, ports: list[int]
) -> None:
    target = cluster(ports)
    collector = JmxCollector(target, client=helper)
    try:
        assert up(cycle(collector, target)) == {"1": 1, "2": 1, "3": 1}
        responder.close_broker("helper/2")
        try:
            assert up(cycle(collector, target)) == {"1": 1, "2": 0, "3": 1}
        finally:
            responder.open_broker("helper/2", username="monitor", password=PASSWORD)
        series = cycle(collector, target)
    finally:
        collector.close()
    assert up(series) == {"1": 1, "2": 1, "3": 1}
    assert series[("kafka_log_log_size", (("broker", "2"), ("topic", "orders"), ("partition", "0")))] == 1002
    assert helper.connections_opened == 4  # three, then broker 2's again; brokers 1 and 3 kept theirs


def test_a_hung_broker_times_out_alone_and_recovers(
    helper: JmxHelper, responder: JmxResponder, ports: list[int]
) -> None:
    """Broker 1 lives in a responder JVM of its own, which is SIGSTOPped: it accepts TCP but never answers."""
    with JmxResponder.start() as hung_jvm:
        hung_port = hung_jvm.open_broker("hung/1", username="monitor", password=PASSWORD)
        hung_jvm.publish("hung/1", kafka_beans(state(1)))
        timeout = 5.0
        target = cluster([hung_port, ports[1], ports[2]], timeout=timeout)
        collector = JmxCollector(target, client=helper)
        try:
            assert up(cycle(collector, target)) == {"1": 1, "2": 1, "3": 1}
            os.kill(hung_jvm.pid, signal.SIGSTOP)
            try:
                for _ in range(2):  # the second cycle finds the first read still stuck: answered at once
                    started = time.monotonic()
                    series = cycle(collector, target)
                    elapsed = time.monotonic() - started
                    assert up(series) == {"1": 0, "2": 1, "3": 1}
                    assert elapsed < timeout + 3, "the cycle waited for more than the hung broker's timeout"
                    durations = {
                        labels[0][1]: v for (n, labels), v in series.items() if n == "kafka_jmx_scrape_duration_seconds"
                    }
                    # not held up by broker 1 (loose bound: the machine running the tests may be busy)
                    assert max(durations["2"], durations["3"]) < timeout - 1, durations
                with pytest.raises(JmxError) as caught:
                    helper.query(
                        service_url("127.0.0.1", hung_port),
                        batch_queries(),
                        timeout=1,
                        username="monitor",
                        password=PASSWORD,
                    )
                assert caught.value.reason == "timeout"
            finally:
                os.kill(hung_jvm.pid, signal.SIGCONT)
            deadline = time.monotonic() + 20
            while up(series := cycle(collector, target)) != {"1": 1, "2": 1, "3": 1} and time.monotonic() < deadline:
                time.sleep(0.5)
            assert up(series) == {"1": 1, "2": 1, "3": 1}
        finally:
            collector.close()
    assert helper.starts == 1


def test_a_killed_helper_is_started_again_on_the_next_cycle(helper: JmxHelper, ports: list[int]) -> None:
    target = cluster(ports)
    collector = JmxCollector(target, client=helper)
    try:
        assert up(cycle(collector, target)) == {"1": 1, "2": 1, "3": 1}
        first = helper.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)  # between two cycles, as the OOM killer or an operator would
        deadline = time.monotonic() + 10
        while helper.pid is not None:  # every thread of it gone and reaped, its pipes closed
            assert time.monotonic() < deadline, "SIGKILL did not end the helper"
            time.sleep(0.02)
        series = cycle(collector, target)
    finally:
        collector.close()
    assert up(series) == {"1": 1, "2": 1, "3": 1}
    assert helper.starts == 2
    assert helper.pid not in (None, first)


def test_a_stopped_helper_costs_one_timeout_and_is_replaced(helper: JmxHelper, ports: list[int]) -> None:
    """A SIGSTOPped helper reads no request: the cycle still ends after the timeout, and the next one works."""
    target = cluster(ports, timeout=5)
    collector = JmxCollector(target, client=helper)
    try:
        assert up(cycle(collector, target)) == {"1": 1, "2": 1, "3": 1}
        stopped = helper.pid
        assert stopped is not None
        os.kill(stopped, signal.SIGSTOP)
        started = time.monotonic()
        assert up(cycle(collector, target)) == {"1": 0, "2": 0, "3": 0}
        assert time.monotonic() - started < 5 + 2 + 3  # timeout + the client's grace + a busy machine
        assert up(cycle(collector, target)) == {"1": 1, "2": 1, "3": 1}
    finally:
        collector.close()
    assert helper.starts == 2
    assert not Path(f"/proc/{stopped}").exists()  # killed, not left stopped


def test_the_password_is_not_in_the_helpers_command_line_or_environment(helper: JmxHelper, ports: list[int]) -> None:
    helper.query(service_url("127.0.0.1", ports[0]), batch_queries(), timeout=20, username="monitor", password=PASSWORD)
    assert helper.pid is not None
    assert PASSWORD.encode() not in Path(f"/proc/{helper.pid}/cmdline").read_bytes()
    assert PASSWORD.encode() not in Path(f"/proc/{helper.pid}/environ").read_bytes()


def test_every_jvm_option_takes_effect_on_this_runtime() -> None:
    """Each option is what the JVM runs with (a mistyped ``-XX`` value or a flag the runtime lacks fails here)."""
    java = find_java()
    if java is None:
        pytest.skip("java not found")
    done = subprocess.run(
        [java, *JVM_OPTIONS, "-XX:+PrintFlagsFinal", "-version"], capture_output=True, text=True, timeout=60, check=True
    )
    flags = {line.split()[1]: line.split()[3] for line in done.stdout.splitlines() if line.count("=") == 1}
    for option in JVM_OPTIONS:
        if option.startswith("-XX:") and "=" in option:
            name, value = option.removeprefix("-XX:").split("=", 1)
            assert flags.get(name) == value, option
        elif option.startswith(("-XX:+", "-XX:-")):
            assert flags.get(option[5:]) == str(option[4] == "+").lower(), option


def test_a_runtime_without_a_diagnostic_option_still_starts_the_helper() -> None:
    """The housekeeping flags are diagnostic: a later JDK may drop them, and the helper must start there anyway."""
    java = find_java()
    if java is None:
        pytest.skip("java not found")
    done = subprocess.run(
        [java, *JVM_OPTIONS, "-XX:AsyncDeflationIntervalThatNoJdkHas=1", "-version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
