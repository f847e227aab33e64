"""POST /api/v1/portal_sessions and /api/v1/checkout_sessions over real HTTP, and the link they
answer: opened once it signs the customer in on the flow (an httpOnly cookie); again, it shows a
clear page and no session; a refused return_url or invoice is a 422 that stores nothing."""

import re
from urllib.parse import urlsplit

import httpx

from tests.api.v1.conftest import table_counts

APP = "http://localhost:5100/account"


def open_link(api, url: str, client: httpx.Client) -> httpx.Response:
    """As a browser does: GET the link's page, then post its form (the page's script does it). The
    link is on API_URL, which the test server was not told it is: only its path is ours to call."""
    page = client.get(urlsplit(url).path)
    assert page.status_code == 200 and "Opening your billing portal" in page.text, page.text
    token = re.search(r"name=link value='([^']+)'", page.text).group(1)
    assert "script-src 'sha256-" in page.headers["content-security-policy"]
    return client.post("/api/session/start", data={"link": token}, headers={"Origin": origin_of(url)})


def origin_of(url: str) -> str:
    """The Origin a browser sends from the link's page (the server's API_URL)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_a_portal_link_signs_the_customer_in_once_on_the_flow(api, world):
    made = api.post("/api/v1/portal_sessions", {"customer": "ext_app-user-1", "return_url": APP, "flow": "plan"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["object"], body["customer"], body["destination"], body["return_url"]) == (
        "portal_session", world.ids["ana"], "/billing/plan", APP)
    with httpx.Client(base_url=api.url, follow_redirects=False) as browser:
        answer = open_link(api, body["url"], browser)
        assert answer.status_code == 303 and answer.headers["location"].endswith("/billing/plan")
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("bp_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    with httpx.Client(base_url=api.url, follow_redirects=False) as replay:
        again = replay.get(urlsplit(body["url"]).path)
        assert again.status_code == 410 and "already used" in again.text and "set-cookie" not in again.headers
        assert f"href='{APP}'" in again.text and "Back to localhost" in again.text
        token = body["url"].rsplit("/", 1)[1]
        posted = replay.post("/api/session/start", data={"link": token}, headers={"Origin": origin_of(body["url"])})
        assert posted.status_code == 410 and "set-cookie" not in posted.headers


def test_a_checkout_link_opens_the_checkout_of_the_price(api, world):
    made = api.post("/api/v1/checkout_sessions", {"customer": str(world.ids["bob"]), "price": world.ids["monthly"],
                                                  "return_url": APP})
    assert made.status_code == 201, made.text
    assert made.json()["destination"] == f"/checkout?price={world.ids['monthly']}"
    with httpx.Client(base_url=api.url, follow_redirects=False) as browser:
        answer = open_link(api, made.json()["url"], browser)
        assert answer.headers["location"].endswith(f"/checkout?price={world.ids['monthly']}")


def test_refused_requests_store_nothing(api, world, engine):
    before = table_counts(engine)
    for path, body, param in (
        ("/api/v1/portal_sessions", {"customer": "ext_app-user-1", "return_url": "https://evil.example/"}, "return_url"),
        ("/api/v1/portal_sessions", {"customer": "ext_app-user-1", "return_url": APP, "flow": "pay_invoice",
                                     "invoice": world.ids["invoice"]}, "invoice"),  # paid, not open
        ("/api/v1/portal_sessions", {"customer": "ext_app-user-1", "return_url": APP, "flow": "refund"}, "flow"),
        ("/api/v1/checkout_sessions", {"customer": "ext_app-user-1", "price": 987654, "return_url": APP}, "price"),
    ):
        answer = api.post(path, body)
        assert answer.status_code == 422 and answer.json()["error"]["param"] == param, answer.text
    assert api.post("/api/v1/portal_sessions", {"customer": "ext_nobody", "return_url": APP}).status_code == 404
    assert table_counts(engine) == before


def test_an_unknown_link_shows_the_clear_page(api, world):
    page = httpx.get(api.url + "/api/portal/not-a-real-token")
    assert page.status_code == 410 and "not valid" in page.text
