"""DescribeConfigs and IncrementalAlterConfigs for topics (and read-only broker configs)."""

from __future__ import annotations

from typing import Any

from kafka.protocol.admin.configs import (
    DescribeConfigsRequest,
    DescribeConfigsResponse,
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
)

from kafka_obs.sandbox.model.cluster import NotFound
from kafka_obs.sandbox.model.topic_config import BROKER_CONFIGS, TOPIC_CONFIGS, TYPE_STRING
from kafka_obs.sandbox.protocol import errors
from kafka_obs.sandbox.protocol.context import RequestContext

TOPIC = 2
BROKER = 4

SOURCE_DYNAMIC_TOPIC = 1
SOURCE_STATIC_BROKER = 4
SOURCE_DEFAULT = 5

_Result = DescribeConfigsResponse.DescribeConfigsResult
_Entry = DescribeConfigsResponse.DescribeConfigsResult.DescribeConfigsResourceResult
_Synonym = DescribeConfigsResponse.DescribeConfigsResult.DescribeConfigsResourceResult.DescribeConfigsSynonym


def _entry(name: str, value: str, *, source: int, read_only: bool, config_type: int, synonyms: bool) -> Any:
    return _Entry(
        name=name,
        value=value,
        read_only=read_only,
        config_source=source,
        is_default=source == SOURCE_DEFAULT,
        is_sensitive=False,
        synonyms=[_Synonym(name=name, value=value, source=source)] if synonyms else [],
        config_type=config_type,
        documentation=None,
    )


def _describe_topic(ctx: RequestContext, resource: Any, synonyms: bool) -> Any:
    topic = ctx.cluster.topics.get(resource.resource_name)
    if topic is None:
        return _Result(
            error_code=errors.UNKNOWN_TOPIC_OR_PARTITION,
            error_message=f"Topic {resource.resource_name} does not exist",
            resource_type=TOPIC,
            resource_name=resource.resource_name,
            configs=[],
        )
    keys = resource.configuration_keys
    entries = []
    for name, definition in TOPIC_CONFIGS.items():
        if keys is not None and name not in keys:
            continue
        source = SOURCE_DYNAMIC_TOPIC if name in topic.config else SOURCE_DEFAULT
        entries.append(
            _entry(
                name,
                topic.config_value(name),
                source=source,
                read_only=definition.read_only,
                config_type=definition.type,
                synonyms=synonyms,
            )
        )
    return _Result(
        error_code=errors.NONE,
        error_message=None,
        resource_type=TOPIC,
        resource_name=resource.resource_name,
        configs=entries,
    )


def _describe_broker(ctx: RequestContext, resource: Any, synonyms: bool) -> Any:
    name = resource.resource_name
    if name and (not name.isdigit() or int(name) not in ctx.cluster.brokers):
        return _Result(
            error_code=errors.INVALID_REQUEST,
            error_message=f"unknown broker {name!r}",
            resource_type=BROKER,
            resource_name=name,
            configs=[],
        )
    keys = resource.configuration_keys
    entries = [
        _entry(key, value, source=SOURCE_STATIC_BROKER, read_only=True, config_type=TYPE_STRING, synonyms=synonyms)
        for key, value in BROKER_CONFIGS.items()
        if keys is None or key in keys
    ]
    return _Result(
        error_code=errors.NONE, error_message=None, resource_type=BROKER, resource_name=name, configs=entries
    )


def handle_describe_configs(ctx: RequestContext, request: DescribeConfigsRequest) -> DescribeConfigsResponse:
    results = []
    synonyms = bool(getattr(request, "include_synonyms", False))
    with ctx.cluster.lock:
        ctx.cluster.sync()
        for resource in request.resources:
            if resource.resource_type == TOPIC:
                results.append(_describe_topic(ctx, resource, synonyms))
            elif resource.resource_type == BROKER:
                results.append(_describe_broker(ctx, resource, synonyms))
            else:
                results.append(
                    _Result(
                        error_code=errors.INVALID_REQUEST,
                        error_message=f"resource type {resource.resource_type} is not served by the sandbox",
                        resource_type=resource.resource_type,
                        resource_name=resource.resource_name,
                        configs=[],
                    )
                )
    return DescribeConfigsResponse[ctx.api_version](throttle_time_ms=0, results=results)


def handle_incremental_alter_configs(
    ctx: RequestContext, request: IncrementalAlterConfigsRequest
) -> IncrementalAlterConfigsResponse:
    Response = IncrementalAlterConfigsResponse.AlterConfigsResourceResponse
    out = []
    for resource in request.resources:
        error, message = errors.NONE, None
        if resource.resource_type != TOPIC:
            error, message = errors.INVALID_REQUEST, "only topic configs can be altered in the sandbox"
        else:
            changes = [(c.name, c.config_operation, c.value) for c in resource.configs]
            try:
                problem = ctx.cluster.alter_topic_config(resource.resource_name, changes, request.validate_only)
            except NotFound:
                error, message = errors.UNKNOWN_TOPIC_OR_PARTITION, f"Topic {resource.resource_name} does not exist"
            else:
                if problem:
                    error, message = errors.INVALID_CONFIG, problem
        out.append(
            Response(
                error_code=error,
                error_message=message,
                resource_type=resource.resource_type,
                resource_name=resource.resource_name,
            )
        )
    return IncrementalAlterConfigsResponse[ctx.api_version](throttle_time_ms=0, responses=out)
