"""Compiling the responder's Java source on first use, cached by the source's hash.

The repository ships Java source, not a jar: nothing binary to audit or to rebuild by hand, and ``javac`` is on
every machine that has the JDK the exporter needs anyway. The classes land in a directory named after the hash of
the source (and the ``javac`` used), so an edited source is recompiled and concurrent test processes never see a
half-written build: each compiles into a private temporary directory and renames it into place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).with_name("JmxResponder.java")
MAIN_CLASS = "JmxResponder"
DEFAULT_BUILD_DIR = Path(__file__).with_name("build")


class JavaUnavailable(RuntimeError):
    """No usable ``java``/``javac``: the sandbox runs without broker JMX and says so."""


@dataclass(frozen=True)
class JavaTools:
    java: str
    javac: str

    @classmethod
    def find(cls, java: str | None = None, javac: str | None = None) -> JavaTools:
        """The JDK's tools from the arguments, ``$JAVA_HOME/bin`` or ``PATH``; raises :class:`JavaUnavailable`."""
        home = os.environ.get("JAVA_HOME")
        search = os.pathsep.join(filter(None, [str(Path(home) / "bin") if home else None, os.environ.get("PATH")]))
        found = {name: shutil.which(given or name, path=search) for name, given in (("java", java), ("javac", javac))}
        missing = [name for name, path in found.items() if path is None]
        if missing:
            raise JavaUnavailable(
                f"{' and '.join(missing)} not found on PATH: broker JMX needs a JDK 17 or later "
                "(e.g. apt-get install openjdk-17-jdk-headless)"
            )
        return cls(java=str(found["java"]), javac=str(found["javac"]))


def default_build_root() -> Path:
    """``sandbox/jmx/build`` (gitignored) when writable, else the user's cache (an installed, read-only package)."""
    if os.access(DEFAULT_BUILD_DIR.parent, os.W_OK):
        return DEFAULT_BUILD_DIR
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "kafka-obs" / "jmx-responder"


def compiled_classes(tools: JavaTools, build_root: Path | None = None, *, timeout: float = 120.0) -> Path:
    """The directory holding the compiled responder, compiling it first when this source was never built."""
    root = build_root or default_build_root()
    digest = hashlib.sha256(SOURCE.read_bytes())
    digest.update(tools.javac.encode())
    target = root / digest.hexdigest()[:16]
    if (target / f"{MAIN_CLASS}.class").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".compiling-", dir=root))
    try:
        result = subprocess.run(
            [tools.javac, "-nowarn", "-d", str(staging), str(SOURCE)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise JavaUnavailable(f"javac could not compile {SOURCE.name}: {result.stderr.strip()[:2000]}")
        try:
            staging.rename(target)
        except OSError:
            if not (target / f"{MAIN_CLASS}.class").is_file():  # not a concurrent build that won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
