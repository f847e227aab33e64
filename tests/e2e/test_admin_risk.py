"""The fraud guard in a real browser, as the demo admin: a flagged checkout charge shows on
/admin/risk with its signals, the admin clears the flag, and the audit log has it. Desktop and
phone (390 px) screenshots.

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
from billing_portal.models import RiskAssessment
from billing_portal.settings import get_settings
from tests.e2e.people import DESKTOP, PHONE, patient_expectations  # noqa: F401 (a fixture)
from tests.e2e.test_admin_ops import pay_for_starter, shoot, sign_in

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
    shoot(page, screenshots_dir, "risk-desktop")

    row.locator(".clear-flag").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Clear flag")
    expect(dialog).to_contain_text("Riskless LLC")
    dialog.get_by_label("Note (optional)").fill("Customer is based in France, invoices to the US office")
    shoot(page, screenshots_dir, "risk-dialog-desktop")
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
    shoot(small, screenshots_dir, "risk-phone")
    phone.close()
    context.close()
