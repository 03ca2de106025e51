"""Request counting from librdkafka's protocol debug lines."""

from __future__ import annotations

import logging

import pytest

from kafka_obs.exporter.request_log import RequestLog


def test_counts_sent_requests_per_api_and_forwards_warnings(caplog: pytest.LogCaptureFixture) -> None:
    r = RequestLog("alpha")
    fmt = "%s [%s] %s"
    lines = [
        "[thrd:127.0.0.1:9092/1]: 127.0.0.1:9092/1: Sent MetadataRequest (v12, 40 bytes @ 0, CorrId 2)",
        "[thrd:127.0.0.1:9092/1]: 127.0.0.1:9092/1: Sent ListOffsetsRequest (v7, 80 bytes @ 0, CorrId 3)",
        "[thrd:127.0.0.1:9092/2]: 127.0.0.1:9092/2: Sent ListOffsetsRequest (v7, 80 bytes @ 0, CorrId 3)",
        "[thrd:127.0.0.1:9092/2]: 127.0.0.1:9092/2: Sent ApiVersionRequest (v3, 40 bytes @ 0, CorrId 1)",
        "[thrd:127.0.0.1:9092/2]: 127.0.0.1:9092/2: Received ListOffsetsResponse (v7, 80 bytes, CorrId 3, rtt 1ms)",
    ]
    for line in lines:
        r.log(7, fmt, "SEND", "rdkafka#producer-1", line)
    with caplog.at_level(logging.WARNING):
        r.log(4, fmt, "FAIL", "rdkafka#producer-1", "127.0.0.1:9092/2: Connect to ipv4#127.0.0.1:9092 failed")
    assert r.totals() == {"Metadata": 1, "ListOffsets": 2, "ApiVersions": 1}
    assert "Connect to" in caplog.text
