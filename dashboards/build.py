"""Render the jsonnet dashboards into Grafana JSON files, byte-for-byte reproducibly.

The output is committed under ``dashboards/generated/`` and CI regenerates it and fails on any difference, so the
rendering must be deterministic: keys sorted, two-space indentation, one trailing newline, no timestamps. That is
why the JSON is re-serialised here rather than written as the jsonnet library prints it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import _jsonnet

from kafka_obs.rules.model import JmxSource

SOURCE_DIR = Path(__file__).resolve().parent
"""Where the jsonnet sources live (in a checkout and in an installed package alike)."""

GENERATED_DIR = SOURCE_DIR / "generated"
OUTPUT_PREFIX = "kafka-obs-"
"""Only files with this prefix are ever pruned from an output directory: --out may point at a shared folder."""

_ENTRY = (
    "((import 'config.libsonnet') + (import 'dashboards.libsonnet')"
    " + { _config+:: { jmxSource: std.extVar('jmxSource') } }).grafanaDashboards"
)


def render(source_dir: Path = SOURCE_DIR, jmx_source: JmxSource = "exporter") -> dict[str, str]:
    """Evaluate the dashboards and return file name → file text, in a stable order.

    ``jmx_source`` is the shape of the brokers' JMX series the queries read (rules/slos.yaml's ``jmx_source``): the
    committed ``generated/`` folder is the exporter's.
    """
    evaluated = json.loads(
        _jsonnet.evaluate_snippet("build", _ENTRY, jpathdir=[str(source_dir)], ext_vars={"jmxSource": jmx_source})
    )
    if not isinstance(evaluated, dict):
        raise TypeError(f"grafanaDashboards must be an object of file name → dashboard, got {type(evaluated).__name__}")
    return {name: dump(dashboard) for name, dashboard in sorted(evaluated.items())}


def dump(document: object) -> str:
    """The one serialisation every generated file uses."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(rendered: Mapping[str, str], out_dir: Path) -> tuple[list[str], list[str]]:
    """Write the files that changed and prune stale ones; return (written, removed) file names."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered.items():
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(name)
    removed = []
    for path in sorted(out_dir.glob(f"{OUTPUT_PREFIX}*.json")):
        if path.name not in rendered:
            path.unlink()
            removed.append(path.name)
    return written, removed


def differences(rendered: Mapping[str, str], out_dir: Path) -> list[str]:
    """File names whose committed content differs from a fresh render (missing, stale or extra files)."""
    existing = {path.name for path in out_dir.glob(f"{OUTPUT_PREFIX}*.json")}
    changed = [
        name
        for name, text in rendered.items()
        if name not in existing or (out_dir / name).read_text(encoding="utf-8") != text
    ]
    return sorted(changed + [name for name in existing if name not in rendered])
