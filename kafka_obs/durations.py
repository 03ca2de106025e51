"""Prometheus-style durations (``30s``, ``5m``, ``1h30m``, ``30d``), parsed and formatted one way project-wide.

The rules generator must write windows that Prometheus 2.42 accepts and that round-trip exactly, and the
configs must accept what operators already type in Prometheus, so both sides share this module.
"""

from __future__ import annotations

import re

UNITS: dict[str, int] = {
    "w": 7 * 86400,
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
}
_ORDER = ("w", "d", "h", "m", "s")
_PART = re.compile(r"(\d+)(ms|w|d|h|m|s)")
_WHOLE = re.compile(r"^(?:\d+(?:ms|w|d|h|m|s))+$")


class DurationError(ValueError):
    """A duration string that Prometheus would not accept either."""


def parse_duration(text: str) -> float:
    """Seconds in ``text``; units must appear largest first, as Prometheus requires."""
    if not isinstance(text, str) or not _WHOLE.match(text):
        raise DurationError(f"not a duration: {text!r} (expected e.g. 30s, 5m, 1h30m, 30d)")
    total = 0.0
    last_rank = -1
    for number, unit in _PART.findall(text):
        rank = 5 if unit == "ms" else _ORDER.index(unit)
        if rank <= last_rank:
            raise DurationError(f"not a duration: {text!r} (units must go from largest to smallest)")
        last_rank = rank
        total += int(number) / 1000 if unit == "ms" else int(number) * UNITS[unit]
    if total <= 0:
        raise DurationError(f"not a duration: {text!r} (must be greater than zero)")
    return total


def format_duration(seconds: float) -> str:
    """The Prometheus duration equal to ``seconds``, in days and smaller units (``30d``, not ``4w2d``)."""
    if seconds <= 0:
        raise DurationError(f"duration must be positive, got {seconds}")
    millis = round(seconds * 1000)
    if millis % 1000:
        return f"{millis}ms"
    rest = millis // 1000
    parts: list[str] = []
    for unit in _ORDER[1:]:
        count, rest = divmod(rest, UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
