"""Every admin page as the demo admin at a phone's width (390 px) and a desktop's: nothing makes the
page scroll sideways (tables become stacked cards on the phone), the section nav and each page's
buttons stay in reach. A screenshot of each page at each width lands in tests/e2e/screenshots/.

The lists get a row each from one new customer (built as in test_admin_ops.py): a Starter charge
the fraud guard flags (a French card, a US billing country, FRAUD_FLAG_SCORE lowered in this
process), a refund request on it, and its Stripe event delivered to the app.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from billing_portal.demo import DEMO_ADMIN
from tests.e2e.people import DESKTOP, PHONE, patient_expectations  # noqa: F401 (a fixture)
from tests.e2e.test_admin_dashboard import wait_for_rollups
from tests.e2e.test_admin_ops import refund_request_with_event, shoot, sign_in

CUSTOMER_EMAIL = "phone-e2e@example.com"
pytestmark = pytest.mark.usefixtures("patient_expectations")


@pytest.fixture(scope="module")
def listed(app_server, localstripe_url, app_database_url) -> dict:
    return refund_request_with_event(app_server, localstripe_url, app_database_url, CUSTOMER_EMAIL, "Phone Tester",
                                     "Small Screens Ltd", settings={"FRAUD_FLAG_SCORE": "20"}, country="US",
                                     client_ip="203.0.113.90")


def fits(page: Page, name: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, (name, overflow)


def visit(page: Page, path: str, heading: str, screenshots_dir, name: str) -> None:
    """Open a page by its tab in the admin nav (as a person would), then check it fits and shoot it."""
    page.get_by_role("navigation", name="Admin sections").get_by_role("link", name=heading, exact=True).click()
    expect(page).to_have_url(re.compile(rf"{path}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    fits(page, name)
    shoot(page, screenshots_dir, name)


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_every_admin_page_fits_the_screen(browser: Browser, app_url, listed, screenshots_dir, width):
    viewport = PHONE if width == "phone" else DESKTOP
    context = browser.new_context(viewport=viewport, base_url=app_url, is_mobile=width == "phone",
                                  has_touch=width == "phone")
    page = context.new_page()
    page.goto("/login?next=/admin")
    sign_in(page, *DEMO_ADMIN)
    wait_for_rollups(page)
    fits(page, "dashboard")
    shoot(page, screenshots_dir, f"dashboard-{width}")

    visit(page, "/admin/alerts", "Alerts", screenshots_dir, f"alerts-{width}")
    expect(page.locator("#alerts-table .alert-row").first).to_be_visible()

    visit(page, "/admin/customers", "Customers", screenshots_dir, f"customers-{width}")
    page.get_by_label("Search customers").fill("phone-e2e")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#customers-total")).to_contain_text("1 customer")
    # "11 customers" contains "1 customer" too: wait for the one row the search leaves.
    expect(page.locator(".open-customer")).to_have_count(1)
    page.locator(".open-customer").click()
    expect(page.locator("#customer-name")).to_have_text("Phone Tester")
    expect(page.get_by_role("button", name="Grant credits")).to_be_visible()
    fits(page, "customer detail")
    shoot(page, screenshots_dir, f"customer-detail-{width}")

    visit(page, "/admin/refunds", "Refunds", screenshots_dir, f"refunds-{width}")
    row = page.locator(f".refund-request-row[data-request='{listed['request_id']}']")
    expect(row).to_contain_text("Small Screens Ltd")
    row.locator(".approve-request").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Refund")).to_be_in_viewport()
    fits(page, "refund dialog")
    shoot(page, screenshots_dir, f"refunds-dialog-{width}")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)

    visit(page, "/admin/reconciliation", "Reconciliation", screenshots_dir, f"reconciliation-{width}")
    page.get_by_role("button", name="Reconcile").click()
    expect(page.locator("#reconciliation-summary")).to_be_visible(timeout=20_000)
    fits(page, "reconciliation run")
    shoot(page, screenshots_dir, f"reconciliation-run-{width}")

    visit(page, "/admin/webhooks", "Webhooks", screenshots_dir, f"webhooks-{width}")
    expect(page.locator(f".webhook-row[data-event='{listed['event_id']}'] .replay-event")).to_be_visible()

    visit(page, "/admin/catalog", "Catalog", screenshots_dir, f"catalog-{width}")
    expect(page.locator("#create-price")).to_be_visible()

    visit(page, "/admin/audit", "Audit", screenshots_dir, f"audit-{width}")
    expect(page.get_by_role("button", name="Export CSV")).to_be_visible()

    visit(page, "/admin/risk", "Risk", screenshots_dir, f"risk-{width}")
    expect(page.locator(".risk-row").filter(has_text="Small Screens Ltd").locator(".clear-flag")).to_be_visible()
    context.close()
