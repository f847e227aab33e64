"""The customer journey of the portal issue, as a person in a real browser:

sign up → subscribe to Starter in KRW with 4242 → /billing shows the plan → the history shows the
paid invoice → download its PDF (a real PDF carrying the invoice number) → change plan after
reading the preview → pay the prorated invoice from the history → request a refund of the Starter
payment → cancel at period end → resume; plus the credits page (buy a pack, see the balance and
the ledger) and the denial of other people's things (PDF link, receipt, invoice checkout).

The declined card and the 3-D Secure card are covered by tests/e2e/test_checkout.py (declined then
another card, 3DS at setup and at payment, failed 3DS): not repeated here.
Screenshots of every page at desktop and 390 px go to tests/e2e/screenshots/journey-*.
"""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from tests.e2e.test_checkout import (
    DESKTOP,
    GOOD_CARD,
    PAY_TIMEOUT,
    PHONE,
    card_form_ready,
    choose_starter_in_krw,
    expect_receipt,
    pay_button,
    sign_up,
    type_card,
)


@pytest.fixture(autouse=True)
def _patient_expectations():
    """A long journey on a shared, busy machine: wait up to 20 s for each expectation, then put
    Playwright's default back for the other modules."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=5_000)


def shoot(page: Page, screenshots_dir, name: str) -> None:
    """Full-page screenshots at desktop and phone widths; the phone page must not scroll sideways."""
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(200)
        page.screenshot(path=screenshots_dir / f"journey-{name}-{label}.png", full_page=True)
        if label == "phone":
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
    page.set_viewport_size(DESKTOP)


def rows(page: Page, kind: str):
    return page.locator(f"#history-table .history-row[data-kind={kind}]")


def test_customer_journey(browser: Browser, app_url, screenshots_dir):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # --- sign up, subscribe in KRW with 4242 ------------------------------------------------------
    sign_up(page, "Journey Kim")
    choose_starter_in_krw(page)
    card_form_ready(page)
    type_card(page, GOOD_CARD)
    pay_button(page).click()
    number = expect_receipt(page, "₩15,000")
    page.get_by_role("link", name="Go to billing").click()

    # --- /billing shows the plan ---------------------------------------------------------------
    expect(page.locator("#plan-name")).to_have_text("Starter")
    expect(page.locator("#subscription-status")).to_have_text("Active")
    shoot(page, screenshots_dir, "overview")

    # --- history: the paid invoice, its PDF ----------------------------------------------------
    page.get_by_role("navigation", name="Billing sections").get_by_role("link", name="History").click()
    invoice = rows(page, "invoice").filter(has_text=number)
    expect(invoice).to_have_count(1)
    expect(invoice.locator(".status-badge")).to_have_text("Paid")
    payment = rows(page, "payment").first
    expect(payment.locator(".status-badge")).to_have_text("Succeeded")
    shoot(page, screenshots_dir, "history")

    with page.expect_download() as info:
        invoice.get_by_role("link", name=f"Download invoice PDF {number}").click()
    download = info.value
    assert download.suggested_filename == f"{number}.pdf"
    data = open(download.path(), "rb").read()
    assert data.startswith(b"%PDF-")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert number in text and "15,000" in text
    expect(page).to_have_url(re.compile(r"/billing/history/?$"))  # the download left the page alone

    # --- change plan after reading the preview -------------------------------------------------
    page.get_by_role("navigation", name="Billing sections").get_by_role("link", name="Plan").click()
    expect(page.locator("#current-plan")).to_have_text("Starter")
    page.locator("#plan-options").get_by_role("radio", name=re.compile(r"^Pro")).click()
    sentence = page.locator("#preview-sentence")
    expect(sentence).to_contain_text(re.compile(r"^You pay ₩[\d,]+ now, then ₩39,000 every month from \d{1,2} \w+ \d{4}\.$"))
    shoot(page, screenshots_dir, "plan-preview")
    page.locator("#confirm-change").click()
    # Charged at once to the card the first checkout saved, for exactly the proration invoice.
    charged = page.get_by_role("status").filter(has_text="Your plan is now Pro. ₩")
    expect(charged).to_contain_text(re.compile(r"was charged to your card \(invoice INV-\d{4}-\d{6}\)\.$"))
    expect(page.locator("#current-plan")).to_have_text("Pro")

    page.goto("/billing/history")
    change = rows(page, "invoice").filter(has_text="Plan change (prorated)")
    expect(change.locator(".status-badge")).to_have_text("Paid")
    expect(page.locator(".pay-invoice")).to_have_count(0)

    # --- request a refund of the Starter payment -----------------------------------------------
    page.goto("/billing/history")
    payment = rows(page, "payment").filter(has_text="Succeeded").last  # the Starter payment
    paid_amount = payment.locator("td").nth(4).inner_text().strip()
    payment.get_by_role("button", name="Request refund").click()
    dialog = page.get_by_role("dialog", name="Request a refund")
    expect(dialog).to_be_visible()
    amount = dialog.get_by_label("Amount")
    expect(amount).to_have_value(paid_amount)  # prefilled with what is refundable
    expect(dialog.locator("#refund-max")).to_have_text(f"At most {paid_amount}.")
    shoot(page, screenshots_dir, "refund-dialog")

    amount.fill("₩999,999")
    dialog.get_by_label("Why are you asking for a refund?").fill("The export feature did not work for us")
    dialog.get_by_role("button", name="Send request").click()
    expect(dialog.locator("#refund-error")).to_have_text(f"You can ask for at most {paid_amount} on this payment.")
    amount.fill("5,000")
    dialog.get_by_role("button", name="Send request").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="Refund of ₩5,000 requested")).to_be_visible()
    requested = rows(page, "payment").filter(has=page.locator(".refund-requested")).first
    expect(requested.locator(".refund-requested")).to_have_text("Refund requested")
    expect(requested.locator(".refund-requested")).to_have_attribute("data-accent-color", "amber")
    expect(requested.get_by_role("button", name="Request refund")).to_have_count(0)
    shoot(page, screenshots_dir, "history-refund-requested")
    page.reload()  # stored on the server, not only in the page
    expect(rows(page, "payment").locator(".refund-requested")).to_have_count(1)

    # --- cancel at period end, then resume -----------------------------------------------------
    page.goto("/billing/plan")
    expect(page.get_by_label("At the end of the period", exact=False)).to_be_checked()
    page.get_by_label("Why are you leaving?").fill("Only needed it for one project")
    page.get_by_role("button", name="Cancel subscription").click()
    expect(page.locator("#ends-banner")).to_contain_text(re.compile(r"Your plan ends on \d{1,2} \w+ \d{4}\."))
    shoot(page, screenshots_dir, "plan-ending")
    page.goto("/billing")
    ends = page.locator(".billing-banner[data-kind=cancel_scheduled]")
    expect(ends).to_be_visible()
    ends.get_by_role("button", name="Resume plan").click()
    expect(page.locator(".billing-banner[data-kind=cancel_scheduled]")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="Your plan continues")).to_be_visible()
    expect(page.locator("#plan-name")).to_have_text("Pro")

    # --- credits: buy a pack, see the balance and the ledger -----------------------------------
    page.get_by_role("navigation", name="Billing sections").get_by_role("link", name="Credits").click()
    expect(page).to_have_url(re.compile(r"/billing/credits/?$"))
    expect(page.locator("#credit-balance")).to_have_text("0")
    expect(page.locator("#ledger-empty")).to_be_visible()
    shoot(page, screenshots_dir, "credits-empty")
    pack = page.locator(".credit-pack").filter(has_text="₩12,000")
    expect(pack).to_contain_text("1,000 credits + 100 bonus")
    pack.get_by_role("link", name=re.compile("^Buy")).click()
    expect(page).to_have_url(re.compile(r"/checkout\?pack=credits-1000-krw$"))
    # The card saved at the first checkout is offered here too, and chosen: no typing.
    expect(page.locator("#saved-cards").get_by_role("radio", name=re.compile("4242"))).to_be_checked()
    expect(page.get_by_placeholder("number")).to_be_hidden()
    pay_button(page).click()
    expect(page).to_have_url(re.compile(r"/checkout/success\?invoice="), timeout=PAY_TIMEOUT)
    page.goto("/billing/credits")
    expect(page.locator("#credit-balance")).to_have_text("1,100")
    expect(page.locator("#ledger-table .ledger-row")).to_have_count(2)
    expect(page.locator("#ledger-table .ledger-row").first).to_contain_text("+100")
    shoot(page, screenshots_dir, "credits")

    # --- other people's things: the denial page, nothing of them -------------------------------
    # Invoice 1 and receipt INV-2026-000001 belong to the demo customer seeded before this test.
    response = page.goto("/api/invoices/1/pdf")
    expect(page).to_have_url(re.compile(r"/denied/?$"))
    expect(page.locator("#access-denied")).to_be_visible()
    assert response is not None and b"%PDF" not in response.body()
    shoot(page, screenshots_dir, "denied")
    page.goto("/checkout/success?invoice=INV-2026-000001")
    expect(page.locator("#access-denied")).to_be_visible()
    expect(page.locator("#receipt")).to_have_count(0)
    page.goto("/checkout?invoice=1")
    expect(page.locator("#access-denied")).to_be_visible()
    expect(page.locator("#pay-button")).to_have_count(0)
    expect(page.locator("#summary-total")).to_have_count(0)

    # Where a PDF link lands when storage could not hand the PDF out yet (api/documents.py).
    page.goto("/billing/history?pdf=preparing")
    expect(page.locator("#pdf-preparing")).to_have_text("Your PDF is being prepared. Try again in a minute.")

    assert errors == [], errors
    context.close()
