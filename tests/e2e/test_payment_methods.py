"""Saved cards and paying an open invoice in a real browser, as a person: add 4242 4242 4242 4242
and a second card on /billing/payment-methods, make the second the default, remove the first
(after confirming), then subscribe, make a card declined at charge the default, upgrade (charged at
once: declined, so /billing says what failed and when it retries) and pay the proration invoice
from "Pay now" with another saved card. Screenshots at desktop and phone widths in tests/e2e/screenshots/.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.test_checkout import (  # noqa: F401  (the `customer` fixture: a fresh signed-up customer)
    GOOD_CARD,
    PAY_TIMEOUT,
    card_form_ready,
    choose_starter_in_krw,
    customer,
    pay_button,
    shoot,
    type_card,
)

SECOND_CARD = "5555 5555 5555 4444"
DECLINED_AT_CHARGE = "4000 0000 0000 0341"  # saved fine, declined when charged
ROUTE = "/billing/payment-methods"


def card_row(page: Page, last4: str):
    return page.locator(".saved-card-row").filter(has_text=f"•••• {last4}")


def add_card(page: Page, number: str) -> None:
    page.get_by_role("button", name="Add card").click()
    expect(page.locator("#add-card-form")).to_be_visible()
    expect(page.get_by_placeholder("number")).to_be_visible()
    expect(page.locator("#save-card")).to_be_enabled()
    type_card(page, number)
    page.locator("#save-card").click()
    expect(page.get_by_role("status").filter(has_text=f"•••• {number[-4:]} is saved")).to_be_visible(timeout=PAY_TIMEOUT)
    expect(page.locator("#add-card-form")).to_have_count(0)


def test_manage_cards_then_pay_an_open_invoice_with_the_saved_card(customer: Page, screenshots_dir):
    page = customer
    page.goto(ROUTE)
    expect(page.get_by_role("heading", name="Payment methods", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Payment methods")).to_have_attribute("aria-current", "page")
    expect(page.locator("#no-cards")).to_contain_text("No saved cards")
    shoot(page, screenshots_dir, "payment-methods-empty")

    # The first card becomes the default.
    add_card(page, GOOD_CARD)
    first = card_row(page, "4242")
    expect(first).to_contain_text("Visa •••• 4242")
    expect(first).to_contain_text("Expires 12/2030")
    expect(first.locator(".default-badge")).to_have_text("Default")
    expect(page.get_by_role("status").filter(has_text="It is your default card")).to_be_visible()

    page.get_by_role("button", name="Add card").click()
    expect(page.locator("#add-card-form")).to_be_visible()
    shoot(page, screenshots_dir, "payment-methods-add-form")
    page.get_by_role("button", name="Cancel").click()
    add_card(page, SECOND_CARD)
    second = card_row(page, "4444")
    expect(second.locator(".default-badge")).to_have_count(0)
    expect(page.locator(".saved-card-row")).to_have_count(2)
    shoot(page, screenshots_dir, "payment-methods-two-cards")

    # The second card becomes the default.
    second.get_by_role("button", name=re.compile(r"^Set default")).click()
    expect(page.get_by_role("status").filter(has_text="•••• 4444 is now your default card")).to_be_visible()
    expect(second.locator(".default-badge")).to_have_text("Default")
    expect(first.locator(".default-badge")).to_have_count(0)

    # Removing asks first; keeping the card changes nothing.
    first.get_by_role("button", name=re.compile(r"^Remove")).click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Remove Visa •••• 4242 from your account?")
    shoot(page, screenshots_dir, "payment-methods-remove-dialog")
    dialog.get_by_role("button", name="Keep card").click()
    expect(dialog).to_have_count(0)
    expect(page.locator(".saved-card-row")).to_have_count(2)
    first.get_by_role("button", name=re.compile(r"^Remove")).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Remove card").click()
    expect(page.get_by_role("status").filter(has_text="Visa •••• 4242 is removed")).to_be_visible()
    expect(page.locator(".saved-card-row")).to_have_count(1)
    expect(card_row(page, "4444").locator(".default-badge")).to_have_text("Default")
    shoot(page, screenshots_dir, "payment-methods-after-remove")

    # Subscribe with a new card at checkout (the saved one is offered, and chosen, first): the new
    # card is kept, as the default, once it paid.
    choose_starter_in_krw(page)
    saved = page.locator("#saved-cards")
    expect(saved.get_by_role("radio", name=re.compile("4444"))).to_be_checked()
    saved.get_by_role("radio", name="A new card").click()
    card_form_ready(page)
    type_card(page, GOOD_CARD)
    pay_button(page).click()
    expect(page).to_have_url(re.compile(r"/checkout/success\?invoice="), timeout=PAY_TIMEOUT)

    # A card that is declined at charge becomes the default; the upgrade is charged to it at once.
    page.goto(ROUTE)
    add_card(page, DECLINED_AT_CHARGE)
    card_row(page, "0341").get_by_role("button", name=re.compile(r"^Set default")).click()
    expect(page.get_by_role("status").filter(has_text="•••• 0341 is now your default card")).to_be_visible()
    page.goto("/billing/plan")
    expect(page.locator("#current-plan")).to_have_text("Starter")
    page.locator("#plan-options").get_by_role("radio", name=re.compile(r"^Pro")).click()
    expect(page.locator("#preview-sentence")).to_contain_text("You pay ₩")
    page.locator("#confirm-change").click()
    failed = page.get_by_role("alert").filter(has_text="Your plan is now Pro, but the charge of ₩")
    expect(failed).to_contain_text("Your card was declined.")
    expect(failed).to_contain_text(re.compile(r"We try again on \d{1,2} \w+ \d{4}; update your card to pay it sooner\.$"))
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar would cover it in the screenshot
    shoot(page, screenshots_dir, "billing-plan-upgrade-declined")

    # /billing says what failed and when it is tried again, with the invoice to pay now.
    page.goto("/billing")
    expect(page.locator("#plan-name")).to_have_text("Pro", timeout=PAY_TIMEOUT)
    past_due = page.locator(".billing-banner[data-kind=past_due]")
    expect(past_due).to_contain_text("Your card was declined.")
    expect(past_due).to_contain_text(re.compile(r"We will try again on \d{1,2} \w+ \d{4}"))
    pay_now = page.locator("#pay-open-invoice")
    expect(pay_now).to_have_text("Pay now")
    expect(pay_now).to_have_attribute("href", re.compile(r"^/checkout\?invoice=\d+$"))
    shoot(page, screenshots_dir, "billing-overview-pay-now")
    pay_now.click()

    # The checkout of the invoice offers the saved cards, the default chosen; the customer picks 4242.
    expect(page).to_have_url(re.compile(r"/checkout\?invoice=\d+$"))
    expect(page.locator("#checkout-title")).to_contain_text("Invoice ")
    saved = page.locator("#saved-cards")
    expect(saved.get_by_role("radio")).to_have_count(4)  # three saved cards and "A new card"
    expect(saved.get_by_role("radio", checked=True)).to_contain_text("0341")
    saved.get_by_role("radio", name=re.compile(r"4242")).click()
    expect(page.get_by_placeholder("number")).to_be_hidden()
    expect(pay_button(page)).to_be_enabled()
    due = page.locator("#summary-total").inner_text().strip()
    assert due.startswith("₩") and due != "₩0", due
    shoot(page, screenshots_dir, "checkout-invoice")
    pay_button(page).click()

    expect(page).to_have_url(re.compile(r"/checkout/success\?invoice="), timeout=PAY_TIMEOUT)
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.locator("#receipt-amount")).to_have_text(due)
    shoot(page, screenshots_dir, "checkout-invoice-paid")

    page.goto("/billing")
    expect(page.locator("#plan-name")).to_have_text("Pro")
    expect(page.locator("#pay-open-invoice")).to_have_count(0)


def test_another_customers_invoice_shows_nothing(customer: Page, screenshots_dir):
    page = customer
    page.goto("/checkout?invoice=1")  # the demo customer's (or nobody's): never this customer's
    expect(page.get_by_role("heading", name="You do not have access to this")).to_be_visible()
    expect(page.locator("#order-summary")).to_have_count(0)
    expect(page.locator("#payment-card")).to_have_count(0)
