"""Maps the component folders under the single ``kafka_obs`` import namespace (see pyproject.toml for the rest)."""

from pathlib import Path

from setuptools import setup

COMPONENTS = {
    "kafka_obs": "kafka_obs",
    "kafka_obs.exporter": "exporter",
    "kafka_obs.sandbox": "sandbox",
    "kafka_obs.rules": "rules",
    "kafka_obs.dashboards": "dashboards",
    "kafka_obs.webhook": "webhook",
}
DATA = ["*.yaml", "*.yml", "*.json", "*.jsonnet", "*.libsonnet", "*.java", "*.jar", "*.html", "py.typed"]


def packages() -> list[str]:
    found = []
    for name, folder in COMPONENTS.items():
        root = Path(folder)
        for init in sorted(root.rglob("__init__.py")):
            relative = init.parent.relative_to(root).parts
            found.append(".".join((name, *relative)))
    return found


def package_data() -> dict[str, list[str]]:
    """Every data file below a component (fleets, generated rules, jsonnet, Java source, the JMX helper's jar) ships
    with it."""
    data: dict[str, list[str]] = {}
    for name, folder in COMPONENTS.items():
        files = [
            str(path.relative_to(folder))
            for pattern in DATA
            for path in Path(folder).rglob(pattern)
            if "__pycache__" not in path.parts
        ]
        if files:
            data[name] = sorted(files)
    return data


setup(package_dir=COMPONENTS, packages=packages(), package_data=package_data())
