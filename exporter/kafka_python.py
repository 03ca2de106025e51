"""The one place the exporter reaches into kafka-python's internals, and the version check that guards it.

Why kafka-python at all (re-decided against Apache Kafka 4.4, see docs/testing.md): librdkafka (confluent-kafka)
has no DescribeLogDirs in Python, sends one DescribeGroups per group after a FindCoordinator of its own, and cannot
send one OffsetFetch for many groups (KIP-709). :mod:`.coordinators` therefore drives kafka-python's connection
manager (its IO thread, connections, authentication and version negotiation) with protocol requests of its own.
That manager (``KafkaAdminClient._manager``) is internal to kafka-python and changes between minor versions, so:

* :func:`check_version` runs at the exporter's start-up and refuses any kafka-python but the series this module was
  written and tested against, with a message that says what to do;
* :class:`ConnectionManager` is the only code that touches the manager's attributes; a missing one fails at once,
  naming it, instead of as an ``AttributeError`` deep inside a collection cycle.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kafka
from kafka.admin import KafkaAdminClient
from kafka.future import Future

SUPPORTED_SERIES = "3.0."
"""kafka-python 3.0.x (pyproject pins >=3.0.12,<3.1)."""

_MANAGER_ATTRIBUTES = ("run", "send", "cluster", "broker_version_data", "config", "_net")


class KafkaPythonIncompatible(RuntimeError):
    """The installed kafka-python is not the series the exporter drives; the message says what to do."""


def advice(found: str) -> str:
    return (
        f"kafka-python {found} is installed, but the exporter drives kafka-python {SUPPORTED_SERIES}x's internal "
        "connection manager (exporter/kafka_python.py). Install the supported series: "
        "pip install 'kafka-python>=3.0.12,<3.1'. To move to a newer kafka-python, update exporter/kafka_python.py "
        "and run tests/exporter/test_coordinators.py, tests/exporter/test_sandbox.py and tests/realkafka."
    )


def check_version(version: str | None = None) -> None:
    """Raise :class:`KafkaPythonIncompatible` unless kafka-python is 3.0.x (called at the exporter's start-up)."""
    found = version if version is not None else str(getattr(kafka, "__version__", "unknown"))
    if not found.startswith(SUPPORTED_SERIES):
        raise KafkaPythonIncompatible(advice(found))


class ConnectionManager:
    """The subset of kafka-python's connection manager that :mod:`.coordinators` and the request counter use."""

    def __init__(self, admin: KafkaAdminClient, *, timeout: float | None = None):
        manager: Any = getattr(admin, "_manager", None)
        missing = [a for a in _MANAGER_ATTRIBUTES if manager is None or not hasattr(manager, a)]
        if missing:
            raise KafkaPythonIncompatible(f"{advice(str(getattr(kafka, '__version__', '?')))} (missing: {missing})")
        self._manager = manager
        if timeout is not None:
            # A connection's setup (TCP connect, then ApiVersions) has its own timeout, 10 s and not configurable
            # through KafkaAdminClient: against a hung broker (SIGSTOP, real Kafka) whose kernel still accepts
            # connections, every reconnect waited 10 s whatever the exporter's --kafka.timeout said.
            ms = int(timeout * 1000)
            self._manager.config["socket_connection_setup_timeout_ms"] = ms
            self._manager.config["socket_connection_setup_timeout_max_ms"] = ms

    def run(self, coroutine: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run ``coroutine(*args)`` on kafka-python's IO thread and wait for its result."""
        return self._manager.run(coroutine, *args)

    def send(self, request: Any, node_id: int | None = None) -> Any:
        return self._manager.send(request, node_id=node_id)

    def sleep(self, seconds: float) -> Awaitable[None]:
        """An awaitable pause on the IO thread (between retry rounds)."""
        result: Awaitable[None] = self._manager._net.sleep(seconds)
        return result

    def add_coordinator(self, row: Any, key_type: int) -> None:
        """Register a FindCoordinator answer's node, so the manager can connect to it even before Metadata lists it."""
        self._manager.cluster.add_coordinator(row, key_type, row.key, synthesize_node_id=False)

    def api_version(self, request_class: Any) -> int:
        """The highest version of ``request_class`` the cluster and kafka-python both speak."""
        return int(self._manager.broker_version_data.api_version(request_class))

    def broker_ids(self) -> list[int]:
        """The brokers kafka-python's own metadata knows."""
        return sorted(int(b.node_id) for b in self._manager.cluster.brokers())

    def first_answer(self, request: Callable[[], Any], node_ids: list[int], timeout: float) -> Any:
        """Send ``request()`` to every node at once and return the first successful answer; the last error if none
        answers within ``timeout``. A hung broker (open socket, no answer) costs nothing while another answers."""

        async def race() -> Any:
            futures = [self._send_future(request(), node) for node in node_ids]
            deadline = time.monotonic() + timeout
            while True:
                for future in futures:
                    if future.succeeded():
                        return future.value
                if all(f.is_done for f in futures) or time.monotonic() >= deadline:
                    errors = [f.exception for f in futures if f.failed()]
                    raise errors[-1] if errors else TimeoutError(f"no broker answered within {timeout:g}s")
                await self.sleep(0.005)

        return self.run(race)

    def every_answer(self, request: Callable[[], Any], node_ids: list[int], timeout: float) -> dict[int, Any]:
        """Send ``request()`` to every node at once; each node's answer or exception once all are in or ``timeout``
        has passed (a node still silent then gets a ``TimeoutError``)."""
        return self.answers(dict.fromkeys(node_ids, request), timeout)

    def answers(self, requests: Mapping[int, Callable[[], Any]], timeout: float) -> dict[int, Any]:
        """Send each node its own request at once (``requests``: node → request factory), with the same rules as
        :meth:`every_answer`: one silent node costs ``timeout`` once, not once per request."""

        async def gather() -> dict[int, Any]:
            futures = {node: self._send_future(request(), node) for node, request in requests.items()}
            deadline = time.monotonic() + timeout
            while not all(f.is_done for f in futures.values()) and time.monotonic() < deadline:
                await self.sleep(0.005)
            return {
                node: (f.value if f.succeeded() else f.exception) if f.is_done else TimeoutError(f"node {node}")
                for node, f in futures.items()
            }

        result: dict[int, Any] = self.run(gather)
        return result

    def _send_future(self, request: Any, node: int) -> Any:
        try:
            return self._manager.send(request, node_id=node)
        except Exception as exc:
            return Future().failure(exc)

    def wrap_send(self, wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        """Replace this manager's ``send`` with ``wrapper(send)`` (this one client instance only): the choke point
        where requests are counted."""
        self._manager.send = wrapper(self._manager.send)
