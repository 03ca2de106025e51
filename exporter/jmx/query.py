"""What one broker's JMX read is, independent of how it is done: its queries, its rows, the ways it fails.

:class:`JmxClient` is what the collector needs; :class:`~kafka_obs.exporter.jmx.helper.JmxHelper` (one long-lived
JVM per exporter process) implements it, and tests hand in fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Reason = Literal["unreachable", "authentication", "timeout", "java", "protocol"]
"""``unreachable``: refused, unknown host, connection broken; ``authentication``: wrong credentials; ``timeout``:
no answer in time (a hung broker); ``java``: the helper JVM cannot run or died; ``protocol``: anything else."""


class JmxError(Exception):
    """One broker's read failed. ``str()`` is safe to log: it never contains credentials."""

    def __init__(self, reason: Reason, message: str):
        super().__init__(message)
        self.reason: Reason = reason


@dataclass(frozen=True)
class Query:
    """One ObjectName pattern (``*`` and ``,*`` wildcards as JMX defines them) and the attributes to read from
    every MBean it matches."""

    pattern: str
    attributes: tuple[str, ...]
    keep_names: bool = False
    """Whether the helper may keep the names the pattern resolves to between reads (see ``helper.RESOLVE_EVERY_READS``).
    Opt-in, for patterns whose MBeans live as long as the broker (the catalogue says which of its own are): Kafka
    creates many MBeans lazily — a topic's BytesOutPerSec at its first fetch, a ``RequestsPerSec`` meter at the first
    request of its API version — and those must be read from the first read they exist in."""


@dataclass(frozen=True)
class Row:
    """One attribute value; ``key`` is set for an item of a CompositeData attribute (``used`` of a
    ``HeapMemoryUsage``)."""

    object_name: str
    attribute: str
    key: str | None
    value: Any


class JmxClient(Protocol):
    """Reads every query of a batch from one broker's JMX endpoint, within ``timeout`` seconds."""

    def query(
        self,
        url: str,
        queries: Sequence[Query],
        *,
        timeout: float,
        username: str | None = None,
        password: str | None = None,
    ) -> list[Row]: ...


def service_url(host: str, port: int) -> str:
    """The JMX/RMI URL Kafka's ``JMX_PORT`` setting serves (registry and connector on the same port)."""
    bracketed = f"[{host}]" if ":" in host else host
    return f"service:jmx:rmi:///jndi/rmi://{bracketed}:{port}/jmxrmi"
