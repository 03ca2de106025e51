"""The kafka-python adapter refuses a kafka-python series it was not written for, saying what to do."""

from __future__ import annotations

import pytest

from kafka_obs.exporter.kafka_python import ConnectionManager, KafkaPythonIncompatible, check_version


def test_the_supported_series_passes() -> None:
    check_version("3.0.12")
    check_version()  # the installed one (pyproject pins it)


@pytest.mark.parametrize("version", ["3.1.0", "2.2.15", "4.0.0"])
def test_another_series_is_refused_with_what_to_do(version: str) -> None:
    with pytest.raises(KafkaPythonIncompatible, match=f"kafka-python {version} is installed") as raised:
        check_version(version)
    assert "pip install 'kafka-python>=3.0.12,<3.1'" in str(raised.value)
    assert "exporter/kafka_python.py" in str(raised.value)


def test_a_client_without_the_internal_manager_is_refused_by_name() -> None:
    class NotKafkaPython:
        _manager = object()

    with pytest.raises(KafkaPythonIncompatible, match="missing: \\['run', 'send'"):
        ConnectionManager(NotKafkaPython())
