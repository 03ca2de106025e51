"""The webhook's Kafka admin clients log through our structured logger, never raw librdkafka lines on stderr."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def test_dry_run_admin_clients_write_no_raw_librdkafka_line() -> None:
    """In a child process (librdkafka writes raw lines to fd 2 itself): a cluster that does not answer, as in a dry
    run against a stopped cluster, produces only our logfmt records."""
    code = textwrap.dedent(
        """
        import argparse
        from kafka_obs import logs
        from kafka_obs.platform.processes import free_port
        from kafka_obs.webhook.actions.kafka_config import AdminClients, partition_counter
        from kafka_obs.webhook.config import WebhookConfig
        logs.setup(argparse.Namespace(log_level="info", log_format="logfmt"))
        config = WebhookConfig.model_validate({
            "auth": {"allow_anonymous": True},
            "kafka": {"timeout": 1, "clusters": {"alpha": {"bootstrap_servers": f"127.0.0.1:{free_port()}"}}},
        })
        admins = AdminClients(config)
        try:
            partition_counter(admins, 1.0)("alpha", ["orders"])
        except Exception:
            pass
        admins("alpha")  # the next use serves the lines of the last one
        admins.close()
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert not any(line.startswith("%") for line in lines), lines
    assert any("logger=kafka_obs.webhook.librdkafka" in line and "cluster=alpha" in line for line in lines), lines


def test_the_webhooks_redactor_covers_its_config_and_its_clusters_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kafka_obs.webhook.cli import redactor
    from kafka_obs.webhook.config import load_config

    (tmp_path / "clusters.yaml").write_text(
        "clusters:\n  - {name: alpha, region: r, environment: e, brokers: ['h:1'],"
        " kafka: {sasl.password: '${FLEET_PW}'}}\n"
    )
    (tmp_path / "webhook.yaml").write_text(
        "auth: {bearer_token: '${HOOK_TOKEN}'}\nkafka: {clusters_file: clusters.yaml, clusters: {alpha: {}}}\n"
    )
    monkeypatch.setenv("FLEET_PW", "fleet-password-1")
    monkeypatch.setenv("HOOK_TOKEN", "hook-token-2")
    redact = redactor(load_config(tmp_path / "webhook.yaml"))
    assert redact("sasl fleet-password-1 bearer hook-token-2") == "sasl <redacted> bearer <redacted>"
