"""Shared fixtures. Fixtures that start real processes live next to the tests that need them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kafka_obs.exporter.jmx import JmxHelper
    from kafka_obs.sandbox.jmx import JmxResponder

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(scope="module")
def responder() -> Iterator[JmxResponder]:
    """One sandbox JMX responder JVM per test module (a JVM start is the expensive part); skipped without Java."""
    from kafka_obs.sandbox.jmx import JavaUnavailable, JmxResponder

    try:
        jmx = JmxResponder.start()
    except JavaUnavailable as exc:
        pytest.skip(str(exc))
    with jmx:
        yield jmx


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The distribution as users get it: one wheel built from the checkout, once per test session."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("kafka_obs-*.whl")
    return built


@pytest.fixture(scope="module")
def jmx_helper() -> Iterator[JmxHelper]:
    """The exporter's JMX client (one helper JVM, started on its first read) per test module; skipped without Java."""
    from kafka_obs.exporter.jmx import JmxHelper
    from kafka_obs.exporter.jmx.helper import find_java

    if find_java() is None:
        pytest.skip("java not found: the exporter's JMX helper needs a Java 17+ runtime")
    helper = JmxHelper()
    yield helper
    helper.close()
