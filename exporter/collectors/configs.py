"""Topic configuration, fetched on a slower cadence than offsets: configs change rarely, and DescribeConfigs
for thousands of topics is the heaviest response of a cycle.

All topics go into ONE DescribeConfigs request. The cache serves the last answer between refreshes and for up to
two refresh periods after a failed refresh (then it is dropped, never served stale for long). Topics created since
the last refresh trigger an early refresh so that under-min-ISR counts cover them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from kafka_obs.exporter.client import KafkaAdmin
from kafka_obs.exporter.families import FamilyBuilder

log = logging.getLogger(__name__)

Configs = Mapping[str, Mapping[str, str]]


class TopicConfigCache:
    def __init__(self, refresh_seconds: float):
        self.refresh_seconds = refresh_seconds
        self._configs: dict[str, Mapping[str, str]] | None = None
        self._fetched_at: float | None = None
        self._asked: set[str] = set()

    def get(self, client: KafkaAdmin, topics: list[str], now: float, on_error: Callable[[str], None]) -> Configs | None:
        """Configs of ``topics`` (refreshing when due), or ``None`` when unknown or too old to trust."""
        due = self._fetched_at is None or now - self._fetched_at >= self.refresh_seconds
        if due or any(t not in self._asked for t in topics):
            self._refresh(client, topics, now, on_error)
        if self._fetched_at is None or now - self._fetched_at > 2 * self.refresh_seconds or self._configs is None:
            return None
        return {t: self._configs[t] for t in topics if t in self._configs}

    def _refresh(self, client: KafkaAdmin, topics: list[str], now: float, on_error: Callable[[str], None]) -> None:
        if not topics:
            self._configs, self._fetched_at = {}, now
            return
        self._asked = set(topics)
        try:
            answers = client.topic_configs(topics)
        except Exception as exc:
            log.warning("describe configs failed", extra={"err": str(exc)})
            on_error("configs")
            return
        configs = {}
        for topic, answer in answers.items():
            if isinstance(answer, Exception):
                on_error("configs")
            else:
                configs[topic] = answer
        self._configs, self._fetched_at = configs, now


def _number(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def config_series(out: FamilyBuilder, configs: Configs, allow_topic: Callable[[str], bool]) -> None:
    for topic in sorted(configs):
        if not allow_topic(topic):
            continue
        config = configs[topic]
        retention_ms = _number(config.get("retention.ms"))
        if retention_ms is not None:
            out.add("kafka_topic_config_retention_ms", retention_ms, topic)
        retention_bytes = _number(config.get("retention.bytes"))
        if retention_bytes is not None:
            out.add("kafka_topic_config_retention_bytes", retention_bytes, topic)
        out.add(
            "kafka_topic_config_info",
            1,
            topic,
            config.get("cleanup.policy", ""),
            config.get("min.insync.replicas", ""),
        )
