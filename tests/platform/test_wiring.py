"""The run's configs are the committed ones with only run-specific values replaced, and the real tools accept them."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kafka_obs.config.clusters import load_fleet
from kafka_obs.platform import wiring
from kafka_obs.platform.stack import Stack, StackOptions
from kafka_obs.sandbox.runtime import Sandbox
from kafka_obs.webhook.config import load_config
from kafka_obs.webhook.playbooks import load_playbooks

SHIPPED = wiring.ShippedConfigs()
FAST = wiring.Intervals(scrape="1s", evaluation="1s")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start("small") as sb:
        yield sb


def regional(**overrides: Any) -> wiring.Doc:
    arguments: dict[str, Any] = {
        "region": "eu-west-1",
        "exporters": ["127.0.0.1:9308"],
        "self_address": "127.0.0.1:9091",
        "rule_files": ["/rules/*.yml"],
        "alertmanagers": ["127.0.0.1:9093"],
        "webhooks": ["127.0.0.1:9097"],
    }
    arguments.update(overrides)
    return wiring.regional_prometheus(wiring.load_yaml(SHIPPED.regional_prometheus), **arguments)


def jobs(document: wiring.Doc) -> dict[str, wiring.Doc]:
    return {j["job_name"]: j for j in document["scrape_configs"]}


def test_regional_prometheus_replaces_only_targets_rules_and_label() -> None:
    shipped = wiring.load_yaml(SHIPPED.regional_prometheus)
    rendered = regional()
    assert rendered["global"] == {**shipped["global"], "external_labels": {"prometheus": "regional-eu-west-1"}}
    assert rendered["rule_files"] == ["/rules/*.yml"]
    assert rendered["alerting"] == {"alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:9093"]}]}]}
    by_name = jobs(rendered)
    assert list(by_name) == [j["job_name"] for j in shipped["scrape_configs"]]
    assert by_name["kafka-obs-exporter"]["static_configs"] == [{"targets": ["127.0.0.1:9308"]}]
    assert by_name["kafka-obs-webhook"]["static_configs"] == [{"targets": ["127.0.0.1:9097"]}]
    assert by_name["prometheus"]["static_configs"] == [{"targets": ["127.0.0.1:9091"]}]
    for shipped_job in shipped["scrape_configs"]:  # intervals, timeouts: as shipped
        rest = {k: v for k, v in shipped_job.items() if k != "static_configs"}
        assert {k: v for k, v in by_name[shipped_job["job_name"]].items() if k != "static_configs"} == rest


def test_without_alertmanager_or_webhook_their_parts_are_dropped_and_intervals_can_be_overridden() -> None:
    rendered = regional(alertmanagers=[], webhooks=[], intervals=FAST)
    assert "alerting" not in rendered
    assert "kafka-obs-webhook" not in jobs(rendered)
    assert (rendered["global"]["scrape_interval"], rendered["global"]["evaluation_interval"]) == ("1s", "1s")
    assert all("scrape_interval" not in job for job in jobs(rendered).values())


def test_global_prometheus_keeps_the_federation_match_list() -> None:
    shipped = wiring.load_yaml(SHIPPED.global_prometheus)
    rendered = wiring.global_prometheus(
        shipped, regionals=["127.0.0.1:1", "127.0.0.1:2"], self_address="127.0.0.1:9090", rule_files=["/r/global/*.yml"]
    )
    federate = jobs(rendered)["federate"]
    shipped_federate = jobs(shipped)["federate"]
    assert federate["static_configs"] == [{"targets": ["127.0.0.1:1", "127.0.0.1:2"]}]
    assert federate["params"] == shipped_federate["params"]
    assert federate["honor_labels"] is True
    assert rendered["global"]["external_labels"] == {"prometheus": "global"}
    assert "alerting" not in rendered


def test_a_renamed_job_in_the_shipped_file_is_an_error() -> None:
    broken = wiring.load_yaml(SHIPPED.regional_prometheus)
    broken["scrape_configs"][0]["job_name"] = "kafka"
    with pytest.raises(wiring.WiringError, match="no scrape job 'kafka-obs-exporter'"):
        wiring.regional_prometheus(broken, region="r", exporters=[], self_address="x:1", rule_files=[])


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not on PATH (make tools)")
def test_promtool_accepts_the_rendered_configs_with_the_generated_rules(tmp_path: Path) -> None:
    rules = SHIPPED.rules
    files = [
        wiring.dump_yaml(regional(rule_files=[str(rules / "*.yml")]), tmp_path / "regional.yml"),
        wiring.dump_yaml(
            wiring.global_prometheus(
                wiring.load_yaml(SHIPPED.global_prometheus),
                regionals=["127.0.0.1:9091"],
                self_address="127.0.0.1:9090",
                rule_files=[str(rules / "global" / "*.yml")],
                alertmanagers=["127.0.0.1:9093"],
            ),
            tmp_path / "global.yml",
        ),
    ]
    for path in files:
        result = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "rules found" in result.stdout


def test_webhook_config_for_the_sandbox_loads_and_allowlists_the_fleet(tmp_path: Path, sandbox: Sandbox) -> None:
    truth = sandbox.truth()
    token = tmp_path / "token"
    token.write_text("secret\n")
    clusters = sandbox.write_clusters_yaml(tmp_path / "clusters.yaml")
    playbooks = wiring.load_yaml(SHIPPED.playbooks)
    document = wiring.sandbox_webhook(
        truth,
        playbooks,
        wiring.WebhookWiring(
            token_file=token,
            store=tmp_path / "webhook.db",
            playbooks=SHIPPED.playbooks,
            clusters_file=clusters,
            kubernetes_host=sandbox.control_url,
            prometheus_default="http://127.0.0.1:9090",
            prometheus_by_label={"regional-us-east-1": "http://127.0.0.1:9091"},
            alertmanager="http://127.0.0.1:9093",
            external_url="http://127.0.0.1:9097",
        ),
    )
    config = load_config(wiring.dump_yaml(document, tmp_path / "webhook.yaml"))
    assert config.auth.bearer_token is not None
    assert config.auth.bearer_token.get_secret_value() == "secret"
    assert config.kubernetes.host == sandbox.control_url
    expected = {(c, d["group"]) for c, state in truth["clusters"].items() for d in state["deployments"].values()}
    assert {(d.cluster, d.consumergroup) for d in config.kubernetes.deployments} == expected
    orders = next(d for d in config.kubernetes.deployments if d.name == "orders-processor")
    assert (orders.namespace, orders.topics) == ("alpha", ["orders"])
    # critical topics (orders, payments) are never in the retention allowlist
    assert config.kafka.clusters["alpha"].topics.allow == ["audit", "clicks", "scratch"]
    assert config.kafka.clusters["beta"].topics.allow == ["events"]
    assert config.kafka_properties("alpha") == {"bootstrap.servers": sandbox.bootstrap_servers("alpha")}
    assert config.prometheus.route_by is not None
    assert config.prometheus.route_by.urls == {"regional-us-east-1": "http://127.0.0.1:9091"}
    enabled = [p.name for p in load_playbooks(config.playbooks.file, config.playbooks.enable) if p.enabled]
    assert enabled == wiring.playbook_names(playbooks)
    assert enabled  # every shipped playbook acts in the demo


def test_demo_clusters_collect_every_priority_fast_and_stay_a_valid_fleet(tmp_path: Path, sandbox: Sandbox) -> None:
    written = wiring.load_yaml(sandbox.write_clusters_yaml(tmp_path / "sandbox.yaml"))
    fleet = load_fleet(wiring.dump_yaml(wiring.demo_clusters(written, "10s"), tmp_path / "clusters.yaml"))
    assert {fleet.interval_for(c) for c in fleet.clusters} == {10.0}
    assert wiring.regions(written) == ["us-east-1", "eu-west-1"]


def test_cap_alert_for_shortens_only_longer_fors_and_keep_firing_fors() -> None:
    rules: wiring.Doc = {"groups": [{"name": "g", "rules": [
        {"alert": "A", "expr": "x", "for": "5m", "keep_firing_for": "6m"},
        {"alert": "B", "expr": "y", "for": "2s", "keep_firing_for": "3s"},
        {"record": "r", "expr": "z"}]}]}  # fmt: skip
    capped = wiring.cap_alert_for(rules, 4)
    assert [r.get("for") for r in capped["groups"][0]["rules"]] == ["4s", "2s", None]
    assert [r.get("keep_firing_for") for r in capped["groups"][0]["rules"]] == ["4s", "3s", None]
    assert rules["groups"][0]["rules"][0]["for"] == "5m"  # the input is not modified
    assert rules["groups"][0]["rules"][0]["keep_firing_for"] == "6m"


def test_a_stack_without_the_engines_runs_what_it_can_and_says_what_is_missing(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    clusters = sandbox.write_clusters_yaml(tmp_path / "clusters.yaml")
    options = StackOptions(prometheus_binary=None, alertmanager_binary=None)
    stack = Stack(tmp_path / "run", clusters, sandbox.truth(), sandbox.control_url, options)
    assert [p.name for p in stack.processes()] == ["webhook", "exporter-us-east-1", "exporter-eu-west-1"]
    assert [m.split()[0] for m in stack.missing] == ["prometheus", "prometheus-alertmanager"]
    assert not (tmp_path / "run" / "alertmanager.yml").exists()
    assert list(stack.urls()) == ["Webhook", "Exporter (us-east-1)", "Exporter (eu-west-1)"]
    webhook = wiring.load_yaml(tmp_path / "run" / "webhook.yaml")
    assert "route_by" not in webhook["prometheus"]
    assert webhook["alertmanager"] == {}
