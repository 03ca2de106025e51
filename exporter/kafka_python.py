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
from typing import Any, TypeVar

import kafka
import kafka.errors as Errors
from kafka.admin import KafkaAdminClient
from kafka.future import Future

SUPPORTED_SERIES = "3.0."
"""kafka-python 3.0.x (pyproject pins >=3.0.12,<3.1)."""

K = TypeVar("K")

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

    def hedged_answer(
        self, request: Callable[[], Any], node_ids: list[int], timeout: float, hedge_after: float
    ) -> tuple[int, Any]:
        """:meth:`hedge`, from any thread."""
        result: tuple[int, Any] = self.run(self.hedge, request, node_ids, timeout, hedge_after)
        return result

    async def hedge(
        self, request: Callable[[], Any], node_ids: list[int], timeout: float, hedge_after: float
    ) -> tuple[int, Any]:
        """Send ``request()`` to the first node; if it failed, to the next; if no answer came within
        ``hedge_after``, to all the others too. Returns ``(node, answer)`` of the first success, or raises the last
        error once every node failed or ``timeout`` passed. Runs on kafka-python's IO thread.

        One request in a healthy cluster, yet a hung broker (open socket, no answer: SIGSTOP, a stuck disk) costs
        ``hedge_after`` instead of the timeout, and the caller can put the node that answered first next time.
        """
        if not node_ids:
            raise Errors.NoBrokersAvailable("no broker to ask")
        started = time.monotonic()
        futures = [(node_ids[0], self._send_future(request(), node_ids[0]))]
        others = node_ids[1:]
        while True:
            for node, future in futures:
                if future.succeeded():
                    return node, future.value
            elapsed = time.monotonic() - started
            if others and elapsed >= hedge_after:  # slow: ask everyone left
                futures += [(node, self._send_future(request(), node)) for node in others]
                others = []
            elif others and all(f.is_done for _, f in futures):  # failed fast (refused, gone): the next one
                futures.append((others[0], self._send_future(request(), others[0])))
                others = others[1:]
            elif all(f.is_done for _, f in futures) or elapsed >= timeout:
                errors = [f.exception for _, f in futures if f.failed()]
                raise errors[-1] if errors else TimeoutError(f"no broker answered within {timeout:g}s")
            await self.sleep(0.005)

    def every_answer(self, request: Callable[[], Any], node_ids: list[int], timeout: float) -> dict[int, Any]:
        """Send ``request()`` to every node at once; each node's answer or exception once all are in or ``timeout``
        has passed (a node still silent then gets a ``TimeoutError``)."""
        return self.answers(dict.fromkeys(node_ids, request), timeout)

    def answers(self, requests: Mapping[int, Callable[[], Any]], timeout: float) -> dict[int, Any]:
        """Send each node its own request at once (``requests``: node → request factory), with the same rules as
        :meth:`every_answer`: one silent node costs ``timeout`` once, not once per request."""
        return self.routed_answers({node: (node, request) for node, request in requests.items()}, timeout)

    def routed_answers(self, requests: Mapping[K, tuple[int, Callable[[], Any]]], timeout: float) -> dict[K, Any]:
        """Send every request (key → (node, request factory)) at once, several to one node if need be, and wait
        for all of them together: a silent node costs ``timeout`` once per call, however many requests it holds.
        Each key gets its answer, its exception, or a ``TimeoutError`` if still unanswered when ``timeout`` ends."""

        async def gather() -> dict[K, Any]:
            futures = {key: (node, self._send_future(request(), node)) for key, (node, request) in requests.items()}
            deadline = time.monotonic() + timeout
            while not all(f.is_done for _, f in futures.values()) and time.monotonic() < deadline:
                await self.sleep(0.005)
            return {
                key: (f.value if f.succeeded() else f.exception) if f.is_done else TimeoutError(f"node {node}")
                for key, (node, f) in futures.items()
            }

        result: dict[K, Any] = self.run(gather)
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
