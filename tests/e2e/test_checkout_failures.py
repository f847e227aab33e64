"""Checkout's failure paths in a real browser, as a person, checking what the customer sees and what
is stored (in the app's database): a declined card never becomes the default nor stays listed, a
declined credit pack leaves no invoice waiting for payment, the saved card is offered in the pack
checkout, and with tax configured the billing country is asked before paying.

Cards (localstripe): 4242… pays; 4000 0000 0000 0341 saves but is declined when charged;
4000 0000 0000 0002 is declined when saved.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from billing_portal.db import engine_for
from billing_portal.models import Customer, Invoice, PaymentMethod, User
from tests.e2e.test_checkout import (
    DESKTOP, GOOD_CARD, DECLINED_CARD, PAY_TIMEOUT, card_form_ready, choose_starter_in_krw, expect_receipt, pay_button,
    shoot, sign_up, type_card,
)

DECLINED_AT_SETUP = "4000 0000 0000 0002"
PACK = "/checkout?pack=credits-1000-krw"


def stored(database_url: str, email: str) -> dict:
    """What the app keeps for this customer: its default card, saved cards, invoices by status."""
    with Session(engine_for(database_url)) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        customer = session.exec(select(Customer).where(Customer.user_id == user.id)).one()
        cards = session.exec(select(PaymentMethod).where(PaymentMethod.customer_id == customer.id)).all()
        invoices = session.exec(select(Invoice).where(Invoice.customer_id == customer.id).order_by(Invoice.id)).all()
        return {"default": customer.card_last4, "cards": sorted(c.last4 for c in cards),
                "invoices": [(i.billing_reason, i.status) for i in invoices], "country": customer.country}


@pytest.fixture()
def subscribed(browser: Browser, app_url, localstripe_url, console_errors):
    """A fresh customer on Starter (KRW), paid with the good card; the page and their email."""
    console_errors.allow_refusals_from(localstripe_url)
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = console_errors.watch(context.new_page())
    email = sign_up(page)
    choose_starter_in_krw(page)
    card_form_ready(page)
    type_card(page, GOOD_CARD)
    pay_button(page).click()
    expect_receipt(page, "₩15,000")
    yield page, email
    context.close()


def pay_pack_with_a_new_card(page: Page, number: str) -> None:
    page.goto(PACK)
    saved = page.locator("#saved-cards")
    # The card saved minutes ago is offered, and chosen.
    expect(saved.get_by_role("radio", name=re.compile("4242"))).to_be_checked()
    saved.get_by_role("radio", name="A new card").click()
    card_form_ready(page)
    type_card(page, number)
    pay_button(page).click()


def expect_no_debt_and_the_good_card_default(page: Page, screenshots_dir, name: str) -> None:
    page.goto("/billing")
    expect(page.locator("#plan-name")).to_have_text("Starter")
    expect(page.get_by_text("waiting for payment")).to_have_count(0)
    expect(page.locator("#pay-open-invoice")).to_have_count(0)
    shoot(page, screenshots_dir, f"{name}-billing")
    page.goto("/billing/payment-methods")
    rows = page.locator(".saved-card-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("4242")
    expect(rows.first).to_contain_text("Default")


def test_a_card_declined_at_charge_for_a_pack_is_not_kept_and_leaves_no_debt(subscribed, app_database_url,
                                                                            screenshots_dir):
    page, email = subscribed
    pay_pack_with_a_new_card(page, DECLINED_CARD)
    expect(page.locator("#pay-error-message")).to_contain_text("Your card was declined.", timeout=PAY_TIMEOUT)
    expect(page.locator("#pay-error")).to_contain_text("Nothing was charged.")
    shoot(page, screenshots_dir, "checkout-pack-declined")

    expect_no_debt_and_the_good_card_default(page, screenshots_dir, "pack-declined")
    assert stored(app_database_url, email) == {
        "default": "4242", "cards": ["4242"], "country": "",
        "invoices": [("subscription_create", "paid"), ("credit_pack", "void")]}


def test_a_card_declined_at_setup_changes_nothing_and_the_saved_card_then_pays(subscribed, app_database_url,
                                                                              screenshots_dir):
    page, email = subscribed
    pay_pack_with_a_new_card(page, DECLINED_AT_SETUP)
    expect(page.locator("#pay-error-message")).to_contain_text("declined", timeout=PAY_TIMEOUT)
    expect(page.locator("#pay-error")).to_contain_text("Nothing was charged.")
    assert stored(app_database_url, email)["invoices"] == [("subscription_create", "paid")]
    expect_no_debt_and_the_good_card_default(page, screenshots_dir, "setup-declined")

    # The saved card pays the pack with no typing.
    page.goto(PACK)
    expect(page.locator("#saved-cards").get_by_role("radio", name=re.compile("4242"))).to_be_checked()
    pay_button(page).click()
    expect(page).to_have_url(re.compile(r"/checkout/success\?invoice="), timeout=PAY_TIMEOUT)
    expect(page.locator("#receipt-amount")).to_have_text("₩12,000")
    assert stored(app_database_url, email)["invoices"] == [("subscription_create", "paid"), ("credit_pack", "paid")]


def test_with_tax_configured_the_billing_country_is_asked_and_named_in_the_tax_line(
        browser: Browser, app_server, app_database_url, screenshots_dir, console_errors):
    url = app_server.ensure({"TAX_RATES": '{"KR": {"rate": "10", "inclusive": true}}'})
    context = browser.new_context(viewport=DESKTOP, base_url=url, locale="en-US")
    page = console_errors.watch(context.new_page())
    email = sign_up(page)
    choose_starter_in_krw(page)
    country = page.get_by_label("Billing country")
    expect(country).to_have_value("US")  # a first guess from the browser's language
    expect(page.locator("#summary-tax-rule")).to_have_text("No tax in US")
    expect(page.locator("#summary-tax")).to_have_text("₩0")
    country.select_option(label="South Korea")
    expect(page.locator("#summary-tax-rule")).to_have_text("10 % for KR, included in the price")
    expect(page.locator("#summary-tax")).to_have_text("₩1,364 (included)")
    expect(page.locator("#summary-total")).to_have_text("₩15,000")
    shoot(page, screenshots_dir, "checkout-country")

    card_form_ready(page)
    type_card(page, GOOD_CARD)
    pay_button(page).click()
    expect_receipt(page, "₩15,000")
    assert stored(app_database_url, email)["country"] == "KR"
    context.close()
