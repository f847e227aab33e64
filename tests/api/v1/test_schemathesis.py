"""Schemathesis (a real tool, not ours) against /api/v1/openapi.json of the live app on loopback
(granian, one worker) with seeded data and a write key: every generated request answers without a
5xx and conforms to the document (status code, content type, body schema). FUZZ_EXAMPLES sets the
examples per operation (default 12: a few hundred requests in all; `make soak` runs many more)."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance,
)

from tests.api.conftest import start_api
from tests.api.v1.conftest import build_world

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 12)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def live_api(engine, db_url, tmp_path):
    world = build_world()
    server = start_api(db_url, STORAGE_DIR=str(tmp_path / "files"), RATE_LIMIT_SELLER_API="1000000/minute")
    yield server, world
    server.stop()


@pytest.fixture
def api_schema(live_api):
    server, _ = live_api
    return schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_every_answer_conforms(case, live_api):
    server, world = live_api
    case.call_and_validate(base_url=server.url, headers={"Authorization": f"Bearer {world.tokens['write']}"},
                           checks=CHECKS)
