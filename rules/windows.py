"""Multi-window, multi-burn-rate windows, scaled from the SRE Workbook's 30-day table to any SLO period.

Scaling every window by ``period / 30d`` keeps each burn factor meaning the same share of the budget (page 1h at
14.4x = 2% of the budget, whatever the period), which is how Pyrra handles non-30-day periods and what lets one
bundle carry a 30d production and a 7d staging target. Windows are rounded to whole slices (the SLO's evaluation
step) because the SLI is a sum of slices; a window is never shorter than one slice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

BASE_PERIOD = 30 * 86400.0

Severity = Literal["page", "ticket"]


@dataclass(frozen=True)
class BurnWindow:
    """One alerting condition: the long and the short window must both burn faster than ``factor``."""

    severity: Severity
    long: float
    short: float
    factor: float


BASE_TABLE: tuple[BurnWindow, ...] = (
    BurnWindow("page", 3600, 300, 14.4),
    BurnWindow("page", 6 * 3600, 1800, 6),
    BurnWindow("ticket", 86400, 2 * 3600, 3),
    BurnWindow("ticket", 3 * 86400, 6 * 3600, 1),
)
"""SRE Workbook, "Alerting on SLOs", for a 30-day period (short window = 1/12 of the long one)."""

BASE_FOR: dict[Severity, float] = {"page": 120.0, "ticket": 900.0}
"""``for`` of the burn-rate alerts at 30 days (Pyrra uses 2m for its fastest page, 15m for the 6h/30m one)."""


def scale(seconds: float, period: float, step: float) -> float:
    """``seconds`` of the 30-day table scaled to ``period``, rounded half-up to whole ``step``\\s, at least one."""
    slices = math.floor(seconds * period / BASE_PERIOD / step + 0.5)
    return max(1, slices) * step


def burn_windows(period: float, step: float) -> tuple[BurnWindow, ...]:
    return tuple(
        BurnWindow(w.severity, scale(w.long, period, step), scale(w.short, period, step), w.factor) for w in BASE_TABLE
    )


def all_windows(period: float, step: float) -> list[float]:
    """Every distinct window the alerts read, shortest first (each becomes one recorded SLI series)."""
    return sorted({s for w in burn_windows(period, step) for s in (w.long, w.short)})


def current_window(period: float, step: float) -> float:
    """The window of ``slo:current_burn_rate:ratio``: the first page long window (1h at 30 days)."""
    return burn_windows(period, step)[0].long


def min_bad_slices(min_bad: float, step: float) -> int:
    """``min_bad`` seconds of bad time in whole slices, rounded up (a page's minimum evidence)."""
    return max(1, math.ceil(min_bad / step - 1e-9))


def alert_for(severity: Severity, period: float, step: float) -> float:
    return scale(BASE_FOR[severity], period, step)
