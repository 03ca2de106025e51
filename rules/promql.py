"""Small PromQL text helpers shared by the generators, so that every rule quotes labels and writes ranges alike."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from kafka_obs.durations import UNITS


def duration(seconds: float) -> str:
    """A Prometheus 2.x duration: largest units first, down to milliseconds (``23h59m59s999ms``)."""
    millis = round(seconds * 1000)
    if millis <= 0:
        raise ValueError(f"duration must be positive, got {seconds}")
    rest_s, ms = divmod(millis, 1000)
    parts = []
    for unit in ("d", "h", "m", "s"):
        count, rest_s = divmod(rest_s, UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    if ms:
        parts.append(f"{ms}ms")
    return "".join(parts)


def closed_range(seconds: float) -> str:
    """A range selector that covers exactly ``seconds`` of slices.

    Prometheus 2.x ranges include both ends, so ``x[5m]`` over one-minute slices aligned on the minute holds six
    samples; one millisecond less holds five. Under Prometheus 3 (left-open ranges) the result is the same.
    """
    return duration(seconds - 0.001)


def number(value: float) -> str:
    """A constant as PromQL reads it, without float noise (``0.001``, not ``0.0010000000000000009``)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(value, ".12g")
    return text


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def matchers(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={quote(v)}" for k, v in labels.items())


def select(selector: str, labels: Mapping[str, str], *, suffix: str = "", extra: str = "") -> str:
    """``selector`` (``name`` or ``name{...}``) with ``suffix`` appended to the name, ``labels`` matched first and
    ``extra`` (raw matchers) last."""
    name, brace, rest = selector.partition("{")
    inner = rest[:-1].strip() if brace else ""
    body = ", ".join(part for part in (matchers(labels), inner, extra) if part)
    return f"{name}{suffix}{{{body}}}"


def le_matcher(bound: float) -> str:
    """Match a histogram bucket whatever the client library printed: Go writes ``1``, client_python ``1.0``."""
    if float(bound).is_integer():
        whole = str(int(bound))
        return f'le=~"{whole}|{whole}\\\\.0"'
    return f"le={quote(number(bound))}"


def by(labels: Iterable[str]) -> str:
    return ", ".join(labels)
