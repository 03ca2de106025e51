"""Count the Kafka requests a client really sends, per API.

Counting method calls would be wrong: one ``list_offsets`` call becomes one ListOffsets request *per leader*, a
group lookup adds FindCoordinator requests, and retries add more. librdkafka's statistics (``brokers[*].req``)
would be exact, but for an AdminClient they omit the admin APIs (ListGroups, DescribeGroups, OffsetFetch,
DescribeConfigs…). So we ask librdkafka for its ``protocol`` debug context and count its ``Sent <Api>Request``
lines: exactly one per request written to a socket, retries included. librdkafka's own names are mapped to
Kafka's protocol names (``ApiVersion`` → ``ApiVersions``).

The same object forwards librdkafka's warnings and errors to Python logging, so enabling the debug context for
counting does not hide real problems and does not flood the log.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter

_SENT = re.compile(r"Sent (\w+?)Request \(v")
_RENAMES = {"ApiVersion": "ApiVersions", "Offset": "ListOffsets"}
_SYSLOG_TO_LOGGING = {
    0: logging.CRITICAL,
    1: logging.CRITICAL,
    2: logging.CRITICAL,
    3: logging.ERROR,
    4: logging.WARNING,
}

log = logging.getLogger("kafka_obs.exporter.librdkafka")


class RequestLog:
    """A ``logger`` for librdkafka (it calls ``log(level, "%s [%s] %s", facility, client, message)``)."""

    def __init__(self, cluster: str):
        self.cluster = cluster
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def log(self, level: int, fmt: str, *args: object) -> None:
        message = str(args[2]) if len(args) >= 3 else fmt % args
        if level >= 7:
            match = _SENT.search(message)
            if match:
                api = match.group(1)
                self.add(_RENAMES.get(api, api))
            return
        log.log(_SYSLOG_TO_LOGGING.get(level, logging.INFO), message, extra={"cluster": self.cluster})

    def add(self, api: str, n: int = 1) -> None:
        with self._lock:
            self._counts[api] += n

    def totals(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
