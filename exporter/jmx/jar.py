"""Building the JMX helper's jar from ``java/src``, reproducibly: the committed jar must equal a fresh build.

Users install kafka-obs with pip and have a Java *runtime*, not necessarily a compiler, so the wheel carries the
compiled helper (``java/kafka-obs-jmx.jar``, ~25 KB) next to its source. A committed binary is only trustworthy if
anyone can rebuild it and get the same bytes, so the build pins everything that could vary: ``javac --release 17``
(the oldest Java the helper supports), sources in sorted order, and a jar written here rather than by the ``jar``
tool — entries sorted, every timestamp 1980-01-01 (the ZIP epoch), fixed permissions, and stored uncompressed so
that no zlib version can change a byte. ``tests/exporter/jmx/test_jar.py`` rebuilds it and compares.

    python -m kafka_obs.exporter.jmx.jar            # rewrite the committed jar (make jmx-jar)
    python -m kafka_obs.exporter.jmx.jar --check    # exit 1 when the committed jar differs from the source
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

JAVA_DIR = Path(__file__).with_name("java")
SOURCE_ROOT = JAVA_DIR / "src"
JAR = JAVA_DIR / "kafka-obs-jmx.jar"
MAIN_CLASS = "kafkaobs.jmx.JmxHelper"
RELEASE = "17"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
MANIFEST = (
    "Manifest-Version: 1.0\r\n"
    f"Main-Class: {MAIN_CLASS}\r\n"
    f"Created-By: kafka-obs exporter/jmx/jar.py (javac --release {RELEASE})\r\n"
    "\r\n"
)


class BuildError(RuntimeError):
    """No ``javac``, or it refused the source; the message says which."""


def find_javac() -> str | None:
    """``$JAVA_HOME/bin/javac``, else ``javac`` on ``PATH``."""
    home = os.environ.get("JAVA_HOME")
    if home and (candidate := Path(home) / "bin" / "javac").is_file():
        return str(candidate)
    return shutil.which("javac")


def sources() -> list[Path]:
    return sorted(SOURCE_ROOT.rglob("*.java"))


def build(javac: str) -> bytes:
    """The jar's bytes, compiled from ``java/src`` with ``javac``."""
    with tempfile.TemporaryDirectory(prefix="kafka-obs-jmx-") as classes:
        done = subprocess.run(
            [javac, "--release", RELEASE, "-encoding", "UTF-8", "-implicit:none", "-d", classes, *map(str, sources())],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BuildError(f"javac could not compile the JMX helper: {done.stderr.strip()[:2000]}")
        root = Path(classes)
        entries = sorted(path.relative_to(root).as_posix() for path in root.rglob("*.class"))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as jar:
            for name, data in [("META-INF/MANIFEST.MF", MANIFEST.encode())] + [
                (entry, (root / entry).read_bytes()) for entry in entries
            ]:
                info = zipfile.ZipInfo(name, ZIP_EPOCH)
                info.create_system = 3  # Unix, so the permissions below mean the same everywhere
                info.external_attr = 0o644 << 16
                jar.writestr(info, data)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kafka_obs.exporter.jmx.jar", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed jar instead of writing it")
    args = parser.parse_args(argv)
    javac = find_javac()
    if javac is None:
        sys.stderr.write("javac not found (set JAVA_HOME or install a JDK 17+, e.g. openjdk-17-jdk-headless)\n")
        return 2
    try:
        fresh = build(javac)
    except BuildError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    if args.check:
        if JAR.is_file() and JAR.read_bytes() == fresh:
            sys.stdout.write(f"{JAR.name} matches its source\n")
            return 0
        sys.stderr.write(f"{JAR} differs from a fresh build of {SOURCE_ROOT}: run `make jmx-jar` and commit it\n")
        return 1
    JAR.write_bytes(fresh)
    sys.stdout.write(f"wrote {JAR} ({len(fresh)} bytes)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
