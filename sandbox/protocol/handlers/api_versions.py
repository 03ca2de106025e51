"""ApiVersions: advertise exactly the APIs and versions the sandbox serves (nothing more)."""

from __future__ import annotations

from collections.abc import Callable

from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse

from kafka_obs.sandbox.protocol import errors
from kafka_obs.sandbox.protocol.context import RequestContext


def api_versions_response(
    version: int, served: dict[int, tuple[int, int]], error: int = errors.NONE
) -> ApiVersionsResponse:
    keys = [
        ApiVersionsResponse.ApiVersion(api_key=key, min_version=lo, max_version=hi)
        for key, (lo, hi) in sorted(served.items())
    ]
    return ApiVersionsResponse[version](error_code=error, api_keys=keys, throttle_time_ms=0)


def make_handler(
    served: dict[int, tuple[int, int]],
) -> Callable[[RequestContext, ApiVersionsRequest], ApiVersionsResponse]:
    """The ApiVersions handler answering with ``served``."""

    def handle_api_versions(ctx: RequestContext, request: ApiVersionsRequest) -> ApiVersionsResponse:
        return api_versions_response(ctx.api_version, served)

    return handle_api_versions
