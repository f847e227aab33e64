"""A person in Seoul fills in their billing details with a Korean address, gets the business
registration number wrong (the engine's message shows next to the field and nothing is saved),
then right, and finds the details kept after a reload. A fresh account, so the demo customer's
country (and so its tax) stays as other tests expect it. Screenshots at desktop and phone widths."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.people import DESKTOP, PHONE, patient_expectations, sign_in, sign_up  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("patient_expectations")

KOREAN = {
    "Name": "김민준",
    "Company (optional)": "주식회사 빌링포털",
    "Address (optional)": "서울특별시 강남구 테헤란로 152",
    "Address line 2 (optional)": "강남파이낸스센터 12층",
    "City (optional)": "서울",
    "Postal code (optional)": "06236",
    "Invoice email": "billing@example.kr",
}
TAX_ID_MESSAGE = "Enter the 10-digit Korean business registration number, like 123-45-67890."


def test_korean_details_with_a_bad_then_a_good_tax_id(browser: Browser, app_url, screenshots_dir):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    email = sign_up(page, "Min-jun Kim", "details")
    page.goto("/billing")
    page.get_by_role("navigation", name="Billing sections").get_by_role("link", name="Details").click()
    expect(page).to_have_url(re.compile(r"/billing/details/?$"))
    expect(page.get_by_role("heading", name="Billing details")).to_be_visible()

    for label, value in KOREAN.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Country").select_option(label="South Korea")
    tax_id = page.get_by_label("Tax ID (optional)")
    tax_id.fill("220-81-62518")  # the check digit is wrong
    page.get_by_role("button", name="Save details").click()

    expect(page.locator("#details-tax_id-error")).to_have_text(TAX_ID_MESSAGE)
    expect(tax_id).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").filter(has_text="Nothing was saved")).to_be_visible()
    expect(page.locator(".field-error")).to_have_count(1)
    expect(page.get_by_label("Company (optional)")).to_have_value("주식회사 빌링포털")  # what was typed stays
    page.screenshot(path=screenshots_dir / "billing-details-bad-tax-id-desktop.png", full_page=True)

    tax_id.fill("2208162517")
    page.get_by_role("button", name="Save details").click()
    saved = page.get_by_role("status").filter(has_text="Saved. Future invoices use these details.")
    expect(saved).to_be_in_viewport()  # scrolled to, not left above the fold
    expect(page.locator(".field-error")).to_have_count(0)
    expect(page.get_by_label("Tax ID (optional)")).to_have_value("220-81-62517")  # kept in its normal form
    page.screenshot(path=screenshots_dir / "billing-details-saved-desktop.png")  # what the person sees

    page.reload()
    for label, value in KOREAN.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(page.get_by_label("Country")).to_have_value("KR")
    expect(page.get_by_label("Tax ID (optional)")).to_have_value("220-81-62517")

    # The browser's own checks are off, so the engine's wording shows next to the field.
    page.get_by_label("Invoice email").fill("not an email")
    page.get_by_role("button", name="Save details").click()
    expect(page.locator("#details-invoice_email-error")).to_have_text("Enter a valid email address for invoices.")
    context.close()

    phone = browser.new_context(viewport=PHONE, base_url=app_url, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.goto("/login?next=/billing/details")
    sign_in(page, email)
    expect(page.get_by_label("Address (optional)", exact=True)).to_have_value("서울특별시 강남구 테헤란로 152")
    expect(page.get_by_label("Invoice email")).to_have_value("billing@example.kr")  # the bad one was not saved
    page.screenshot(path=screenshots_dir / "billing-details-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_label("Tax ID (optional)").fill("12345")
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_role("alert").filter(has_text="Nothing was saved")).to_be_in_viewport()
    expect(page.locator("#details-tax_id-error")).to_have_text(TAX_ID_MESSAGE)
    page.screenshot(path=screenshots_dir / "billing-details-error-phone.png")
    phone.close()


def test_the_details_page_needs_a_sign_in(browser: Browser, app_url):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.goto("/billing/details")
    expect(page).to_have_url(re.compile(r"/login\?next=/billing/details$"))
    context.close()
