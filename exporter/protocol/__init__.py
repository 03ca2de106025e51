"""Kafka protocol messages the exporter needs and kafka-python 3.0 does not define, built by kafka-python's own
message machinery from JSON schemas next to this module (the format Apache Kafka describes its protocol in)."""

from __future__ import annotations

import sys

from kafka.protocol.api_message import ApiMessage

_HERE = sys.modules[__name__]


class ConsumerGroupDescribeRequest(ApiMessage, load_json=_HERE):  # type: ignore[call-arg]
    """KIP-848 groups (``group.protocol=consumer``): a classic DescribeGroups answers GROUP_ID_NOT_FOUND for them."""


class ConsumerGroupDescribeResponse(ApiMessage, load_json=_HERE):  # type: ignore[call-arg]
    pass


__all__ = ["ConsumerGroupDescribeRequest", "ConsumerGroupDescribeResponse"]
