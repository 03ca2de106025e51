"""`kafka-obs dashboards build` is deterministic and the committed JSON is what the jsonnet sources produce."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kafka_obs.cli import main
from kafka_obs.dashboards.build import GENERATED_DIR, differences, render


def test_committed_dashboards_equal_a_fresh_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """How CI catches a jsonnet change whose output was not rebuilt and committed."""
    assert main(["dashboards", "build", "--out", str(tmp_path)]) == 0
    assert "5 dashboards" in capsys.readouterr().out
    built = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    committed = {path.name: path.read_bytes() for path in GENERATED_DIR.glob("*.json")}
    assert sorted(built) == sorted(committed)
    stale = [name for name in built if built[name] != committed[name]]
    assert not stale, f"stale generated dashboards {stale}: run `kafka-obs dashboards build` and commit"


def test_render_is_deterministic_and_canonical() -> None:
    first, second = render(), render()
    assert first == second
    for name, text in first.items():
        assert text.endswith("}\n"), name
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_check_reports_stale_and_extra_files_without_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dashboards", "build", "--out", str(tmp_path)]) == 0
    assert main(["dashboards", "build", "--check", "--out", str(tmp_path)]) == 0
    edited = tmp_path / "kafka-obs-slo.json"
    edited.write_text(edited.read_text().replace("SLO detail", "SLO details"))
    (tmp_path / "kafka-obs-renamed.json").write_text("{}\n")
    capsys.readouterr()
    assert main(["dashboards", "build", "--check", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "kafka-obs-slo.json: stale" in out
    assert "kafka-obs-renamed.json: stale" in out
    assert "SLO details" in edited.read_text(), "--check writes nothing"
    assert differences(render(), tmp_path) == ["kafka-obs-renamed.json", "kafka-obs-slo.json"]


def test_build_rewrites_stale_files_and_prunes_only_its_own(tmp_path: Path) -> None:
    (tmp_path / "kafka-obs-renamed.json").write_text("{}\n")
    (tmp_path / "someone-elses.json").write_text("{}\n")
    (tmp_path / "kafka-obs-cluster.json").write_text("{}\n")
    assert main(["dashboards", "build", "--out", str(tmp_path)]) == 0
    assert not (tmp_path / "kafka-obs-renamed.json").exists()
    assert (tmp_path / "someone-elses.json").exists()
    assert json.loads((tmp_path / "kafka-obs-cluster.json").read_text())["uid"] == "kafka-obs-cluster"
    assert differences(render(), tmp_path) == []
