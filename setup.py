"""Packages and package data of the single ``kafka_obs`` distribution (pyproject.toml holds the rest).

The component folders at the top of the checkout (``exporter/``, ``rules/``, ``dashboards/``, ``webhook/``,
``sandbox/``) are linked into ``kafka_obs/`` so that every import path is a path on disk for editors and type
checkers; ``kafka_obs/shipped/`` links the deployable configs (``prometheus/``, ``alertmanager/``). The wheel carries
real files: setuptools follows the links when it copies them.
"""

import os
from pathlib import Path

from setuptools import setup

ROOT = "kafka_obs"
DATA = ["*.yaml", "*.yml", "*.json", "*.jsonnet", "*.libsonnet", "*.java", "*.jar", "*.html", "py.typed"]


def _walk(top: str) -> list[Path]:
    """Every directory below ``top``, through links (``Path.rglob`` does not follow them before Python 3.13)."""
    return [Path(folder) for folder, _, _ in os.walk(top, followlinks=True) if "__pycache__" not in folder]


def packages() -> list[str]:
    return [".".join(folder.parts) for folder in _walk(ROOT) if (folder / "__init__.py").exists()]


def package_data() -> dict[str, list[str]]:
    """Every data file ships with the package that owns it (the nearest folder with an ``__init__.py``); the
    data-only folders below ``kafka_obs/shipped`` belong to ``kafka_obs`` itself."""
    owners = set(packages())
    data: dict[str, list[str]] = {}
    for folder in _walk(ROOT):
        owner = folder
        while ".".join(owner.parts) not in owners:
            owner = owner.parent
        files = [
            str((folder / f).relative_to(owner))
            for pattern in DATA
            for f in os.listdir(folder)
            if Path(f).match(pattern) and (folder / f).is_file()
        ]
        if files:
            data.setdefault(".".join(owner.parts), []).extend(files)
    return {name: sorted(files) for name, files in data.items()}


setup(packages=packages(), package_data=package_data())
