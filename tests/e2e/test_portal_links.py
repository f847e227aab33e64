"""Portal sign-in links from the seller's side: its server asks /api/v1/portal_sessions for a link
(over HTTP with a seller key), the customer's browser opens it and lands signed in on the flow, a
second opening is refused, one customer's link never shows another's portal, and the portal's
"Back to …" link returns to the seller's app (a small page on loopback standing in for it)."""

import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlmodel import Session

from billing_portal.billing.seller_keys import service as seller_keys
from billing_portal.db import engine_for
from tests.e2e.people import DESKTOP, PHONE


class _SellerApp(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        body = b"<!doctype html><title>Acme app</title><h1>Acme app: your projects</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def seller_app() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SellerApp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def portal(app_server, app_database_url, seller_app):
    url = app_server.ensure({"PORTAL_RETURN_URL_ALLOWLIST": f'["{seller_app}"]'})
    with Session(engine_for(app_database_url)) as session:
        key = seller_keys.create(session, actor="e2e", name="acme server", scope="write").token
        session.commit()
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30), url


def customer(api: httpx.Client, name: str) -> tuple[str, str]:
    external_id, email = f"acme-{uuid.uuid4().hex[:8]}", f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.com"
    made = api.post("/api/v1/customers", json={"external_id": external_id, "email": email, "name": name})
    assert made.status_code == 201, made.text
    return f"ext_{external_id}", email


def portal_link(api: httpx.Client, customer_ref: str, return_url: str, **extra) -> str:
    made = api.post("/api/v1/portal_sessions", json={"customer": customer_ref, "return_url": return_url, **extra})
    assert made.status_code == 201, made.text
    return made.json()["url"]


def test_a_link_signs_in_on_the_flow_once_never_as_another_and_leads_back(browser: Browser, portal, seller_app,
                                                                         screenshots_dir):
    api, _url = portal
    ana_ref, ana_email = customer(api, "Ana")
    bob_ref, bob_email = customer(api, "Bob")
    back_to = f"{seller_app}/settings/billing"
    ana_link = portal_link(api, ana_ref, back_to, flow="plan")

    ana = browser.new_context(viewport=DESKTOP)
    page = ana.new_page()
    page.goto(ana_link)
    expect(page).to_have_url(re.compile(r"/billing/plan/?$"))
    expect(page.locator("#nav-user-email")).to_have_text(ana_email)
    back = page.locator("#nav-back")
    expect(back).to_have_accessible_name("Back to 127.0.0.1")
    expect(back.get_by_text("Back to 127.0.0.1")).to_be_visible()
    expect(back).to_have_attribute("href", back_to)
    assert "bp_session" not in page.evaluate("document.cookie")
    page.screenshot(path=screenshots_dir / "portal-link-plan-flow-desktop.png", full_page=True)

    # The same link again, in another browser: a clear page, no session.
    replay = browser.new_context(viewport=DESKTOP)
    other = replay.new_page()
    other.goto(ana_link)
    expect(other.get_by_role("heading", name="This link can’t sign you in")).to_be_visible()
    expect(other.locator("#reason")).to_contain_text("already used")
    assert "bp_session" not in {c["name"] for c in replay.cookies()}
    other.screenshot(path=screenshots_dir / "portal-link-replayed-desktop.png", full_page=True)
    other.goto(ana_link.rsplit("/", 1)[0] + "/" + ana_link.rsplit("/", 1)[1][:-2] + "xx")  # a forged token
    expect(other.locator("#reason")).to_contain_text("not valid")
    other.goto(_url + "/billing")
    expect(other).to_have_url(re.compile(r"/login\?"))

    # Bob's link signs in Bob in his browser, and never Ana; Ana's browser stays Ana's.
    bob = browser.new_context(viewport=DESKTOP)
    bob_page = bob.new_page()
    bob_page.goto(portal_link(api, bob_ref, back_to, flow="payment_method"))
    expect(bob_page).to_have_url(re.compile(r"/billing/payment-methods/?$"))
    expect(bob_page.locator("#nav-user-email")).to_have_text(bob_email)
    page.reload()
    expect(page.locator("#nav-user-email")).to_have_text(ana_email)

    back.click()
    expect(page).to_have_url(back_to)
    expect(page.get_by_role("heading", name="Acme app: your projects")).to_be_visible()
    for context in (ana, replay, bob):
        context.close()


def test_a_checkout_link_opens_the_card_form_for_that_price_signed_in(browser: Browser, portal, seller_app,
                                                                     screenshots_dir):
    api, _url = portal
    ref, email = customer(api, "Chidi")
    prices = api.get("/api/v1/prices", params={"limit": 100}).json()["data"]
    starter = next(p for p in prices if p["currency"] == "USD" and p["interval"] == "month" and p["unit_amount"] > 0)
    made = api.post("/api/v1/checkout_sessions", json={"customer": ref, "price": starter["id"],
                                                      "return_url": f"{seller_app}/upgrade"})
    assert made.status_code == 201, made.text
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(made.json()["url"])
    expect(page).to_have_url(re.compile(rf"/checkout/?\?price={starter['id']}$"))
    expect(page.locator("#nav-user-email")).to_have_text(email)
    expect(page.get_by_placeholder("number")).to_be_visible()
    expect(page.locator("#pay-button")).to_be_enabled()
    page.screenshot(path=screenshots_dir / "portal-link-checkout-desktop.png", full_page=True)
    context.close()


def test_on_a_phone_the_back_link_keeps_the_nav_on_the_screen(browser: Browser, portal, seller_app, screenshots_dir):
    api, _url = portal
    ref, _email = customer(api, "Dana")
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(portal_link(api, ref, f"{seller_app}/home"))
    expect(page).to_have_url(re.compile(r"/billing/?$"))
    expect(page.get_by_role("link", name="Back to 127.0.0.1")).to_be_visible()
    expect(page.locator("#nav-back").get_by_text("Back", exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=screenshots_dir / "portal-link-overview-phone.png", full_page=True)
    context.close()
