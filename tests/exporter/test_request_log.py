"""Request counting from librdkafka's protocol debug lines; its other lines are forwarded as records."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from kafka_obs.exporter.request_log import RequestLog
from kafka_obs.platform.processes import free_port

FMT = "%s [%s] %s"


def test_counts_sent_requests_per_api_and_forwards_warnings(caplog: pytest.LogCaptureFixture) -> None:
    """confluent-kafka passes logging's levels (librdkafka's syslog 7 arrives as DEBUG, 4 as WARNING)."""
    r = RequestLog("alpha")
    lines = [
        "[thrd:127.0.0.1:9092/1]: 127.0.0.1:9092/1: Sent MetadataRequest (v12, 40 bytes @ 0, CorrId 2)",
        "[thrd:127.0.0.1:9092/1]: 127.0.0.1:9092/1: Sent ListOffsetsRequest (v7, 80 bytes @ 0, CorrId 3)",
        "[thrd:127.0.0.1:9092/2]: 127.0.0.1:9092/2: Sent ListOffsetsRequest (v7, 80 bytes @ 0, CorrId 3)",
        "[thrd:127.0.0.1:9092/2]: 127.0.0.1:9092/2: Sent ApiVersionRequest (v3, 40 bytes @ 0, CorrId 1)",
        "[thrd:127.0.0.1:9092/2]: 127.0.0.1:9092/2: Received ListOffsetsResponse (v7, 80 bytes, CorrId 3, rtt 1ms)",
    ]
    with caplog.at_level(logging.DEBUG):
        for line in lines:
            r.log(logging.DEBUG, FMT, "SEND", "rdkafka#producer-1", line)
        r.log(logging.WARNING, FMT, "FAIL", "rdkafka#producer-1", "127.0.0.1:9092/2: Connect to ipv4#127.0.0.1 failed")
    assert r.totals() == {"Metadata": 1, "ListOffsets": 2, "ApiVersions": 1}
    (forwarded,) = [rec for rec in caplog.records if rec.name == "kafka_obs.exporter.librdkafka"]
    assert forwarded.levelno == logging.WARNING
    assert "Connect to" in forwarded.getMessage()
    assert forwarded.__dict__["cluster"] == "alpha"


def test_a_real_clients_failures_are_forwarded_not_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    """With the protocol debug context on (as the exporter runs it), connection failures still reach the log."""
    requests = RequestLog("alpha")
    # librdkafka takes the logger object in the config, as ConfluentKafkaAdmin passes it; the stub's value type omits it
    config: dict[str, Any] = {"bootstrap.servers": f"127.0.0.1:{free_port()}", "debug": "protocol", "logger": requests}
    admin = AdminClient(config)
    with caplog.at_level(logging.INFO, logger="kafka_obs.exporter.librdkafka"):
        with pytest.raises(Exception, match="transport"):
            admin.list_topics(timeout=1)
        admin.poll(0)
    failures = [r for r in caplog.records if r.name == "kafka_obs.exporter.librdkafka" and r.levelno >= logging.WARNING]
    assert any("Connect to" in r.getMessage() for r in failures), [r.getMessage() for r in caplog.records]
