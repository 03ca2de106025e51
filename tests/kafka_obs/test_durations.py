from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafka_obs.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("30d", 2_592_000),
        ("1w", 604_800),
        ("250ms", 0.25),
        ("2d12h", 216_000),
    ],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m", "1.5h", "30m1h", "0s", "5 m", "-1m", "1y"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(30, "30s"), (3600, "1h"), (2_592_000, "30d"), (5400, "1h30m"), (0.25, "250ms")]
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=1, max_value=10**9))
def test_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
