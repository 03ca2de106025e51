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
from kafka_obs.exporter.families import FamilyBuilder, LabelValues, PartitionLabels
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
    offset_series = _OffsetSeries(
        out, log_end, estimator=estimator, now=now, allow_topic=allow_topic, per_partition=per_partition
    )
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
        lag_sums, max_lag_seconds, observed, rows = offset_series.add(group, offsets)
        for topic in sorted(lag_sums):
            out.add("kafka_consumergroup_lag_sum", lag_sums[topic], group, topic)
        if max_lag_seconds is not None:
            out.add("kafka_consumergroup_max_lag_seconds", round(max_lag_seconds, 3), group)
        if observed:
            # members: DescribeGroups' count; without an answer this cycle, what ListGroups' state implies
            members = description.members if description else int(state not in SKIPPED_WHEN_EMPTY)
            verdict = evaluator.observe(group, at=now, members=members, offsets=observed)
            _status_series(out, group, verdict, rows)


class _OffsetSeries:
    """The per-committed-offset series of one cycle: the exporter's hottest loop (80,000 iterations per cycle at 4x
    ``scale``). Its three series share one label tuple and are appended to the families' columns directly, and a
    topic's filter verdict and a partition's label string are computed once per cycle, not once per offset."""

    def __init__(
        self,
        out: FamilyBuilder,
        log_end: Mapping[TopicPartition, int],
        *,
        estimator: LagSecondsEstimator,
        now: float,
        allow_topic: Callable[[str], bool],
        per_partition: bool,
    ):
        self._current = out.columns("kafka_consumergroup_current_offset")
        self._lag = out.columns("kafka_consumergroup_lag")
        self._seconds = out.columns("kafka_consumergroup_lag_seconds")
        self._log_end = log_end
        self._lag_seconds = estimator.lag_seconds
        self._now = now
        self._allow_topic = allow_topic
        self._allowed: dict[str, bool] = {}
        self._per_partition = per_partition
        self.partition_label = PartitionLabels()

    def add(
        self, group: str, offsets: Mapping[TopicPartition, int]
    ) -> tuple[dict[str, int], float | None, dict[TopicPartition, tuple[int, int]], list[LabelValues]]:
        """One group's series; returns its lag per topic, its largest lag in seconds, what it observed (in
        partition order) and, per partition, the label tuple of its series (the same order; empty when series are
        per group only), which the partition statuses share."""
        (current_labels, current_values), (lag_labels, lag_values), (seconds_labels, seconds_values) = (
            self._current,
            self._lag,
            self._seconds,
        )
        log_end, lag_seconds, now, allowed, partition_label = (
            self._log_end,
            self._lag_seconds,
            self._now,
            self._allowed,
            self.partition_label,
        )
        lag_sums: dict[str, int] = {}
        max_lag_seconds: float | None = None
        observed: dict[TopicPartition, tuple[int, int]] = {}
        rows: list[LabelValues] = []
        for tp in sorted(offsets):
            topic, partition = tp
            end = log_end.get(tp)
            committed = offsets[tp]
            if end is None or committed < 0:
                continue  # vanished or offline partition, or no commit
            topic_allowed = allowed.get(topic)
            if topic_allowed is None:
                topic_allowed = allowed[topic] = self._allow_topic(topic)
            if not topic_allowed:
                continue  # a filtered topic
            observed[tp] = (committed, end)
            lag = end - committed if end > committed else 0
            seconds = lag_seconds(tp, committed, now) if lag else 0.0
            lag_sums[topic] = lag_sums.get(topic, 0) + lag
            if max_lag_seconds is None or seconds > max_lag_seconds:
                max_lag_seconds = seconds
            if self._per_partition:
                labels = (group, topic, partition_label[partition])
                current_labels.append(labels)
                current_values.append(committed)
                lag_labels.append(labels)
                lag_values.append(lag)
                seconds_labels.append(labels)
                seconds_values.append(round(seconds, 3) if seconds else seconds)  # round() is ~0.4 µs: not for 0
                rows.append(labels)
        return lag_sums, max_lag_seconds, observed, rows


_STATUS_NAMES = tuple((status, status.name) for status in Status)


def _status_series(out: FamilyBuilder, group: str, verdict: GroupVerdict, rows: list[LabelValues]) -> None:
    """The group's status series; per partition (``rows``: the label tuples of the group's committed offsets, in
    the order of ``verdict.partitions``) when series are per partition."""
    status_labels, status_values = out.columns("kafka_consumergroup_status")
    for status, name in _STATUS_NAMES:
        status_labels.append((group, name))
        status_values.append(int(status is verdict.status))
    out.add("kafka_consumergroup_abandoned", int(verdict.abandoned), group)
    if rows:
        labels, values = out.columns("kafka_consumergroup_partition_status")
        labels.extend(rows)
        values.extend(map(int, verdict.partitions.values()))  # a Status' int, without Enum's `value` property
