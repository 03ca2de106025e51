"""The ``kafka-obs exporter`` command's flags and its config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafka_obs.cli import build_parser, main


def test_flags_default_to_node_exporter_style() -> None:
    args = build_parser().parse_args(["exporter"])
    assert args.config_file == "clusters.yaml"
    assert args.listen_address == ":9308"
    assert args.regions is None
    assert args.clusters is None
    args = build_parser().parse_args(
        [
            "exporter",
            "--config.file",
            "f.yaml",
            "--region",
            "eu",
            "--region",
            "us",
            "--cluster",
            "c1",
            "--log.level",
            "debug",
        ]
    )
    assert (args.config_file, args.regions, args.clusters, args.log_level) == ("f.yaml", ["eu", "us"], ["c1"], "debug")


def test_bad_config_exits_2_with_the_field_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "clusters.yaml"
    bad.write_text("clusters:\n  - name: a\n    region: r\n    environment: e\n    brokers: [nohost]\n")
    assert main(["exporter", "--config.file", str(bad)]) == 2
    assert "clusters[0].brokers" in capsys.readouterr().err


def test_selection_matching_nothing_exits_2(repo: Path) -> None:
    assert main(["exporter", "--config.file", str(repo / "examples/clusters.yaml"), "--region", "mars-1"]) == 2


@pytest.mark.parametrize("interval", ["0", "-1", ".nan", "1.0e+300"])
def test_bad_interval_stops_the_exporter_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], interval: str
) -> None:
    """The same validation as check-config: exit 2 with file:line: path, and no worker or server is started."""
    bad = tmp_path / "clusters.yaml"
    bad.write_text(
        f"clusters:\n  - name: a\n    region: r\n    environment: e\n    brokers: [h:1]\n    interval: {interval}\n"
    )
    assert main(["exporter", "--config.file", str(bad), "--web.listen-address", "127.0.0.1:0"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"{bad}:6: clusters[0].interval: must be ")


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "inf", "301", "soon"])
def test_bad_kafka_timeout_is_a_usage_error(timeout: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["exporter", "--kafka.timeout", timeout])
    assert info.value.code == 2
    assert "--kafka.timeout" in capsys.readouterr().err
