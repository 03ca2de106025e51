"""The shipped scrape config for jmx_exporter agents (examples/prometheus-jmx-agent.yml) fits the agent-shape rules.

The rules join the agents' series with the exporter's on ``cluster`` and watch ``up`` of the agents' job: a target
group whose labels are not its cluster's in clusters.yaml, or a job the rules do not name, breaks them silently.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kafka_obs.config.clusters import load_fleet
from kafka_obs.rules import bundle
from kafka_obs.rules.loading import load_slos
from tests.conftest import REPO
from tests.rules.conftest import RULES

EXAMPLE = REPO / "examples" / "prometheus-jmx-agent.yml"
FLEET = REPO / "examples" / "clusters.yaml"


def _job() -> dict[str, object]:
    (job,) = yaml.safe_load(EXAMPLE.read_text())["scrape_configs"]
    assert isinstance(job, dict)
    return job


def test_the_job_is_the_one_the_rules_watch() -> None:
    assert _job()["job_name"] == load_slos(RULES / "slos.yaml").alerts.jmx_agent_job


def test_every_broker_is_a_target_labelled_with_its_cluster() -> None:
    groups = _job()["static_configs"]
    assert isinstance(groups, list)
    scraped = {
        group["labels"]["cluster"]: (group["labels"], [target.split(":")[0] for target in group["targets"]])
        for group in groups
    }
    expected = {
        cluster.name: (
            {"cluster": cluster.name, "region": cluster.region, "environment": cluster.environment},
            [broker.split(":")[0] for broker in cluster.brokers],
        )
        for cluster in load_fleet(FLEET).clusters
    }
    assert scraped == expected


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not on PATH (make tools)")
def test_promtool_accepts_it_with_the_agent_shape_rules(tmp_path: Path) -> None:
    spec = load_slos(RULES / "slos.yaml").model_copy(update={"jmx_source": "agent"})
    bundle.write(tmp_path / "rules", bundle.build(spec))
    config = yaml.safe_load(EXAMPLE.read_text())
    config["rule_files"] = [str(tmp_path / "rules" / "*.yml"), str(tmp_path / "rules" / "global" / "*.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rules found" in result.stdout
