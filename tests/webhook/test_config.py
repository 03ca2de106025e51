"""The shipped config and playbooks load; mistakes are reported with field paths and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafka_obs.cli import main
from kafka_obs.config.loader import ConfigError
from kafka_obs.webhook.cli import split_listen
from kafka_obs.webhook.config import load_config
from kafka_obs.webhook.playbooks import load_playbooks, render_query

from .conftest import REPO, SEED_PLAYBOOKS


def test_example_config_loads_with_the_token_from_the_environment() -> None:
    config = load_config(REPO / "webhook" / "example.yaml", environ={"KAFKA_OBS_WEBHOOK_TOKEN": "t0ken"})
    assert config.auth.bearer_token is not None
    assert config.auth.bearer_token.get_secret_value() == "t0ken"
    assert "t0ken" not in repr(config)
    assert config.store.path == REPO / "webhook" / "kafka-obs-webhook.db"  # relative to the file
    playbooks = load_playbooks(config.playbooks.file, config.playbooks.enable)
    assert [p.name for p in playbooks] == ["high_consumer_lag", "broker_disk_pressure"]
    assert not any(p.enabled for p in playbooks)  # dry-run as shipped


def test_example_config_without_the_token_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(REPO / "webhook" / "example.yaml", environ={})
    assert "auth.bearer_token: environment variable KAFKA_OBS_WEBHOOK_TOKEN is not set" in info.value.render()


def test_guardrail_defaults_are_on() -> None:
    config = load_config(REPO / "webhook" / "example.yaml", environ={"KAFKA_OBS_WEBHOOK_TOKEN": "x"})
    guard = config.guardrails
    assert (guard.grace_period, guard.cooldown, guard.max_targets_per_notification) == (30, 900, 3)
    assert (guard.max_actions_per_hour_per_playbook, guard.max_actions_per_hour) == (3, 10)
    assert (guard.retention_floor, guard.max_replicas) == (3600, 20)


def test_bad_playbook_is_reported_with_its_field_path(tmp_path: Path) -> None:
    bad = tmp_path / "playbooks.yaml"
    bad.write_text(
        "playbooks:\n"
        "  - name: x\n"
        "    match: {alertname: A}\n"
        "    target: deployment\n"
        "    actions:\n"
        "      - type: scale_deployment\n"
        "        params: {factor: 0.5}\n"
        "      - type: lower_retention\n"
        "      - type: reboot_everything\n"
        "    verify: {query: up, deadline: soon}\n"
        "    require: {query: up, otherwise: panic}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_playbooks(bad)
    text = info.value.render()
    assert "playbooks[0].actions[2].type: unknown action type 'reboot_everything'" in text
    assert "playbooks[0].verify.deadline" in text
    assert "playbooks[0].require.otherwise: Input should be 'escalate' or 'skip'" in text


def test_bad_params_and_kind_mismatch(tmp_path: Path) -> None:
    bad = tmp_path / "playbooks.yaml"
    bad.write_text(
        "playbooks:\n"
        "  - name: x\n"
        "    match: {alertname: A}\n"
        "    target: deployment\n"
        "    actions:\n"
        "      - type: scale_deployment\n"
        "        params: {factor: 0.5}\n"
        "      - type: lower_retention\n"
        "    verify: {query: up}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_playbooks(bad)
    text = info.value.render()
    assert f"{bad}:7: playbooks[0].actions[0].params.factor" in text
    assert "playbooks[0].actions[1].type: works on a kafka_cluster" in text


def test_enabling_an_unknown_playbook_fails() -> None:
    with pytest.raises(ConfigError, match="not defined"):
        load_playbooks(SEED_PLAYBOOKS, ["nope"])


def test_cli_exits_2_on_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "webhook.yaml"
    config.write_text("auth: {bearer_token: x}\nguardrails: {cooldown: forever}\nsurprise: 1\n")
    assert main(["webhook", "--config.file", str(config)]) == 2
    err = capsys.readouterr().err
    assert "guardrails.cooldown" in err
    assert "surprise: unknown field" in err


def test_render_query_escapes_label_values() -> None:
    assert render_query('x{a="{{a}}"}', {"a": 'quo"te\\'}) == 'x{a="quo\\"te\\\\"}'
    with pytest.raises(KeyError):
        render_query("{{missing}}", {})


@pytest.mark.parametrize(
    ("address", "expected"),
    [(":9097", ("0.0.0.0", 9097)), ("127.0.0.1:1", ("127.0.0.1", 1)), ("[::1]:80", ("::1", 80))],
)
def test_listen_address(address: str, expected: tuple[str, int]) -> None:
    assert split_listen(address) == expected


def test_kafka_connection_from_a_clusters_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_PW", "pw")
    (tmp_path / "clusters.yaml").write_text(
        "clusters:\n"
        "  - name: alpha\n    region: r\n    environment: e\n    brokers: ['127.0.0.1:9092', '127.0.0.1:9093']\n"
        "    kafka: {security.protocol: SASL_SSL, sasl.password: '${KAFKA_PW}'}\n"
    )
    (tmp_path / "webhook.yaml").write_text(
        "auth: {bearer_token: x}\n"
        "kafka:\n  clusters_file: clusters.yaml\n  clusters:\n    alpha: {topics: {allow: [logs]}}\n    beta: {}\n"
    )
    config = load_config(tmp_path / "webhook.yaml")
    props = config.kafka_properties("alpha")
    assert props is not None
    assert props["bootstrap.servers"] == "127.0.0.1:9092,127.0.0.1:9093"
    assert props["sasl.password"] == "pw"
    assert config.kafka_properties("beta") is None  # not in the clusters file: no connection, nothing touched
    assert config.kafka_properties("gamma") is None


def test_kafka_cluster_without_any_connection_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "webhook.yaml").write_text("auth: {bearer_token: x}\nkafka: {clusters: {alpha: {}}}\n")
    with pytest.raises(ConfigError, match=r"kafka\.clusters\.alpha: needs bootstrap_servers"):
        load_config(tmp_path / "webhook.yaml")


@pytest.mark.parametrize(("written", "seconds"), [("30s", 30.0), ("1m", 60.0), (0, 0.0), (2.5, 2.5)])
def test_verification_times_all_take_durations(tmp_path: Path, written: object, seconds: float) -> None:
    path = tmp_path / "playbooks.yaml"
    path.write_text(
        "playbooks:\n"
        "  - name: x\n"
        "    match: {alertname: A}\n"
        "    target: deployment\n"
        "    actions: [{type: scale_deployment, params: {factor: 2}}]\n"
        f"    verify: {{query: up, deadline: 10m, interval: 15s, initial_delay: {written}}}\n"
    )
    (playbook,) = load_playbooks(path)
    assert (playbook.verify.deadline, playbook.verify.interval, playbook.verify.initial_delay) == (600, 15, seconds)


def test_a_negative_initial_delay_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "playbooks.yaml"
    path.write_text(
        "playbooks:\n"
        "  - name: x\n"
        "    match: {alertname: A}\n"
        "    target: deployment\n"
        "    actions: [{type: scale_deployment, params: {factor: 2}}]\n"
        "    verify: {query: up, initial_delay: -1}\n"
    )
    with pytest.raises(ConfigError, match=r"playbooks\[0\]\.verify\.initial_delay"):
        load_playbooks(path)


def _write_config(directory: Path, extra: str = "") -> Path:
    config = directory / "webhook.yaml"
    config.write_text(
        "auth: {bearer_token: file:token.txt}\n"
        "store: {path: state/webhook.db}\n"
        "playbooks: {file: playbooks.yaml}\n"
        "tls: {cert_file: tls/cert.pem, key_file: tls/key.pem, client_ca_file: tls/ca.pem}\n"
        "kubernetes: {mode: kubeconfig, kubeconfig: kube/config}\n"
        "kafka:\n"
        "  clusters_file: clusters.yaml\n"
        "  clusters:\n"
        "    alpha:\n"
        "      bootstrap_servers: 127.0.0.1:1\n"
        "      properties: {ssl.ca.location: tls/kafka-ca.pem, security.protocol: SSL}\n"
        "guardrails: {pause_file: pause}\n" + extra
    )
    (directory / "token.txt").write_text("s3cret\n")
    return config


def test_every_path_in_the_config_is_relative_to_the_file_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = _write_config(tmp_path)
    monkeypatch.chdir("/")
    config = load_config(config_file)
    assert config.auth.bearer_token is not None
    assert config.auth.bearer_token.get_secret_value() == "s3cret"  # file: secret read next to the config
    assert config.store.path == tmp_path / "state" / "webhook.db"
    assert config.playbooks.file == tmp_path / "playbooks.yaml"
    assert config.guardrails.pause_file == tmp_path / "pause"
    assert config.tls is not None
    assert (config.tls.cert_file, config.tls.key_file, config.tls.client_ca_file) == (
        tmp_path / "tls" / "cert.pem",
        tmp_path / "tls" / "key.pem",
        tmp_path / "tls" / "ca.pem",
    )
    assert config.kubernetes.kubeconfig == tmp_path / "kube" / "config"
    assert config.kafka.clusters_file == tmp_path / "clusters.yaml"
    properties = config.kafka.clusters["alpha"].properties
    assert properties["ssl.ca.location"].get_secret_value() == str(tmp_path / "tls" / "kafka-ca.pem")
    assert properties["security.protocol"].get_secret_value() == "SSL"
