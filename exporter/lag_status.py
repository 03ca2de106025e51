"""Consumer lag evaluation: *why* a group is behind, rated the way Burrow rates it, from the exporter's own cycles.

Burrow keeps the last N commits of every partition by reading ``__consumer_offsets``, which breaks whenever Kafka
changes that topic's record format (Burrow#470, #560, #851, #843). The exporter already reads each group's
committed offsets and each partition's log-end offset every cycle, so it keeps the last ``window`` of those
*observations* per partition instead and rates the partition at every cycle:

``OK``
    lag was at or below ``ok_lag`` at least once in the window, or nothing below applies.
``WARN``
    the group commits (its offset advanced over the window) but its lag never fell and grew overall: the
    consumers are alive and too slow. The one status that more consumers can fix.
``REWIND``
    the committed offset moved backwards between two observations of the window (an offset reset, a
    reprocessing job). Checked first and whatever the lag, because a reset usually starts from a caught-up group.
``STALL``
    the committed offset did not move over a whole window while lag stayed above ``ok_lag``, and the group *has*
    members: consumers are alive but stuck (a poison record, a deadlock, a rebalance loop). Scaling changes nothing.
``STOP``
    the same, with no members: nothing is consuming (a crashed or scaled-to-zero deployment).

Without reading ``__consumer_offsets`` there are no commit timestamps, so "commits that do not advance" (Burrow's
STALL) and "no commits" (its STOP) cannot be told apart from offsets alone; the group's membership tells them apart
instead, which is also what an operator needs to know (restart vs. debug). A standalone consumer (``assign()`` plus
commits, no members) whose offset advances is rated like any other.

STALL and STOP need a full window of evidence (``window`` observations, one per cycle), so neither fires during
the first ``window`` cycles after the exporter starts or a partition appears; WARN needs a full window too. A
log-end offset that goes backwards (topic recreated) restarts the partition's window.

A group's status is its worst partition's, by severity OK < WARN < REWIND < STALL < STOP (the codes of
``kafka_consumergroup_partition_status``, so ``max`` over a group's partitions is the group's status).

A group is **abandoned** when it has had no members and committed nothing new for longer than ``abandoned_after``,
as seen by this exporter process (the clock restarts with the exporter: Kafka keeps no record of when a group
emptied). Rules leave abandoned groups out of the consumer-lag SLI, so one forgotten group cannot hold it down.

The module is pure (time comes in as arguments, no global state) and memory is bounded: ``window`` observations
per partition, and groups and partitions that are no longer seen are forgotten. A partition's window is one array
of 64-bit integers (committed and log-end offsets, interleaved) and the time of its last observation, ~0.3 KB at a
full window of 10 instead of ~1.6 KB as a deque of tuples: at 4x ``scale`` (80,000 committed offsets) that is
~25 MB instead of ~130 MB once the windows are full.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple

from kafka_obs.exporter.model import TopicPartition

DEFAULT_WINDOW = 10
DEFAULT_OK_LAG = 0
DEFAULT_ABANDONED_AFTER = 86_400.0


class Status(IntEnum):
    """Partition and group statuses; the value is the code of ``kafka_consumergroup_partition_status``."""

    OK = 0
    WARN = 1
    REWIND = 2
    STALL = 3
    STOP = 4


class Observation(NamedTuple):
    """One cycle's view of one partition of one group (a tuple: tens of thousands are kept, and made every cycle)."""

    at: float
    committed: int
    log_end: int

    @property
    def lag(self) -> int:
        return max(0, self.log_end - self.committed)


def rate(observations: Sequence[Observation], *, window: int, ok_lag: int, alive: bool) -> Status:
    """The status of one partition from its observations (oldest first, at most ``window`` of them)."""
    rated = _Window()
    for observation in observations:
        rated.append(observation.at, observation.committed, observation.log_end, len(observations), ok_lag)
    return rated.status(window=window, alive=alive)


class _Window:
    """The last observations of one partition, rated in constant time.

    Offsets are interleaved in one array (``committed, log_end, committed, log_end, …``, oldest first), with the
    time of the last observation (observations of one call share its time; only the last is ever compared) and
    three counts kept as observations come and go: rewinds (a committed offset below the one before it), falls
    (a lag below the one before it) and observations at or below ``ok_lag``. Rating 80,000 windows of 10 each cycle
    by walking them was ~0.3 s at 4x ``scale``; with the counts it is a few comparisons per window.
    """

    __slots__ = ("at", "falls", "low", "offsets", "rewinds")

    def __init__(self) -> None:
        self.at = 0.0
        self.offsets = array("q")
        self.rewinds = self.falls = self.low = 0

    def __len__(self) -> int:
        return len(self.offsets) // 2

    def clear(self) -> None:
        del self.offsets[:]
        self.rewinds = self.falls = self.low = 0

    def append(self, at: float, committed: int, log_end: int, capacity: int, ok_lag: int) -> None:
        """Add one observation, dropping the oldest beyond ``capacity``, and keep the counts."""
        offsets = self.offsets
        lag = log_end - committed if log_end > committed else 0
        if len(offsets) >= 2 * capacity:
            first_committed, first_lag = offsets[0], max(0, offsets[1] - offsets[0])
            self.low -= first_lag <= ok_lag
            if len(offsets) >= 4:  # the pair (oldest, second oldest) leaves with the oldest
                second_committed = offsets[2]
                self.rewinds -= second_committed < first_committed
                self.falls -= max(0, offsets[3] - second_committed) < first_lag
            del offsets[:2]
        if offsets:
            last_committed = offsets[-2]
            self.rewinds += committed < last_committed
            self.falls += lag < max(0, offsets[-1] - last_committed)
        self.low += lag <= ok_lag
        offsets.append(committed)
        offsets.append(log_end)
        self.at = at

    def status(self, *, window: int, alive: bool) -> Status:
        offsets = self.offsets
        if self.rewinds:
            return Status.REWIND  # checked before anything else, whatever the lag
        if not offsets or self.low or len(offsets) < 2 * window:
            return Status.OK  # caught up at least once, or not enough evidence yet to call a group stuck or slow
        first_committed, last_committed = offsets[0], offsets[-2]
        if last_committed == first_committed:  # no rewind in the window, so the offset never moved
            return Status.STALL if alive else Status.STOP
        if not self.falls and max(0, offsets[-1] - last_committed) > max(0, offsets[1] - first_committed):
            return Status.WARN
        return Status.OK


@dataclass(frozen=True, slots=True)
class GroupVerdict:
    status: Status
    partitions: Mapping[TopicPartition, Status]
    abandoned: bool


@dataclass(slots=True)
class _GroupState:
    partitions: dict[TopicPartition, _Window] = field(default_factory=dict)
    idle_since: float | None = None
    """Since when the group has had no members and committed nothing new; None while it has members or commits."""


class LagEvaluator:
    """The windows of every group of one cluster, fed once per cycle per group whose offsets were read."""

    def __init__(
        self,
        window: int = DEFAULT_WINDOW,
        ok_lag: int = DEFAULT_OK_LAG,
        abandoned_after: float = DEFAULT_ABANDONED_AFTER,
    ):
        if window < 3:
            raise ValueError("window must be at least 3 observations")
        if ok_lag < 0:
            raise ValueError("ok_lag must not be negative")
        self.window = window
        self.ok_lag = ok_lag
        self.abandoned_after = abandoned_after
        self._groups: dict[str, _GroupState] = {}

    def observe(
        self, group: str, *, at: float, members: int, offsets: Mapping[TopicPartition, tuple[int, int]]
    ) -> GroupVerdict:
        """Record one cycle's ``(committed, log-end)`` per partition of ``group`` and rate it; the verdict's
        partitions are in the order of ``offsets``.

        Partitions left out of ``offsets`` (no longer committed, filtered, offline) are forgotten.
        """
        state = self._groups.setdefault(group, _GroupState())
        windows = state.partitions
        moved = False
        window, ok_lag = self.window, self.ok_lag
        for tp, (committed, log_end) in offsets.items():
            observations = windows.get(tp)
            if observations is None:
                observations = windows[tp] = _Window()
            elif (past := observations.offsets) and at <= observations.at:  # (the array's length, not __len__)
                continue  # not later than what we know: time must increase within a window
            elif past and log_end < past[-1]:
                observations.clear()  # the partition was recreated or truncated: its past says nothing now
            if observations.offsets and committed != observations.offsets[-2]:
                moved = True
            observations.append(at, committed, log_end, window, ok_lag)
        if len(windows) > len(offsets):  # every partition of `offsets` has a window now: the others are gone
            for tp in [tp for tp in windows if tp not in offsets]:
                del windows[tp]
        if members > 0 or moved:
            state.idle_since = None
        elif state.idle_since is None:
            state.idle_since = at
        alive = members > 0
        statuses = {tp: windows[tp].status(window=window, alive=alive) for tp in offsets}
        abandoned = state.idle_since is not None and at - state.idle_since >= self.abandoned_after
        return GroupVerdict(max(statuses.values(), default=Status.OK), statuses, abandoned)

    def retain(self, groups: Iterable[str]) -> None:
        """Forget groups that are no longer listed (deleted, filtered out), so memory follows the cluster."""
        keep = set(groups)
        for group in [g for g in self._groups if g not in keep]:
            del self._groups[group]

    def __len__(self) -> int:
        return len(self._groups)
