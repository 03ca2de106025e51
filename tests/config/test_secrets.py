"""The redactor knows every value that came from ``${ENV}`` or ``file:`` in a loaded config, and only those."""

from __future__ import annotations

import textwrap
from pathlib import Path

from kafka_obs.config.clusters import load_fleet
from kafka_obs.config.secrets import REDACTED, Redactor, resolved_secrets


def test_every_resolved_value_and_every_substituted_piece_is_redacted(tmp_path: Path) -> None:
    (tmp_path / "jmx-password").write_text("jmx-from-a-file\n")
    file = tmp_path / "clusters.yaml"
    file.write_text(
        textwrap.dedent(
            """
            clusters:
              - name: a
                region: r
                environment: e
                brokers: ["h:1"]
                kafka:
                  sasl.mechanism: ${PASTED}
                  client.id: exporter-${TEAM_TOKEN}
                  security.protocol: SASL_SSL
                  ssl.ca.location: ${CA_DIR}/ca.pem
                jmx: {username: admin, password: "file:jmx-password"}
            """
        )
    )
    environ = {"PASTED": "hunter2-Passw0rd", "TEAM_TOKEN": "t0k3n-abc", "CA_DIR": "/etc/kafka-tls"}
    fleet = load_fleet(file, environ=environ)
    assert set(resolved_secrets(fleet)) >= {
        "hunter2-Passw0rd",
        "exporter-t0k3n-abc",
        "t0k3n-abc",
        "jmx-from-a-file",
        "/etc/kafka-tls",
    }
    redact = Redactor.for_configs(fleet)
    text = (
        "Failed to create admin client: Unsupported SASL mechanism: hunter2-Passw0rd; "
        "<BrokerConnection client_id=exporter-t0k3n-abc, node_id=1>; token t0k3n-abc; jmx jmx-from-a-file"
    )
    out = redact(text)
    for secret in ("hunter2", "t0k3n", "jmx-from-a-file"):
        assert secret not in out
    assert out.count(REDACTED) == 4
    # literal values in the file are not references: not redacted
    assert redact("security.protocol=SASL_SSL admin") == "security.protocol=SASL_SSL admin"


def test_escaped_forms_are_redacted_and_short_values_left_alone() -> None:
    redact = Redactor(["quo'te\\back", "on"])
    assert redact(repr("quo'te\\back")) == REDACTED.join(['"', '"'])
    assert redact('{"password": "quo\'te\\\\back"}') == '{"password": "' + REDACTED + '"}'
    assert redact("turned on") == "turned on"
    assert Redactor()("anything") == "anything"


def test_longest_secret_wins_when_one_contains_another() -> None:
    redact = Redactor(["abcd", "abcdefgh"])
    assert redact("x abcdefgh y") == f"x {REDACTED} y"
