"""Group requests routed to each group's coordinator, batched per coordinator, with a coordinator map we own.

Why not the libraries' own group calls:

* librdkafka 2.16 (confluent-kafka) sends one DescribeGroups *per group*, each after a FindCoordinator of its own
  (about 3,000 FindCoordinator and 2,000 DescribeGroups per cycle on the 2,000-group ``scale`` fleet), its
  ListConsumerGroupOffsets crashes the process on NOT_COORDINATOR, and after a coordinator's broker stops its
  group requests wait out the whole request timeout on the dead broker.
* kafka-python's admin client batches per coordinator, but caches each group's coordinator forever: after a
  coordinator's broker stops, every later request for its groups goes to the dead broker, and one group's error
  fails the whole answer.

So this module drives kafka-python's connection manager (its IO thread, connections, authentication and version
negotiation) with Kafka protocol requests of its own: FindCoordinator (v4: every unknown group in one request),
DescribeGroups and OffsetFetch (v8: many groups in one request) — one request per coordinator. The group →
coordinator map lives across cycles, so a steady cycle sends no FindCoordinator at all. A group whose coordinator
is unreachable or answers NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE / COORDINATOR_LOAD_IN_PROGRESS is forgotten,
re-resolved and retried at once in the same call, a bounded number of times: a coordinator move costs one extra
round trip, not a cycle's group series, and never depends on a timeout.

It uses kafka-python's internal connection manager through :class:`~kafka_obs.exporter.kafka_python.ConnectionManager`,
the one adapter that touches it and checks the library's version; the sandbox and real-Kafka tests exercise every
path here.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NamedTuple, TypeVar

import kafka.errors as Errors
from kafka.future import Future
from kafka.protocol.metadata.find_coordinator import FindCoordinatorRequest

from kafka_obs.exporter.kafka_python import ConnectionManager
from kafka_obs.exporter.model import GroupDescription, TopicPartition
from kafka_obs.exporter.protocol import ConsumerGroupDescribeRequest
from kafka_obs.exporter.wire import (
    DescribedGroup,
    DescribeGroupsAnswer,
    DescribeGroupsRequest,
    OffsetFetchAnswer,
    OffsetFetchGroup,
    OffsetFetchRequest,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRIABLE = frozenset(
    {
        Errors.NotCoordinatorError.errno,  # 16: the coordinator moved
        Errors.CoordinatorNotAvailableError.errno,  # 15: no coordinator right now (e.g. being elected)
        Errors.CoordinatorLoadInProgressError.errno,  # 14: the new coordinator is still loading offsets
    }
)
"""Group-level errors that mean "ask again, maybe elsewhere", not "this group is broken"."""

ATTEMPTS = 3
"""Rounds per call: the first, plus two re-resolutions (a stopped broker, then a coordinator still loading)."""
RETRY_BACKOFF = 0.05
"""Seconds between rounds: enough for a new coordinator to be elected, small next to any cycle."""
MAX_GROUPS_PER_REQUEST = 1000
"""Bounds one request's (and one answer's) size; 2,000 groups on 6 coordinators is still one request each."""
MAX_OFFSET_FETCH = 9
"""OffsetFetch v10 answers with topic ids and empty topic names (found against Apache Kafka 4.4; the sandbox stops at
v8, so every sandbox test passed while every group lost its lag on real Kafka). Names are what the series need."""
_GROUP = 0  # FindCoordinator key type


_UNREACHABLE = (Errors.KafkaConnectionError, Errors.NodeNotReadyError, Errors.UnknownBrokerIdError)
"""Send failures that mean the coordinator's broker is gone (refused, lost, or no longer in the metadata)."""


class BrokerView(NamedTuple):
    """What the router needs of the cluster's brokers: whom to ask first, and who is alive."""

    ask_order: list[int]
    """FindCoordinator goes to the first, then to all (a hedged request)."""
    live: frozenset[int]
    """The brokers of the last Metadata answer; a coordinator outside it is forgotten (empty: not known yet)."""


class GroupRetry(Exception):
    """A group's request should be retried after re-resolving its coordinator (internal)."""


def is_coordinator_problem(error: BaseException) -> bool:
    """True for answers about *where* a group lives (unreachable, moved, loading) or a spent timeout, as opposed
    to errors about the group itself."""
    if isinstance(error, (GroupRetry, *_UNREACHABLE)):
        return True
    if isinstance(error, Errors.KafkaTimeoutError | Errors.RequestTimedOutError):
        return True
    return getattr(error, "errno", None) in RETRIABLE


class CoordinatorRouter:
    """Sends DescribeGroups and OffsetFetch to each group's coordinator, one request per coordinator.

    One instance per cluster, kept across cycles with the kafka-python admin client it drives.
    """

    def __init__(
        self,
        manager: ConnectionManager,
        *,
        brokers: Callable[[], BrokerView],
        timeout: float,
        hedge_after: float,
        attempts: int = ATTEMPTS,
        backoff: float = RETRY_BACKOFF,
    ):
        self._manager = manager
        self._attempts = attempts
        self._backoff = backoff
        self._brokers = brokers
        self._timeout = timeout
        self._hedge_after = hedge_after
        self._coordinators: dict[str, int] = {}

    def coordinators(self) -> dict[str, int]:
        """Group → coordinator node id, as currently known (a copy; tests and logs read it)."""
        return dict(self._coordinators)

    # -- public calls --------------------------------------------------------------------------------------------

    def describe(self, group_ids: Sequence[str]) -> dict[str, GroupDescription | Exception]:
        return self._manager.run(self._route, list(group_ids), self._describe_requests, _parse_describe)

    def describe_consumer_groups(self, group_ids: Sequence[str]) -> dict[str, GroupDescription | Exception]:
        """ConsumerGroupDescribe (KIP-848 groups, which a classic DescribeGroups answers with GROUP_ID_NOT_FOUND),
        batched per coordinator like the rest."""
        return self._manager.run(self._route, list(group_ids), self._consumer_describe_requests, _parse_consumer)

    def committed(self, group_ids: Sequence[str]) -> dict[str, dict[TopicPartition, int] | Exception]:
        return self._manager.run(self._route, list(group_ids), self._offset_fetch_requests, _parse_offset_fetch)

    # -- routing (runs on kafka-python's IO thread) --------------------------------------------------------------

    async def _route(
        self,
        group_ids: list[str],
        build: Callable[[list[str]], list[Any]],
        parse: Callable[[Any, list[str]], Iterable[tuple[str, T | Exception]]],
    ) -> dict[str, T | Exception]:
        result: dict[str, T | Exception] = {}
        pending = list(dict.fromkeys(group_ids))
        last_error: dict[str, Exception] = {}
        live = self._brokers().live
        if live:
            # a coordinator the last Metadata no longer lists (fenced: hung or gone) has handed its groups over
            self._coordinators = {g: node for g, node in self._coordinators.items() if node in live}
        for attempt in range(self._attempts):
            if attempt:
                await self._manager.sleep(self._backoff)
            await self._resolve([g for g in pending if g not in self._coordinators], result, last_error)
            by_node: dict[int, list[str]] = defaultdict(list)
            for group in pending:
                if group in self._coordinators:
                    by_node[self._coordinators[group]].append(group)
            # every request is sent before any answer is awaited: coordinators are asked concurrently
            sent = [
                (node, groups, self._send(request, node))
                for node, all_groups in by_node.items()
                for groups, request in _chunks(all_groups, build)
            ]
            # groups whose FindCoordinator failed retriably are retried too
            retry = [g for g in pending if g not in self._coordinators and g not in result]
            for node, groups, future in sent:
                retry.extend(
                    await self._collect(node, groups, future, parse=parse, result=result, last_error=last_error)
                )
            pending = [g for g in dict.fromkeys(retry) if g not in result]
            if not pending:
                break
        for group in pending:
            result[group] = last_error.get(group) or Errors.KafkaError(f"group {group}: no coordinator")
        return result

    async def _collect(
        self,
        node: int,
        groups: list[str],
        future: Any,
        *,
        parse: Callable[[Any, list[str]], Iterable[tuple[str, T | Exception]]],
        result: dict[str, T | Exception],
        last_error: dict[str, Exception],
    ) -> list[str]:
        """Files one coordinator's answer into ``result``; returns the groups to re-resolve and retry."""
        try:
            response = await future
        except _UNREACHABLE as exc:
            # refused, lost, or a node no longer in the metadata: the coordinator moved, ask again
            log.info("coordinator unreachable", extra={"node": node, "groups": len(groups), "err": str(exc)})
            for group in groups:
                self._coordinators.pop(group, None)
                last_error[group] = exc
            return groups
        except Exception as exc:  # a timeout spent the budget: retrying would only double the wait
            for group in groups:
                self._coordinators.pop(group, None)
                result[group] = exc
            return []
        retry = []
        answered = set()
        for group, answer in parse(response, groups):
            answered.add(group)
            if isinstance(answer, GroupRetry):
                self._coordinators.pop(group, None)
                last_error[group] = answer
                retry.append(group)
            else:
                result[group] = answer
                last_error.pop(group, None)
        for group in groups:
            if group not in answered:
                result[group] = Errors.KafkaError(f"no answer for group {group} from node {node}")
        return retry

    def _send(self, request: Any, node: int | None = None) -> Any:
        """``manager.send`` as a future always: it raises, rather than fails, for a node it no longer knows."""
        try:
            return self._manager.send(request, node_id=node)
        except Exception as exc:
            return Future().failure(exc)

    async def _resolve(self, groups: list[str], result: dict[str, Any], last_error: dict[str, Exception]) -> None:
        """FindCoordinator for ``groups``: one batched request (v4+), else one per group, sent concurrently."""
        if not groups:
            return
        try:
            batched = self._manager.api_version(FindCoordinatorRequest) >= 4
        except Exception:
            batched = False
        # never kafka-python's "least loaded" broker: a hung broker (open socket, nothing in flight) looks least
        # loaded, and every FindCoordinator waited out the timeout on it
        order = self._brokers().ask_order
        answers: list[tuple[list[str], Awaitable[Any]]]
        if batched:
            answers = [(groups, self._hedged_find(groups, order))]
        else:  # brokers before 2.8: one request per group, all sent at once to the first broker to ask
            first = order[0] if order else None
            answers = [([g], self._send(FindCoordinatorRequest(key=g, key_type=_GROUP), first)) for g in groups]
        for keys, answer in answers:
            try:
                response = await answer
            except Exception as exc:
                for key in keys:
                    last_error[key] = exc
                continue
            rows = response.coordinators if batched else [_single_row(keys[0], response)]
            for row in rows:
                if row.error_code == 0:
                    # registers the node's address so the manager can connect even if Metadata did not list it
                    self._manager.add_coordinator(row, _GROUP)
                    self._coordinators[row.key] = row.node_id
                    last_error.pop(row.key, None)
                    continue
                error = Errors.for_code(row.error_code)(f"FindCoordinator for group {row.key}: {row.error_message}")
                if row.error_code in RETRIABLE:
                    last_error[row.key] = error
                else:
                    result[row.key] = error

    async def _hedged_find(self, groups: list[str], order: list[int]) -> Any:
        """One FindCoordinator v4 for all ``groups``, hedged across ``order``."""
        _node, response = await self._manager.hedge(
            lambda: FindCoordinatorRequest(key_type=_GROUP, coordinator_keys=groups),
            order,
            self._timeout,
            self._hedge_after,
        )
        return response

    def _consumer_describe_requests(self, groups: list[str]) -> list[Any]:
        return [ConsumerGroupDescribeRequest(group_ids=groups, include_authorized_operations=False)]

    def _describe_requests(self, groups: list[str]) -> list[Any]:
        return [DescribeGroupsRequest(groups=groups, include_authorized_operations=False)]

    def _offset_fetch_requests(self, groups: list[str]) -> list[Any]:
        """One v8 request for all ``groups`` when the broker has KIP-709, else one request per group."""
        if self._manager.api_version(OffsetFetchRequest) >= 8:
            Group = OffsetFetchRequest.OffsetFetchRequestGroup
            # v10+ (Kafka 4.x, KIP-848) names topics by id only, with an empty name: v9 keeps names in the answer
            request = OffsetFetchRequest(
                groups=[Group(group_id=g, topics=None) for g in groups], min_version=8, max_version=MAX_OFFSET_FETCH
            )
            return [request]
        return [OffsetFetchRequest(group_id=g, topics=None, min_version=2, max_version=7) for g in groups]


def _chunks(groups: list[str], build: Callable[[list[str]], list[Any]]) -> list[tuple[list[str], Any]]:
    """(groups covered, request) pairs for one coordinator: one request per chunk, or one per group (old brokers)."""
    out: list[tuple[list[str], Any]] = []
    for start in range(0, len(groups), MAX_GROUPS_PER_REQUEST):
        chunk = groups[start : start + MAX_GROUPS_PER_REQUEST]
        requests = build(chunk)
        if len(requests) == 1:
            out.append((chunk, requests[0]))
        else:
            out.extend(([g], r) for g, r in zip(chunk, requests, strict=True))
    return out


class _single_row:
    """A FindCoordinator v0-v3 answer in the shape of a v4 row."""

    def __init__(self, key: str, response: Any):
        self.key = key
        self.error_code = response.error_code
        self.error_message = getattr(response, "error_message", None)
        self.node_id = response.node_id
        self.host = response.host
        self.port = response.port


def _group_error(group: str, code: int, message: str | None = None) -> Exception:
    error = Errors.for_code(code)(f"group {group}: {message or ''}".rstrip(": "))
    return GroupRetry(str(error)) if code in RETRIABLE else error


def _parse_describe(response: Any, _groups: list[str]) -> Iterable[tuple[str, GroupDescription | Exception]]:
    """A DescribeGroups answer: decoded by :mod:`.wire`, or by kafka-python (a layout :mod:`.wire` could not read)."""
    rows: list[DescribedGroup] = (
        response.groups
        if isinstance(response, DescribeGroupsAnswer)
        else [
            DescribedGroup(
                g.group_id, g.error_code, getattr(g, "error_message", None), g.group_state, len(g.members or ())
            )
            for g in response.groups
        ]
    )
    for group in rows:
        if group.error_code:
            yield group.group_id, _group_error(group.group_id, group.error_code, group.error_message)
        else:
            # DescribeGroups cannot tell a KIP-848 group from a classic one; ListGroups v5 can (see groups.py)
            yield group.group_id, GroupDescription(group.group_id, group.group_state, group.members, "classic")


def _parse_consumer(response: Any, _groups: list[str]) -> Iterable[tuple[str, GroupDescription | Exception]]:
    for group in response.groups:
        if group.error_code:
            yield group.group_id, _group_error(group.group_id, group.error_code, group.error_message)
        else:
            yield group.group_id, GroupDescription(group.group_id, group.group_state, len(group.members), "consumer")


def _parse_offset_fetch(
    response: Any, groups: list[str]
) -> Iterable[tuple[str, dict[TopicPartition, int] | Exception]]:
    for group in _offset_fetch_groups(response, groups):
        if group.error_code:
            yield group.group_id, _group_error(group.group_id, group.error_code)
        else:
            yield group.group_id, group.offsets


def _offset_fetch_groups(response: Any, groups: list[str]) -> list[OffsetFetchGroup]:
    """An OffsetFetch answer's groups: decoded by :mod:`.wire` (v8+), or kafka-python's objects (v2-v7, one group
    per answer, named by the request; or a layout :mod:`.wire` could not read) read the same way."""
    if isinstance(response, OffsetFetchAnswer):
        return response.groups
    rows = response.groups if response.API_VERSION >= 8 else [_V7Group(groups[0], response)]
    return [
        OffsetFetchGroup(
            group.group_id,
            group.error_code,
            {
                (topic.name, p.partition_index): p.committed_offset
                for topic in group.topics
                for p in topic.partitions
                if p.error_code == 0 and p.committed_offset >= 0
            },
        )
        for group in rows
    ]


class _V7Group:
    """An OffsetFetch v2-v7 answer (one group) in the shape of a v8 group row; the request names the group."""

    def __init__(self, group_id: str, response: Any):
        self.group_id = group_id
        self.error_code = response.error_code
        self.topics = response.topics
