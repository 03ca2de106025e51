"""Piecewise-constant rates integrated over time, so offsets are computed from the clock instead of ticked.

Every offset in the sandbox is a function of time: a partition's log-end offset is the number of messages produced
since the fleet's epoch. Storing the rate history as segments (start time, count at start, rate) lets any reader
ask "how many messages at time t" in O(log n), lets retention ask the same question for ``now - retention.ms``,
and makes a :class:`~kafka_obs.clock.ManualClock` jump of a week cost nothing.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field


@dataclass
class RateSeries:
    """Messages produced since ``epoch`` as a piecewise-linear function of time."""

    epoch: float
    rate: float
    _starts: list[float] = field(default_factory=list)
    _counts: list[float] = field(default_factory=list)
    _rates: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._starts = [self.epoch]
        self._counts = [0.0]
        self._rates = [self.rate]

    def count(self, t: float) -> float:
        """Messages produced in ``[epoch, t]`` (0 before the epoch)."""
        if t <= self.epoch:
            return 0.0
        i = bisect.bisect_right(self._starts, t) - 1
        return self._counts[i] + self._rates[i] * (t - self._starts[i])

    def time_of(self, count: float) -> float:
        """The first time at which ``count`` messages had been produced (``inf`` if never at the current rate)."""
        if count <= 0:
            return self.epoch
        i = bisect.bisect_right(self._counts, count) - 1
        while i > 0 and self._counts[i] >= count:
            i -= 1
        rate = self._rates[i]
        if rate <= 0:
            # The count is reached at the start of the next segment that produces, if any.
            for j in range(i + 1, len(self._starts)):
                if self._counts[j] >= count:
                    return self._starts[j]
            return math.inf
        t = self._starts[i] + (count - self._counts[i]) / rate
        if i + 1 < len(self._starts) and t > self._starts[i + 1]:
            return self._starts[i + 1]
        return t

    def set_rate(self, t: float, rate: float) -> None:
        """From ``t`` on, produce ``rate`` messages per second (``t`` must not precede the last change)."""
        t = max(t, self._starts[-1])
        if rate == self._rates[-1]:
            return
        count = self.count(t)
        if t == self._starts[-1]:
            self._counts[-1] = count
            self._rates[-1] = rate
            return
        self._starts.append(t)
        self._counts.append(count)
        self._rates.append(rate)

    @property
    def current_rate(self) -> float:
        return self._rates[-1]
