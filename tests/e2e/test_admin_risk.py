"""The fraud guard in a real browser: as the demo admin, a flagged checkout charge shows on
/admin/risk with its signals, the admin clears the flag, and the audit log has it; as a customer,
a blocked checkout says so and charges nothing. Desktop and phone (390 px) screenshots.

The customer's side is built through the engine's services against the running app's database and
localstripe (as in test_admin_ops.py): a US customer pays with a card localstripe issues in France,
with FRAUD_FLAG_SCORE lowered in this process so the country mismatch alone flags it; the charge is
a real PaymentIntent at the stand-in.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect
from sqlmodel import Session, select

from billing_portal.db import engine_for
from billing_portal.demo import DEMO_ADMIN
from billing_portal.models import Customer, Payment, RiskAssessment, User
from billing_portal.settings import get_settings
from tests.e2e.people import DESKTOP, PHONE, patient_expectations  # noqa: F401 (a fixture)
from tests.e2e import test_checkout as checkout_steps
from tests.e2e.test_admin_ops import pay_for_starter, shoot, sign_in
from tests.gateways.conftest import LocalStripeHelper

CUSTOMER_EMAIL = "risk-e2e@example.com"
pytestmark = pytest.mark.usefixtures("patient_expectations")


@pytest.fixture(scope="module")
def flagged(app_server, localstripe_url, app_database_url) -> int:
    """A flagged, succeeded USD 12.00 Starter charge of a US customer with a French card."""
    patch = pytest.MonkeyPatch()
    patch.setenv("STRIPE_API_BASE", localstripe_url)
    patch.setenv("FRAUD_FLAG_SCORE", "20")
    get_settings.cache_clear()
    try:
        with Session(engine_for(app_database_url), expire_on_commit=False) as session:
            customer = pay_for_starter(session, localstripe_url, CUSTOMER_EMAIL, "Risk Tester", "Riskless LLC",
                                       country="US", client_ip="203.0.113.77")
            risk = session.exec(select(RiskAssessment).where(RiskAssessment.customer_id == customer.id)).one()
            assert risk.decision == "flag" and risk.payment_id
            return risk.id
    finally:
        patch.undo()
        get_settings.cache_clear()


def test_the_admin_sees_a_flagged_payment_and_clears_it(browser: Browser, app_url, flagged, screenshots_dir):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.goto("/login?next=/admin/risk")
    sign_in(page, *DEMO_ADMIN)
    expect(page).to_have_url(re.compile(r"/admin/risk$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Risk")
    row = page.locator(f".risk-row[data-assessment='{flagged}']")
    expect(row).to_have_attribute("data-decision", "flag")
    expect(row).to_contain_text("Riskless LLC")
    expect(row).to_contain_text("$12.00")
    expect(row).to_contain_text("Card issued in FR, billing country US")
    expect(row).to_contain_text("203.0.113.77")
    expect(row).to_contain_text("succeeded")
    expect(row).to_contain_text(re.compile(r"INV-\d{4}-\d{6}"))
    shoot(page, screenshots_dir, "risk-flagged-desktop")

    row.locator(".clear-flag").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Clear flag")
    expect(dialog).to_contain_text("Riskless LLC")
    dialog.get_by_label("Note (optional)").fill("Customer is based in France, invoices to the US office")
    shoot(page, screenshots_dir, "risk-clear-dialog-desktop")
    dialog.get_by_role("button", name="Clear flag").click()
    expect(page.get_by_role("status").filter(has_text=f"Flag {flagged} cleared.")).to_be_visible()
    expect(row).to_have_count(0)

    page.get_by_role("radio", name="Cleared").click()
    expect(row).to_contain_text("Customer is based in France")
    page.get_by_role("link", name="Audit").click()
    expect(page.locator("#audit-table")).to_contain_text("risk.flag_cleared")

    # The phone: the page fits, the table scrolls inside its own box.
    phone = browser.new_context(viewport=PHONE, base_url=app_url, storage_state=context.storage_state())
    small = phone.new_page()
    small.goto("/admin/risk")
    small.get_by_role("radio", name="Cleared").click()
    expect(small.locator(f".risk-row[data-assessment='{flagged}']")).to_be_visible()
    assert small.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(small, screenshots_dir, "risk-cleared-phone")
    phone.close()
    context.close()


def test_a_blocked_customer_reads_why_and_nothing_is_charged(browser: Browser, app_server, app_database_url,
                                                             localstripe_url, screenshots_dir):
    """The app blocks at 20 points: a US customer's card from France (localstripe's) is enough. The
    assessment holds the browser's address as the server saw it, and Stripe got no PaymentIntent."""
    url = app_server.ensure({"FRAUD_FLAG_SCORE": "20", "FRAUD_BLOCK_SCORE": "20"})
    context = browser.new_context(viewport=DESKTOP, base_url=url)
    page = context.new_page()
    email = checkout_steps.sign_up(page, "Blocked Tester")
    with Session(engine_for(app_database_url), expire_on_commit=False) as session:
        customer = session.exec(select(Customer).join(User, User.id == Customer.user_id).where(
            User.email == email)).one()
        customer.country = "US"
        session.add(customer)
        session.commit()
    checkout_steps.choose_starter_in_krw(page)
    checkout_steps.card_form_ready(page)
    checkout_steps.type_card(page, checkout_steps.GOOD_CARD)
    checkout_steps.pay_button(page).click()
    expect(page.locator("#pay-error-message")).to_contain_text("We could not accept this payment.",
                                                               timeout=checkout_steps.PAY_TIMEOUT)
    expect(page.locator("#pay-error")).to_contain_text("Nothing was charged.")
    expect(page).to_have_url(re.compile(r"/checkout\?price=\d+"))
    checkout_steps.shoot(page, screenshots_dir, "checkout-blocked")
    context.close()

    with Session(engine_for(app_database_url), expire_on_commit=False) as session:
        [risk] = session.exec(select(RiskAssessment).where(RiskAssessment.customer_id == customer.id)).all()
        assert (risk.decision, risk.client_ip, risk.payment_id) == ("block", "127.0.0.1", None)
        assert session.exec(select(Payment).where(Payment.customer_id == customer.id)).all() == []
        stripe_customer = session.get(Customer, customer.id).stripe_customer_id
    intents = LocalStripeHelper(localstripe_url).get("/v1/payment_intents?limit=100")["data"]
    assert [pi for pi in intents if pi["customer"] == stripe_customer] == []
