"""Every API answer carries the security headers; a route's own stricter header wins."""

from starlette.testclient import TestClient

from billing_portal.api import build_api
from billing_portal.api.security import DEFAULT_HEADERS
from billing_portal.gateways.storage import DOWNLOAD_ROUTE


def test_json_answers_carry_the_security_headers(engine):
    response = TestClient(build_api()).get("/api/health")
    assert response.status_code == 200
    for name, value in DEFAULT_HEADERS.items():
        assert response.headers[name] == value


def test_errors_and_unknown_routes_carry_them_too():
    client = TestClient(build_api())
    for response in (client.get("/api/nothing-here"), client.post("/api/webhooks/stripe", content=b"{}")):
        assert response.status_code in (400, 404)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_a_download_keeps_its_own_sandboxing_policy():
    response = TestClient(build_api()).get(DOWNLOAD_ROUTE + "?token=forged")
    assert response.status_code == 403
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert response.headers["cache-control"] == "private, no-store"
    assert len(response.headers.get_list("content-security-policy")) == 1


def test_no_state_changes_over_get():
    """The webhook route answers GET with 405: state changes only through POST."""
    assert TestClient(build_api()).get("/api/webhooks/stripe").status_code == 405


def test_pages_outside_the_api_keep_their_own_headers():
    """Reflex's pages go through the same ASGI app in production: their scripts must still load."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from billing_portal.api.security import SecurityHeaders

    page = Starlette(routes=[Route("/billing", lambda request: HTMLResponse("<html></html>"))],
                     middleware=[Middleware(SecurityHeaders)])
    response = TestClient(page).get("/billing")
    assert response.status_code == 200 and "content-security-policy" not in response.headers
