"""The garbage collector's policy is applied by the app when its workers start, to the collector it was given."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

import pytest

from kafka_obs.clock import ManualClock
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.gc_policy import GcPolicy
from tests.exporter.conftest import cluster_config, fleet
from tests.exporter.fakes import FakeKafka


@dataclass
class RecordingCollector:
    threshold: tuple[int, int, int] = (700, 10, 10)
    calls: list[str] = field(default_factory=list)

    def get_threshold(self) -> tuple[int, int, int]:
        return self.threshold

    def set_threshold(self, threshold0: int, threshold1: int = 10, threshold2: int = 10, /) -> None:
        self.calls.append("set_threshold")
        self.threshold = (threshold0, threshold1, threshold2)

    def collect(self, generation: int = 2) -> int:
        self.calls.append(f"collect({generation})")
        return 0

    def freeze(self) -> None:
        self.calls.append("freeze")


def test_the_policy_raises_the_young_threshold_and_freezes_after_a_full_collection() -> None:
    collector = RecordingCollector(threshold=(700, 7, 9))
    GcPolicy(young_threshold=50_000).apply(collector)
    assert collector.threshold == (50_000, 7, 9)  # the older generations' thresholds are left as they were
    assert collector.calls == ["set_threshold", "collect(2)", "freeze"]


def test_without_freezing() -> None:
    collector = RecordingCollector()
    GcPolicy(young_threshold=1_000, freeze_at_start=False).apply(collector)
    assert collector.calls == ["set_threshold"]
    assert collector.threshold[0] == 1_000


def test_a_threshold_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GcPolicy(young_threshold=0)


def test_starting_the_workers_applies_the_apps_policy(clock: ManualClock, kafka: FakeKafka) -> None:
    collector = RecordingCollector()
    exporter = Exporter(
        fleet(cluster_config("alpha")),
        clock=clock,
        client_factory=lambda c: kafka,
        gc_policy=GcPolicy(young_threshold=12_345),
        garbage_collector=collector,
    )
    exporter.collect_once()
    assert collector.calls == []  # driving cycles by hand (tests) leaves the process's collector alone
    exporter.start_workers()
    try:
        assert collector.threshold[0] == 12_345
        assert collector.calls[-1] == "freeze"
    finally:
        exporter.stop()


def test_the_default_policy_on_the_real_collector() -> None:
    before = gc.get_threshold()
    try:
        GcPolicy().apply(gc)
        assert gc.get_threshold() == (GcPolicy().young_threshold, before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
