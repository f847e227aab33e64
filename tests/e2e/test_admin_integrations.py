"""The SaaS app's wiring, set up in a real browser as the demo admin: a seller API key created (its
token shown once: a reload does not show it again), used against /api/v1, then revoked (401 from
then on); a webhook endpoint pointing at a real receiver on loopback (which verifies every request
with the official standardwebhooks library), an event delivered by the app's job runner, seen in
the endpoint's delivery log with its response code, and redelivered with the same webhook-id.
Screenshots of both pages at a desktop's width and a phone's (390 px), which must not scroll sideways.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from billing_portal.demo import DEMO_ADMIN
from tests.e2e.people import DESKTOP, PHONE, patient_expectations  # noqa: F401 (a fixture)
from tests.e2e.test_admin_ops import shoot, sign_in
from tests.e2e.test_admin_phone import fits
from tests.support.webhook_receiver import Receiver

pytestmark = pytest.mark.usefixtures("patient_expectations")
LOOPBACK = {"OUTGOING_WEBHOOKS_ALLOW_PRIVATE": "true"}  # the receiver is on 127.0.0.1


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


def api(base: str, token: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base}{path}", method="POST" if body is not None else "GET",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                 **({"Idempotency-Key": uuid.uuid4().hex} if body is not None else {})})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def at_phone_width(page: Page, screenshots_dir, name: str) -> None:
    page.set_viewport_size(PHONE)
    fits(page, name)
    shoot(page, screenshots_dir, f"{name}-phone")
    page.set_viewport_size(DESKTOP)


def test_the_admin_wires_an_app_with_a_key_and_a_webhook_endpoint(browser: Browser, app_server, receiver,
                                                                   screenshots_dir):
    base = app_server.ensure(LOOPBACK)
    context = browser.new_context(viewport=DESKTOP, base_url=base)
    page = context.new_page()
    page.goto("/login?next=/admin/api-keys")
    sign_in(page, *DEMO_ADMIN)
    expect(page).to_have_url(re.compile(r"/admin/api-keys$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("API keys")

    # A write key, shown once.
    name = f"App server {uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill(name)
    page.locator("#key-scope").click()
    page.get_by_role("option", name="Write: every request").click()
    page.get_by_role("button", name="Create key").click()
    shown = page.locator("#new-token")
    expect(shown).to_have_value(re.compile(r"^bps_"))
    expect(page.locator("#new-token-once")).to_contain_text("it is not shown again")
    token = shown.input_value()
    row = page.locator(".api-key-row", has_text=name)
    expect(row).to_contain_text("write")
    expect(row).to_contain_text("never")
    assert token not in page.locator("#api-keys-table").inner_text()
    shoot(page, screenshots_dir, "api-keys-created-desktop")
    at_phone_width(page, screenshots_dir, "api-keys-created")
    page.reload()
    expect(page.locator(".api-key-row", has_text=name)).to_be_visible()
    expect(page.locator("#new-token")).to_have_count(0)
    assert token not in page.content()
    assert api(base, token, "/api/v1/customers?limit=1")[0] == 200

    # An endpoint for customer.created, at the receiver; its secret shown once.
    page.get_by_role("navigation", name="Admin sections").get_by_role("link", name="Endpoints", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhook endpoints")
    page.get_by_role("button", name="Add endpoint").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("URL").fill("ftp://example.com/hooks")
    dialog.get_by_role("button", name="Add endpoint").click()
    expect(dialog).to_contain_text("Choose the event types")
    dialog.get_by_label("customer.created").check()
    dialog.get_by_role("button", name="Add endpoint").click()
    expect(dialog).to_contain_text("http:// or https://")
    shoot(page, screenshots_dir, "webhook-endpoint-form-desktop")
    dialog.get_by_label("URL").fill(receiver.url)
    dialog.get_by_label("Description (optional)").fill("The example app")
    dialog.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#new-secret")).to_have_value(re.compile(r"^whsec_"))
    receiver.secret = page.locator("#new-secret").input_value()
    endpoint = page.locator(".endpoint-row", has_text=receiver.url)
    expect(endpoint).to_contain_text("customer.created")
    expect(endpoint).to_contain_text("enabled")

    # An event: the app's customer, created through the API; the job runner delivers it.
    email = f"wired-{uuid.uuid4().hex[:8]}@example.com"
    status, created = api(base, token, "/api/v1/customers", {"email": email, "name": "Wired User"})
    assert status in (200, 201), created
    [first] = receiver.wait_for(1, timeout=30)
    assert first.verified and first.event["type"] == "customer.created" and first.event["data"]["email"] == email
    event_id = first.headers["webhook-id"]
    endpoint.get_by_role("button", name="Delivery log").click()
    delivery = page.locator(f".delivery-row[data-event='{event_id}']")
    for _ in range(20):  # the answer is recorded just after the receiver got it
        if delivery.count() and delivery.get_attribute("data-status") == "succeeded":
            break
        page.locator("#refresh-log").click()
        page.wait_for_timeout(500)
    expect(delivery).to_have_attribute("data-status", "succeeded")
    expect(delivery.locator(".response-code")).to_have_text("204")
    shoot(page, screenshots_dir, "webhook-endpoints-log-desktop")
    at_phone_width(page, screenshots_dir, "webhook-endpoints-log")

    # Redelivered: the same event, the same webhook-id, verified again.
    delivery.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_role("status").filter(has_text="queued for redelivery")).to_be_visible()
    second = receiver.wait_for(2, timeout=30)[1]
    assert second.verified and second.headers["webhook-id"] == event_id
    page.locator("#refresh-log").click()
    expect(delivery).to_have_attribute("data-status", re.compile("succeeded|pending"))

    # Revoked: the key answers 401 from now on.
    page.get_by_role("navigation", name="Admin sections").get_by_role("link", name="API keys", exact=True).click()
    row = page.locator(".api-key-row", has_text=name)
    expect(row).to_contain_text(re.compile(r"\d{2}:\d{2} UTC"))  # last used: no longer "never"
    row.get_by_role("button", name="Revoke…").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("stops working at once")
    shoot(page, screenshots_dir, "api-keys-revoke-desktop")
    confirm.get_by_role("button", name="Revoke key").click()
    expect(row).to_have_attribute("data-status", "revoked")
    expect(page.get_by_role("status").filter(has_text="revoked")).to_be_visible()
    assert api(base, token, "/api/v1/customers?limit=1")[0] == 401
    shoot(page, screenshots_dir, "api-keys-desktop")
    at_phone_width(page, screenshots_dir, "api-keys")
    context.close()
