"""Logging for the long-running commands, with node_exporter's ``--log.level`` and ``--log.format`` flags.

logfmt by default (what Prometheus-ecosystem operators grep), JSON on request. Configured once per process by the
command that owns it; library code only ever calls ``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log.level", dest="log_level", default="info", choices=["debug", "info", "warn", "error"], help="log level"
    )
    parser.add_argument("--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"])


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
        "level": record.levelname.lower().replace("warning", "warn"),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    fields.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
    if record.exc_info and record.exc_info[1] is not None:
        fields["err"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
    return fields


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = []
        for key, value in _fields(record).items():
            text = str(value)
            if not text or any(c in text for c in ' ="'):
                text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
            parts.append(f"{key}={text}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str)


def setup(args: argparse.Namespace) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if args.log_format == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(args.log_level.upper().replace("WARN", "WARNING"))


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
