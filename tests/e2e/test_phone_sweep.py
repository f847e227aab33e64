"""Every page at a phone's width (390 px), signed out, as the demo customer and as the demo admin:
each is reached through the header's menu (the menu opens, its link goes there), nothing scrolls
sideways (scrollWidth <= 390) and the browser logs no error (React's hydration and nesting warnings
included: the `console_errors` fixture). A screenshot of each lands in tests/e2e/screenshots/phone-*.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from billing_portal.demo import DEMO_ADMIN, DEMO_CUSTOMER
from tests.e2e.people import PHONE, patient_expectations  # noqa: F401 (a fixture)
from tests.e2e.test_admin_ops import sign_in

pytestmark = pytest.mark.usefixtures("patient_expectations")

CUSTOMER_PAGES = [  # (menu link, path)
    ("Plan", "/billing/plan"), ("History", "/billing/history"), ("Payment methods", "/billing/payment-methods"),
    ("Usage", "/billing/usage"), ("Credits", "/billing/credits"), ("Files", "/billing/files"),
    ("Details", "/billing/details"), ("Pricing", "/pricing"), ("Overview", "/billing"),
]
ADMIN_PAGES = ["Customers", "Refunds", "Reconciliation", "Webhooks", "Catalog", "Audit", "Alerts", "Risk", "Dashboard"]


# The innermost elements reaching past the screen's right edge: what to fix when a page is too wide.
TOO_WIDE = """(limit) => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > limit + 0.5 && ![...el.children].some(
    child => child.getBoundingClientRect().right > limit + 0.5))
  .slice(0, 5).map(el => el.tagName + '#' + el.id + '.' + el.className + ' ' + (el.innerText || '').slice(0, 40))"""


def fits(page: Page, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (f"{name} scrolls sideways: {width} px wide",
                                     page.evaluate(TOO_WIDE, PHONE["width"]))


def shoot(page: Page, screenshots_dir, name: str) -> None:
    page.wait_for_timeout(300)  # let the last render settle
    page.screenshot(path=screenshots_dir / f"phone-{name}.png", full_page=True)


def through_menu(page: Page, link: str, path: str) -> None:
    """Open the header's menu and follow one of its links, as a person on a phone would."""
    button = page.get_by_role("button", name="Menu")
    expect(button).to_be_visible()
    button.click()
    menu = page.get_by_role("menu")
    expect(menu).to_be_visible()
    menu.get_by_role("menuitem", name=link, exact=True).click()
    expect(page).to_have_url(re.compile(rf"//[^/]+{re.escape(path)}/?$"))
    expect(page.get_by_role("menu")).to_have_count(0)  # closed again


def check(page: Page, screenshots_dir, name: str) -> None:
    expect(page.get_by_role("heading", level=1).first).to_be_visible()
    shoot(page, screenshots_dir, name)
    fits(page, name)


def phone(browser: Browser, app_url: str, console_errors) -> Page:
    context = browser.new_context(viewport=PHONE, base_url=app_url, is_mobile=True, has_touch=True)
    return console_errors.watch(context.new_page())


def test_signed_out_pages_on_a_phone(browser: Browser, app_url, screenshots_dir, console_errors):
    page = phone(browser, app_url, console_errors)
    page.goto("/pricing")
    check(page, screenshots_dir, "pricing-signed-out")
    through_menu(page, "Sign up", "/signup")
    check(page, screenshots_dir, "signup")
    through_menu(page, "Sign in", "/login")
    check(page, screenshots_dir, "login")
    through_menu(page, "Pricing", "/pricing")
    page.context.close()


def test_every_customer_page_on_a_phone(browser: Browser, app_url, screenshots_dir, console_errors):
    page = phone(browser, app_url, console_errors)
    page.goto("/login?next=/billing")
    sign_in(page, *DEMO_CUSTOMER)
    expect(page).to_have_url(re.compile(r"//[^/]+/billing/?$"))  # signed in, not /login?next=/billing
    check(page, screenshots_dir, "billing")
    # A customer's menu has no admin section.
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("menuitem", name="Customers")).to_have_count(0)
    expect(page.get_by_role("menuitem", name="History")).to_be_visible()
    shoot(page, screenshots_dir, "menu-open")
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_have_count(0)
    for link, path in CUSTOMER_PAGES:
        through_menu(page, link, path)
        check(page, screenshots_dir, path.strip("/").replace("/", "-") or "home")

    page.goto("/checkout?pack=credits-1000-krw")
    expect(page.locator("#pay-button")).to_be_enabled()
    check(page, screenshots_dir, "checkout-pack")
    page.goto("/checkout/success?invoice=INV-2026-000001")  # the demo customer's first invoice
    expect(page.locator("#receipt")).to_be_visible()
    check(page, screenshots_dir, "checkout-success")
    page.context.close()


def test_every_admin_page_on_a_phone(browser: Browser, app_url, screenshots_dir, console_errors):
    page = phone(browser, app_url, console_errors)
    page.goto("/login?next=/admin")
    sign_in(page, *DEMO_ADMIN)
    expect(page).to_have_url(re.compile(r"//[^/]+/admin/?$"))
    for name in ADMIN_PAGES:
        path = "/admin" if name == "Dashboard" else f"/admin/{name.lower()}"
        through_menu(page, name, path)
        expect(page.get_by_role("heading", level=1)).to_have_text(name)
        check(page, screenshots_dir, f"admin-{name.lower()}")
    # The customer pages stay in the admin's menu too.
    through_menu(page, "Pricing", "/pricing")
    page.context.close()
