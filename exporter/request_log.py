"""Count the Kafka requests a client really sends, per API.

Counting method calls would be wrong: one ``list_offsets`` call becomes one ListOffsets request *per leader*, a
group lookup adds FindCoordinator requests, and retries add more. librdkafka's statistics (``brokers[*].req``)
would be exact, but for an AdminClient they omit the admin APIs (ListGroups, DescribeGroups, OffsetFetch,
DescribeConfigs…). So we ask librdkafka for its ``protocol`` debug context and count its ``Sent <Api>Request``
lines: exactly one per request written to a socket, retries included. librdkafka's own names are mapped to
Kafka's protocol names (``ApiVersion`` → ``ApiVersions``).

The same object is the client's :class:`~kafka_obs.logs.LibrdkafkaLogger`: librdkafka's informational lines,
warnings and errors become structured records (with the cluster), while its debug lines, enabled for counting, are
only counted, so the debug context neither floods the log nor hides real problems.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter

from kafka_obs.logs import LibrdkafkaLogger

_SENT = re.compile(r"Sent (\w+?)Request \(v")
_RENAMES = {"ApiVersion": "ApiVersions", "Offset": "ListOffsets"}


class RequestLog(LibrdkafkaLogger):
    """The ``logger`` of one cluster's librdkafka client: counts sent requests, forwards the rest to logging."""

    def __init__(self, cluster: str):
        super().__init__("kafka_obs.exporter.librdkafka", cluster=cluster)
        self.cluster = cluster
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handle(self, level: int, facility: str, message: str) -> None:
        # confluent-kafka maps librdkafka's syslog levels to logging's: its debug lines arrive as DEBUG
        if level <= logging.DEBUG:
            match = _SENT.search(message)
            if match:
                api = match.group(1)
                self.add(_RENAMES.get(api, api))
            return
        super().handle(level, facility, message)

    def add(self, api: str, n: int = 1) -> None:
        with self._lock:
            self._counts[api] += n

    def totals(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
