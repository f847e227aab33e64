"""No state change over GET, and why the state-changing API routes need no CSRF token.

- Every GET route of the API (found in build_api(), so a new one must be added here) is called as
  the owner, another customer and a visitor with real ids and links: no row and no stored object
  changes. The only write a GET may make is the documents' cache: the first download of a PDF that
  was never drawn stores it and remembers where (derived from the stored invoice; drawn the same
  again); with the PDFs drawn beforehand, nothing at all changes.
- Every route that is not GET answers GET and HEAD with 405 and changes nothing.
- CSRF works by riding a browser's ambient credentials (its cookies). The webhook takes none: only
  Stripe's signature over the exact body, which a cross-site page cannot make; a cross-site form
  post carrying an admin's session cookie is refused and stores nothing, while a validly signed
  event is taken whatever its Origin. The usage API likewise trusts only its Authorization header,
  which no cross-site form can set. Reflex's own state changes travel over its websocket, whose
  origins are ALLOWED_ORIGINS (tests/test_settings.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlmodel import Session, func, select
from starlette.routing import Route
from starlette.testclient import TestClient

from billing_portal.api import build_api
from billing_portal.api.v1.operations import OPERATIONS
from billing_portal.api.documents import SESSION_COOKIE
from billing_portal.billing import files, invoice_pdfs
from billing_portal.billing.portal_sessions import service as portal_sessions
from billing_portal.billing.portal_sessions.schemas import PortalSessionCreate
from billing_portal.billing.seller_keys.schemas import Caller
from billing_portal.gateways.storage import DOWNLOAD_ROUTE
from billing_portal.models import UsageRecord, WebhookEvent
from billing_portal.settings import get_settings
from tests.billing.test_webhooks import event, payment_intent
from tests.security.authz_world import MISSING_ID, World, build_world, snapshot
from tests.support.stripe_signing import signed_event

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
SECRET = "whsec_csrf"
# The documents' cache: where a drawn PDF is stored, and when it was drawn.
DOCUMENT_CACHE = frozenset({"invoices.pdf_key", "invoices.pdf_rendered_at", "refunds.credit_note_key"})


@pytest.fixture
def world(engine, ls, local_store, monkeypatch) -> World:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    return build_world(engine, ls)


def get_urls(world: World, engine) -> dict[str, list[str]]:
    """Concrete URLs for each GET route: real ids of Ana's, a missing id, junk, real links."""
    with Session(engine) as session:
        link = files.download_link(session, customer_id=world.ids["customer"], file_id=world.ids["file"])
        portal_link = portal_sessions.create_portal_link(session, Caller(key_id=None, name="app", scope="write"),
                                                         PortalSessionCreate(customer=str(world.ids["customer"]),
                                                                             return_url=get_settings().portal_return_url_allowlist[0]))
        session.commit()
    ids = (world.ids["paid_invoice"], world.ids["open_invoice"], world.ids["refund"], MISSING_ID, "junk")
    return {
        "/api/health": ["/api/health"],
        "/api/invoices/{object_id}/pdf": [f"/api/invoices/{i}/pdf" for i in ids],
        "/api/refunds/{object_id}/credit-note": [f"/api/refunds/{i}/credit-note" for i in ids],
        DOWNLOAD_ROUTE: [link[link.index(DOWNLOAD_ROUTE):], f"{DOWNLOAD_ROUTE}?token=forged", DOWNLOAD_ROUTE],
        "/api/info": ["/api/info"],
        # Opening a portal sign-in link shows a page that posts it: the GET spends nothing.
        "/api/portal/{token}": [urlsplit(portal_link.url).path, "/api/portal/not-a-link"],
        "/api/v1/openapi.json": ["/api/v1/openapi.json"],
        "/api/v1/docs": ["/api/v1/docs"],
        # The seller API (route table): a browser's cookie is no key there; every id kind is tried.
        **{op.path: [op.path.format(**{name: value for name in op.path_params})
                     for value in (world.ids["customer"], world.ids["paid_invoice"], MISSING_ID, "junk")]
           for op in OPERATIONS if op.method == "GET"},
    }


def routes() -> list[Route]:
    return [route for route in build_api().routes if isinstance(route, Route)]


def walk(world: World, urls: dict[str, list[str]]) -> int:
    calls = 0
    for actor in ("owner", "other", "anonymous"):
        client = TestClient(build_api(), follow_redirects=False, raise_server_exceptions=False)
        if world.tokens[actor]:
            client.cookies.set(SESSION_COOKIE, world.tokens[actor])
        for url in (u for group in urls.values() for u in group):
            response = client.get(url)
            assert response.status_code < 500, (actor, url, response.status_code)
            calls += 1
    return calls


@SQLITE
def test_every_get_route_changes_no_row_and_no_object(engine, world):
    urls = get_urls(world, engine)
    get_routes = {route.path for route in routes() if "GET" in (route.methods or ())}
    assert get_routes == set(urls), f"add the new GET routes here: {get_routes ^ set(urls)}"
    with Session(engine) as session:  # the documents drawn before, as the job does
        invoice_pdfs.render_and_store(session, world.ids["paid_invoice"])
        invoice_pdfs.render_and_store(session, world.ids["open_invoice"])
        invoice_pdfs.render_credit_note_and_store(session, world.ids["refund"])
        session.commit()
    before = snapshot(engine, world.storage_dir)
    assert walk(world, urls) >= 3 * 12
    assert snapshot(engine, world.storage_dir) == before


@SQLITE
def test_a_first_download_only_fills_the_document_cache(engine, world):
    urls = get_urls(world, engine)
    before = snapshot(engine, world.storage_dir, ignore_columns=DOCUMENT_CACHE)
    walk(world, urls)
    after = snapshot(engine, world.storage_dir, ignore_columns=DOCUMENT_CACHE)
    assert after["rows"] == before["rows"]
    drawn = set(after["objects"]) - set(before["objects"])
    assert set(before["objects"]) <= set(after["objects"])
    assert drawn and all(name.startswith(("invoices/", "credit-notes/")) for name, _ in drawn), drawn


@SQLITE
def test_routes_that_change_state_refuse_get_and_head(engine, world):
    before = snapshot(engine, world.storage_dir)
    client = TestClient(build_api(), raise_server_exceptions=False)
    client.cookies.set(SESSION_COOKIE, world.tokens["owner"])
    posts = [route.path for route in routes() if "GET" not in (route.methods or ())]
    assert {"/api/webhooks/stripe", "/api/usage"} <= set(posts)
    for path in posts:
        for method in ("GET", "HEAD"):
            assert client.request(method, path).status_code == 405, (method, path)
    assert snapshot(engine, world.storage_dir) == before


def _count(engine, model) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


@SQLITE
def test_the_webhook_needs_no_csrf_token_because_only_the_signature_counts(engine, world):
    client = TestClient(build_api(), raise_server_exceptions=False)
    cross_site = {"Origin": "https://evil.example", "Referer": "https://evil.example/page",
                  "Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site"}
    body, signature = signed_event(event("payment_intent.succeeded", payment_intent("pi_csrf", "succeeded")), SECRET)
    before = snapshot(engine, world.storage_dir)
    for token in ("owner", "admin"):  # a signed-in browser's cookie buys nothing
        client.cookies.set(SESSION_COOKIE, world.tokens[token])
        for headers in (cross_site, {**cross_site, "Stripe-Signature": "t=1,v1=00"}):
            response = client.post("/api/webhooks/stripe", content=body, headers=headers)
            assert response.status_code == 400, (token, headers, response.text)
        forged = client.post("/api/webhooks/stripe", content=body.replace(b"pi_csrf", b"pi_evil"),
                             headers={**cross_site, "Stripe-Signature": signature})
        assert forged.status_code == 400
    assert snapshot(engine, world.storage_dir) == before
    client.cookies.clear()
    taken = client.post("/api/webhooks/stripe", content=body, headers={**cross_site, "Stripe-Signature": signature})
    assert taken.status_code == 200 and _count(engine, WebhookEvent) == 1


@SQLITE
def test_the_usage_api_ignores_cookies(engine, world):
    client = TestClient(build_api(), raise_server_exceptions=False)
    client.cookies.set(SESSION_COOKIE, world.tokens["owner"])
    before = _count(engine, UsageRecord)
    response = client.post("/api/usage", content=b'{"metric": "api_calls", "quantity": 1}',
                           headers={"Origin": "https://evil.example", "Idempotency-Key": "csrf-1",
                                    "Content-Type": "text/plain"})
    assert response.status_code == 401 and _count(engine, UsageRecord) == before
