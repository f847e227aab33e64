"""The OpenAPI document is valid 3.1, generated from the route table (every operation in it, nothing
else), served with the reference page; the page has no scripts and no outside assets."""

import re

from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator

from billing_portal.api import build_api
from billing_portal.api.v1.operations import OPERATIONS
from starlette.routing import Route


def test_the_document_is_valid_3_1_and_lists_every_route(api):
    response = api.get("/api/v1/openapi.json", token=None)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    doc = response.json()
    assert doc["openapi"] == "3.1.0"
    validate(doc, cls=OpenAPIV31SpecValidator)
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    assert documented == {(op.method, op.path) for op in OPERATIONS}
    served = {(method, route.path) for route in build_api().routes if isinstance(route, Route)
              and route.path.startswith("/api/v1/") and route.path not in ("/api/v1/openapi.json", "/api/v1/docs")
              for method in route.methods - {"HEAD"}}
    assert served == documented
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert {"401", "default"} <= set(op["responses"]), (method, path)
            if method == "post":
                assert any(p["name"] == "Idempotency-Key" for p in op["parameters"]), path


def test_the_reference_page_lists_every_operation_without_scripts(api):
    response = api.get("/api/v1/docs", token=None)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    for op in OPERATIONS:
        assert f'id="{op.operation_id}"' in page and op.path in page
    assert "<script" not in page.lower() and not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "script-src" not in response.headers["content-security-policy"]


def test_info_is_beside_health(api):
    response = api.get("/api/info", token=None)
    assert response.status_code == 200
    assert set(response.json()) == {"version", "api_version", "build"} and response.json()["build"] == "dev"
