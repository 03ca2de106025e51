"""Logging for the long-running commands, with node_exporter's ``--log.level`` and ``--log.format`` flags.

logfmt by default (what Prometheus-ecosystem operators grep), JSON on request. Configured once per process by the
command that owns it; library code only ever calls ``logging.getLogger(__name__)``.

A record's exception keeps its traceback, as one ``traceback`` field (escaped onto one line in logfmt), so a line
says both what failed (``err``) and where. uvicorn's ``color_message`` (the same message with ANSI colour codes)
is dropped. librdkafka's own lines come through :class:`LibrdkafkaLogger` (confluent-kafka's ``logger`` setting)
as records like any other, instead of raw text on stderr.

The command passes the redactor of its loaded config (:class:`kafka_obs.config.secrets.Redactor`): every field of
every record, whichever library logged it (librdkafka through our logger, kafka-python, uvicorn), is redacted
before it is written, so a secret that a client library quotes in an error never reaches the log.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

Redact = Callable[[str], str]

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_DROPPED = {"color_message"}
"""Extras that repeat the message for a terminal (uvicorn's, with ANSI escape codes)."""
_LOGFMT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_QUOTES = re.compile(r'[\s="\x00-\x1f\x7f]')
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log.level", dest="log_level", default="info", choices=["debug", "info", "warn", "error"], help="log level"
    )
    parser.add_argument("--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"])


def _no_redaction(text: str) -> str:
    return text


def _fields(record: logging.LogRecord, redact: Redact) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
        "level": record.levelname.lower().replace("warning", "warn"),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    fields.update({k: v for k, v in vars(record).items() if k not in _STANDARD and k not in _DROPPED})
    if record.exc_info and record.exc_info[1] is not None:
        fields["err"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        fields["traceback"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
    if record.stack_info:
        fields["stack"] = record.stack_info
    return {key: _redacted(value, redact) for key, value in fields.items()}


def logfmt_value(text: str) -> str:
    """One logfmt value: quoted when it holds a space, ``=``, ``"`` or a control character, which are escaped, so
    every record stays on one line whatever it carries (a traceback, a client's multi-line error, ANSI codes)."""
    if text and not _NEEDS_QUOTES.search(text):
        return text
    escaped = "".join(_LOGFMT_ESCAPES.get(c, c) for c in text)
    return '"' + _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def _redacted(value: object, redact: Redact) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value  # numbers stay numbers in JSON; a number is not a secret a library would quote
    return redact(value if isinstance(value, str) else str(value))


class _Formatter(logging.Formatter):
    def __init__(self, redact: Redact = _no_redaction) -> None:
        super().__init__()
        self.redact = redact


class LogfmtFormatter(_Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={logfmt_value(str(value))}" for key, value in _fields(record, self.redact).items())


class JsonFormatter(_Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record, self.redact), default=str)


def setup(args: argparse.Namespace, *, redact: Redact = _no_redaction) -> None:
    """Log to stderr in the chosen format; ``redact`` is the loaded config's redactor (see the module doc)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(redact) if args.log_format == "json" else LogfmtFormatter(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(args.log_level.upper().replace("WARN", "WARNING"))


class LibrdkafkaLogger:
    """confluent-kafka's ``logger`` setting: librdkafka's lines become records of this logger, not raw stderr.

    confluent-kafka calls ``log(level, "%s [%s] %s", facility, client_name, message)`` with ``level`` already a
    Python logging level, on the thread that calls ``poll()`` (for an admin client, only then: its owner polls).
    The client name (derived from ``client.id``) is left out: the message names the broker, which is what an
    operator needs. ``context`` (e.g. the cluster) is added to every record.
    """

    def __init__(self, name: str = "kafka_obs.librdkafka", **context: str) -> None:
        self._log = logging.getLogger(name)
        self._context = context

    def log(self, level: int, fmt: str, *args: object) -> None:
        if len(args) >= 3:
            facility, message = str(args[0]), str(args[2])
        else:
            facility, message = "", fmt % args if args else fmt
        self.handle(level, facility, message)

    def handle(self, level: int, facility: str, message: str) -> None:
        self._log.log(level, message, extra={"facility": facility, **self._context})


class RateLimitFilter(logging.Filter):
    """At most ``burst`` records per ``(logger, message template)`` in each ``window`` seconds; the rest are counted
    and reported once in the next record that passes (``suppressed=N``).

    A server under a client storm or with a broken disk logs the same line thousands of times a second; that fills
    disks and drowns the one line that matters. The key is the logger, the level and the first 40 characters of
    the message template (``record.msg``), so lines differing only in a peer address, a file descriptor or a
    timestamp (asyncio's "Exception in callback ... when=...") still count as the same line.
    """

    def __init__(self, *, burst: int = 10, window: float = 60.0, clock: Any = time.monotonic):
        super().__init__()
        self.burst = burst
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int, int]] = {}
        """key -> (window start, records passed in it, records suppressed since the last one passed)."""

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg)[:40])
        now = self.clock()
        start, passed, suppressed = self._seen.get(key, (now, 0, 0))
        if now - start >= self.window:
            start, passed = now, 0
        if passed >= self.burst:
            self._seen[key] = (start, passed, suppressed + 1)
            return False
        if suppressed:
            record.suppressed = suppressed
        if len(self._seen) > 10_000:  # bounded: templates are few, but never trust that
            self._seen.clear()
        self._seen[key] = (start, passed + 1, 0)
        return True


def rate_limit(*, burst: int = 10, window: float = 60.0) -> None:
    """Rate-limit every handler of the root logger (call after :func:`setup`)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RateLimitFilter(burst=burst, window=window))
