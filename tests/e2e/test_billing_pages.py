"""The demo customer's billing pages in a real browser: overview, history (badges, filters, pages,
CSV), plan change after reading the preview, cancel at period end and resume, pause and unpause.
Screenshots at desktop and phone widths land in tests/e2e/screenshots/.

The journey test changes the demo customer's plan (Starter -> Pro) in the shared e2e database, so
the read-only checks that expect Starter run inside it, before the change.
"""

import csv
import io
import re

from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_checkout import GOOD_CARD, type_card

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
DEMO = ("demo@example.com", "demo-password-123")
ADMIN = ("admin@example.com", "admin-password-123")


def sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def rows(page: Page, kind: str | None = None):
    selector = "#history-table .history-row" + (f"[data-kind={kind}]" if kind else "")
    return page.locator(selector)


def badge(row) -> object:
    return row.locator(".status-badge")


def pick(page: Page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_billing_pages_need_a_sign_in_and_come_back_after_it(browser: Browser, app_url):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    for path in ("/billing/history", "/billing/plan", "/billing"):
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/login\?next=" + re.escape(path) + "$"))
    sign_in(page, *DEMO)
    expect(page).to_have_url(re.compile(r"/billing/?$"))
    expect(page.locator("#plan-name")).to_be_visible()
    context.close()


def test_an_account_without_a_plan_sees_empty_states(browser: Browser, app_url, screenshots_dir):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.goto("/login?next=/billing")
    sign_in(page, *ADMIN)
    expect(page.locator("#no-subscription")).to_contain_text("No plan yet")
    expect(page.get_by_role("link", name="See plans and pricing")).to_have_attribute("href", "/pricing")
    page.goto("/billing/history")
    expect(page.locator("#history-empty")).to_contain_text("No invoices yet")
    expect(page.get_by_role("button", name="Export CSV")).to_be_disabled()
    page.screenshot(path=screenshots_dir / "billing-history-empty-desktop.png", full_page=True)
    page.goto("/billing/plan")
    expect(page.locator("#no-subscription")).to_be_visible()
    context.close()


def test_demo_customer_journey(browser: Browser, app_url, screenshots_dir):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url, accept_downloads=True)
    page = context.new_page()
    page.goto("/login?next=/billing")
    sign_in(page, *DEMO)

    # --- overview -------------------------------------------------------------------------------
    expect(page.locator("#plan-name")).to_have_text("Starter")
    expect(page.locator("#subscription-status")).to_have_text("Active")
    expect(page.locator("#next-renewal-amount")).to_contain_text("₩")
    expect(page.locator("#next-renewal-date")).to_have_text(re.compile(r"^\d{1,2} [A-Z][a-z]+ \d{4}$"))
    expect(page.locator("#usage")).to_contain_text("10 GB")
    page.screenshot(path=screenshots_dir / "billing-overview-desktop.png", full_page=True)

    # --- history: badges, pages, filter, CSV ----------------------------------------------------
    page.get_by_role("navigation", name="Billing sections").get_by_role("link", name="History").click()
    expect(page).to_have_url(re.compile(r"/billing/history/?$"))
    expect(rows(page).first).to_be_visible()
    expect(page.locator("#history-summary")).to_contain_text("page 1 of 2")
    paid_invoice = rows(page, "invoice").filter(has_text="Paid").first
    expect(badge(paid_invoice)).to_have_attribute("data-accent-color", "green")
    refund = rows(page, "refund").first
    expect(refund).to_contain_text("-₩5,000")
    expect(badge(refund)).to_have_text("Refunded")
    expect(badge(refund)).to_have_attribute("data-accent-color", "gray")
    page.screenshot(path=screenshots_dir / "billing-history-desktop.png", full_page=True)

    failed = rows(page, "payment").filter(has_text="declined")
    expect(failed).to_have_count(1)
    expect(badge(failed)).to_have_text("Failed")
    expect(badge(failed)).to_have_attribute("data-accent-color", "red")

    page.get_by_role("button", name="Next").click()
    expect(page.locator("#history-page")).to_have_text("Page 2 of 2")
    expect(rows(page)).to_have_count(6)
    expect(rows(page, "invoice").last).to_contain_text("First period of your subscription")
    page.get_by_role("button", name="Previous").click()
    expect(page.locator("#history-page")).to_have_text("Page 1 of 2")

    pick(page, "Status", "Failed")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Your card was declined.")
    expect(page.locator("#history-summary")).to_have_text("1 entry · page 1 of 1")

    with page.expect_download() as info:
        page.get_by_role("button", name="Export CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("billing-history-") and download.suggested_filename.endswith(".csv")
    exported = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert exported[0] == ["date", "type", "reference", "description", "status", "amount", "currency"]
    assert len(exported) == 2 and exported[1][1] == "payment" and exported[1][4] == "failed"
    assert exported[1][5] == "15000" and exported[1][6] == "KRW"

    pick(page, "Status", "All statuses")
    pick(page, "Type", "Refunds")
    expect(rows(page)).to_have_count(1)
    page.get_by_role("button", name="Clear filters").first.click()
    expect(page.locator("#history-summary")).to_contain_text("page 1 of 2")

    # --- plan: preview, confirm -----------------------------------------------------------------
    page.goto("/billing/plan")
    expect(page.locator("#current-plan")).to_have_text("Starter")
    expect(page.get_by_role("radio", name="Monthly")).to_be_checked()
    page.screenshot(path=screenshots_dir / "billing-plan-desktop.png", full_page=True)
    page.locator("#plan-options").get_by_role("radio", name=re.compile(r"^Pro")).click()
    sentence = page.locator("#preview-sentence")
    expect(sentence).to_contain_text(re.compile(r"^You pay ₩[\d,]+ now, then ₩39,000 every month from \d{1,2} \w+ \d{4}\.$"))
    page.screenshot(path=screenshots_dir / "billing-plan-preview-desktop.png", full_page=True)
    page.locator("#confirm-change").click()
    # The demo customer has no saved card: the upgrade applies, its charge fails at once and the
    # page says why and when it is tried again (the renewals' dunning).
    failed = page.get_by_role("alert").filter(has_text="Your plan is now Pro, but the charge of ₩")
    expect(failed).to_contain_text("No card is saved for automatic payments.")
    expect(failed).to_contain_text(re.compile(r"We try again on \d{1,2} \w+ \d{4}; update your card"))
    expect(page.locator("#current-plan")).to_have_text("Pro")
    expect(page.locator("#preview-sentence")).to_have_count(0)
    page.screenshot(path=screenshots_dir / "billing-plan-upgrade-failed-desktop.png", full_page=True)

    page.goto("/billing/history")
    pick(page, "Status", "Open or pending")
    open_row = rows(page, "invoice").first
    expect(open_row).to_contain_text("Plan change (prorated)")
    expect(badge(open_row)).to_have_text("Open")
    expect(badge(open_row)).to_have_attribute("data-accent-color", "amber")

    page.goto("/billing")
    expect(page.locator("#plan-name")).to_have_text("Pro")
    past_due = page.locator(".billing-banner[data-kind=past_due]")
    expect(past_due).to_contain_text("No card is saved for automatic payments.")
    expect(past_due).to_contain_text(re.compile(r"We will try again on \d{1,2} \w+ \d{4}"))

    # A card saved now pays it at once (the retry does not wait for its date).
    page.goto("/billing/payment-methods")
    page.get_by_role("button", name="Add card").click()
    expect(page.get_by_placeholder("number")).to_be_visible()
    type_card(page, GOOD_CARD)
    page.locator("#save-card").click()
    expect(page.get_by_role("status").filter(has_text="•••• 4242 is saved")).to_be_visible(timeout=30_000)
    page.goto("/billing")
    expect(page.locator(".billing-banner[data-kind=past_due]")).to_have_count(0)
    expect(page.locator("#subscription-status")).to_have_text("Active")

    # --- cancel at period end, then resume ------------------------------------------------------
    page.goto("/billing/plan")
    expect(page.get_by_label("At the end of the period", exact=False)).to_be_checked()
    page.get_by_label("Why are you leaving?").fill("Trying another tool for a quarter")
    page.get_by_role("button", name="Cancel subscription").click()
    expect(page.locator("#ends-banner")).to_contain_text(re.compile(r"Your plan ends on \d{1,2} \w+ \d{4}\."))
    page.goto("/billing")
    ends = page.locator(".billing-banner[data-kind=cancel_scheduled]")
    expect(ends).to_contain_text(re.compile(r"Your plan ends on \d{1,2} \w+ \d{4}"))
    page.screenshot(path=screenshots_dir / "billing-overview-ending-desktop.png", full_page=True)
    ends.get_by_role("button", name="Resume plan").click()
    expect(page.locator(".billing-banner[data-kind=cancel_scheduled]")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="Your plan continues")).to_be_visible()

    # --- pause, then unpause --------------------------------------------------------------------
    page.goto("/billing/plan")
    page.get_by_role("button", name="Pause subscription").click()
    expect(page.locator("#subscription-status")).to_have_text("Paused")
    expect(page.locator("#plan-period-note")).to_have_text("Paused until you unpause it.")
    # Paused: only "right away" can be offered for a cancellation.
    expect(page.get_by_label("At the end of the period", exact=False)).to_have_count(0)
    expect(page.get_by_label("Right away", exact=False)).to_be_checked()
    page.screenshot(path=screenshots_dir / "billing-plan-paused-desktop.png", full_page=True)
    page.goto("/billing")
    expect(page.locator(".billing-banner[data-kind=paused]")).to_be_visible()
    page.goto("/billing/plan")
    page.get_by_role("button", name="Unpause subscription").click()
    expect(page.locator("#subscription-status")).to_have_text("Active")
    expect(page.get_by_role("button", name="Pause subscription")).to_be_visible()
    context.close()


def test_a_wrong_step_shows_the_engine_message(browser: Browser, app_url):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.goto("/login?next=/billing/plan")
    sign_in(page, *DEMO)
    current = page.locator("#current-plan").inner_text()
    page.locator("#plan-options").get_by_role("radio", name=re.compile("^" + current)).click()
    expect(page.get_by_role("alert")).to_have_text("That is your current plan and quantity already.")
    context.close()


def test_phone_width_screenshots(browser: Browser, app_url, screenshots_dir):
    context = browser.new_context(viewport=PHONE, base_url=app_url, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto("/login?next=/billing")
    sign_in(page, *DEMO)
    expect(page.locator("#plan-name")).to_be_visible()
    page.screenshot(path=screenshots_dir / "billing-overview-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.get_by_role("navigation", name="Billing sections").get_by_role("link", name="History").click()
    expect(page.locator("#history-cards .history-card").first).to_be_visible()
    expect(page.locator("#history-table")).to_be_hidden()
    # Invoice numbers never wrap mid-number: each one is a single line box.
    for reference in page.locator("#history-cards .history-reference").all()[:10]:
        box = reference.bounding_box()
        assert box is not None and box["height"] < 24, (reference.inner_text(), box)
    page.screenshot(path=screenshots_dir / "billing-history-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.get_by_role("navigation", name="Billing sections").get_by_role("link", name="Plan").click()
    expect(page.locator("#current-plan")).to_be_visible()
    page.locator("#plan-options").get_by_role("radio").first.click()
    expect(page.locator("#preview-sentence").or_(page.get_by_role("alert"))).to_be_visible()
    page.screenshot(path=screenshots_dir / "billing-plan-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()
