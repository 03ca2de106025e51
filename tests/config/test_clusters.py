"""clusters.yaml: the seed's format is accepted; every bad input names its file, line and field path, exit 2."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kafka_obs.cli import main
from kafka_obs.config.clusters import DEFAULT_INTERVALS, Priority, load_fleet
from kafka_obs.config.loader import ConfigError

GOOD_CLUSTER = """
  - name: production-us-east
    region: us-east-1
    environment: production
    brokers: [b1:9092, b2:9092, b3:9092]
    jmx_ports: [9999, 10000, 10001]
    priority: critical
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "clusters.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_seed_example_is_accepted(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(repo / "examples/clusters.yaml")]) == 0
    out = capsys.readouterr().out
    assert "production-us-east: region=us-east-1 environment=production priority=critical brokers=3" in out
    assert out.strip().endswith("ok, 3 clusters")


def test_full_example_is_accepted(repo: Path) -> None:
    environ = {"KAFKA_SASL_PASSWORD": "hunter2", "JMX_PASSWORD": "s3cret"}
    fleet = load_fleet(repo / "examples/clusters-full.yaml", environ=environ)
    assert fleet.clusters[0].client_properties()["sasl.password"] == "hunter2"
    assert fleet.clusters[0].canary.enabled


def test_defaults_and_intervals(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        intervals: {critical: 15s, low: 10m}
        clusters:
          - {name: a, region: r1, environment: production, brokers: ["h:1"], priority: critical}
          - {name: b, region: r1, environment: staging, brokers: ["h:2"], priority: low}
          - {name: c, region: r2, environment: staging, brokers: ["h:3"]}
          - {name: d, region: r2, environment: staging, brokers: ["h:4"], interval: 45s}
        """,
    )
    fleet = load_fleet(path)
    assert [fleet.interval_for(c) for c in fleet.clusters] == [15, 600, DEFAULT_INTERVALS[Priority.medium], 45]
    assert fleet.clusters[2].priority is Priority.medium
    assert [c.name for c in fleet.select(regions=["r2"]).clusters] == ["c", "d"]
    evaluation = fleet.clusters[0].lag_evaluation
    assert (evaluation.window, evaluation.ok_lag, evaluation.abandoned_after) == (10, 0, 86400)
    canary = fleet.clusters[0].canary
    assert not canary.enabled  # it writes to the cluster: opt-in
    assert (canary.topic, canary.interval, canary.sla, canary.replication_factor) == ("kafka-obs-canary", 5, 20, None)


def test_canary_settings_accept_durations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        """
        clusters:
          - name: a
            region: r
            environment: production
            brokers: ["h:1"]
            canary: {enabled: true, topic: probe, interval: 500ms, sla: 1m}
        """,
    )
    canary = load_fleet(path).clusters[0].canary
    assert (canary.enabled, canary.topic, canary.interval, canary.sla) == (True, "probe", 0.5, 60)
    assert main(["check-config", str(path)]) == 0
    assert "canary on probe every 500ms" in capsys.readouterr().out


BAD_INPUTS = [
    pytest.param(
        "clusters:" + GOOD_CLUSTER + "    colour: blue\n",
        "clusters[0].colour",
        "unknown field",
        id="unknown-key",
    ),
    pytest.param(
        "clusters:\n  - name: a\n    environment: production\n    brokers: ['h:1']\n",
        "clusters[0].region",
        "required field is missing",
        id="missing-field",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: 'h:1'}\n",
        "clusters[0].brokers",
        "valid list",
        id="wrong-type",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1', 'h:2'], jmx_ports: [1]}\n",
        "clusters[0].jmx_ports",
        "2 brokers but 1 ports",
        id="jmx-ports-length",
    ),
    pytest.param(
        "clusters:" + GOOD_CLUSTER + GOOD_CLUSTER,
        "clusters[1].name",
        "duplicate cluster name 'production-us-east'",
        id="duplicate-name",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1'], priority: urgent}\n",
        "clusters[0].priority",
        "'critical', 'high', 'medium' or 'low'",
        id="bad-priority",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1'], topics: {allow: ['orders[']}}\n",
        "clusters[0].topics.allow",
        "invalid regular expression 'orders['",
        id="bad-regex",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1'], kafka: {sasl.password: '${NOPE_X}'}}\n",
        "clusters[0].kafka.sasl.password",
        "environment variable NOPE_X is not set",
        id="unset-env",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1'],\n"
        "     jmx: {username: u, password: file:/nonexistent/pw}}\n",
        "clusters[0].jmx.password",
        "cannot read secret file /nonexistent/pw",
        id="secret-file-missing",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['nohost']}\n",
        "clusters[0].brokers",
        "expected host:port",
        id="broker-without-port",
    ),
    pytest.param(
        "intervals: {critical: soon}\nclusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1']}\n",
        "intervals.critical",
        "not a duration: 'soon'",
        id="bad-interval",
    ),
    *[
        pytest.param(
            f"clusters:\n  - {{name: a, region: r, environment: e, brokers: ['h:1'], interval: {interval}}}\n",
            "clusters[0].interval",
            message,
            id=f"interval-{interval}",
        )
        for interval, message in [
            ("0", "must be at least 1s, got 0s"),
            ("-30", "must be at least 1s, got -30s"),
            ("0.5", "must be at least 1s, got 0.5s"),
            (".nan", "must be a finite duration"),
            (".inf", "must be a finite duration"),
            ("-.inf", "must be a finite duration"),
            ("1.0e+300", "must be at most 1d, got 1e+300s"),
            ("25h", "must be at most 1d, got 90000s"),
            ("true", "expected a duration"),
        ]
    ],
    pytest.param(
        "intervals: {low: 0}\nclusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1']}\n",
        "intervals.low",
        "must be at least 1s, got 0s",
        id="priority-interval-0",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1'], labels: {cluster: x}}\n",
        "clusters[0].labels",
        "set by kafka-obs itself",
        id="reserved-label",
    ),
    pytest.param(
        "clusters:\n  - {name: Prod_1, region: r, environment: e, brokers: ['h:1']}\n",
        "clusters[0].name",
        "should match pattern",
        id="bad-name",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1'], granularity: broker}\n",
        "clusters[0].granularity",
        "'partition' or 'topic'",
        id="bad-granularity",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1'], lag_evaluation: {window: 2}}\n",
        "clusters[0].lag_evaluation.window",
        "greater than or equal to 3",
        id="lag-window-too-short",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1'],"
        " lag_evaluation: {abandoned_after: 1x}}\n",
        "clusters[0].lag_evaluation.abandoned_after",
        "not a duration",
        id="lag-abandoned-after",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1'],"
        " canary: {enabled: true, interval: 30s, sla: 10s}}\n",
        "clusters[0].canary",
        "sla (10s) must be longer than interval (30s)",
        id="canary-sla-within-interval",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1'], canary: {interval: 10ms}}\n",
        "clusters[0].canary.interval",
        "greater than or equal to 0.1",
        id="canary-interval-too-short",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1'], canary: {topic: 'a b'}}\n",
        "clusters[0].canary.topic",
        "should match pattern",
        id="canary-bad-topic",
    ),
    pytest.param(
        "clusters:\n  - {name: a, region: r, environment: e, brokers: ['h:1'], canary: {enabled: yes-please}}\n",
        "clusters[0].canary.enabled",
        "valid boolean",
        id="canary-enabled-not-bool",
    ),
    pytest.param("clusters: []\n", "clusters", "at least 1 item", id="no-clusters"),
    pytest.param("clusters:\n  - name: a\n    name: b\n", "clusters[0].name", "more than once", id="repeated-key"),
    pytest.param("clusters: [\n", "(syntax)", "invalid YAML", id="yaml-syntax"),
]


@pytest.mark.parametrize(("body", "path", "expected"), BAD_INPUTS)
def test_bad_input_is_reported_with_field_path_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, path: str, expected: str
) -> None:
    file = write(tmp_path, body)
    assert main(["check-config", str(file)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    matching = [line for line in lines if f": {path}: " in line]
    assert matching, captured.err
    assert expected in matching[0]
    assert matching[0].startswith(f"{file}:")  # the file, then the line where YAML has one
    assert "Traceback" not in captured.err


def test_error_carries_the_line_number(tmp_path: Path) -> None:
    file = write(
        tmp_path, "clusters:" + GOOD_CLUSTER + "  - name: b\n    region: r\n    environment: e\n    brokers: [x]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_fleet(file)
    (issue,) = info.value.issues
    assert (issue.path, issue.line) == ("clusters[1].brokers", 11)


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    file = write(
        tmp_path, "clusters:\n  - {name: a, region: r}\n  - {name: b, region: r, environment: e, brokers: [], x: 1}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_fleet(file)
    paths = {issue.path for issue in info.value.issues}
    assert paths == {"clusters[0].environment", "clusters[0].brokers", "clusters[1].brokers", "clusters[1].x"}


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read file" in capsys.readouterr().err


def test_secrets_never_appear_in_errors_summaries_or_reprs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "pa55-w0rd-do-not-print"
    file = write(
        tmp_path,
        f"""
        clusters:
          - name: a
            region: r
            environment: e
            brokers: ["h:1"]
            kafka: {{sasl.username: svc, sasl.password: "{secret}", security.protocol: SASL_SSL}}
            jmx: {{username: admin, password: "{secret}"}}
          - {{name: b, region: r, environment: e, brokers: ["h:2"], kafka: {{sasl.password: "{secret}"}}, bogus: 1}}
        """,
    )
    assert main(["check-config", str(file)]) == 2
    err = capsys.readouterr().err
    assert "clusters[1].bogus" in err
    assert secret not in err
    file.write_text(file.read_text().replace(", bogus: 1", ""))
    assert main(["check-config", str(file)]) == 0
    assert secret not in capsys.readouterr().out
    fleet = load_fleet(file)
    assert secret not in repr(fleet)
    assert secret not in str(fleet.model_dump())
    assert fleet.clusters[0].client_properties()["sasl.password"] == secret


def test_env_and_file_references_resolve(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("from-file\n")
    file = write(
        tmp_path,
        f"""
        clusters:
          - name: a
            region: r
            environment: e
            brokers: ["h:1"]
            kafka:
              sasl.username: "svc-${{TEAM}}"
              sasl.password: "file:{tmp_path / "pw"}"
              enable.ssl.certificate.verification: false
              socket.timeout.ms: 5000
        """,
    )
    props = load_fleet(file, environ={"TEAM": "payments"}).clusters[0].client_properties()
    assert props == {
        "sasl.username": "svc-payments",
        "sasl.password": "from-file",
        "enable.ssl.certificate.verification": "false",
        "socket.timeout.ms": "5000",
        "bootstrap.servers": "h:1",
    }


def test_name_filters_fullmatch_allow_then_deny(tmp_path: Path) -> None:
    file = write(
        tmp_path,
        """
        clusters:
          - name: a
            region: r
            environment: e
            brokers: ["h:1"]
            topics: {allow: ["orders.*", "payments"], deny: [".*-dlq"]}
        """,
    )
    match = load_fleet(file).clusters[0].topics.matcher()
    assert [t for t in ["orders", "orders-dlq", "payments", "payments-v2", "audit"] if match(t)] == [
        "orders",
        "payments",
    ]


def test_relative_paths_resolve_against_the_config_directory_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Started from ``/`` (as systemd starts the exporter), the files next to the config are the ones used."""
    config_dir = tmp_path / "etc" / "kafka-obs"
    (config_dir / "secrets").mkdir(parents=True)
    (config_dir / "tls").mkdir()
    (config_dir / "secrets" / "sasl").write_text("next-to-the-config\n")
    (config_dir / "secrets" / "jmx").write_text("jmx-pw\n")
    file = config_dir / "clusters.yaml"
    file.write_text(
        textwrap.dedent(
            """
            clusters:
              - name: a
                region: r
                environment: e
                brokers: ["h:1"]
                kafka:
                  security.protocol: SASL_SSL
                  sasl.password: file:secrets/sasl
                  ssl.ca.location: tls/ca.pem
                  ssl.certificate.location: ./tls/client.pem
                  ssl.key.location: ../kafka-obs/tls/client.key
                  ssl.crl.location: /etc/ssl/crl.pem
                  sasl.kerberos.keytab: tls/kafka.keytab
                  ssl.endpoint.identification.algorithm: https
                jmx: {username: u, password: "file:secrets/jmx"}
              - name: b
                region: r
                environment: e
                brokers: ["h:2"]
                kafka: {ssl.ca.location: probe}
            """
        )
    )
    monkeypatch.chdir("/")
    for path in (file, Path(*[".."] * len(Path.cwd().parts), *file.parts[1:])):  # absolute, and relative to /
        fleet = load_fleet(path)
        props = fleet.clusters[0].client_properties()
        assert props["sasl.password"] == "next-to-the-config"
        assert props["ssl.ca.location"] == str(config_dir / "tls/ca.pem")
        assert props["ssl.certificate.location"] == str(config_dir / "tls/client.pem")
        assert Path(props["ssl.key.location"]).resolve() == config_dir / "tls/client.key"
        assert props["ssl.crl.location"] == "/etc/ssl/crl.pem"
        assert props["sasl.kerberos.keytab"] == str(config_dir / "tls/kafka.keytab")
        assert props["ssl.endpoint.identification.algorithm"] == "https"
        assert fleet.clusters[0].jmx.password is not None
        assert fleet.clusters[0].jmx.password.get_secret_value() == "jmx-pw"
        assert fleet.clusters[1].client_properties()["ssl.ca.location"] == "probe"
    monkeypatch.chdir(tmp_path / "etc")
    assert main(["check-config", "kafka-obs/clusters.yaml"]) == 0
    assert "ok, 2 clusters" in capsys.readouterr().out


def test_kafka_python_gets_the_resolved_tls_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kafka_obs.exporter.confluent_client import kafka_python_config

    file = write(
        tmp_path,
        """
        clusters:
          - {name: a, region: r, environment: e, brokers: ["h:1"], kafka: {ssl.ca.location: ca.pem}}
        """,
    )
    monkeypatch.chdir("/")
    config = kafka_python_config(load_fleet(file).clusters[0].client_properties(), timeout=1)
    assert config["ssl_cafile"] == str(tmp_path / "ca.pem")
