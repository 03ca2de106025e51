"""Structured logs: one line per record, tracebacks kept, terminal colours dropped, librdkafka routed through us."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from kafka_obs.logs import JsonFormatter, LibrdkafkaLogger, LogfmtFormatter, RateLimitFilter, logfmt_value


def record(msg: str = "something failed", **extra: object) -> logging.LogRecord:
    try:
        raise ValueError("bad value\nsecond line")
    except ValueError:
        exc_info = sys.exc_info()
    rec = logging.LogRecord("kafka_obs.test", logging.ERROR, __file__, 1, msg, None, exc_info)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_logfmt_keeps_the_traceback_as_one_escaped_field() -> None:
    line = LogfmtFormatter().format(record())
    assert "\n" not in line
    assert 'err="ValueError: bad value\\nsecond line"' in line
    traceback_field = line[line.index("traceback=") :]
    assert traceback_field.startswith('traceback="Traceback (most recent call last):\\n')
    assert "in record\\n" in traceback_field  # the frame that raised: where it failed, not only what
    assert traceback_field.endswith('ValueError: bad value\\nsecond line"')


def test_json_keeps_the_traceback() -> None:
    fields = json.loads(JsonFormatter().format(record()))
    assert fields["err"] == "ValueError: bad value\nsecond line"
    assert fields["traceback"].startswith("Traceback (most recent call last):\n")
    assert fields["traceback"].endswith("ValueError: bad value\nsecond line")


def test_uvicorns_color_message_is_dropped() -> None:
    colored = '%s - "%s %s HTTP/%s" \x1b[32m%d\x1b[0m'
    rec = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "GET /healthz 200", None, None)
    rec.color_message = colored  # what uvicorn's loggers attach
    for formatter in (LogfmtFormatter(), JsonFormatter()):
        out = formatter.format(rec)
        assert "color_message" not in out
        assert "\x1b" not in out
        assert "[32m" not in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("", '""'),
        ("two words", '"two words"'),
        ("a=b", '"a=b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("tab\there", '"tab\\there"'),
        ("cr\rlf\n", '"cr\\rlf\\n"'),
        ("\x1b[31mred\x1b[0m", '"\\u001b[31mred\\u001b[0m"'),
    ],
)
def test_logfmt_values_stay_on_one_line(text: str, expected: str) -> None:
    assert logfmt_value(text) == expected


def test_librdkafka_lines_become_records_of_our_logger(caplog: pytest.LogCaptureFixture) -> None:
    """A real client against a closed port: its connection errors arrive as records with facility and context."""
    from confluent_kafka.admin import AdminClient

    from kafka_obs.platform.processes import free_port

    config: dict[str, Any] = {"bootstrap.servers": f"127.0.0.1:{free_port()}"}
    config["logger"] = LibrdkafkaLogger("kafka_obs.test", cluster="c1")
    admin = AdminClient(config)
    with caplog.at_level(logging.DEBUG, logger="kafka_obs.test"), pytest.raises(Exception, match="transport"):
        admin.list_topics(timeout=1)
    with caplog.at_level(logging.DEBUG, logger="kafka_obs.test"):
        admin.poll(0)
    records = [r for r in caplog.records if r.name == "kafka_obs.test"]
    assert records
    failure = next(r for r in records if "Connect to" in r.getMessage())
    assert failure.levelno >= logging.WARNING
    assert failure.__dict__["facility"] == "FAIL"
    assert failure.__dict__["cluster"] == "c1"


def test_no_raw_librdkafka_line_reaches_stderr() -> None:
    """In a child process (librdkafka writes to fd 2 directly): without our logger it prints ``%3|…|FAIL|…``
    lines; with it, stderr holds only our formatted records."""
    code = textwrap.dedent(
        """
        import argparse, sys
        from confluent_kafka.admin import AdminClient
        from kafka_obs import logs
        from kafka_obs.platform.processes import free_port
        logs.setup(argparse.Namespace(log_level="info", log_format="logfmt"))
        props = {"bootstrap.servers": f"127.0.0.1:{free_port()}"}
        if sys.argv[1] == "ours":
            props["logger"] = logs.LibrdkafkaLogger(cluster="c1")
        admin = AdminClient(props)
        try:
            admin.list_topics(timeout=1)
        except Exception:
            pass
        admin.poll(0)
        """
    )

    def stderr(mode: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", code, mode], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        return result.stderr.splitlines()

    raw = stderr("raw")
    assert any(line.startswith("%3|") and "|FAIL|" in line for line in raw), raw  # the failure we fix
    ours = stderr("ours")
    assert ours
    assert not any(line.startswith("%") for line in ours), ours
    assert all(line.startswith("ts=") for line in ours), ours
    assert any("logger=kafka_obs.librdkafka" in line and "facility=FAIL" in line for line in ours)


def test_setup_applies_to_every_record(capsys: pytest.CaptureFixture[str]) -> None:
    from kafka_obs import logs

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.setup(argparse.Namespace(log_level="info", log_format="json"), redact=lambda t: t.replace("pw", "***"))
        logging.getLogger("kafka.conn").info("client_id=pw connecting")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["msg"] == "client_id=*** connecting"


def test_repeated_lines_are_rate_limited_and_the_suppressed_count_is_reported() -> None:
    now = [0.0]
    limiter = RateLimitFilter(burst=3, window=60.0, clock=lambda: now[0])

    def record(msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, msg, args, None)

    passed = [limiter.filter(record("socket.accept() out of system resource fd=%d", n)) for n in range(100)]
    assert passed == [True] * 3 + [False] * 97
    assert limiter.filter(record("something else entirely"))  # another line is not held back
    now[0] = 61.0
    again = record("socket.accept() out of system resource fd=%d", 7)
    assert limiter.filter(again)
    assert again.suppressed == 97  # type: ignore[attr-defined]
