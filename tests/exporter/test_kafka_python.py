"""The kafka-python adapter refuses a kafka-python series it was not written for, saying what to do; its hedged
request asks one broker when that broker answers, and the others when it does not."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from kafka.future import Future

from kafka_obs.exporter.kafka_python import ConnectionManager, KafkaPythonIncompatible, check_version


def test_the_supported_series_passes() -> None:
    check_version("3.0.12")
    check_version()  # the installed one (pyproject pins it)


@pytest.mark.parametrize("version", ["3.1.0", "2.2.15", "4.0.0"])
def test_another_series_is_refused_with_what_to_do(version: str) -> None:
    with pytest.raises(KafkaPythonIncompatible, match=f"kafka-python {version} is installed") as raised:
        check_version(version)
    assert "pip install 'kafka-python>=3.0.12,<3.1'" in str(raised.value)
    assert "exporter/kafka_python.py" in str(raised.value)


def test_a_client_without_the_internal_manager_is_refused_by_name() -> None:
    class NotKafkaPython:
        _manager = object()

    with pytest.raises(KafkaPythonIncompatible, match="missing: \\['run', 'send'"):
        ConnectionManager(NotKafkaPython())


class Brokers:
    """kafka-python's manager as :class:`ConnectionManager` drives it: ``send`` returns a kafka-python Future that a
    broker completes after its delay (``None``: never, a hung broker), ``run`` runs the coroutine to its end."""

    def __init__(self, delays: dict[int, float | None]):
        self.delays = delays
        self.sent: list[int] = []
        self.cluster = self.broker_version_data = object()
        self.config: dict[str, int] = {}
        self._net = self
        self._pending: list[tuple[float, int, Future]] = []

    def send(self, request: str, node_id: int) -> Future:
        self.sent.append(node_id)
        future = Future()
        delay = self.delays[node_id]
        if delay is not None:
            self._pending.append((time.monotonic() + delay, node_id, future))
        return future

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        now = time.monotonic()
        for due, node, future in [p for p in self._pending if p[0] <= now]:
            self._pending.remove((due, node, future))
            future.success(f"answer of {node}")

    def run(self, coroutine: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        return asyncio.run(coroutine(*args))  # type: ignore[arg-type]


def manager_for(brokers: Brokers) -> ConnectionManager:
    class Admin:
        _manager = brokers

    return ConnectionManager(Admin())


def test_a_hedged_request_asks_one_broker_when_it_answers() -> None:
    brokers = Brokers({1: 0.0, 2: 0.0, 3: 0.0})
    assert manager_for(brokers).hedged_answer(lambda: "Metadata", [2, 1, 3], 5.0, 0.5) == (2, "answer of 2")
    assert brokers.sent == [2]


def test_a_hung_broker_costs_the_hedge_delay_not_the_timeout() -> None:
    brokers = Brokers({1: None, 2: 0.0, 3: None})
    started = time.monotonic()
    assert manager_for(brokers).hedged_answer(lambda: "Metadata", [1, 2, 3], 5.0, 0.3) == (2, "answer of 2")
    assert 0.3 <= time.monotonic() - started < 2.0
    assert brokers.sent == [1, 2, 3]


def test_a_failed_broker_hands_over_to_the_next_one_at_once() -> None:
    brokers = Brokers({1: 0.0, 2: 0.0, 3: 0.0})
    manager = manager_for(brokers)
    original = brokers.send

    def refuse_first(request: str, node_id: int) -> Future:
        if node_id == 1:
            brokers.sent.append(1)
            return Future().failure(ConnectionError("refused"))
        return original(request, node_id)

    brokers.send = refuse_first  # type: ignore[method-assign]
    started = time.monotonic()
    assert manager.hedged_answer(lambda: "Metadata", [1, 2, 3], 5.0, 3.0) == (2, "answer of 2")
    assert time.monotonic() - started < 1.0
    assert brokers.sent == [1, 2]  # not a request to every broker


def test_no_answer_within_the_timeout_raises() -> None:
    brokers = Brokers({1: None, 2: None})
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"no broker answered within 0\.6s"):
        manager_for(brokers).hedged_answer(lambda: "Metadata", [1, 2], 0.6, 0.2)
    assert 0.6 <= time.monotonic() - started < 2.0
