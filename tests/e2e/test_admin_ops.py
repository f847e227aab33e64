"""The admin console's operations in a real browser, as the demo admin: approve a customer's refund
request (part of it), see reconciliation come out clean, replay a webhook, find the trail in the
audit log; a customer is turned away. Desktop screenshots (every page at a phone's width: test_admin_phone.py).

The customer's side is built through the engine's services against the running app's database and
localstripe (the portal's refund request page is another slice): a checkout paid with a real
PaymentIntent at the stand-in, a refund request, and a Stripe event posted to the app's webhook
endpoint, signed with Stripe's scheme.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from billing_portal.billing import accounts, checkout, refund_requests
from billing_portal.billing.accounts import CurrentUser
from billing_portal.db import engine_for
from billing_portal.demo import DEMO_ADMIN, DEMO_CUSTOMER
from billing_portal.models import Customer, Payment, Plan, Price, Role
from billing_portal.settings import get_settings
from tests.billing.test_webhooks import event, payment_intent
from tests.gateways.conftest import LocalStripeHelper
from tests.support.stripe_signing import sign_payload

DESKTOP = {"width": 1280, "height": 900}
CUSTOMER_EMAIL = "refunds-e2e@example.com"
ADMIN_PAGES = ["refunds", "reconciliation", "webhooks", "customers", "catalog", "audit", "risk"]
APP_WEBHOOK_SECRET = "whsec_sandbox"  # the app's default STRIPE_WEBHOOK_SECRET (conftest sets none)


@pytest.fixture(scope="module")
def waiting_refund(app_server, localstripe_url, app_database_url) -> dict:
    """A customer who paid USD 12.00 at localstripe for Starter and asks for 5.00 back, plus the
    payment_intent.succeeded event Stripe sends for it, delivered to the app."""
    return refund_request_with_event(app_server, localstripe_url, app_database_url, CUSTOMER_EMAIL, "Refund Tester",
                                     "Tester GmbH")


def refund_request_with_event(app_server, localstripe_url: str, app_database_url: str, email: str, name: str,
                              company: str, *, settings: dict[str, str] | None = None, **pay) -> dict:
    """`pay_for_starter` (with extra app `settings` in this process), a refund request of 5.00 and
    the payment's payment_intent.succeeded event posted to the app: the request and event ids."""
    patch = pytest.MonkeyPatch()
    patch.setenv("STRIPE_API_BASE", localstripe_url)
    for key, value in (settings or {}).items():
        patch.setenv(key, value)
    get_settings.cache_clear()
    try:
        with Session(engine_for(app_database_url), expire_on_commit=False) as session:
            customer = pay_for_starter(session, localstripe_url, email, name, company, **pay)
            payment = session.exec(select(Payment).where(Payment.customer_id == customer.id)).one()
            request = refund_requests.request_refund(session, customer_id=customer.id, payment_id=payment.id,
                                                     amount=500, reason="Charged for a seat we removed")
            session.commit()
            stripe_event = event("payment_intent.succeeded", payment_intent(
                payment.stripe_payment_intent_id, "succeeded", amount=1200) | {
                "metadata": {"idempotency_key": payment.idempotency_key, "invoice_id": str(payment.invoice_id)}},
                created=int(time.time()))
            body = json.dumps(stripe_event).encode()
            answer = urllib.request.urlopen(urllib.request.Request(
                f"{app_server.ensure()}/api/webhooks/stripe", data=body, method="POST",
                headers={"Content-Type": "application/json",
                         "Stripe-Signature": sign_payload(body, APP_WEBHOOK_SECRET)}), timeout=10)
            assert answer.status == 200
            return {"request_id": request.id, "event_id": stripe_event["id"]}
    finally:
        patch.undo()
        get_settings.cache_clear()


def pay_for_starter(session, localstripe_url: str, email: str, name: str, company: str, *, country: str = "",
                    client_ip: str = "") -> Customer:
    """A new customer who paid USD 12.00 for Starter (monthly) with a good card at localstripe."""
    user = accounts.create_user(session, email=email, password="admin-e2e-password", name=name,
                                role=Role.CUSTOMER)
    customer = session.exec(select(Customer).where(Customer.user_id == user.id)).one()
    customer.company, customer.country, customer.preferred_currency = company, country, "USD"
    session.add(customer)
    session.commit()
    who = CurrentUser(user_id=user.id, email=email, role="customer", customer_id=customer.id, name=name,
                      currency="USD", locale="en_US")
    price = session.exec(select(Price).join(Plan, Plan.id == Price.plan_id).where(
        Plan.slug == "starter", Price.currency == "USD", Price.interval == "month",
        Price.interval_count == 1)).one()
    setup = checkout.begin_card_setup(session, user=who)
    LocalStripeHelper(localstripe_url).confirm_card_setup(setup.client_secret, "4242424242424242")
    outcome = checkout.pay(session, user=who, setup_intent_id=setup.setup_intent_id, price_id=price.id,
                           client_ip=client_ip)
    assert outcome.status == "succeeded", outcome
    session.commit()
    return customer


def sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def shoot(page: Page, screenshots_dir, name: str) -> None:
    page.wait_for_timeout(300)  # let the last render settle
    page.screenshot(path=screenshots_dir / f"admin-{name}.png", full_page=True)


def test_the_admin_approves_a_refund_reconciles_and_replays_a_webhook(browser: Browser, app_url, waiting_refund,
                                                                      screenshots_dir):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.goto("/login?next=/admin/refunds")
    sign_in(page, *DEMO_ADMIN)
    expect(page).to_have_url(re.compile(r"/admin/refunds$"))
    expect(page.locator("#nav-admin")).to_be_visible(timeout=20_000)  # the app's first page after start
    row = page.locator(f".refund-request-row[data-request='{waiting_refund['request_id']}']")
    expect(row).to_contain_text("Charged for a seat we removed")
    expect(row).to_contain_text("$5.00")
    shoot(page, screenshots_dir, "refunds-desktop")

    # Approve $3.00 of the $5.00 asked for.
    row.locator(".approve-request").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Approve refund")
    dialog.get_by_label("Amount to refund").fill("$3.00")
    dialog.get_by_label("Note (optional)").fill("Three dollars: the seat was used for a week")
    shoot(page, screenshots_dir, "refunds-dialog-desktop")
    dialog.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("status").filter(has_text="approved")).to_be_visible(timeout=15_000)
    expect(row).to_have_count(0)
    page.get_by_role("radio", name="Approved").click()
    expect(row).to_contain_text("approved")
    expect(row).to_contain_text("Three dollars")

    # Our books and Stripe agree, the refund included.
    page.get_by_role("link", name="Reconciliation").click()
    expect(page).to_have_url(re.compile(r"/admin/reconciliation$"))
    page.get_by_role("button", name="Reconcile").click()
    expect(page.locator("#reconciliation-clean")).to_be_visible(timeout=20_000)
    expect(page.locator("#reconciliation-summary")).to_contain_text("0 discrepancies")
    shoot(page, screenshots_dir, "reconciliation-desktop")

    # The webhook the app received (processed by the job), its payload, and a replay.
    page.get_by_role("link", name="Webhooks").click()
    hook = page.locator(f".webhook-row[data-event='{waiting_refund['event_id']}']")
    for _ in range(20):  # the job picks events up every few seconds
        if hook.get_attribute("data-status") == "processed":
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(hook).to_have_attribute("data-status", "processed")
    hook.locator(".show-payload").click()
    expect(page.locator("#payload")).to_contain_text("payment_intent.succeeded")
    shoot(page, screenshots_dir, "webhooks-payload-desktop")
    page.get_by_role("button", name="Close").click()
    hook.locator(".replay-event").click()
    expect(page.get_by_role("status").filter(has_text="replayed: processed")).to_be_visible(timeout=15_000)
    shoot(page, screenshots_dir, "webhooks-desktop")

    # The trail.
    page.get_by_role("link", name="Audit").click()
    table = page.locator("#audit-table")
    for action in ("webhook.replayed", "reconciliation.run", "refund_request.approved"):
        expect(table).to_contain_text(action)
    shoot(page, screenshots_dir, "audit-desktop")

    page.get_by_role("link", name="Customers").click()
    page.get_by_label("Search customers").fill("refunds-e2e")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#customers-total")).to_contain_text("1 customer")
    shoot(page, screenshots_dir, "customers-desktop")
    page.locator(".open-customer").click()
    expect(page.locator("#customer-name")).to_have_text("Refund Tester")
    expect(page.get_by_text("partially_refunded")).to_be_visible()
    shoot(page, screenshots_dir, "customer-detail-desktop")

    page.get_by_role("link", name="Catalog").click()
    expect(page.locator("#prices-table")).to_contain_text("in use")
    shoot(page, screenshots_dir, "catalog-desktop")
    context.close()


def test_a_customer_is_turned_away_from_every_admin_page(browser: Browser, app_url, screenshots_dir):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.goto("/login?next=/admin/refunds")
    sign_in(page, *DEMO_CUSTOMER)
    expect(page.locator("#admin-denied")).to_contain_text("Admins only")
    for name in ADMIN_PAGES:
        page.goto(f"/admin/{name}")
        expect(page.locator("#admin-denied")).to_contain_text("Admins only")
        expect(page.locator("table")).to_have_count(0)
    expect(page.locator("#nav-admin")).to_have_count(0)
    shoot(page, screenshots_dir, "denied-desktop")
    context.close()
