"""Topic configurations the sandbox understands, with Kafka's defaults, types and validation rules.

The exporter reads these through DescribeConfigs and the webhook changes them through IncrementalAlterConfigs,
so invalid values must be refused the way Kafka refuses them (INVALID_CONFIG with Kafka's wording), or a
remediation playbook could "succeed" against the sandbox and fail against a real cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

# DescribeConfigs ConfigType codes (KIP-569).
TYPE_STRING = 2
TYPE_INT = 3
TYPE_LONG = 5
TYPE_DOUBLE = 6
TYPE_LIST = 7

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class ConfigDef:
    name: str
    default: str
    type: int
    read_only: bool = False


TOPIC_CONFIGS: dict[str, ConfigDef] = {
    c.name: c
    for c in (
        ConfigDef("cleanup.policy", "delete", TYPE_LIST),
        ConfigDef("min.cleanable.dirty.ratio", "0.5", TYPE_DOUBLE),
        ConfigDef("min.insync.replicas", "1", TYPE_INT),
        ConfigDef("retention.bytes", "-1", TYPE_LONG),
        ConfigDef("retention.ms", "604800000", TYPE_LONG),
        ConfigDef("segment.ms", "604800000", TYPE_LONG),
        ConfigDef("max.message.bytes", "1048588", TYPE_INT, read_only=True),
        ConfigDef("segment.bytes", "1073741824", TYPE_INT, read_only=True),
    )
}
"""Described for every topic; only the writable ones can be altered."""

BROKER_CONFIGS: dict[str, str] = {
    "log.retention.hours": "168",
    "log.retention.bytes": "-1",
    "log.cleanup.policy": "delete",
    "min.insync.replicas": "1",
    "num.partitions": "1",
}
"""Read-only broker configs served for resource type BROKER (static broker config)."""


def _number(value: str, name: str, kind: str) -> tuple[float | None, str | None]:
    try:
        number: float = float(value) if kind == "DOUBLE" else int(value)
    except ValueError:
        return None, f"Invalid value {value} for configuration {name}: Not a number of type {kind}"
    limit = INT32_MAX if kind == "INT" else INT64_MAX
    if kind != "DOUBLE" and not -limit - 1 <= number <= limit:
        return None, f"Invalid value {value} for configuration {name}: Not a number of type {kind}"
    return number, None


_RANGES: dict[str, tuple[str, float | None, float | None]] = {
    "retention.ms": ("LONG", -1, None),
    "retention.bytes": ("LONG", None, None),
    "segment.ms": ("LONG", 1, None),
    "min.insync.replicas": ("INT", 1, None),
    "min.cleanable.dirty.ratio": ("DOUBLE", 0.0, 1.0),
}
"""Numeric configs: (type, minimum, maximum) as Kafka's ConfigDef validators declare them."""


def _check_range(name: str, value: str) -> str | None:
    kind, low, high = _RANGES[name]
    number, problem = _number(value, name, kind)
    if problem or number is None:
        return problem
    shown = int(low) if low is not None and kind != "DOUBLE" else low
    if low is not None and number < low:
        return f"Invalid value {value} for configuration {name}: Value must be at least {shown}"
    if high is not None and number > high:
        return f"Invalid value {value} for configuration {name}: Value must be no more than {high:g}"
    return None


def validate_topic_config(name: str, value: str | None) -> str | None:
    """Kafka's error message for ``name=value``, or None when Kafka would accept it."""
    definition = TOPIC_CONFIGS.get(name)
    if definition is None:
        problem: str | None = f"Unknown topic config name: {name}"
    elif definition.read_only:
        problem = f"Config {name} cannot be altered in the sandbox"
    elif value is None:
        problem = f"Invalid value null for configuration {name}"
    elif name in _RANGES:
        problem = _check_range(name, value)
    elif name == "cleanup.policy":
        items = [item.strip() for item in value.split(",")]
        problem = None
        if not items or any(item not in ("compact", "delete") for item in items):
            problem = f"Invalid value {value} for configuration {name}: String must be one of: compact, delete"
    else:
        problem = None
    return problem


def normalise(name: str, value: str) -> str:
    """The form Kafka stores: lists without spaces."""
    if name == "cleanup.policy":
        return ",".join(item.strip() for item in value.split(","))
    return value
