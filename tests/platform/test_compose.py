"""docker-compose.yml checked offline: Docker cannot run on our build machines, so everything that can be known
without an engine is checked here — mounts exist, images are pinned, ports do not clash, every reference between
services names a real service and port, the KRaft quorum is consistent, and every mounted config is valid by our
own validators (with the container paths mapped back to the repository's files)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from kafka_obs.config.clusters import load_fleet
from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
KAFKA = sorted(name for name in SERVICES if re.fullmatch(r"kafka-\d+", name))


def mounts(service: str) -> dict[str, Path]:
    """Container path → repository path of the service's bind mounts (named volumes left out)."""
    out = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            out[target] = REPO / source
    return out


def host_path(service: str, container_path: str) -> Path:
    for target, source in sorted(mounts(service).items(), key=lambda item: -len(item[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return source / Path(container_path).relative_to(target) if container_path != target else source
    raise AssertionError(f"{service}: {container_path} is not mounted")


def listen_port(service: str) -> int:
    command = " ".join(SERVICES[service].get("command", []))
    match = re.search(r"--web\.listen-address=\S*:(\d+)", command)
    assert match, f"{service} has no --web.listen-address"
    return int(match.group(1))


def env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in SERVICES[service]["environment"].items()}


SERVICE_PORTS: dict[str, set[int]] = {
    **{name: {19092} for name in KAFKA},
    "kafka-obs-exporter": {listen_port("kafka-obs-exporter")},
    "webhook": {listen_port("webhook")},
    "prometheus": {9090},
    "alertmanager": {9093},
    "grafana": {3000},
}


def assert_service_address(address: str, where: str) -> None:
    host, _, port = address.rpartition(":")
    assert host in SERVICE_PORTS, f"{where}: {host} is not a compose service"
    assert int(port) in SERVICE_PORTS[host], f"{where}: {host} does not listen on {port}"


def test_every_image_is_pinned_and_builds_use_the_repo() -> None:
    for name, service in SERVICES.items():
        image = service.get("image")
        assert image or service.get("build"), name
        if image and not service.get("build"):
            repository, _, tag = image.rpartition(":")
            assert repository, f"{name}: image {image} has no repository"
            assert tag not in {"", "latest"}, f"{name}: image {image} is not pinned"
    dockerfile = (REPO / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert base
    assert ":" in base.group(1)
    assert not base.group(1).endswith(":latest")
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.MULTILINE):
        for path in source.split():
            assert (REPO / path).exists(), f"Dockerfile copies {path}, which does not exist"


def test_every_bind_mount_exists() -> None:
    for name in SERVICES:
        for target, source in mounts(name).items():
            assert source.exists(), f"{name}: {source.relative_to(REPO)} (mounted at {target}) does not exist"


def test_host_ports_do_not_clash() -> None:
    published = [p.split(":")[0] for s in SERVICES.values() for p in s.get("ports", [])]
    assert len(published) == len(set(published)), published


def test_dependencies_name_real_services() -> None:
    for name, service in SERVICES.items():
        depends = service.get("depends_on", [])
        for dependency in depends if isinstance(depends, list) else depends.keys():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            if isinstance(depends, dict) and depends[dependency].get("condition") == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], f"{dependency} has no healthcheck to wait for"


def test_kraft_quorum_is_consistent() -> None:
    ids = {env(name)["KAFKA_NODE_ID"] for name in KAFKA}
    assert len(ids) == len(KAFKA)
    assert len({env(name)["CLUSTER_ID"] for name in KAFKA}) == 1
    for name in KAFKA:
        voters = dict(v.split("@") for v in env(name)["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","))
        assert voters == {env(k)["KAFKA_NODE_ID"]: f"{k}:9093" for k in KAFKA}
        advertised = env(name)["KAFKA_ADVERTISED_LISTENERS"]
        assert f"INTERNAL://{name}:19092" in advertised
        external = re.search(r"EXTERNAL://localhost:(\d+)", advertised)
        assert external
        assert f"{external.group(1)}:{external.group(1)}" in SERVICES[name]["ports"]
        jmx = env(name)["KAFKA_JMX_OPTS"]
        assert f"-Djava.rmi.server.hostname={name}" in jmx
        assert f"rmi.port={env(name)['JMX_PORT']}" in jmx


def test_exporter_fleet_points_at_the_kafka_services() -> None:
    fleet = load_fleet(host_path("kafka-obs-exporter", "/etc/kafka-obs/clusters.yaml"))
    (cluster,) = fleet.clusters
    assert sorted(b.split(":")[0] for b in cluster.brokers) == KAFKA
    for broker in cluster.brokers:
        assert_service_address(broker, "docker/clusters.yaml")
    assert cluster.jmx_ports == [int(env(name)["JMX_PORT"]) for name in KAFKA]


def test_webhook_config_is_valid_with_its_mounted_files(tmp_path: Path) -> None:
    from kafka_obs.webhook.config import load_config

    container_config = re.search(r"--config\.file=(\S+)", " ".join(SERVICES["webhook"]["command"]))
    assert container_config
    text = host_path("webhook", container_config.group(1)).read_text()
    for target, source in mounts("webhook").items():  # the container's view of the file system, on this machine
        text = text.replace(target, str(source))
    text = text.replace("/var/lib/kafka-obs-webhook", str(tmp_path))
    (tmp_path / "webhook.yaml").write_text(text)
    config = load_config(tmp_path / "webhook.yaml")
    assert_service_address(
        f"{urlparse(config.prometheus.url).hostname}:{urlparse(config.prometheus.url).port}", "webhook"
    )
    assert config.alertmanager.url
    am = urlparse(config.alertmanager.url)
    assert_service_address(f"{am.hostname}:{am.port}", "webhook")
    assert "local" in config.kafka.clusters


def test_prometheus_scrapes_services_and_loads_the_rules(tmp_path: Path) -> None:
    config_path = host_path("prometheus", "/etc/prometheus/prometheus.yml")
    config = yaml.safe_load(config_path.read_text())
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                if not target.startswith("localhost:"):
                    assert_service_address(target, f"prometheus job {job['job_name']}")
    for alertmanager in config["alerting"]["alertmanagers"]:
        for target in alertmanager["static_configs"][0]["targets"]:
            assert_service_address(target, "prometheus alerting")
    exporter_job = yaml.safe_load((REPO / "rules/slos.yaml").read_text())["alerts"]["exporter_job"]
    assert exporter_job in {job["job_name"] for job in config["scrape_configs"]}
    # promtool loads the config with the rule files the container sees, so a broken rule fails here too
    config["rule_files"] = [str(host_path("prometheus", p).parent / Path(p).name) for p in config["rule_files"]]
    rule_files = [f for pattern in config["rule_files"] for f in Path(pattern).parent.glob(Path(pattern).name)]
    assert any("global" in str(f.parent) for f in rule_files), "the global rules are not mounted"
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not on PATH (make tools installs it)")
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_files)} rule files found" in result.stdout


def test_alertmanager_sends_to_the_webhook_with_the_shared_token() -> None:
    config = yaml.safe_load(host_path("alertmanager", "/etc/alertmanager/alertmanager.yml").read_text())
    (receiver,) = [r for r in config["receivers"] if r["name"] == "kafka-obs-webhook"]
    (webhook,) = receiver["webhook_configs"]
    url = urlparse(webhook["url"])
    assert_service_address(f"{url.hostname}:{url.port}", "alertmanager webhook")
    assert url.path == "/alerts"
    token_file = webhook["http_config"]["authorization"]["credentials_file"]
    webhook_token = yaml.safe_load(host_path("webhook", "/etc/kafka-obs/webhook.yaml").read_text())["auth"][
        "bearer_token"
    ]
    assert host_path("alertmanager", token_file) == host_path("webhook", webhook_token.removeprefix("file:"))


def test_grafana_provisioning_reaches_prometheus_and_the_dashboards() -> None:
    datasources = yaml.safe_load(
        host_path("grafana", "/etc/grafana/provisioning/datasources/prometheus.yaml").read_text()
    )
    url = urlparse(datasources["datasources"][0]["url"])
    assert_service_address(f"{url.hostname}:{url.port}", "grafana datasource")
    providers = yaml.safe_load(host_path("grafana", "/etc/grafana/provisioning/dashboards/kafka-obs.yaml").read_text())
    folder = host_path("grafana", providers["providers"][0]["options"]["path"])
    assert sorted(p.name for p in folder.glob("*.json")), "no dashboards where Grafana looks"
    home = env("grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert host_path("grafana", home).exists()


def test_compose_runs_the_kafka_version_the_real_kafka_tests_cover() -> None:
    """docker-compose.yml and the real-Kafka tests (kafka_obs/platform/maven/pom.xml) run the same Apache Kafka."""
    pom = (REPO / "kafka_obs/platform/maven/pom.xml").read_text()
    tested = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    assert tested is not None
    images = {s["image"] for s in SERVICES.values() if s.get("image", "").startswith("apache/kafka:")}
    assert images == {f"apache/kafka:{tested.group(1)}"}


MIRRORED = (
    "process.roles",
    "controller.listener.names",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "group.initial.rebalance.delay.ms",
)
"""Settings the compose stack and the real-Kafka tests must share: the KRaft roles and the internal topics' durability
(what the exporter's URP and under-min-ISR series see). Listeners differ by necessity (container names vs loopback);
the tests' speed knobs (small segments, 3 s fencing) are not for a stack users run."""


def test_compose_brokers_run_the_settings_the_real_kafka_tests_run() -> None:
    from kafka_obs.platform.realkafka import KafkaCluster, KafkaNode

    nodes = [KafkaNode(i, 9092, 9093, 9999, Path(f"/nonexistent/{i}")) for i in range(1, len(KAFKA) + 1)]
    tested = KafkaCluster(nodes, Path("/nonexistent"), "id", "classpath").config(nodes[0])
    for name in KAFKA:
        composed = {k.removeprefix("KAFKA_").lower().replace("_", "."): v for k, v in env(name).items()}
        assert {k: composed.get(k) for k in MIRRORED} == {k: tested[k] for k in MIRRORED}, name
        # a static quorum of every node, each a combined broker+controller, as the launcher formats it
        assert composed["controller.quorum.voters"].count("@") == len(nodes)
        assert "JMX_PORT" in env(name)  # every broker's JMX is reachable, as the tests read it
