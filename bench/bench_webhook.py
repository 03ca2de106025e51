"""Burst benchmark for the webhook: 1,000 Alertmanager notifications from 20 concurrent senders.

Starts a real ``kafka-obs webhook`` process (uvicorn, SQLite in WAL mode with synchronous=FULL, i.e. every
acknowledgement is on disk), sends the burst over HTTP, records the acknowledgement latency of every request, then
checks in the database that every acknowledged notification is there (none lost). Each notification is a new
incident of an alert a playbook matches, so every request inserts a notification, an incident, a remediation and
two audit records — the worst case for the write path. Results go to bench/results/webhook-<timestamp>.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import machine  # bench/machine.py: load averages and a note measured, not asserted

NOTIFICATIONS = 1000
SENDERS = 20
TOKEN = "bench-token"
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def payload(index: int) -> dict[str, object]:
    return {
        "version": "4",
        "groupKey": f"bench-{index}",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "kafka-obs-webhook",
        "groupLabels": {"alertname": "KafkaConsumerLagHigh"},
        "commonLabels": {"alertname": "KafkaConsumerLagHigh", "cluster": "prod-eu-1"},
        "commonAnnotations": {"summary": "Consumer lag is high."},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "KafkaConsumerLagHigh",
                    "cluster": "prod-eu-1",
                    "consumergroup": "orders-processor",
                    "topic": "orders",
                    "severity": "warning",
                },
                "annotations": {"summary": "Consumer lag is high."},
                "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": f"{index:016x}",
            }
        ],
    }


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, body: bytes) -> int:
    """One keep-alive HTTP/1.1 POST; a minimal client so the senders leave the CPUs to the server under test."""
    writer.write(
        f"POST /alerts HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def burst(url: str) -> tuple[list[float], list[int]]:
    host, port = url.removeprefix("http://").split(":")
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(NOTIFICATIONS):
        queue.put_nowait(index)
    latencies: list[float] = []
    statuses: list[int] = []
    bodies = {i: json.dumps(payload(i)).encode() for i in range(NOTIFICATIONS)}

    async def sender() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while not queue.empty():
                index = queue.get_nowait()
                started = time.perf_counter()
                statuses.append(await _post(reader, writer, f"{host}:{port}", bodies[index]))
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    return latencies, statuses


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="kafka-obs-bench-") as tmp:
        config = Path(tmp) / "webhook.yaml"
        db = Path(tmp) / "webhook.db"
        example = (REPO / "webhook" / "example.yaml").read_text()
        config.write_text(
            example.replace("path: kafka-obs-webhook.db", f"path: {db}").replace(
                "file: playbooks.yaml", f"file: {REPO / 'webhook' / 'playbooks.yaml'}"
            )
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "KAFKA_OBS_WEBHOOK_TOKEN": TOKEN}
        args = [sys.executable, "-m", "kafka_obs", "webhook", f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]  # fmt: skip
        server = subprocess.Popen(args, env=env)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("webhook did not start")
                time.sleep(0.1)
            load_before = machine.snapshot()
            started = time.perf_counter()
            latencies, statuses = asyncio.run(burst(url))
            elapsed = time.perf_counter() - started
            load_after = machine.snapshot()
        finally:
            server.terminate()
            server.wait(30)
        conn = sqlite3.connect(db)
        stored = {row[0] for row in conn.execute("SELECT group_key FROM notifications")}
        remediations = conn.execute("SELECT COUNT(*) FROM remediations").fetchone()[0]
        conn.close()
    acknowledged = {f"bench-{i}" for i, s in zip(range(NOTIFICATIONS), statuses, strict=False) if 200 <= s < 300}
    ok = sum(1 for s in statuses if 200 <= s < 300)
    lost = NOTIFICATIONS - len(stored & {f"bench-{i}" for i in range(NOTIFICATIONS)})
    result = {
        "benchmark": "webhook burst: POST /alerts",
        "notifications": NOTIFICATIONS,
        "senders": SENDERS,
        "acknowledged_2xx": ok,
        "stored_in_db": len(stored),
        "remediations_stored": remediations,
        "lost": lost,
        "ack_latency_ms": {
            "p50": round(percentile(latencies, 0.50) * 1000, 2),
            "p90": round(percentile(latencies, 0.90) * 1000, 2),
            "p99": round(percentile(latencies, 0.99) * 1000, 2),
            "max": round(max(latencies) * 1000, 2),
            "mean": round(statistics.mean(latencies) * 1000, 2),
        },
        "target_p99_ms": 50,
        "throughput_per_s": round(NOTIFICATIONS / elapsed, 1),
        "elapsed_s": round(elapsed, 3),
        "durability": "SQLite WAL, synchronous=FULL: every 2xx is committed and fsynced",
        "machine": {**machine.describe(load_before, load_after), "isolation": "senders and server share the CPUs"},
    }
    result["acknowledged_but_missing"] = len(acknowledged - stored)
    out = REPO / "bench" / "results" / "webhook-burst.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out}")
    passed = lost == 0 and ok == NOTIFICATIONS and result["acknowledged_but_missing"] == 0
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
