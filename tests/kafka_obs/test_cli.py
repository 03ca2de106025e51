from __future__ import annotations

import subprocess
import sys

import pytest

from kafka_obs import __version__
from kafka_obs.cli import COMMANDS, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"kafka-obs {__version__}"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_of_every_command(command: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"] if command else ["--help"])
    assert info.value.code == 0
    assert "usage: kafka-obs" in capsys.readouterr().out


def test_console_script_runs_as_a_module() -> None:
    result = subprocess.run([sys.executable, "-m", "kafka_obs", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
