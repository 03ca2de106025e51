"""Lag seconds: property tests over arbitrary histories, plus the cases the peers got wrong."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafka_obs.exporter.lag_seconds import LagSecondsEstimator, OffsetHistory

# a history: successive (records produced since last cycle, seconds since last cycle)
steps = st.lists(st.tuples(st.integers(0, 1000), st.floats(0.5, 600)), min_size=1, max_size=200)


def build(history_steps: list[tuple[int, float]], max_points: int = 10) -> tuple[OffsetHistory, float, float, int]:
    h = OffsetHistory(max_points)
    t, offset, first = 1000.0, 0, None
    for produced, dt in history_steps:
        offset += produced
        t += dt
        first = t if first is None else first
        h.observe(offset, t)
    assert first is not None
    return h, first, t, offset


@given(steps, st.data())
@settings(max_examples=200, deadline=None)
def test_never_negative_nan_or_older_than_the_first_point(history_steps, data) -> None:
    h, first, now, end = build(history_steps)
    committed = data.draw(st.integers(0, end + 10))
    later = now + data.draw(st.floats(0, 10_000))
    seconds = h.lag_seconds(committed, later)
    assert not math.isnan(seconds)
    assert 0 <= seconds <= later - first + 1e-6
    if committed >= end:
        assert seconds == 0


@given(steps, st.data())
@settings(max_examples=200, deadline=None)
def test_further_behind_is_never_younger(history_steps, data) -> None:
    h, _, now, end = build(history_steps)
    a = data.draw(st.integers(0, max(0, end - 1)))
    b = data.draw(st.integers(a, max(a, end)))
    assert h.lag_seconds(a, now) >= h.lag_seconds(b, now) - 1e-9


@given(steps)
@settings(max_examples=100, deadline=None)
def test_memory_is_bounded_and_history_ordered(history_steps) -> None:
    h, first, now, end = build(history_steps, max_points=8)
    assert len(h.offsets) <= 8
    assert h.offsets == sorted(h.offsets)
    assert h.times == sorted(h.times)
    assert h.times[0] == first
    assert h.times[-1] == now
    assert h.offsets[-1] == end


@given(st.integers(1, 100), st.floats(1, 120), st.integers(3, 400))
@settings(max_examples=100, deadline=None)
def test_exact_for_a_constant_rate(rate, interval, cycles) -> None:
    """Records at `rate` per cycle: the record at offset k was appended during the cycle it belongs to."""
    h = OffsetHistory(60)
    for c in range(cycles + 1):
        h.observe(c * rate, c * interval)
    now = cycles * interval
    committed = (cycles // 2) * rate  # the first record appended after cycle cycles//2
    expected = now - (cycles // 2) * interval - interval / rate  # linear within the cycle
    assert h.lag_seconds(committed, now) == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_idle_topic_behind_consumer_ages_with_wall_time_and_caught_up_is_zero() -> None:
    h = OffsetHistory(5)
    h.observe(100, 0)
    for t in range(30, 3600, 30):
        h.observe(100, t)  # idle for an hour
    assert len(h.offsets) == 2  # a plateau is two points, not 120
    assert h.lag_seconds(100, 3600) == 0
    assert h.lag_seconds(99, 3600) == 3600  # the record is at least as old as our first sight of it


def test_records_after_an_idle_period_are_dated_after_it() -> None:
    h = OffsetHistory(10)
    h.observe(100, 0)
    h.observe(100, 3570)
    h.observe(200, 3600)  # a burst after an hour of silence
    assert h.lag_seconds(150, 3600) == pytest.approx(14.7, abs=0.5)  # not ~1800 s as smearing would give


def test_rereading_consumer_gets_a_bounded_value_not_an_extrapolation() -> None:
    h = OffsetHistory(10)
    h.observe(1_000_000, 100)
    h.observe(1_000_100, 130)
    assert h.lag_seconds(0, 130) == 30  # offset 0 is older than anything seen: "at least 30 s"


def test_offset_going_backwards_resets_history() -> None:
    h = OffsetHistory(10)
    h.observe(500, 0)
    h.observe(600, 30)
    h.observe(10, 60)  # topic recreated
    assert h.offsets == [10]
    assert h.times == [60]


def test_thinning_keeps_a_long_horizon() -> None:
    h = OffsetHistory(10)
    for c in range(1000):
        h.observe(c * 10, c * 30.0)
    assert len(h.offsets) == 10
    assert h.times[0] == 0
    # a consumer 8 hours behind still gets a real estimate, within a few cycles
    assert h.lag_seconds(10 * 40, 999 * 30.0) == pytest.approx(999 * 30 - 41 * 30, rel=0.15)


def test_estimator_prunes_vanished_partitions() -> None:
    e = LagSecondsEstimator(5)
    e.observe({("a", 0): 10, ("a", 1): 10, ("b", 0): 1}, 10)
    e.retain([("a", 0)])
    assert len(e) == 1
    assert e.lag_seconds(("b", 0), 0, 20) == 0  # unknown partition: no made-up number
