"""The message-delivery SLO, measured by the canary, end to end: sandbox → exporter's canary → regional Prometheus
with the generated rules. A broker made slow (300 ms per produce) moves alpha's produce p99 past the 100 ms threshold
and burns the budget until the page fires, while beta (its own canary, another region) stays good; a lossy broker
makes the p99 infinite. Each fault is cleared and the SLI recovers. (The JMX fallback for a cluster without a canary
is proven by promtool in tests/rules/promtool/bundle_aggregations.yaml.)"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from .loop import Loop, started_loop, wait_for

pytestmark = pytest.mark.e2e

US, EU = "us-east-1", "eu-west-1"
SLOS = Path(__file__).with_name("slos-delivery.yaml")
P99 = "cluster:kafka_produce_latency_milliseconds:p99"
TARGET = {"slo": "message-delivery", "cluster": "alpha"}


@pytest.fixture(scope="module")
def loop() -> Iterator[Loop]:
    # one message per partition per second; lost once 3 s pass unconsumed
    canary = {"interval": 1, "sla": 3}
    with started_loop(deployments=[], slos=SLOS, canary={"alpha": canary, "beta": canary}) as started:
        yield started


def p99(loop: Loop, cluster: str, region: str) -> tuple[str, float]:
    """The SLI input's source and value in milliseconds; ("", NaN) while absent (NaN compares false both ways)."""
    rows = loop.query(loop.regional(region), f'{P99}{{cluster="{cluster}"}}')
    return (rows[0]["metric"]["source"], float(rows[0]["value"][1])) if rows else ("", math.nan)


def burn(loop: Loop) -> float:
    value = loop.value(loop.regional(US), 'max(slo:current_burn_rate:ratio{slo="message-delivery",cluster="alpha"})')
    return value if value is not None else math.nan


def test_a_slow_broker_burns_the_delivery_budget_until_it_pages(loop: Loop) -> None:
    wait_for(lambda: p99(loop, "alpha", US)[1] < 100, 60, "alpha's canary p99 under 100 ms")
    assert p99(loop, "alpha", US)[0] == "canary"
    wait_for(lambda: p99(loop, "beta", EU)[1] < 200, 60, "beta's canary p99 under its 200 ms (staging)")
    assert not loop.alerts(loop.regional(US), "KafkaSLOBurnRatePage", **TARGET)

    loop.sandbox.set_produce_fault(
        "alpha", 2, delay_ms=300
    )  # the partition broker 2 leads: a third of the canary's messages
    try:
        wait_for(lambda: p99(loop, "alpha", US)[1] > 100, 60, "alpha's p99 past 100 ms")
        wait_for(lambda: burn(loop) > 1, 60, "the delivery budget burning")
        wait_for(lambda: loop.alerts(loop.regional(US), "KafkaSLOBurnRatePage", **TARGET), 90, "the page")
        [page] = loop.alerts(loop.regional(US), "KafkaSLOBurnRatePage", **TARGET)
        assert page["labels"]["severity"] == "critical"  # a production page (severity per environment)
        assert p99(loop, "beta", EU)[1] < 200  # the other cluster's canary is not slowed
        assert not loop.alerts(loop.regional(EU), "KafkaSLOBurnRatePage", slo="message-delivery")
    finally:
        loop.sandbox.set_produce_fault("alpha", 2, delay_ms=0)
    # the 1-minute histogram window forgets the slow acks: the SLI is good again
    wait_for(lambda: p99(loop, "alpha", US)[1] < 100, 120, "alpha's p99 back under 100 ms")


def test_lost_canary_messages_make_the_p99_infinite(loop: Loop) -> None:
    wait_for(lambda: p99(loop, "alpha", US)[1] < 100, 120, "alpha's p99 under 100 ms")
    loop.sandbox.set_produce_fault("alpha", 3, drop=True)  # acknowledged, never kept: lost after the 3 s SLA
    try:
        wait_for(lambda: p99(loop, "alpha", US)[1] == math.inf, 60, "alpha's p99 at +Inf")
    finally:
        loop.sandbox.set_produce_fault("alpha", 3, drop=False)
