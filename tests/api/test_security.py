"""Security headers: every API route's every answer carries the strict set (a route's own stricter
header wins); everything else the backend serves (Reflex's pages in production) carries the page set,
which must not stop a page from hydrating (tests/e2e/test_security_headers.py proves that in a browser)."""

import re

import pytest
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from billing_portal.api import build_api
from billing_portal.api.security import DEFAULT_HEADERS, PAGE_HEADERS
from billing_portal.gateways.storage import DOWNLOAD_ROUTE

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Routes may set their own CSP (the docs page allows its inline style, a download is sandboxed) and
# caching (private documents, the public API reference): stricter or as strict, never missing.
EXACT = ("x-content-type-options", "x-frame-options", "referrer-policy", "strict-transport-security")
# The one route with another referrer policy, and why: the portal link's page posts its token on to
# /api/session/start, and under no-referrer that post would carry `Origin: null` (api/link_pages.py).
# same-origin still sends no Referer to any other site.
OWN_REFERRER_POLICY = {"/api/portal/{token}": "same-origin"}


def _concrete(path: str) -> str:
    return re.sub(r"{\w+(:\w+)?}", "1", path)


@SQLITE
def test_every_api_route_answers_every_method_with_the_security_headers(engine):
    client = TestClient(build_api(), raise_server_exceptions=False, follow_redirects=False)
    routes = [route for route in build_api().routes if isinstance(route, Route)]
    assert len(routes) >= 20
    checked = 0
    for route in routes:
        for method in METHODS:
            response = client.request(method, _concrete(route.path), content=b"{}")
            assert response.status_code < 500, (method, route.path, response.status_code, response.text[:200])
            assert re.fullmatch(r"[0-9a-f]{16}", response.headers["x-request-id"]), (method, route.path)
            for name in EXACT:
                expected = DEFAULT_HEADERS[name]
                if name == "referrer-policy" and method in route.methods:
                    expected = OWN_REFERRER_POLICY.get(route.path, expected)
                assert response.headers.get(name) == expected, (method, route.path, name)
            policy = response.headers["content-security-policy"]
            assert policy.startswith("default-src 'none'") and re.search("frame-ancestors 'none'|sandbox", policy)
            assert response.headers["cache-control"] in ("no-store", "private, no-store", "no-cache"), route.path
            if method not in route.methods:
                assert response.status_code == 405, (method, route.path, response.status_code)
                assert set(response.headers["allow"].split(", ")) == route.methods, (method, route.path)
            checked += 1
    assert checked == len(routes) * len(METHODS)


def test_an_unknown_api_path_is_404_with_the_headers():
    response = TestClient(build_api()).get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-security-policy"] == DEFAULT_HEADERS["content-security-policy"]
    assert "allow" not in response.headers


def test_a_download_keeps_its_own_sandboxing_policy():
    response = TestClient(build_api()).get(DOWNLOAD_ROUTE + "?token=forged")
    assert response.status_code == 403
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert response.headers["cache-control"] == "private, no-store"
    assert len(response.headers.get_list("content-security-policy")) == 1


def test_pages_get_the_page_headers_and_no_policy_on_their_scripts():
    """Reflex's pages go through the same ASGI app in production: their scripts must still load."""
    app = build_api()
    app.mount("", HTMLResponse("<html></html>"))  # where Reflex mounts its pages
    response = TestClient(app).get("/billing")
    assert response.status_code == 200
    for name, value in PAGE_HEADERS.items():
        assert response.headers[name] == value
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and not re.search(r"(default|script|style)-src", policy)
    assert "cache-control" not in response.headers  # the built pages are cached as Reflex says
