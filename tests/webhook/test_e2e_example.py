"""webhook/example.yaml runs as shipped, and the sample payload in docs/webhook.md is accepted by it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import REPO
from .processes import free_port, wait_until

pytestmark = pytest.mark.e2e


def documented_payload() -> str:
    text = (REPO / "docs" / "webhook.md").read_text()
    match = re.search(r"-d '(\{.*?\})'\n", text, re.DOTALL)
    assert match, "docs/webhook.md lost its curl sample"
    return match.group(1)


def test_example_config_runs_dry_and_accepts_the_documented_payload(tmp_path: Path) -> None:
    for name in ("example.yaml", "playbooks.yaml"):
        shutil.copy(REPO / "webhook" / name, tmp_path / name)
    port = free_port()
    env = {**os.environ, "KAFKA_OBS_WEBHOOK_TOKEN": "doc-token"}
    args = [sys.executable, "-m", "kafka_obs", "webhook", f"--config.file={tmp_path / 'example.yaml'}",
            f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    with (tmp_path / "log").open("wb") as log:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/healthz").status_code == 200, 30, "the example webhook")
        headers = {"Authorization": "Bearer doc-token", "Content-Type": "application/json"}
        response = httpx.post(f"{url}/alerts", content=documented_payload(), headers=headers)
        assert response.status_code == 202, response.text
        assert response.json()["remediations"][0]["playbook"] == "high_consumer_lag"
        assert httpx.post(f"{url}/alerts", content=documented_payload()).status_code == 401
        assert "kafka_obs_webhook_queue_depth 1.0" in httpx.get(f"{url}/metrics").text
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
    assert (tmp_path / "kafka-obs-webhook.db").exists()  # next to the config, as documented
    assert "none (dry-run)" in (tmp_path / "log").read_text()


def test_tls(tmp_path: Path) -> None:
    """Optional TLS (Alertmanager's tls_config): the webhook serves HTTPS with the configured certificate."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not on PATH")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    for name in ("example.yaml", "playbooks.yaml"):
        shutil.copy(REPO / "webhook" / name, tmp_path / name)
    config = tmp_path / "example.yaml"
    config.write_text(config.read_text() + f"tls:\n  cert_file: {cert}\n  key_file: {key}\n")
    port = free_port()
    env = {**os.environ, "KAFKA_OBS_WEBHOOK_TOKEN": "tls-token"}
    args = [sys.executable, "-m", "kafka_obs", "webhook", f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    with (tmp_path / "log").open("wb") as log:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"https://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{url}/healthz", verify=str(cert)).status_code == 200, 30, "HTTPS")
        headers = {"Authorization": "Bearer tls-token", "Content-Type": "application/json"}
        response = httpx.post(f"{url}/alerts", content=documented_payload(), headers=headers, verify=str(cert))
        assert response.status_code == 202
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz")  # plain HTTP is not served
    finally:
        proc.terminate()
        proc.wait(15)
