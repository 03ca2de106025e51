"""Consumer groups: list, describe, fetch committed offsets (batched per coordinator), then lag and lag seconds.

Behaviour chosen for alerting (documented in docs/exporter.md):

* Committed offsets are read in the cycle **before** the log-end offsets, and lag is clamped at 0, so lag is never
  negative (KE#76, #437).
* A partition the group never committed is **left out** (no current offset, lag or lag-seconds series), rather than
  reported as lag = log-end offset (KE#28) or -1: a made-up lag fires lag alerts for groups that merely started,
  and -1 breaks ``sum``/``max``. ``kafka_consumergroup_members`` and ``kafka_consumergroup_state`` still show
  the group.
* A group whose OffsetFetch failed this cycle has no lag series this cycle (a gap, counted in
  ``kafka_exporter_errors_total{stage="committed_offsets"}``), rather than old offsets against new log-ends.
* Groups of the consumer protocol (KIP-848) are treated exactly like classic ones.
* Every group with committed partitions is rated (OK, WARN, REWIND, STALL, STOP) from a window of this exporter's
  own observations, and flagged when abandoned (:mod:`..lag_status`); the statuses need no extra request.
* ``groups.skip_empty`` leaves out Empty and Dead groups before they are described or fetched, which is what
  makes fleets with tens of thousands of stale groups affordable (kminion#108).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from kafka_obs.exporter.client import KafkaAdmin
from kafka_obs.exporter.families import FamilyBuilder
from kafka_obs.exporter.lag_seconds import LagSecondsEstimator
from kafka_obs.exporter.lag_status import GroupVerdict, LagEvaluator, Status
from kafka_obs.exporter.model import GroupDescription, GroupListing, TopicPartition

log = logging.getLogger(__name__)

Answer = TypeVar("Answer")

SKIPPED_WHEN_EMPTY = frozenset({"Empty", "Dead"})


@dataclass(frozen=True, slots=True)
class GroupFacts:
    listings: tuple[GroupListing, ...] = ()
    descriptions: Mapping[str, GroupDescription] = field(default_factory=dict)
    committed: Mapping[str, Mapping[TopicPartition, int]] = field(default_factory=dict)


def fetch_groups(
    client: KafkaAdmin,
    allow_group: Callable[[str], bool],
    *,
    skip_empty: bool,
    on_error: Callable[[str, int], None],
) -> GroupFacts:
    listings = [g for g in client.list_groups() if allow_group(g.group_id)]
    if skip_empty:
        listings = [g for g in listings if g.state not in SKIPPED_WHEN_EMPTY]
    listings.sort(key=lambda g: g.group_id)
    ids = [g.group_id for g in listings]

    descriptions = _per_group("describe_groups", client.describe_groups, ids, on_error)
    committed = _per_group("committed_offsets", client.committed_offsets, ids, on_error)
    return GroupFacts(tuple(listings), descriptions, committed)


def _per_group(
    stage: str,
    call: Callable[[list[str]], Mapping[str, Answer | Exception]],
    ids: list[str],
    on_error: Callable[[str, int], None],
) -> dict[str, Answer]:
    """One batched call for all groups (the client batches per coordinator). A failure of the whole call, or of
    single groups, is logged and counted as errors of ``stage``; only the groups that answered are returned, so a
    failing group loses its own series and nothing else."""
    if not ids:
        return {}
    try:
        answers = call(ids)
    except Exception as exc:
        log.warning("group request failed", extra={"stage": stage, "err": str(exc)})
        on_error(stage, 1)
        return {}
    failed = [g for g, answer in answers.items() if isinstance(answer, Exception)]
    if failed:
        log.warning(
            "group request failed for some groups", extra={"stage": stage, "failed": len(failed), "example": failed[0]}
        )
        on_error(stage, len(failed))
    return {g: a for g, a in answers.items() if not isinstance(a, Exception)}


def group_series(
    out: FamilyBuilder,
    groups: GroupFacts,
    log_end: Mapping[TopicPartition, int],
    *,
    estimator: LagSecondsEstimator,
    evaluator: LagEvaluator,
    now: float,
    allow_topic: Callable[[str], bool],
    per_partition: bool,
) -> None:
    for listing in groups.listings:
        group = listing.group_id
        description = groups.descriptions.get(group)
        state = description.state if description else listing.state
        # ListGroups v5+ knows the protocol; a DescribeGroups answer always says "classic"
        group_type = listing.type if listing.type != "unknown" or description is None else description.type
        out.add("kafka_consumergroup_state", 1, group, state, group_type)
        if description is not None:
            out.add("kafka_consumergroup_members", description.members, group)
        offsets = groups.committed.get(group)
        if not offsets:
            continue
        lag_sums: dict[str, int] = {}
        max_lag_seconds: float | None = None
        observed: dict[TopicPartition, tuple[int, int]] = {}
        for tp in sorted(offsets):
            topic, partition = tp
            end = log_end.get(tp)
            committed = offsets[tp]
            if end is None or committed < 0 or not allow_topic(topic):
                continue  # vanished or offline partition, no commit, or a filtered topic
            observed[tp] = (committed, end)
            lag = max(0, end - committed)
            seconds = estimator.lag_seconds(tp, committed, now) if lag else 0.0
            lag_sums[topic] = lag_sums.get(topic, 0) + lag
            max_lag_seconds = seconds if max_lag_seconds is None else max(max_lag_seconds, seconds)
            if per_partition:
                labels = (group, topic, str(partition))
                out.add("kafka_consumergroup_current_offset", committed, *labels)
                out.add("kafka_consumergroup_lag", lag, *labels)
                out.add("kafka_consumergroup_lag_seconds", round(seconds, 3), *labels)
        for topic in sorted(lag_sums):
            out.add("kafka_consumergroup_lag_sum", lag_sums[topic], group, topic)
        if max_lag_seconds is not None:
            out.add("kafka_consumergroup_max_lag_seconds", round(max_lag_seconds, 3), group)
        if observed:
            # members: DescribeGroups' count; without an answer this cycle, what ListGroups' state implies
            members = description.members if description else int(state not in SKIPPED_WHEN_EMPTY)
            _status_series(
                out, group, evaluator.observe(group, at=now, members=members, offsets=observed), per_partition
            )


def _status_series(out: FamilyBuilder, group: str, verdict: GroupVerdict, per_partition: bool) -> None:
    for status in Status:
        out.add("kafka_consumergroup_status", int(status is verdict.status), group, status.name)
    out.add("kafka_consumergroup_abandoned", int(verdict.abandoned), group)
    if per_partition:
        for (topic, partition), status in sorted(verdict.partitions.items()):
            out.add("kafka_consumergroup_partition_status", status.value, group, topic, str(partition))
