"""From the rows of one broker's JMX read to metric families: pure functions, tested without a JVM."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kafka_obs.exporter.catalogue import MetricDef
from kafka_obs.exporter.families import Family, FamilyBuilder
from kafka_obs.exporter.jmx.catalogue import APP_INFO_PATTERN, RULES, Rule
from kafka_obs.exporter.jmx.query import Row

BROKER = "broker"
MEMO_ENTRIES = 200_000
"""Remembered (ObjectName, attribute) rows per cluster: ~20 brokers of 10,000 MBeans, a few tens of MB at most."""


def parse_object_name(name: str) -> tuple[str, dict[str, str]]:
    """``domain:k=v,...`` → ``(domain, {k: v})``; quoted values (``k="a,b"``) are unquoted."""
    domain, _, rest = name.partition(":")
    keys: dict[str, str] = {}
    i = 0
    while i < len(rest):
        eq = rest.index("=", i)
        key = rest[i:eq]
        i = eq + 1
        if i < len(rest) and rest[i] == '"':
            value_chars = []
            i += 1
            while i < len(rest) and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < len(rest):
                    i += 1
                    value_chars.append({"n": "\n"}.get(rest[i], rest[i]))
                else:
                    value_chars.append(rest[i])
                i += 1
            value = "".join(value_chars)
            i += 1  # closing quote
        else:
            end = rest.find(",", i)
            end = len(rest) if end < 0 else end
            value = rest[i:end]
            i = end
        keys[key] = value
        if i < len(rest) and rest[i] == ",":
            i += 1
    return domain, keys


@dataclass(frozen=True)
class _Pattern:
    domain: str
    keys: Mapping[str, str]
    open_ended: bool
    """A property-list pattern (``,*``): the name may have more keys."""

    @classmethod
    def parse(cls, pattern: str) -> _Pattern:
        open_ended = pattern.endswith(",*") or pattern.endswith(":*")
        domain, keys = parse_object_name(pattern.removesuffix("*").rstrip(","))
        return cls(domain, keys, open_ended)

    def matches(self, domain: str, keys: Mapping[str, str]) -> bool:
        if domain != self.domain or any(keys.get(k) != v for k, v in self.keys.items()):
            return False
        return self.open_ended or len(keys) == len(self.keys)


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    pattern: _Pattern
    metric: MetricDef
    extra_labels: tuple[str, ...]


def _metric_def(rule: Rule) -> MetricDef:
    extra = tuple(dict.fromkeys(label for labels in rule.attributes.values() for label in labels))
    return MetricDef(
        rule.metric,
        rule.type,
        (BROKER, *rule.labels.values(), *extra),
        rule.help,
        f"JMX {rule.pattern.rsplit(',', 1)[0] if rule.labels else rule.pattern}",
    )


_Targets = tuple[tuple[_Compiled, tuple[str, ...]], ...]


class SeriesBuilder:
    """Turns one broker's rows into families, by the catalogue's rules (compiled once per collector)."""

    def __init__(self, rules: Sequence[Rule] = RULES):
        definitions: dict[str, MetricDef] = {}
        compiled = []
        for rule in rules:
            metric = definitions.setdefault(rule.metric, _metric_def(rule))
            if (metric.type, metric.labels) != (rule.type, _metric_def(rule).labels):
                raise ValueError(f"rules for {rule.metric} disagree on its type or labels")
            compiled.append(
                _Compiled(rule, _Pattern.parse(rule.pattern), metric, metric.labels[1 + len(rule.labels) :])
            )
        self._rules = tuple(compiled)
        self._app_info = _Pattern.parse(APP_INFO_PATTERN)
        self._memo: dict[tuple[str, str, str | None], _Targets] = {}
        self.definitions: tuple[MetricDef, ...] = tuple(definitions.values())

    def broker_id(self, rows: Iterable[Row]) -> str | None:
        """The broker id from ``kafka.server:type=app-info,id=N``, when the broker registers it."""
        for row in rows:
            if "app-info" not in row.object_name:
                continue  # cheap pre-filter: parsing every ObjectName of a big broker costs more than the rest
            domain, keys = parse_object_name(row.object_name)
            if self._app_info.matches(domain, keys) and keys.get("id"):
                return keys["id"]
        return None

    def families(self, broker: str, rows: Iterable[Row]) -> tuple[Family, ...]:
        out = FamilyBuilder()
        for row in rows:
            for compiled, labels in self._targets(row.object_name, row.attribute, row.key):
                rule = compiled.rule
                value = _number(row.value)
                if value is None or (rule.skip_negative and value < 0):
                    continue
                if rule.convert is not None:
                    value = rule.convert(value)
                out.add(compiled.metric, value, broker, *labels)
        return out.build()

    def _targets(self, object_name: str, attribute: str, key: str | None) -> _Targets:
        """The rules a row feeds and the labels it gets from each, memoised: a broker reports the same ObjectNames
        every cycle, and parsing and matching them is most of the Python side's work."""
        memo_key = (object_name, attribute, key)
        targets = self._memo.get(memo_key)
        if targets is not None:
            return targets
        domain, keys = parse_object_name(object_name)
        name = attribute if key is None else f"{attribute}/{key}"
        found = []
        for compiled in self._rules:
            extra = compiled.rule.attributes.get(name)
            if extra is None or not compiled.pattern.matches(domain, keys):
                continue
            labels = (
                *(keys.get(k, "") for k in compiled.rule.labels),
                *(extra[k] for k in compiled.extra_labels),
            )
            found.append((compiled, labels))
        if len(self._memo) >= MEMO_ENTRIES:
            self._memo.clear()  # topics come and go; a bound keeps deleted ones from accumulating
        self._memo[memo_key] = targets = tuple(found)
        return targets


def _number(value: object) -> float | None:
    """A numeric attribute value; ``None`` for what Prometheus cannot carry (strings, missing values, NaN)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        number = float(value)
        return None if math.isnan(number) else number
    return None
