"""api/middleware.py: a request id on every answer and log line; an unhandled error is one redacted JSON
log line and a 500 that shows the id and no traceback; /api/ paths never fall through to Reflex."""

import io
import json
import logging

import pytest
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from billing_portal import logs
from billing_portal.api import build_api


def _boom(request):
    logging.getLogger("billing_portal.test").info("about to fail")
    raise RuntimeError("the database said no to sk_test_51Hsecretkey and bpk_customerkey123")


@pytest.fixture
def log_lines():
    stream = io.StringIO()
    handler = logs.handler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def _app_with(*routes: Route):
    """The real API app with extra routes in front of its own (as Reflex's mount sits behind it)."""
    app = build_api()
    app.router.routes[0:0] = list(routes)
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("path, shape", [("/api/boom", "api"), ("/api/v1/boom", "v1"), ("/billing/boom", "page")])
def test_an_unhandled_error_is_one_redacted_json_line_and_a_500_with_the_request_id(log_lines, path, shape):
    client = _app_with(Route(path, _boom))
    response = client.get(path)
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert "Traceback" not in response.text and "sk_test" not in response.text and "RuntimeError" not in response.text
    if shape == "api":
        assert response.json() == {"error": "internal_error", "message": "Something went wrong on our side; try again later.",
                                   "request_id": request_id}
    elif shape == "v1":
        assert response.json()["error"] | {"message": ""} == {"type": "api_error", "code": "internal_error", "message": "",
                                                             "param": None, "request_id": request_id}
    else:
        assert response.headers["content-type"].startswith("text/html") and request_id in response.text
        assert response.headers["x-frame-options"] == "DENY"  # the page headers, on the error page too
    lines = log_lines()
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1, lines
    assert errors[0]["request_id"] == request_id and errors[0]["message"] == f"unhandled error in GET {path}"
    assert "RuntimeError" in errors[0]["exc_info"] and "sk_test_51H" not in errors[0]["exc_info"]
    assert "bpk_customer" not in errors[0]["exc_info"] and logs.REDACTED in errors[0]["exc_info"]
    # What the route logged before failing carries the same id.
    assert [line["request_id"] for line in lines if line["message"] == "about to fail"] == [request_id]


def test_every_answer_has_its_own_request_id():
    client = _app_with(Route("/ok", lambda request: PlainTextResponse("ok")))
    ids = {client.get(path).headers["x-request-id"] for path in ("/ok", "/ok", "/api/nothing", "/api/usage")}
    assert len(ids) == 4
    assert logs.request_id() is None  # nothing leaks out of the request


def test_api_paths_are_never_handed_to_what_is_mounted_behind():
    """In the app Reflex mounts its pages behind our routes; a wrong method on an API route was
    answered by Reflex's page server instead of 405."""
    app = build_api()
    app.mount("", PlainTextResponse("a Reflex page"))
    client = TestClient(app)
    wrong = client.get("/api/usage")
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")
    assert client.delete("/api/health").headers["allow"] == "GET, HEAD"
    assert client.get("/api/not-a-route").status_code == 404
    assert client.get("/billing").text == "a Reflex page"
