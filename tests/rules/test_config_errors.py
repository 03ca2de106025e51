"""A bad slos.yaml (or clusters.yaml mismatch) is reported as file:line: field.path: message, exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafka_obs.cli import main

GOOD_SLO = """\
environments: [production, staging]
slos:
  - name: lag
    sli: {kind: threshold, metric: kafka_consumergroup_lag_sum, threshold: 10000}
    targets:
      production: {objective: 99.5, window: 30d}
"""


def generate(tmp_path: Path, text: str, *extra: str) -> int:
    slos = tmp_path / "slos.yaml"
    slos.write_text(text)
    return main(["rules", "generate", "--slos", str(slos), "--out", str(tmp_path / "out"), *extra])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("production: {objective: 99.5, window: 30d}", "qa: {objective: 99.5, window: 30d}"),
            "slos.yaml:6: slos[0].targets.qa: unknown environment 'qa' (known: production, staging)",
        ),
        (
            ("window: 30d", "window: 30days"),
            "slos.yaml:6: slos[0].targets.production.window: not a duration: '30days'",
        ),
        (
            ("objective: 99.5", "objective: 100"),
            "slos.yaml:6: slos[0].targets.production.objective: Input should be less than 100",
        ),
        (
            ("objective: 99.5", "objective: 80"),
            "slos.yaml:6: slos[0].targets.production.objective: objective 80.0% leaves an error budget of 20.00%",
        ),
        (
            ("kind: threshold", "kind: availability"),
            "slos.yaml:4: slos[0].sli: Input tag 'availability' found using 'kind' does not match any of the "
            "expected tags: 'threshold', 'ratio', 'latency'",
        ),
        (
            (", threshold: 10000}", "}"),
            "slos.yaml:6: slos[0].targets.production.threshold: required for this SLI kind",
        ),
        (
            ("metric: kafka_consumergroup_lag_sum", "metric: 'rate(x[5m])'"),
            "slos.yaml:4: slos[0].sli.threshold.metric: expected a series selector",
        ),
        (
            ("name: lag", "name: Lag SLO"),
            "slos.yaml:3: slos[0].name: String should match pattern",
        ),
        (
            ("window: 30d}", "window: 30d, budget: 3}"),
            "slos.yaml:6: slos[0].targets.production.budget: unknown field",
        ),
    ],
)
def test_bad_slos_exit_2_with_the_field_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], expected: str
) -> None:
    text = GOOD_SLO.replace(*change)
    assert text != GOOD_SLO
    assert generate(tmp_path, text) == 2
    err = capsys.readouterr().err
    assert expected in err, err
    assert not (tmp_path / "out").exists(), "nothing is written from a bad file"


def test_good_file_generates(tmp_path: Path) -> None:
    assert generate(tmp_path, GOOD_SLO) == 0
    assert (tmp_path / "out" / "slo-lag.yml").is_file()


def test_every_problem_is_reported_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        GOOD_SLO + "  - name: lag\n    sli: {kind: threshold, metric: m, threshold: 1}\n    targets:\n"
        "      staging: {objective: 99, window: 7d}\n      prod: {objective: 99, window: 7d}\n"
    )
    assert generate(tmp_path, text) == 2
    err = capsys.readouterr().err
    assert "slos[1].name: duplicate SLO name 'lag'" in err
    assert "slos[1].targets.prod: unknown environment 'prod'" in err


def test_environments_must_exist_in_the_fleet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clusters = tmp_path / "clusters.yaml"
    clusters.write_text("clusters:\n  - {name: a, region: r, environment: production, brokers: ['h:9092']}\n")
    assert generate(tmp_path, GOOD_SLO, "--clusters", str(clusters)) == 2
    assert "environments[1]: unknown environment 'staging': clusters.yaml has production" in capsys.readouterr().err
    only_prod = GOOD_SLO.replace("[production, staging]", "[production]")
    assert generate(tmp_path, only_prod, "--clusters", str(clusters)) == 0


def test_window_must_be_whole_slices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert generate(tmp_path, GOOD_SLO.replace("window: 30d", "window: 90s")) == 2
    assert "window: must be a whole number of at least 12 slices of 1m" in capsys.readouterr().err


def test_a_slice_longer_than_the_lookback_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The alerts read the recorded ratios with the 5m lookback; a longer step would leave gaps between samples."""

    def with_slice(step: str) -> str:
        return GOOD_SLO.replace("  - name: lag\n", f"  - name: lag\n    slice: {step}\n")

    assert generate(tmp_path, with_slice("10m")) == 2
    assert "slos[0].slice: must be at most 5m, Prometheus' lookback" in capsys.readouterr().err
    assert generate(tmp_path, with_slice("5m")) == 0


def test_a_budget_must_span_ten_slices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """99.99 % of 30 days is 4.32 one-minute slices: one bad minute would cost 23 % of the budget. The generator
    says which slice would do (at most 25.92 s), and accepts the seed's objective at 20 s slices."""
    text = GOOD_SLO.replace("objective: 99.5", "objective: 99.99")
    assert generate(tmp_path, text) == 2
    err = capsys.readouterr().err
    assert (
        "slos.yaml:6: slos[0].targets.production.objective: 99.99% of 30d leaves an error budget of 4.32 slices of "
        "1m; a budget must span at least 10 slices so that one bad slice costs at most 10% of it: set the SLO's "
        "slice to at most 25.92s"
    ) in err
    assert generate(tmp_path, text.replace("  - name: lag\n", "  - name: lag\n    slice: 20s\n")) == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("  - name: lag\n", "  - name: lag\n    outage: bad\n    group_by: [topic]\n"),
            "slos[0].outage: 'bad' needs a threshold SLI grouped by cluster",
        ),
        (
            ("  - name: lag\n", "  - name: lag\n    page_min_bad: 2h\n"),
            "slos[0].page_min_bad: longer than the production page's long window (1h): the page could never fire",
        ),
        (
            ("slos:\n", "severity: {prod: ticket}\nslos:\n"),
            "severity.prod: unknown environment 'prod' (known: production, staging)",
        ),
        (
            ("slos:\n", "severity: {staging: pager}\nslos:\n"),
            "severity.staging: Input should be 'page' or 'ticket'",
        ),
        (
            ("slos:\n", "jmx_source: jmx_exporter\nslos:\n"),
            "slos.yaml:2: jmx_source: Input should be 'exporter' or 'agent'",
        ),
    ],
)
def test_alerting_settings_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], expected: str
) -> None:
    assert generate(tmp_path, GOOD_SLO.replace(*change)) == 2
    assert expected in capsys.readouterr().err


def test_runbook_url_is_a_generator_setting(tmp_path: Path) -> None:
    assert generate(tmp_path, GOOD_SLO, "--runbook-url", "https://wiki.example.com/kafka/runbook") == 0
    text = (tmp_path / "out" / "slo-lag.yml").read_text()
    assert "runbook_url: https://wiki.example.com/kafka/runbook#kafkasloburnratepage" in text
    assert generate(tmp_path, GOOD_SLO) == 0
    assert "runbook_url: docs/runbook.md#kafkasloburnratepage" in (tmp_path / "out" / "slo-lag.yml").read_text()


def test_jmx_source_is_a_generator_setting(tmp_path: Path) -> None:
    """The file's setting and the flag that overrides it; only the JMX-health PromQL changes, and the file says
    which shape it is."""
    alerts = tmp_path / "out" / "kafka-alerts.yml"
    agent, exporter = 'up{job="kafka-jmx"} == 0', "kafka_jmx_up == 0"
    assert generate(tmp_path, "jmx_source: agent\n" + GOOD_SLO) == 0
    text = alerts.read_text()
    assert agent in text
    assert exporter not in text
    assert text.startswith("# Generated by `kafka-obs rules generate` from slos.yaml (jmx_source: agent).")
    assert generate(tmp_path, "jmx_source: agent\n" + GOOD_SLO, "--jmx-source", "exporter") == 0
    text = alerts.read_text()
    assert exporter in text
    assert agent not in text
    own_job = GOOD_SLO.replace("slos:", "alerts: {jmx_agent_job: brokers-jmx}\nslos:")
    assert generate(tmp_path, own_job, "--jmx-source", "agent") == 0
    assert 'up{job="brokers-jmx"} == 0' in alerts.read_text()


def test_the_agent_shape_is_never_written_over_the_bundled_exporter_shape(capsys: pytest.CaptureFixture[str]) -> None:
    from kafka_obs.rules.cli import HERE

    before = {path: path.read_bytes() for path in (HERE / "generated").rglob("*.yml")}
    assert main(["rules", "generate", "--jmx-source", "agent"]) == 2
    assert "write the agent shape's bundle elsewhere with --out DIR" in capsys.readouterr().err
    assert {path: path.read_bytes() for path in (HERE / "generated").rglob("*.yml")} == before
