"""Property-based API testing: schemathesis generates requests from /openapi.json and checks every response
against the schema (status codes, content types, bodies) and for server errors. Bounded, so it stays fast.

The app is built once per module (schemathesis parametrizes at collection time), on a temporary database.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection

from .conftest import AUTH, Harness, enabled_playbooks, make_config

_TMP = tempfile.TemporaryDirectory(prefix="kafka-obs-schemathesis-")
_HARNESS = Harness(Path(_TMP.name), enabled_playbooks("high_consumer_lag"), make_config(Path(_TMP.name)))
assert _HARNESS.service.app is not None
schema = schemathesis.openapi.from_asgi("/openapi.json", _HARNESS.service.app)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    # POST /alerts accepts a group in which some alerts violate the schema, by design: the bad alerts are rejected
    # one by one (listed in `rejected`), because Alertmanager never retries a 4xx and refusing the group would lose
    # its good alerts. Every other check applies; tests/webhook/test_api.py covers what is refused with 422.
    excluded = [negative_data_rejection] if (case.method, case.path) == ("POST", "/alerts") else []
    case.call_and_validate(headers=AUTH, excluded_checks=excluded)


def test_unauthenticated_requests_are_refused_everywhere_but_metrics_and_health() -> None:
    for path, methods in schema.raw_schema["paths"].items():
        for method in methods:
            response = _HARNESS.client.request(method.upper(), path)
            expected = 200 if path in {"/metrics", "/healthz"} else 401
            assert response.status_code == expected, (method, path)
