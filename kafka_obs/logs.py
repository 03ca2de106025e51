"""Logging for the long-running commands, with node_exporter's ``--log.level`` and ``--log.format`` flags.

logfmt by default (what Prometheus-ecosystem operators grep), JSON on request. Configured once per process by the
command that owns it; library code only ever calls ``logging.getLogger(__name__)``.

The command passes the redactor of its loaded config (:class:`kafka_obs.config.secrets.Redactor`): every field of
every record, whichever library logged it (librdkafka through our logger, kafka-python, uvicorn), is redacted
before it is written, so a secret that a client library quotes in an error never reaches the log.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

Redact = Callable[[str], str]

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


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
    fields.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
    if record.exc_info and record.exc_info[1] is not None:
        fields["err"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
    return {key: _redacted(value, redact) for key, value in fields.items()}


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
        parts = []
        for key, value in _fields(record, self.redact).items():
            text = str(value)
            if not text or any(c in text for c in ' ="'):
                text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
            parts.append(f"{key}={text}")
        return " ".join(parts)


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
