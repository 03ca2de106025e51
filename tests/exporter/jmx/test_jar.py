"""The committed helper jar is exactly what its source compiles to, and it runs on a plain Java runtime."""

from __future__ import annotations

import ast
import subprocess
import zipfile
from pathlib import Path

import pytest

from kafka_obs.exporter.jmx import jar
from kafka_obs.exporter.jmx.helper import JAR, find_java


def test_the_committed_jar_is_a_byte_for_byte_rebuild_of_its_source() -> None:
    javac = jar.find_javac()
    if javac is None:
        pytest.skip("javac not found: only a JDK can rebuild the jar (CI has one); the jar itself needs only java")
    fresh = jar.build(javac)
    version = subprocess.run([javac, "-version"], capture_output=True, text=True, check=False).stdout.strip()
    assert JAR.read_bytes() == fresh, (
        f"{JAR} is not what {jar.SOURCE_ROOT} compiles to with {version}: run `make jmx-jar` and commit the jar"
    )


def test_the_jar_is_reproducible_by_construction() -> None:
    with zipfile.ZipFile(JAR) as archive:
        entries = archive.infolist()
    names = [e.filename for e in entries]
    assert names[0] == "META-INF/MANIFEST.MF"
    assert names[1:] == sorted(names[1:])
    assert {e.date_time for e in entries} == {jar.ZIP_EPOCH}
    assert {e.compress_type for e in entries} == {zipfile.ZIP_STORED}
    assert all(name.startswith("kafkaobs/jmx/") for name in names[1:])


def test_the_jar_is_shipped_in_the_package_data(repo: Path) -> None:
    """pip users have no javac: the wheel must carry the jar (setup.py's DATA patterns decide)."""
    tree = ast.parse((repo / "setup.py").read_text())
    (data,) = [
        node.value for node in tree.body if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "DATA"
    ]
    assert any(JAR.match(pattern) for pattern in ast.literal_eval(data))


def test_the_helper_starts_on_a_java_runtime_and_says_ready() -> None:
    java = find_java()
    if java is None:
        pytest.skip("java not found")
    done = subprocess.run([java, "-jar", str(JAR)], input=b"", capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == b'{"ready":true,"protocol":1}'
