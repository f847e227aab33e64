"""Hosted Stripe Checkout (CHECKOUT_MODE=hosted) in a real browser, as a person: sign up, pick a
plan, press Pay, pay on the sandbox's hosted Checkout page (billing_portal/sandbox/checkout_sessions.py),
come back to the receipt, and see the plan active on /billing.

The app is restarted with CHECKOUT_MODE=hosted for this module (conftest.AppServer) and the sandbox
is told to post its signed checkout.session.completed to the app's webhook route, as Stripe would.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_checkout import DESKTOP, INVOICE_NUMBER, PAY_TIMEOUT, choose_starter_in_krw, shoot, sign_up
from tests.support.stand_ins import http_request


@pytest.fixture
def hosted_app_url(app_server, localstripe_url) -> str:
    url = app_server.ensure({"CHECKOUT_MODE": "hosted"})
    hook = urlencode({"url": f"{url}/api/webhooks/stripe", "secret": "whsec_sandbox",  # the app's default
                      "events[0]": "checkout.session.completed"}).encode()
    assert http_request("POST", f"{localstripe_url}/_config/webhooks/e2e-app", data=hook)[0] == 200
    return url


@pytest.fixture
def customer(browser: Browser, hosted_app_url):
    context = browser.new_context(viewport=DESKTOP, base_url=hosted_app_url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, name="Katherine Johnson")
    yield page
    context.close()
    assert errors == [], f"uncaught page errors: {errors}"


def test_subscribe_through_stripes_hosted_page(customer: Page, localstripe_url, screenshots_dir):
    page = customer
    choose_starter_in_krw(page)
    expect(page.locator("#summary-total")).to_have_text("₩15,000")
    pay = page.locator("#pay-button")
    expect(pay).to_have_text("Pay ₩15,000")
    expect(page.get_by_text("You pay on Stripe's secure checkout page")).to_be_visible()
    expect(page.get_by_placeholder("number")).to_have_count(0)  # no card form in our page
    shoot(page, screenshots_dir, "hosted-checkout")

    # Changing one's mind on Stripe's page comes back to the same checkout, nothing charged.
    pay.click()
    expect(page).to_have_url(re.compile("^" + re.escape(localstripe_url) + r"/_config/checkout/pay/cs_test_"),
                             timeout=PAY_TIMEOUT)
    page.get_by_role("link", name="Back to the portal").click()
    expect(page).to_have_url(re.compile(r"/checkout/?\?price=\d+&canceled=1$"))
    expect(page.locator("#hosted-came-back")).to_contain_text("Nothing was charged")

    page.locator("#pay-button").click()
    expect(page).to_have_url(re.compile(r"/_config/checkout/pay/cs_test_"), timeout=PAY_TIMEOUT)
    expect(page.get_by_role("heading", name="₩15,000")).to_be_visible()
    expect(page.get_by_label("Card number (test cards only)")).to_have_value("4242 4242 4242 4242")
    shoot(page, screenshots_dir, "hosted-checkout-stripe-page")
    page.get_by_role("button", name="Pay").click()

    expect(page).to_have_url(re.compile(r"/checkout/success/?\?session_id=cs_test_"), timeout=PAY_TIMEOUT)
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible(timeout=PAY_TIMEOUT)
    expect(page.locator("#receipt-amount")).to_have_text("₩15,000")
    expect(page.locator("#receipt-title")).to_contain_text("Starter")
    assert INVOICE_NUMBER.match(page.locator("#receipt-invoice-number").inner_text().strip())
    shoot(page, screenshots_dir, "hosted-checkout-success")

    page.reload()  # recorded once, shown again
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible(timeout=PAY_TIMEOUT)
    page.get_by_role("link", name="Go to billing").click()
    expect(page).to_have_url(re.compile(r"/billing/?$"))
    expect(page.locator("#plan-name")).to_have_text("Starter")
    expect(page.locator("#subscription-status")).to_have_text("Active")
    shoot(page, screenshots_dir, "hosted-checkout-billing")
