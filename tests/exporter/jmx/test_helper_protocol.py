"""The Python side of the JMX helper against a stand-in process (``fake_helper.py``): no Java needed.

Requests and replies matched by id across threads, timeouts, a helper that dies (the read in flight fails with
reason ``java``, the next read starts a new one), one that cannot start, and credentials that stay on the pipe.
"""

from __future__ import annotations

import json
import logging
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafka_obs.exporter.jmx import JmxError, JmxHelper, Query, Row

FAKE = Path(__file__).with_name("fake_helper.py")
QUERIES = [Query("kafka.server:type=ReplicaManager,name=LeaderCount", ("Value",)), Query("java.lang:*", ("Uptime",))]
SECRET = 'pa ss"w\\rd'


@pytest.fixture
def launcher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An executable that runs the stand-in with this interpreter (it is handed to the helper as ``java``)."""
    script = tmp_path / "java"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("FAKE_HELPER_LOG", str(tmp_path / "requests.jsonl"))
    return script


@pytest.fixture
def helper(launcher: Path) -> Iterator[JmxHelper]:
    client = JmxHelper(java=str(launcher), jvm_options=("serve",), reply_grace=0.3)
    yield client
    client.close()


def requests(launcher: Path) -> list[dict[str, object]]:
    lines = (launcher.parent / "requests.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_a_read_sends_every_query_and_returns_the_rows(helper: JmxHelper, launcher: Path) -> None:
    rows = helper.query("service:jmx:rmi:///jndi/rmi://b1:9999/jmxrmi", QUERIES, timeout=5)
    assert rows == [Row(q.pattern, q.attributes[0], None, 1) for q in QUERIES]
    (logged,) = requests(launcher)
    request = logged["request"]
    assert isinstance(request, dict)
    assert request["op"] == "read"
    assert request["timeout_ms"] == 5000
    assert request["queries"] == [
        {"pattern": q.pattern, "attributes": list(q.attributes), "keep": q.keep_names} for q in QUERIES
    ]
    assert "username" not in request
    assert helper.connections_opened == 1


def test_the_helper_starts_on_the_first_read_and_is_kept(helper: JmxHelper) -> None:
    assert helper.pid is None
    for _ in range(3):
        helper.query("b1", QUERIES, timeout=5)
    assert helper.starts == 1
    assert helper.pid is not None


def test_credentials_travel_in_the_request_never_in_the_command_line(helper: JmxHelper, launcher: Path) -> None:
    helper.query("b1", QUERIES, timeout=5, username="monitor", password=SECRET)
    (logged,) = requests(launcher)
    assert logged["request"]["username"] == "monitor"  # type: ignore[index]
    assert logged["request"]["password"] == SECRET  # type: ignore[index]
    assert SECRET not in " ".join(logged["argv"])  # type: ignore[arg-type]
    assert helper.pid is not None
    assert SECRET.encode() not in Path(f"/proc/{helper.pid}/cmdline").read_bytes()
    assert SECRET.encode() not in Path(f"/proc/{helper.pid}/environ").read_bytes()


def test_replies_are_matched_by_id_whatever_their_order(helper: JmxHelper) -> None:
    done: list[str] = []

    def read(url: str) -> None:
        helper.query(url, QUERIES, timeout=5)
        done.append(url)

    slow = threading.Thread(target=read, args=("slow-broker",))
    slow.start()
    time.sleep(0.1)
    read("fast-broker")
    slow.join(5)
    assert done == ["fast-broker", "slow-broker"]


def test_an_error_keeps_its_reason_and_never_shows_the_password(helper: JmxHelper) -> None:
    with pytest.raises(JmxError) as caught:
        helper.query("refused", QUERIES, timeout=5, username="monitor", password=SECRET)
    assert caught.value.reason == "unreachable"
    assert "Connection refused" in str(caught.value)
    assert SECRET not in str(caught.value)
    with pytest.raises(JmxError) as odd:
        helper.query("odd", QUERIES, timeout=5)
    assert odd.value.reason == "protocol"


def test_a_helper_that_misses_its_own_deadline_is_replaced(helper: JmxHelper) -> None:
    """The real helper answers "timeout" itself when a broker hangs; no answer at all means the helper is wedged."""
    helper.query("b1", QUERIES, timeout=5)
    wedged = helper.pid
    started = time.monotonic()
    with pytest.raises(JmxError) as caught:
        helper.query("hang", QUERIES, timeout=0.2)
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 2.0
    assert helper.query("b1", QUERIES, timeout=5)
    assert helper.starts == 2
    assert helper.pid not in (None, wedged)


def test_a_helper_that_dies_fails_the_reads_in_flight_and_is_started_again(
    helper: JmxHelper, caplog: pytest.LogCaptureFixture
) -> None:
    helper.query("b1", QUERIES, timeout=5)
    first = helper.pid
    hung: list[JmxError] = []

    def wait_on_hung_broker() -> None:
        try:
            helper.query("hang", QUERIES, timeout=30)
        except JmxError as exc:
            hung.append(exc)

    waiter = threading.Thread(target=wait_on_hung_broker)
    waiter.start()
    time.sleep(0.2)
    with caplog.at_level(logging.WARNING, logger="kafka_obs.exporter.jmx"), pytest.raises(JmxError) as died:
        helper.query("die", QUERIES, timeout=5)
    waiter.join(5)
    assert died.value.reason == "java"
    assert "exited with code 3: boom: the helper fell over" in str(died.value)
    assert [e.reason for e in hung] == ["java"]  # the other read did not wait out its 30 s
    assert helper.query("b1", QUERIES, timeout=5)
    assert helper.starts == 2
    assert helper.pid not in (None, first)
    assert any("starting it again" in r.getMessage() for r in caplog.records)


def test_a_helper_that_cannot_start_says_why_without_the_tool_options(
    launcher: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = JmxHelper(java=str(launcher), jvm_options=("nostart",))
    with caplog.at_level(logging.DEBUG), pytest.raises(JmxError) as caught:
        client.query("b1", QUERIES, timeout=5)
    assert caught.value.reason == "java"
    assert "UnsupportedClassVersionError" in str(caught.value)
    assert "tool-secret" not in str(caught.value)
    assert all("tool-secret" not in str(vars(r)) for r in caplog.records)


def test_without_java_the_reason_is_java(tmp_path: Path) -> None:
    client = JmxHelper(java=str(tmp_path / "no-such-java"))
    with pytest.raises(JmxError) as caught:
        client.query("b1", QUERIES, timeout=5)
    assert caught.value.reason == "java"
    assert "cannot run" in str(caught.value)


def test_after_close_reads_fail_and_no_helper_is_left(helper: JmxHelper) -> None:
    helper.query("b1", QUERIES, timeout=5)
    pid = helper.pid
    helper.close()
    assert pid is not None
    assert not Path(f"/proc/{pid}").exists()  # stopped and reaped
    with pytest.raises(JmxError, match="closed"):
        helper.query("b1", QUERIES, timeout=5)
