"""From one request frame to one response frame: header, version check, decode, handler, encode.

The served APIs and their version ranges live in :data:`SERVED`; ApiVersions advertises exactly that table, so
a client never negotiates a version the sandbox cannot answer.
"""

from __future__ import annotations

import inspect
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kafka.protocol.admin.cluster import (
    DescribeClusterRequest,
    DescribeClusterResponse,
    DescribeLogDirsRequest,
    DescribeLogDirsResponse,
)
from kafka.protocol.admin.configs import (
    DescribeConfigsRequest,
    DescribeConfigsResponse,
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
)
from kafka.protocol.admin.groups import (
    DeleteGroupsRequest,
    DeleteGroupsResponse,
    DescribeGroupsRequest,
    DescribeGroupsResponse,
    ListGroupsRequest,
    ListGroupsResponse,
)
from kafka.protocol.admin.topics import CreateTopicsRequest, CreateTopicsResponse
from kafka.protocol.api_header import RequestHeader, ResponseClassRegistry
from kafka.protocol.consumer.fetch import FetchRequest, FetchResponse
from kafka.protocol.consumer.group import (
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
)
from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse
from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kafka.protocol.metadata.find_coordinator import FindCoordinatorRequest, FindCoordinatorResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse
from kafka.protocol.schemas.fields.codecs import Int16

from kafka_obs.sandbox.model.cluster import ClusterModel
from kafka_obs.sandbox.protocol import errors
from kafka_obs.sandbox.protocol.context import RequestContext
from kafka_obs.sandbox.protocol.handlers import configs, groups, log_dirs, metadata, offsets, records, topics
from kafka_obs.sandbox.protocol.handlers.api_versions import api_versions_response, make_handler
from kafka_obs.sandbox.protocol.wire import Encoded

log = logging.getLogger(__name__)

Handler = Callable[[RequestContext, Any], Any]


@dataclass(frozen=True)
class Api:
    request: Any
    response: Any
    min_version: int
    max_version: int
    handler: Handler

    @property
    def kafka_name(self) -> str:
        """Kafka's name for the API (``ApiKeys``: Produce, ListOffsets, ...): Kafka derives it from the request
        schema's name as kafka-python's generated classes carry it (``ProduceRequest``), minus ``Request``."""
        return str(self.request.name).removesuffix("Request")


def request_metric_names(api: Api, request: Any) -> tuple[str, ...]:
    """The ``request=`` values a broker counts a request under in its RequestMetrics: the API's name, and for a
    Fetch also FetchConsumer or FetchFollower (a replica id of 0 or more is a follower), as Kafka marks both."""
    if api.request.API_KEY == FetchRequest.API_KEY:
        return (api.kafka_name, "FetchFollower" if getattr(request, "replica_id", -1) >= 0 else "FetchConsumer")
    return (api.kafka_name,)


_TABLE: list[tuple[Any, Any, int, int, Handler | None]] = [
    (ProduceRequest, ProduceResponse, 3, 9, records.handle_produce_with_faults),
    (FetchRequest, FetchResponse, 4, 12, records.handle_fetch),
    (ListOffsetsRequest, ListOffsetsResponse, 1, 7, offsets.handle_list_offsets),
    (MetadataRequest, MetadataResponse, 1, 12, metadata.handle_metadata),
    (OffsetCommitRequest, OffsetCommitResponse, 2, 8, groups.handle_offset_commit),
    (OffsetFetchRequest, OffsetFetchResponse, 1, 8, groups.handle_offset_fetch),
    (FindCoordinatorRequest, FindCoordinatorResponse, 0, 4, groups.handle_find_coordinator),
    (DescribeGroupsRequest, DescribeGroupsResponse, 0, 5, groups.handle_describe_groups),
    (ListGroupsRequest, ListGroupsResponse, 0, 5, groups.handle_list_groups),
    (ApiVersionsRequest, ApiVersionsResponse, 0, 3, None),
    (DescribeConfigsRequest, DescribeConfigsResponse, 1, 4, configs.handle_describe_configs),
    (DescribeLogDirsRequest, DescribeLogDirsResponse, 1, 4, log_dirs.handle_describe_log_dirs),
    (DeleteGroupsRequest, DeleteGroupsResponse, 0, 2, groups.handle_delete_groups),
    (IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, 0, 1, configs.handle_incremental_alter_configs),
    (DescribeClusterRequest, DescribeClusterResponse, 0, 1, metadata.handle_describe_cluster),
    (CreateTopicsRequest, CreateTopicsResponse, 2, 7, topics.handle_create_topics),
]

SERVED_VERSIONS: dict[int, tuple[int, int]] = {req.API_KEY: (lo, hi) for req, _, lo, hi, _ in _TABLE}
"""API key → (min, max) version advertised in ApiVersions."""

SERVED: dict[int, Api] = {
    req.API_KEY: Api(req, resp, lo, hi, handler or make_handler(SERVED_VERSIONS))
    for req, resp, lo, hi, handler in _TABLE
}

API_VERSIONS_KEY = ApiVersionsRequest.API_KEY


class MalformedRequest(Exception):
    """A frame that cannot be decoded: the connection that sent it is closed (and only that one)."""


def _unsupported(api_key: int, version: int) -> Any | None:
    """A response of the requested version carrying UNSUPPORTED_VERSION, when kafka-python can encode one."""
    if api_key == API_VERSIONS_KEY:
        return api_versions_response(0, SERVED_VERSIONS, errors.UNSUPPORTED_VERSION)
    header = RequestHeader(request_api_key=api_key, request_api_version=version, correlation_id=0, client_id=None)
    try:
        response_class = ResponseClassRegistry.get_response_class(header)
    except ValueError:
        return None
    if response_class is None:
        return None
    response = response_class()
    if hasattr(response, "error_code"):
        response.error_code = errors.UNSUPPORTED_VERSION
    return response


class Dispatcher:
    """Answers frames for one cluster; shared by that cluster's brokers."""

    def __init__(self, cluster: ClusterModel):
        self.cluster = cluster
        self.cache: dict[object, object] = {}

    async def handle(self, frame: bytes, broker_id: int) -> bytes | None:
        """The framed response to ``frame``, or None when the request expects none (acks=0)."""
        try:
            # The header's first fields (api key, version) pick the decoder; the full header is decoded with the body.
            view = memoryview(frame)
            api_key, offset = Int16.decode_from(view, 0)
            version, _ = Int16.decode_from(view, offset)
        except Exception as exc:
            raise MalformedRequest(f"unreadable request header: {exc}") from exc
        api = SERVED.get(api_key)
        if api is None or not api.min_version <= version <= api.max_version:
            try:
                header = RequestHeader.decode(io.BytesIO(frame), flexible=False)
            except Exception as exc:
                raise MalformedRequest(f"unreadable request header: {exc}") from exc
            response = _unsupported(api_key, version)
            if response is None:
                raise MalformedRequest(f"api key {api_key} version {version} is not known to the sandbox")
            log.info(
                "unsupported api version",
                extra={"api_key": api_key, "api_version": version, "client_id": header.client_id},
            )
        else:
            try:
                request = api.request[version].decode(frame, header=True)
            except Exception as exc:
                raise MalformedRequest(f"cannot decode {api.request.name} v{version}: {exc}") from exc
            header = request.header
            self.cluster.count_request(broker_id, request_metric_names(api, request), version)
            ctx = RequestContext(self.cluster, broker_id, version, header.client_id, self.cache)
            result = api.handler(ctx, request)
            if inspect.isawaitable(result):
                result = await _await(result)
            response = result
            if response is None:
                return None
            if isinstance(response, Encoded):
                return response.frame(header.correlation_id)
        response.with_header(correlation_id=header.correlation_id)
        return bytes(response.encode(header=True, framed=True))


async def _await(result: Awaitable[Any]) -> Any:
    return await result
