"""The real app in production mode (Reflex serving its built pages through our ASGI app): every
page route and API route carries its headers, a page cannot be framed by another site, and the
pages still hydrate with them (a person picks a currency and the prices change)."""

import re
import urllib.error
import urllib.request

from playwright.sync_api import Browser, expect

from billing_portal.api.security import DEFAULT_HEADERS, PAGE_HEADERS
from billing_portal.billing_portal import app

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _answer(method: str, url: str):
    try:
        return _OPENER.open(urllib.request.Request(url, method=method), timeout=20)
    except urllib.error.HTTPError as error:
        return error


def test_every_page_route_carries_the_page_headers(app_url):
    routes = sorted(app._unevaluated_pages)
    assert len(routes) >= 20
    for route in [*routes, "no-such-page"]:
        answer = _answer("GET", f"{app_url}/{'' if route == 'index' else route}")
        assert answer.status in (200, 404), (route, answer.status)
        for name, value in PAGE_HEADERS.items():
            assert answer.headers[name] == value, (route, name)
        assert re.fullmatch(r"[0-9a-f]{16}", answer.headers["x-request-id"]), route


def test_api_routes_answer_wrong_methods_with_405_and_allow_not_with_a_page(app_url):
    for method, path, allow in (("GET", "/api/usage", "POST"), ("GET", "/api/webhooks/stripe", "POST"),
                                ("POST", "/api/health", "GET, HEAD"), ("DELETE", "/api/v1/customers", "GET, HEAD, POST")):
        answer = _answer(method, app_url + path)
        assert (answer.status, answer.headers["allow"]) == (405, allow), (method, path)
        assert answer.headers["content-security-policy"] == DEFAULT_HEADERS["content-security-policy"]
        assert "<html" not in answer.read().decode(errors="replace").lower()


def test_pages_hydrate_with_the_headers_and_refuse_to_be_framed(browser: Browser, app_url, screenshots_dir):
    context = browser.new_context(base_url=app_url)
    page = context.new_page()
    page.goto("/pricing")
    starter = page.locator(".plan-card").filter(has=page.get_by_role("heading", name="Starter", exact=True))
    expect(starter.locator(".plan-price")).to_contain_text("$")
    page.get_by_role("radio", name="KRW").click()  # an event over the websocket: the page hydrated
    expect(starter.locator(".plan-price")).to_contain_text("₩")
    page.screenshot(path=screenshots_dir / "security-headers-pricing.png", full_page=True)

    # A page framing the pricing page (even from our own origin): set_content waits for the frame's
    # load, and the browser has put its error page there (cross-origin, so no document to read).
    page.set_content(f'<h1>framing</h1><iframe id="f" src="{app_url}/pricing" width="600" height="400"></iframe>')
    assert page.evaluate("document.getElementById('f').contentDocument === null")
    page.screenshot(path=screenshots_dir / "security-headers-framed.png")
    context.close()
