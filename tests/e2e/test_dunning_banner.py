"""A customer whose renewal charge failed sees why, when we retry, and how to fix it, on /billing.

The failed renewal is set up in the app's database through the engine (a customer with no saved
card: the dunning attempt fails with its clear reason); the rest is what the person sees and clicks.
"""

import re
from datetime import timedelta

from playwright.sync_api import Browser, expect
from sqlmodel import Session, select

from billing_portal.billing import accounts, dunning, payments, portal, repository, subscriptions
from billing_portal.db import engine_for
from billing_portal.models import Customer, Price, Role
from billing_portal.models.types import utcnow
from tests.e2e.test_billing_pages import DESKTOP, PHONE, sign_in

EMAIL, PASSWORD = "late@example.com", "late-payer-password-1"


def past_due_customer(database_url: str) -> tuple[str, str]:
    """(invoice number, next retry day) of a fresh customer whose renewal charge failed today."""
    now = utcnow()
    with Session(engine_for(database_url), expire_on_commit=False) as session:
        user = accounts.create_user(session, email=EMAIL, password=PASSWORD, name="Lee Late", role=Role.CUSTOMER)
        customer = session.exec(select(Customer).where(Customer.user_id == user.id)).one()
        starter = repository.plan_by_slug(session, "starter")
        price = session.exec(select(Price).where(Price.plan_id == starter.id, Price.currency == "USD",
                                                 Price.interval == "month", Price.interval_count == 1)).one()
        started = subscriptions.subscribe(session, customer_id=customer.id, price_id=price.id,
                                          now=now - timedelta(days=40))
        payments.record_payment(session, invoice_id=started.invoice.id, idempotency_key=f"e2e:first:{customer.id}",
                                succeeded=True, now=now - timedelta(days=40))
        invoice = subscriptions.renew(session, started.subscription.id, now=now)
        attempt = dunning.collect(session, invoice.id, now)
        session.commit()
    return invoice.number, portal.format_day(attempt.next_attempt_at)


def test_past_due_banner_explains_the_failure_and_links_to_fixes(browser: Browser, app_url, app_database_url,
                                                                 screenshots_dir):
    number, retry_day = past_due_customer(app_database_url)
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport, base_url=app_url)
        page = context.new_page()
        page.goto("/login?next=/billing")
        sign_in(page, EMAIL, PASSWORD)
        banner = page.locator(".billing-banner[data-kind=past_due]")
        expect(banner).to_contain_text("Your payment failed")
        expect(banner).to_contain_text(f"We could not collect $12.00 for invoice {number}.")
        expect(banner).to_contain_text(dunning.NO_CARD_MESSAGE)
        expect(banner).to_contain_text(f"We will try again on {retry_day}")
        expect(page.locator("#subscription-status")).to_have_text("Past due")
        update = banner.get_by_role("link", name="Update card")
        expect(update).to_have_attribute("href", "/billing/payment-methods")
        expect(banner.get_by_role("link", name="Pay now")).to_have_attribute(
            "href", re.compile(r"^/checkout\?invoice=\d+$"))
        page.screenshot(path=screenshots_dir / f"billing-past-due-{name}.png", full_page=True)
        context.close()
