"""The platform around a (sandbox) fleet: one exporter and one Prometheus per region, the global Prometheus,
Alertmanager and the webhook, wired from the committed configs and started as real processes.

The demo and the end-to-end tests both use :class:`Stack`, so the processes the tests prove are the ones the demo
runs. Whatever is missing (no ``prometheus`` or ``prometheus-alertmanager`` binary) is left out and reported by
:attr:`Stack.missing` rather than failing the whole platform.
"""

from __future__ import annotations

import secrets
import signal
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka_obs.platform import wiring
from kafka_obs.platform.processes import (
    ManagedProcess,
    find_binary,
    free_port,
    http_ok,
    kafka_obs_command,
    wait_until,
)


def port_available(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind ``port`` now (SO_REUSEADDR as the servers use, so TIME_WAIT does not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def pick_port(preferred: int | None) -> int:
    """The conventional port when it is free (so the demo's URLs are the familiar ones), else any free port."""
    if preferred is not None and port_available(preferred):
        return preferred
    return free_port()


def _ready(url: str) -> Callable[[], bool]:
    return lambda: http_ok(url)


@dataclass(frozen=True)
class PreferredPorts:
    """Conventional ports; None means any free port (the tests, which may run next to a demo)."""

    global_prometheus: int | None = None
    regional_prometheus: tuple[int, ...] = ()
    exporters: tuple[int, ...] = ()
    alertmanager: int | None = None
    webhook: int | None = None

    @classmethod
    def conventional(cls) -> PreferredPorts:
        return cls(
            global_prometheus=9090,
            regional_prometheus=(9091, 9092, 9095),
            exporters=(9308, 9309, 9310),
            alertmanager=9093,
            webhook=9097,
        )


@dataclass(frozen=True)
class StackOptions:
    """Everything that differs between the demo (shipped values) and a test (fast values, narrow allowlists)."""

    shipped: wiring.ShippedConfigs = field(default_factory=wiring.ShippedConfigs)
    rules: Path | None = None
    """Folder of regional rule files, with the cross-region ones in ``global/`` (default: the shipped bundle)."""
    ports: PreferredPorts = field(default_factory=PreferredPorts)
    prometheus_binary: str | None = field(default_factory=lambda: find_binary("prometheus"))
    alertmanager_binary: str | None = field(default_factory=lambda: find_binary("prometheus-alertmanager"))
    intervals: wiring.Intervals | None = None
    route_timings: wiring.RouteTimings | None = None
    playbooks: Mapping[str, Any] | None = None
    """A playbooks document to run instead of the shipped file (tests: shorter verification windows)."""
    deployments: Iterable[tuple[str, str]] | None = None
    guardrails: Mapping[str, Any] | None = None
    webhook_worker: Mapping[str, Any] | None = None
    log_level: str = "info"
    start_timeout: float = 60.0


@dataclass
class Stack:
    """Writes the run's configs under ``workdir`` and owns the processes; :meth:`processes` lists them in start
    order (the webhook first, so Alertmanager never has to retry its first notification)."""

    workdir: Path
    clusters_file: Path
    truth: Mapping[str, Any]
    kubernetes_host: str
    options: StackOptions = field(default_factory=StackOptions)
    regions: list[str] = field(init=False)
    exporters: dict[str, str] = field(init=False, default_factory=dict)
    regional: dict[str, str] = field(init=False, default_factory=dict)
    global_address: str | None = field(init=False, default=None)
    alertmanager_address: str | None = field(init=False, default=None)
    webhook_address: str = field(init=False)
    token: str = field(init=False)
    webhook: ManagedProcess = field(init=False)
    _processes: list[ManagedProcess] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        clusters = wiring.load_yaml(self.clusters_file)
        self.regions = wiring.regions(clusters)
        ports = self.options.ports
        for index, region in enumerate(self.regions):
            preferred = ports.exporters[index] if index < len(ports.exporters) else None
            self.exporters[region] = f"127.0.0.1:{pick_port(preferred)}"
        if self.options.prometheus_binary:
            for index, region in enumerate(self.regions):
                preferred = ports.regional_prometheus[index] if index < len(ports.regional_prometheus) else None
                self.regional[region] = f"127.0.0.1:{pick_port(preferred)}"
            self.global_address = f"127.0.0.1:{pick_port(ports.global_prometheus)}"
        if self.options.alertmanager_binary:
            self.alertmanager_address = f"127.0.0.1:{pick_port(ports.alertmanager)}"
        self.webhook_address = f"127.0.0.1:{pick_port(ports.webhook)}"
        self.token = secrets.token_urlsafe(24)
        self._write_configs()
        self._processes = self._build()

    # ---- configs -------------------------------------------------------------------------------------------

    @property
    def rules(self) -> Path:
        return self.options.rules or self.options.shipped.rules

    @property
    def token_file(self) -> Path:
        return self.workdir / "webhook-token"

    def _write_configs(self) -> None:
        shipped = self.options.shipped
        self.token_file.write_text(self.token + "\n", encoding="utf-8")
        self.token_file.chmod(0o600)
        alertmanagers = [self.alertmanager_address] if self.alertmanager_address else []
        if self.options.prometheus_binary:
            regional_base = wiring.load_yaml(shipped.regional_prometheus)
            for region in self.regions:
                document = wiring.regional_prometheus(
                    regional_base,
                    region=region,
                    exporters=[self.exporters[region]],
                    self_address=self.regional[region],
                    rule_files=[str(self.rules / "*.yml")],
                    alertmanagers=alertmanagers,
                    webhooks=[self.webhook_address],
                    intervals=self.options.intervals,
                )
                wiring.dump_yaml(document, self.workdir / f"prometheus-{region}.yml")
            assert self.global_address is not None
            document = wiring.global_prometheus(
                wiring.load_yaml(shipped.global_prometheus),
                regionals=list(self.regional.values()),
                self_address=self.global_address,
                rule_files=[str(self.rules / "global" / "*.yml")],
                alertmanagers=alertmanagers,
                intervals=self.options.intervals,
            )
            wiring.dump_yaml(document, self.workdir / "prometheus-global.yml")
        if self.alertmanager_address:
            document = wiring.alertmanager(
                wiring.load_yaml(shipped.alertmanager),
                webhook_url=f"http://{self.webhook_address}/alerts",
                credentials_file=str(self.token_file),
                timings=self.options.route_timings,
            )
            wiring.dump_yaml(document, self.workdir / "alertmanager.yml")
        playbooks_doc = dict(self.options.playbooks or wiring.load_yaml(shipped.playbooks))
        playbooks_file = shipped.playbooks
        if self.options.playbooks is not None:
            playbooks_file = wiring.dump_yaml(playbooks_doc, self.workdir / "playbooks.yaml")
        default_prometheus = f"http://{self.global_address}" if self.global_address else "http://127.0.0.1:9090"
        document = wiring.sandbox_webhook(
            self.truth,
            playbooks_doc,
            wiring.WebhookWiring(
                token_file=self.token_file,
                store=self.workdir / "webhook.db",
                playbooks=playbooks_file,
                clusters_file=self.clusters_file,
                kubernetes_host=self.kubernetes_host,
                prometheus_default=default_prometheus,
                prometheus_by_label={wiring.regional_label(r): f"http://{a}" for r, a in self.regional.items()},
                alertmanager=f"http://{self.alertmanager_address}" if self.alertmanager_address else None,
                external_url=f"http://{self.webhook_address}",
            ),
            deployments=self.options.deployments,
            guardrails=self.options.guardrails,
            worker=self.options.webhook_worker,
        )
        wiring.dump_yaml(document, self.workdir / "webhook.yaml")

    # ---- processes -----------------------------------------------------------------------------------------

    def _log(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    def _build(self) -> list[ManagedProcess]:
        kafka_obs = kafka_obs_command()
        level = ["--log.level", self.options.log_level]
        self.webhook = ManagedProcess(
            "webhook",
            [
                *kafka_obs,
                "webhook",
                "--config.file",
                str(self.workdir / "webhook.yaml"),
                "--web.listen-address",
                self.webhook_address,
                *level,
            ],
            self._log("webhook"),
            ready=_ready(f"http://{self.webhook_address}/healthz"),
        )
        processes = [self.webhook]
        if self.alertmanager_address and self.options.alertmanager_binary:
            address = self.alertmanager_address
            processes.append(
                ManagedProcess(
                    "alertmanager",
                    [
                        self.options.alertmanager_binary,
                        f"--config.file={self.workdir / 'alertmanager.yml'}",
                        f"--storage.path={self.workdir / 'alertmanager-data'}",
                        f"--web.listen-address={address}",
                        "--cluster.listen-address=",
                        "--log.level=warn",
                    ],
                    self._log("alertmanager"),
                    ready=_ready(f"http://{address}/-/ready"),
                )
            )
        for region, address in self.exporters.items():
            processes.append(
                ManagedProcess(
                    f"exporter-{region}",
                    [
                        *kafka_obs,
                        "exporter",
                        "--config.file",
                        str(self.clusters_file),
                        "--region",
                        region,
                        "--web.listen-address",
                        address,
                        *level,
                    ],
                    self._log(f"exporter-{region}"),
                    ready=_ready(f"http://{address}/ready"),
                )
            )
        if self.options.prometheus_binary:
            for region, address in self.regional.items():
                processes.append(self._prometheus(f"prometheus-{region}", address))
            assert self.global_address is not None
            processes.append(self._prometheus("prometheus-global", self.global_address))
        return processes

    def _prometheus(self, name: str, address: str) -> ManagedProcess:
        assert self.options.prometheus_binary is not None
        return ManagedProcess(
            name,
            [
                self.options.prometheus_binary,
                f"--config.file={self.workdir / f'{name}.yml'}",
                f"--storage.tsdb.path={self.workdir / f'{name}-data'}",
                f"--web.listen-address={address}",
                "--log.level=warn",
            ],
            self._log(name),
            ready=_ready(f"http://{address}/-/ready"),
        )

    def processes(self) -> list[ManagedProcess]:
        return list(self._processes)

    def start(self) -> Stack:
        """Start every process in order; on a failure, stop what was started and re-raise."""
        try:
            for process in self._processes:
                process.start(timeout=self.options.start_timeout)
        except BaseException:
            self.stop()  # including the one that was starting when the failure (or Ctrl-C) came
            raise
        return self

    def stop(self) -> None:
        for process in reversed(self._processes):
            process.stop()

    def restart_webhook_after_crash(self) -> None:
        """SIGKILL the webhook's process group and start it again on the same database (a crash and a restart)."""
        self.webhook.signal(signal.SIGKILL)
        wait_until(lambda: not self.webhook.alive(), 10, "the killed webhook to exit")
        self.webhook.stop()
        self.webhook.start(timeout=self.options.start_timeout)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what to tell the user -----------------------------------------------------------------------------

    @property
    def missing(self) -> list[str]:
        out = []
        if not self.options.prometheus_binary:
            out.append("prometheus (regional and global Prometheus, rules, alerts)")
        if not self.options.alertmanager_binary:
            out.append("prometheus-alertmanager (alert routing to the webhook)")
        return out

    def urls(self) -> dict[str, str]:
        """Name → URL of everything a user can open, in a stable order."""
        out: dict[str, str] = {}
        if self.global_address:
            out["Prometheus (global)"] = f"http://{self.global_address}"
        for region, address in self.regional.items():
            out[f"Prometheus ({region})"] = f"http://{address}"
        if self.alertmanager_address:
            out["Alertmanager"] = f"http://{self.alertmanager_address}"
        out["Webhook"] = f"http://{self.webhook_address}"
        for region, address in self.exporters.items():
            out[f"Exporter ({region})"] = f"http://{address}/metrics"
        return out
