"""Lag evaluation: property tests over arbitrary commit histories, plus the cases each status exists for."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafka_obs.exporter.lag_status import LagEvaluator, Observation, Status, rate

TP = ("orders", 0)

# one partition's cycles: (records produced since the last cycle, records the group committed since the last cycle)
cycles = st.lists(st.tuples(st.integers(0, 50), st.integers(-5, 50)), min_size=1, max_size=40)


def observations(steps: list[tuple[int, int]], start_lag: int = 0) -> list[Observation]:
    end, committed, out = 1000 + start_lag, 1000, []
    for i, (produced, consumed) in enumerate(steps):
        end += produced
        committed = max(0, min(end, committed + consumed))
        out.append(Observation(30.0 * i, committed, end))
    return out


def feed(evaluator: LagEvaluator, obs: list[Observation], members: int = 1) -> Status:
    status = Status.OK
    for o in obs:
        status = evaluator.observe("g", at=o.at, members=members, offsets={TP: (o.committed, o.log_end)}).status
    return status


@given(cycles, st.integers(3, 12), st.integers(0, 20), st.integers(0, 3), st.integers(0, 500))
@settings(max_examples=300, deadline=None)
def test_the_rules_hold_for_any_history(
    steps: list[tuple[int, int]], window: int, ok_lag: int, members: int, start_lag: int
) -> None:
    obs = observations(steps, start_lag)
    evaluator = LagEvaluator(window, ok_lag)
    status = feed(evaluator, obs, members)
    seen = obs[-window:]
    rewound = any(b.committed < a.committed for a, b in pairwise(seen))
    assert (status is Status.REWIND) == rewound
    if rewound:
        return
    if min(o.lag for o in seen) <= ok_lag or len(seen) < window:
        assert status is Status.OK
    frozen = seen[0].committed == seen[-1].committed
    if status in (Status.STALL, Status.STOP):
        assert frozen
        assert len(seen) == window
        assert all(o.lag > ok_lag for o in seen)
        assert status is (Status.STALL if members else Status.STOP)
    if status is Status.WARN:
        assert not frozen  # the group commits: alive and too slow
        assert seen[-1].lag > seen[0].lag
        assert all(b.lag >= a.lag for a, b in pairwise(seen))
    # the same history rated directly, and shifted in time, gives the same status: only order and spacing matter
    assert rate(seen, window=window, ok_lag=ok_lag, alive=members > 0) is status
    shifted = [Observation(o.at + 1e6, o.committed, o.log_end) for o in seen]
    assert rate(shifted, window=window, ok_lag=ok_lag, alive=members > 0) is status


@given(st.lists(cycles, min_size=1, max_size=5), st.integers(3, 8))
@settings(max_examples=100, deadline=None)
def test_a_group_takes_its_worst_partition_and_memory_is_bounded(
    histories: list[list[tuple[int, int]]], window: int
) -> None:
    evaluator = LagEvaluator(window)
    all_obs = [observations(h) for h in histories]
    verdict = None
    for i in range(max(len(o) for o in all_obs)):
        offsets = {("t", p): (obs[i].committed, obs[i].log_end) for p, obs in enumerate(all_obs) if i < len(obs)}
        verdict = evaluator.observe("g", at=30.0 * i, members=1, offsets=offsets)
        assert verdict.status == max(verdict.partitions.values())
        assert all(len(w) <= window for w in evaluator._groups["g"].partitions.values())
    assert verdict is not None
    longest = max(len(obs) for obs in all_obs)
    assert set(verdict.partitions) == {("t", p) for p, obs in enumerate(all_obs) if len(obs) == longest}


def steady(n: int, *, produced: int, consumed: int, start_lag: int = 100) -> list[Observation]:
    return observations([(produced, consumed)] * n, start_lag)


def test_each_status_for_the_case_it_exists_for() -> None:
    ten = 10
    # keeps up: lag 0 at every cycle
    assert rate(steady(ten, produced=50, consumed=50, start_lag=0), window=ten, ok_lag=0, alive=True) is Status.OK
    # falls behind while committing: WARN (scaling helps)
    assert rate(steady(ten, produced=50, consumed=30), window=ten, ok_lag=0, alive=True) is Status.WARN
    # behind but catching up: OK
    assert rate(steady(ten, produced=30, consumed=50, start_lag=1000), window=ten, ok_lag=0, alive=True) is Status.OK
    # members alive, offset frozen, lag > 0: STALL; no members: STOP
    assert rate(steady(ten, produced=50, consumed=0), window=ten, ok_lag=0, alive=True) is Status.STALL
    assert rate(steady(ten, produced=50, consumed=0), window=ten, ok_lag=0, alive=False) is Status.STOP
    # a frozen group on an idle topic with lag left over is stuck too (Burrow's "lag fixed")
    assert rate(steady(ten, produced=0, consumed=0), window=ten, ok_lag=0, alive=False) is Status.STOP
    # ... unless its leftover lag is within ok_lag
    assert rate(steady(ten, produced=0, consumed=0, start_lag=5), window=ten, ok_lag=5, alive=False) is Status.OK
    # caught up and idle, frozen: nothing to consume, OK
    assert rate(steady(ten, produced=0, consumed=0, start_lag=0), window=ten, ok_lag=0, alive=False) is Status.OK
    # not a full window yet: no verdict of stuck or slow
    assert rate(steady(ten - 1, produced=50, consumed=0), window=ten, ok_lag=0, alive=False) is Status.OK
    # an offset reset from a caught-up group is a REWIND (Burrow would say OK: its window saw lag 0)
    reset = [*steady(5, produced=50, consumed=50, start_lag=0), Observation(1000.0, 0, 1400)]
    assert rate(reset, window=ten, ok_lag=0, alive=True) is Status.REWIND


def test_rewind_lasts_one_window_then_the_group_is_rated_again() -> None:
    evaluator = LagEvaluator(window=4)
    offsets = [100, 110, 50, 60, 70, 80, 260]  # reset at the third cycle, consuming again, caught up at the end
    statuses = [
        evaluator.observe("g", at=30.0 * i, members=1, offsets={TP: (c, 200 + 10 * i)}).status
        for i, c in enumerate(offsets)
    ]
    assert statuses == [Status.OK, Status.OK, Status.REWIND, Status.REWIND, Status.REWIND, Status.OK, Status.OK]


def test_a_recreated_partition_starts_a_new_window_instead_of_a_rewind() -> None:
    evaluator = LagEvaluator(window=3)
    for i, (committed, end) in enumerate([(500, 600), (600, 700), (5, 10)]):  # log-end went backwards: recreated
        verdict = evaluator.observe("g", at=30.0 * i, members=1, offsets={TP: (committed, end)})
    assert verdict.status is Status.OK
    assert len(evaluator._groups["g"].partitions[TP]) == 1


def test_abandoned_after_empty_and_idle_for_long_enough_and_reset_by_members_or_commits() -> None:
    evaluator = LagEvaluator(window=3, abandoned_after=3600)
    frozen = {TP: (100, 200)}
    assert not evaluator.observe("g", at=0, members=0, offsets=frozen).abandoned
    assert not evaluator.observe("g", at=3599, members=0, offsets=frozen).abandoned
    assert evaluator.observe("g", at=3600, members=0, offsets=frozen).abandoned
    # a standalone consumer (no members) that commits is not abandoned
    assert not evaluator.observe("g", at=3630, members=0, offsets={TP: (150, 200)}).abandoned
    assert not evaluator.observe("g", at=3630 + 3599, members=0, offsets={TP: (150, 200)}).abandoned
    # a member joining resets the clock too
    evaluator.observe("g", at=8000, members=1, offsets={TP: (150, 200)})
    assert not evaluator.observe("g", at=8030, members=0, offsets={TP: (150, 200)}).abandoned
    assert evaluator.observe("g", at=8030 + 3600, members=0, offsets={TP: (150, 200)}).abandoned


def test_vanished_groups_and_partitions_are_forgotten() -> None:
    evaluator = LagEvaluator(window=3)
    evaluator.observe("a", at=0, members=1, offsets={("t", 0): (1, 2), ("t", 1): (1, 2)})
    evaluator.observe("b", at=0, members=1, offsets={("t", 0): (1, 2)})
    verdict = evaluator.observe("a", at=30, members=1, offsets={("t", 1): (1, 2)})
    assert set(verdict.partitions) == {("t", 1)}
    evaluator.retain(["a"])
    assert len(evaluator) == 1


def test_a_verdict_lists_the_partitions_in_the_order_they_were_observed() -> None:
    """The series builder pairs each partition's status with the label tuple of its committed offset by position,
    so the verdict keeps the order of ``offsets`` (not the order the windows were created in), and forgets a
    partition left out."""
    evaluator = LagEvaluator(window=3)
    evaluator.observe("g", at=1, members=1, offsets={("b", 0): (5, 9), ("a", 1): (1, 1)})
    verdict = evaluator.observe("g", at=2, members=1, offsets={("a", 0): (0, 4), ("a", 1): (0, 1), ("b", 0): (6, 9)})
    assert list(verdict.partitions) == [("a", 0), ("a", 1), ("b", 0)]
    assert verdict.partitions[("a", 1)] is Status.REWIND
    verdict = evaluator.observe("g", at=3, members=1, offsets={("b", 0): (7, 9), ("a", 0): (0, 4)})
    assert list(verdict.partitions) == [("b", 0), ("a", 0)]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="window"):
        LagEvaluator(window=2)
    with pytest.raises(ValueError, match="ok_lag"):
        LagEvaluator(ok_lag=-1)


def test_a_full_window_costs_under_half_a_kilobyte_per_partition() -> None:
    """80,000 committed offsets at 4x ``scale``: a deque of tuples per partition was ~1.6 KB each (130 MB)."""
    import tracemalloc

    evaluator = LagEvaluator(window=10)
    partitions = [("t", p) for p in range(2_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for cycle in range(12):
            offsets = {tp: (1_000_000 + cycle * 7 + i, 2_000_000 + cycle * 11 + i) for i, tp in enumerate(partitions)}
            evaluator.observe("g", at=30.0 * cycle, members=1, offsets=offsets)
            del offsets
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert all(len(w) == 10 for w in evaluator._groups["g"].partitions.values())
    assert held / len(partitions) < 500


def _walked(seen: list[tuple[int, int]], *, window: int, ok_lag: int, alive: bool) -> Status:
    """The rating by walking the window, as it was before the window kept counts: the oracle of the counts."""
    lags = [max(0, end - committed) for committed, end in seen]
    if any(b[0] < a[0] for a, b in pairwise(seen)):
        return Status.REWIND
    if not seen or min(lags) <= ok_lag or len(seen) < window:
        return Status.OK
    if seen[-1][0] == seen[0][0]:
        return Status.STALL if alive else Status.STOP
    if all(b >= a for a, b in pairwise(lags)) and lags[-1] > lags[0]:
        return Status.WARN
    return Status.OK


@given(
    st.lists(st.tuples(st.integers(-3, 10), st.integers(0, 12)), min_size=1, max_size=30),
    st.integers(3, 6),
    st.integers(0, 5),
    st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_the_counts_kept_as_the_window_slides_rate_as_walking_it_does(
    steps: list[tuple[int, int]], window: int, ok_lag: int, alive: bool
) -> None:
    """Commits that mostly advance but sometimes rewind or pass the log-end, and a log-end that grows by 0 to 12,
    so every count goes up and down as the window slides."""
    evaluator = LagEvaluator(window, ok_lag)
    history: list[tuple[int, int]] = []
    committed, end = 20, 30
    for i, (consumed, produced) in enumerate(steps):
        committed, end = max(0, committed + consumed), end + produced
        history.append((committed, end))
        verdict = evaluator.observe("g", at=float(i), members=int(alive), offsets={TP: (committed, end)})
        assert verdict.status is _walked(history[-window:], window=window, ok_lag=ok_lag, alive=alive)
