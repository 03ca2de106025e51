"""Consumer lag in seconds: how old is the next record a group will consume?

Kafka does not say when a record was produced without reading it, so, like seglo/kafka-lag-exporter, we keep per
partition a small table of (log-end offset, time) points taken at every collection cycle and interpolate the time
at which the log-end offset passed the group's committed offset. Unlike it, the rules here are chosen so the
number is always usable for alerting:

* **0 when caught up** (committed ≥ log-end), whatever the table holds.
* **Never NaN or negative.** One point is enough: a committed offset below the oldest point is reported as the
  age of that point (a lower bound: "at least this old"), never extrapolated. Extrapolating is what produced
  values ~200,000 times too high for re-reading consumers (KLE#496).
* **Idle topics stay sane** (KLE#111): a plateau (log-end unchanged over several cycles) is stored as its first
  and last observation, so records produced after a long idle period are dated after it, not smeared over it,
  and a group stuck behind on an idle topic sees its lag seconds grow with wall time, as it should.
* **Bounded memory, long horizon**: at most ``max_points`` per partition; when full, the interior point whose
  neighbours are closest in time is dropped, so resolution thins out in the past instead of the past being
  forgotten (a consumer hours behind still gets a real estimate after hours of running).
* A log-end offset that goes backwards (topic recreated, partition truncated) resets the table.
* **No warm-up after a restart**: a partition seen for the first time is seeded with the log-end offsets it had
  24 h, 6 h, 1 h, 10 min and 2 min ago (ListOffsets by timestamp: the first offset at or after a time *is* the
  log-end offset at that time), so a group that was already hours behind when the exporter started gets a real
  estimate on the first cycle instead of "as old as the exporter".

The module is pure: time comes in as arguments, so the property tests drive it with arbitrary histories.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from kafka_obs.exporter.model import TopicPartition

DEFAULT_MAX_POINTS = 60
SEED_AGES = (86_400.0, 21_600.0, 3_600.0, 600.0, 120.0)
"""Seconds before the first observation at which a new partition's history is seeded, oldest first."""


class OffsetHistory:
    """(log-end offset, time) points of one partition, offsets non-decreasing, times increasing."""

    __slots__ = ("max_points", "offsets", "times")

    def __init__(self, max_points: int = DEFAULT_MAX_POINTS):
        if max_points < 3:
            raise ValueError("max_points must be at least 3 (first, last and one to thin)")
        self.max_points = max_points
        self.offsets: list[int] = []
        self.times: list[float] = []

    def observe(self, offset: int, at: float) -> None:
        offsets, times = self.offsets, self.times
        if offsets and at <= times[-1]:
            return  # not later than what we know: nothing to learn, and time must increase
        if offsets and offset < offsets[-1]:
            offsets.clear()
            times.clear()
        if len(offsets) >= 2 and offsets[-1] == offset and offsets[-2] == offset:
            times[-1] = at  # extend the plateau: keep its first and its latest observation only
            return
        offsets.append(offset)
        times.append(at)
        if len(offsets) > self.max_points:
            self._thin()

    def _thin(self) -> None:
        times = self.times
        best = min(range(1, len(times) - 1), key=lambda i: times[i + 1] - times[i - 1])
        del self.offsets[best]
        del self.times[best]

    def produced_at(self, offset: int) -> float | None:
        """Estimated time the record at ``offset`` was appended; ``None`` if the log has not reached it."""
        offsets, times = self.offsets, self.times
        if not offsets or offset >= offsets[-1]:
            return None
        end = offset + 1  # the record at `offset` exists once the log-end offset reaches offset + 1
        i = bisect_left(offsets, end)  # first point whose log-end already includes the record
        if i == 0:
            return times[0]  # older than everything we saw: the oldest point is a lower bound on its age
        o0, t0, o1, t1 = offsets[i - 1], times[i - 1], offsets[i], times[i]
        return t0 + (end - o0) / (o1 - o0) * (t1 - t0)

    def lag_seconds(self, committed: int, now: float) -> float:
        """Age at ``now`` of the next record the group will consume (its committed offset); 0 when caught up."""
        produced = self.produced_at(committed)
        if produced is None:
            return 0.0
        return max(0.0, now - produced)


class LagSecondsEstimator:
    """One history per partition of one cluster, fed each cycle with the log-end offsets, pruned as topics vanish."""

    def __init__(self, max_points: int = DEFAULT_MAX_POINTS):
        self.max_points = max_points
        self._histories: dict[TopicPartition, OffsetHistory] = {}

    def observe(self, log_end_offsets: dict[TopicPartition, int], at: float) -> None:
        histories = self._histories
        for tp, offset in log_end_offsets.items():
            history = histories.get(tp)
            if history is None:
                history = histories[tp] = OffsetHistory(self.max_points)
            history.observe(offset, at)

    def missing(self, partitions: Iterable[TopicPartition]) -> list[TopicPartition]:
        """Partitions without a history yet: the ones to seed."""
        return [tp for tp in partitions if tp not in self._histories]

    def seed(self, points: dict[TopicPartition, list[tuple[int, float]]]) -> None:
        """Start histories from past (log-end offset, time) points, before the first live observation."""
        for tp, history_points in points.items():
            history = self._histories.setdefault(tp, OffsetHistory(self.max_points))
            for offset, at in sorted(history_points, key=lambda p: p[1]):
                history.observe(offset, at)

    def retain(self, partitions: Iterable[TopicPartition]) -> None:
        """Forget partitions that no longer exist, so memory follows the cluster, not its past."""
        keep = set(partitions)
        for tp in [tp for tp in self._histories if tp not in keep]:
            del self._histories[tp]

    def lag_seconds(self, tp: TopicPartition, committed: int, now: float) -> float:
        history = self._histories.get(tp)
        return 0.0 if history is None else history.lag_seconds(committed, now)

    def __len__(self) -> int:
        return len(self._histories)
