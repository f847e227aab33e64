"""The revenue dashboard and alerts as the demo admin in a real browser, and the denial a customer
gets. The demo customer pays ₩15,000 a month (no tax in the e2e app), so the dashboard's KRW MRR is
₩15,000; the demo's declined-then-retried renewal raised a failure and a success-rate alert.
Screenshots at desktop and phone widths land in tests/e2e/screenshots/.
"""

import re
import time

from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session

from billing_portal.billing import invoices, payments
from billing_portal.db import engine_for
from tests.e2e.test_billing_pages import ADMIN, DEMO, DESKTOP, PHONE, sign_in
from tests.support.builders import make_customer


def metric(page: Page, currency: str, key: str):
    return page.locator(f".currency-figures[data-currency={currency}] .metric[data-metric={key}] .metric-value")


def wait_for_rollups(page: Page) -> None:
    """The app's first revenue-rollups run comes after its other start-up jobs (invoice PDFs):
    open the dashboard again until the demo's figures are there, as an admin would."""
    settled = page.locator(".currency-figures, #dashboard-empty").first
    expect(page).to_have_url(re.compile(r"/admin/?$"), timeout=30_000)
    deadline = time.monotonic() + 120
    while True:
        settled.wait_for(timeout=60_000)
        if metric(page, "KRW", "mrr").is_visible():
            return
        assert time.monotonic() < deadline, "the revenue-rollups job never filled the dashboard"
        page.wait_for_timeout(3000)
        page.goto("/admin")


def expect_charts_drawn(page: Page) -> None:
    for chart in ("chart-mrr", "chart-movements", "chart-plans", "chart-currencies"):
        expect(page.locator(f"#{chart} .js-plotly-plot .main-svg").first).to_be_visible(timeout=20_000)


def test_admin_dashboard_shows_the_demo_mrr_and_charts(browser: Browser, app_url, screenshots_dir):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/login\?next=/admin$"), timeout=30_000)
    sign_in(page, *ADMIN)
    expect(page).to_have_url(re.compile(r"/admin/?$"))
    wait_for_rollups(page)

    expect(metric(page, "KRW", "mrr")).to_have_text("₩15,000")
    expect(metric(page, "KRW", "arr")).to_have_text("₩180,000")
    expect(metric(page, "KRW", "subscribers")).to_have_text("1")
    expect(metric(page, "KRW", "arpu")).to_have_text("₩15,000")
    expect(metric(page, "KRW", "revenue")).to_contain_text("₩")
    expect(page.locator("#alert-banner")).to_contain_text("open alert")
    expect_charts_drawn(page)
    expect(page.locator("#chart-mrr")).to_contain_text("MRR and ARR (KRW")
    # The demo's subscriber started before these 12 months and never changed: words, not empty bars.
    expect(page.locator("#chart-movements")).to_contain_text("No KRW MRR moved in this range.")
    expect(page.locator("#chart-plans")).to_contain_text("Starter")
    page.screenshot(path=screenshots_dir / "admin-dashboard-desktop.png", full_page=True)

    # A narrower range: the last 30 days hold one renewal.
    page.get_by_role("button", name="Last 30 days").click()
    expect(page.locator("#range-start")).not_to_have_value(page.locator("#range-start").input_value())
    expect(metric(page, "KRW", "mrr")).to_have_text("₩15,000")
    expect(metric(page, "KRW", "success_rate")).to_have_text(re.compile(r"^100\.00 %$"))

    # Typing a range and applying it.
    page.locator("#range-start").fill("2020-01-01")
    page.locator("#range-end").fill("2020-01-31")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#dashboard-empty")).to_contain_text("No revenue in this range yet")
    context.close()


def test_the_alert_banner_counts_in_words(browser: Browser, app_url, screenshots_dir):
    """"2 open alerts", by the locale's plural rules, never "alert(s)"."""
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.goto("/login?next=/admin")
    sign_in(page, *ADMIN)
    wait_for_rollups(page)
    expect_charts_drawn(page)
    expect(page.locator("#alert-banner")).to_contain_text(re.compile(r"\d+ open alerts?\. "))
    expect(page.locator("#alert-banner")).not_to_contain_text("(s)")
    context.close()


def won(text: str) -> int:
    return int(re.sub(r"[^0-9-]", "", text))


def test_a_payment_shows_on_the_dashboard_within_seconds(browser: Browser, app_url, app_database_url,
                                                         screenshots_dir):
    """The rollups job refreshes when a payment lands, not on a five-minute timer; the page says how
    old its figures are and refreshes them on a click."""
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.goto("/login?next=/admin")
    sign_in(page, *ADMIN)
    wait_for_rollups(page)
    expect(page.locator("#figures-as-of")).to_contain_text(re.compile(r"^Figures as of \d{2} \w{3} \d{4} \d{2}:\d{2} UTC$"))
    page.get_by_role("button", name="Last 30 days").click()
    expect(metric(page, "KRW", "success_rate")).to_have_text(re.compile(r"^100\.00 %$"))
    before = won(metric(page, "KRW", "revenue").inner_text())

    # A one-off ₩12,300 payment lands (recorded as the Stripe webhook would), for a customer of its own.
    with Session(engine_for(app_database_url)) as session:
        buyer = make_customer(session, "rollups-e2e@example.com", currency="KRW")
        invoice = invoices.create_draft(session, customer_id=buyer.id, currency="KRW",
                                        lines=[invoices.DraftLine("Setup fee", 12300)])
        invoices.finalize(session, invoice.id)
        payments.record_payment(session, invoice_id=invoice.id, idempotency_key="rollups-e2e", succeeded=True)
        session.commit()

    deadline = time.monotonic() + 30  # the job asks every 5 s
    while won(metric(page, "KRW", "revenue").inner_text()) != before + 12300:
        assert time.monotonic() < deadline, "the payment did not reach the dashboard within 30 s"
        page.wait_for_timeout(2000)
        page.get_by_role("button", name="Last 30 days").click()
        expect(metric(page, "KRW", "revenue")).to_be_visible()
    page.locator("#figures-refresh").click()
    expect(page.locator("#figures-as-of")).to_contain_text("Figures as of")
    expect(metric(page, "KRW", "revenue")).to_have_text(f"₩{before + 12300:,}")
    page.screenshot(path=screenshots_dir / "admin-dashboard-fresh-payment.png", full_page=True)
    context.close()


def test_admin_dashboard_on_a_phone(browser: Browser, app_url, screenshots_dir):
    context = browser.new_context(viewport=PHONE, base_url=app_url, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto("/login?next=/admin")
    sign_in(page, *ADMIN)
    wait_for_rollups(page)
    expect(metric(page, "KRW", "mrr")).to_have_text("₩15,000")
    expect_charts_drawn(page)
    # Nothing wider than the screen but the tab row, which scrolls on its own.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, overflow
    page.screenshot(path=screenshots_dir / "admin-dashboard-phone.png", full_page=True)
    page.goto("/admin/alerts")
    expect(page.locator("#alerts-table .alert-row").first).to_contain_text("KRW")  # rows as cards
    expect(page.locator("#alerts-table .acknowledge-alert").first).to_be_in_viewport()
    page.screenshot(path=screenshots_dir / "admin-alerts-phone.png", full_page=True)
    context.close()


def test_admin_acknowledges_an_alert(browser: Browser, app_url, screenshots_dir):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.goto("/login?next=/admin")
    sign_in(page, *ADMIN)
    wait_for_rollups(page)
    expect_charts_drawn(page)  # the page has settled: the click lands on the link
    page.locator("#alerts-link").click()
    expect(page).to_have_url(re.compile(r"/admin/alerts$"), timeout=15_000)
    rows = page.locator("#alerts-table .alert-row")
    expect(rows.first).to_be_visible()
    before = rows.count()
    assert before >= 1
    expect(rows.first).to_contain_text("KRW")
    page.screenshot(path=screenshots_dir / "admin-alerts-desktop.png", full_page=True)
    rows.first.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status").filter(has_text="Acknowledged")).to_be_visible()
    expect(rows).to_have_count(before - 1)
    page.get_by_role("radio", name="All").click()
    expect(page.locator("#alerts-table")).to_contain_text("Acknowledged")
    context.close()


def test_a_customer_gets_the_denial(browser: Browser, app_url, screenshots_dir):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.goto("/login?next=/admin")
    sign_in(page, *DEMO)
    expect(page.locator("#admin-denied")).to_contain_text("Admins only", timeout=20_000)
    expect(page.locator(".currency-figures")).to_have_count(0)
    page.screenshot(path=screenshots_dir / "admin-dashboard-denied-desktop.png", full_page=True)
    page.goto("/admin/alerts")
    expect(page.locator("#admin-denied")).to_be_visible()
    expect(page.locator("#alerts-table")).to_have_count(0)
    context.close()
