"""Checkout in a real browser, as a person: sign up, pick a plan on /pricing, type a card into the
card element served by the Stripe stand-in (localstripe's fake Stripe.js), pay, read the receipt.

Cards (localstripe): 4242 4242 4242 4242 succeeds; 4000 0000 0000 0341 saves but is declined when
charged; 4000 0025 0000 3155 asks for 3-D Secure when saved and again when charged (its modal has
"Complete authentication"). Screenshots at desktop and phone widths go to tests/e2e/screenshots/.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct-horse-battery"
GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0341"
THREE_DS_CARD = "4000 0025 0000 3155"
PAY_TIMEOUT = 20_000  # ms: two Stripe round trips and a redirect
INVOICE_NUMBER = re.compile(r"^[A-Z0-9]+-[A-Z0-9-]+$")


# ---- a person's steps ------------------------------------------------------------------------


def sign_up(page: Page, name: str = "Grace Hopper") -> str:
    email = f"checkout-{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/signup")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/pricing/?$"))
    return email


def choose_plan_in_krw(page: Page, plan: str = "Starter", price: str = "₩15,000") -> None:
    page.goto("/pricing")
    page.get_by_role("radio", name="KRW").click()
    card = page.locator(".plan-card").filter(has=page.get_by_role("heading", name=plan, exact=True))
    expect(card.locator(".plan-price")).to_contain_text(price)
    page.get_by_role("link", name=f"Choose plan {plan}").click()
    expect(page).to_have_url(re.compile(r"/checkout\?price=\d+"))


def choose_starter_in_krw(page: Page) -> None:
    choose_plan_in_krw(page, "Starter", "₩15,000")


def card_form_ready(page: Page) -> None:
    expect(page.get_by_placeholder("number")).to_be_visible()
    expect(page.locator("#pay-button")).to_be_enabled()


def type_card(page: Page, number: str, month: str = "12", year: str = "30", cvc: str = "123",
              postal: str = "04524") -> None:
    page.get_by_placeholder("number").fill(number)
    page.get_by_placeholder("exp_month").fill(month)
    page.get_by_placeholder("exp_year").fill(year)  # two digits: the element prefixes "20"
    page.get_by_placeholder("cvc").fill(cvc)
    page.get_by_placeholder("postal_code").fill(postal)


def pay_button(page: Page):
    return page.locator("#pay-button")


def expect_receipt(page: Page, amount: str) -> str:
    expect(page).to_have_url(re.compile(r"/checkout/success\?invoice="), timeout=PAY_TIMEOUT)
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.locator("#receipt-amount")).to_have_text(amount)
    number = page.locator("#receipt-invoice-number").inner_text().strip()
    assert INVOICE_NUMBER.match(number), number
    assert parse_qs(urlsplit(page.url).query)["invoice"] == [number]
    expect(page.locator("#receipt-title")).to_contain_text("Starter")
    expect(page.get_by_role("link", name="Go to billing")).to_have_attribute("href", "/billing")
    return number


def complete_3ds(page: Page) -> None:
    page.get_by_role("button", name="Complete authentication").click(timeout=PAY_TIMEOUT)


def shoot(page: Page, screenshots_dir, name: str) -> None:
    """Full-page screenshots at desktop and phone widths, then back to desktop."""
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)  # let the layout settle after the resize
        page.screenshot(path=screenshots_dir / f"{name}-{label}.png", full_page=True)
    page.set_viewport_size(DESKTOP)


@pytest.fixture()
def customer(browser: Browser, app_url):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.console_messages = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.console_messages.append(str(exc)))  # type: ignore[attr-defined]
    sign_up(page)
    yield page
    errors = list(page.console_messages)  # type: ignore[attr-defined]
    context.close()
    assert errors == [], f"uncaught page errors: {errors}"


# ---- tests -----------------------------------------------------------------------------------


def test_subscribe_to_starter_in_krw_with_a_good_card(customer: Page, screenshots_dir):
    page = customer
    choose_starter_in_krw(page)

    expect(page.get_by_role("heading", name="Checkout", level=1)).to_be_visible()
    expect(page.locator("#checkout-title")).to_contain_text("Starter")
    expect(page.locator("#summary-total")).to_have_text("₩15,000")
    expect(page.locator("#summary-tax")).to_contain_text("₩")
    card_form_ready(page)
    expect(pay_button(page)).to_have_text("Pay ₩15,000")
    # The stand-in's plain inputs are named for assistive technology.
    expect(page.get_by_label("Card number")).to_be_visible()
    expect(page.get_by_role("group", name="Card details")).to_be_visible()
    shoot(page, screenshots_dir, "checkout")

    type_card(page, GOOD_CARD)
    pay_button(page).click()
    # No double submit: the button is busy and disabled until the outcome arrives.
    expect(pay_button(page)).to_be_disabled()
    number = expect_receipt(page, "₩15,000")
    shoot(page, screenshots_dir, "checkout-success")

    # The receipt is read again on the server: a reload shows the same invoice.
    page.reload()
    expect(page.locator("#receipt-invoice-number")).to_have_text(number)
    page.get_by_role("link", name="Go to billing").click()
    expect(page).to_have_url(re.compile(r"/billing/?$"))


def test_a_declined_card_then_another_card_succeeds(customer: Page, screenshots_dir):
    page = customer
    choose_starter_in_krw(page)
    card_form_ready(page)

    type_card(page, DECLINED_CARD)
    pay_button(page).click()
    error = page.locator("#pay-error")
    expect(error).to_be_visible(timeout=PAY_TIMEOUT)
    expect(error).to_have_attribute("role", "alert")
    expect(page.locator("#pay-error-message")).to_contain_text("Your card was declined.")
    expect(page).to_have_url(re.compile(r"/checkout\?price=\d+"))
    # The form is emptied for another card and the button works again.
    expect(page.get_by_placeholder("number")).to_have_value("")
    expect(pay_button(page)).to_be_enabled()
    expect(pay_button(page)).to_have_text("Pay ₩15,000")
    shoot(page, screenshots_dir, "checkout-declined")

    type_card(page, GOOD_CARD)
    pay_button(page).click()
    expect_receipt(page, "₩15,000")


def test_a_card_that_needs_3d_secure_at_setup_and_at_payment(customer: Page, screenshots_dir):
    page = customer
    choose_starter_in_krw(page)
    card_form_ready(page)

    type_card(page, THREE_DS_CARD)
    pay_button(page).click()
    modal = page.get_by_role("button", name="Complete authentication")
    expect(modal).to_be_visible(timeout=PAY_TIMEOUT)
    shoot(page, screenshots_dir, "checkout-3ds")
    expect(pay_button(page)).to_be_disabled()
    complete_3ds(page)  # saving the card
    expect(modal).to_be_visible(timeout=PAY_TIMEOUT)
    complete_3ds(page)  # the payment itself
    expect_receipt(page, "₩15,000")


def test_a_signed_out_visitor_signs_in_and_comes_back_to_the_same_checkout(browser: Browser, app_url):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    sign_up(page)  # an account to sign in with
    email = page.locator("#nav-user-email").inner_text()
    choose_starter_in_krw(page)
    checkout_url = page.url
    path = checkout_url[checkout_url.index("/checkout"):]
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))

    page.goto(path)
    expect(page).to_have_url(re.compile(r"/login\?next=" + re.escape("/checkout%3Fprice%3D") + r"\d+$"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # The server opens the session and sends the browser to the page it asked for: a full load,
    # which the web server may give a trailing slash (/checkout/?price=…).
    expect(page).to_have_url(re.compile(re.escape(path).replace("checkout", "checkout/?", 1) + "$"))
    expect(page.locator("#summary-total")).to_have_text("₩15,000")
    context.close()


def test_a_bad_link_shows_a_clear_failure_state(customer: Page, screenshots_dir):
    page = customer
    page.goto("/checkout?price=999999")
    expect(page.get_by_role("heading", name="This checkout cannot continue")).to_be_visible()
    expect(page.locator("#checkout-error")).not_to_be_empty()
    expect(page.get_by_role("link", name="See plans and pricing")).to_have_attribute("href", "/pricing")
    expect(page.locator("#pay-button")).to_have_count(0)
    shoot(page, screenshots_dir, "checkout-bad-link")

    page.goto("/checkout?price=abc")
    expect(page.locator("#checkout-error")).to_contain_text("not valid")


def test_buy_a_credit_pack(customer: Page, screenshots_dir):
    page = customer
    page.goto("/checkout?pack=credits-1000-krw")
    expect(page.locator("#checkout-title")).to_contain_text("1,000 credits")
    expect(page.locator("#summary-total")).to_have_text("₩12,000")
    card_form_ready(page)
    shoot(page, screenshots_dir, "checkout-credit-pack")
    type_card(page, GOOD_CARD)
    pay_button(page).click()
    expect(page).to_have_url(re.compile(r"/checkout/success\?invoice="), timeout=PAY_TIMEOUT)
    expect(page.locator("#receipt-amount")).to_have_text("₩12,000")
    expect(page.locator("#receipt-title")).to_contain_text("credits")


def test_a_plan_with_a_free_trial_charges_nothing_today(customer: Page, screenshots_dir):
    page = customer
    page.goto("/pricing")
    page.get_by_role("radio", name="KRW").click()
    pro = page.locator(".plan-card").filter(has=page.get_by_role("heading", name="Pro", exact=True))
    expect(pro.locator(".plan-price")).to_contain_text("₩")
    monthly = pro.locator(".plan-price").inner_text().strip()
    page.get_by_role("link", name="Choose plan Pro").click()

    expect(page.locator("#trial-note")).to_contain_text("14-day free trial")
    expect(page.locator("#summary-total")).to_have_text("₩0")
    expect(page.locator("#summary-after-trial")).to_contain_text(monthly)
    expect(page.locator("#checkout-description")).to_contain_text("Free for 14 days")
    card_form_ready(page)
    expect(pay_button(page)).to_have_text("Start 14-day free trial")
    shoot(page, screenshots_dir, "checkout-trial")

    type_card(page, GOOD_CARD)
    pay_button(page).click()
    expect(page).to_have_url(re.compile(r"/checkout/success\?trial=1"), timeout=PAY_TIMEOUT)
    expect(page.get_by_role("heading", name="Your trial has started")).to_be_visible()
    expect(page.get_by_role("link", name="Go to billing")).to_be_visible()


def test_someone_elses_receipt_is_not_shown(customer: Page):
    page = customer
    page.goto("/checkout/success?invoice=INV-2026-000001")  # the demo customer's, or nobody's
    expect(page.locator("#access-denied")).to_be_visible()
    expect(page.locator("#receipt")).to_have_count(0)


def test_failing_3d_secure_at_payment_lets_the_customer_try_again(customer: Page):
    page = customer
    choose_starter_in_krw(page)
    card_form_ready(page)
    type_card(page, THREE_DS_CARD)
    pay_button(page).click()
    complete_3ds(page)  # saving the card
    page.get_by_role("button", name="Fail authentication").click(timeout=PAY_TIMEOUT)  # the payment
    expect(page.locator("#pay-error")).to_be_visible(timeout=PAY_TIMEOUT)
    expect(page.locator("#pay-error-message")).not_to_be_empty()
    expect(pay_button(page)).to_be_enabled()

    type_card(page, GOOD_CARD)
    pay_button(page).click()
    expect_receipt(page, "₩15,000")

