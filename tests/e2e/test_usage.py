"""/billing/usage in a real browser as the demo customer: the meters, an API key created and copied
once, usage reported with it over real HTTP and seen on the page, the key revoked after a
confirmation. Screenshots at desktop and phone widths land in tests/e2e/screenshots/.

Another e2e file may have moved the demo customer from Starter to Pro; both plans meter API
calls, so the checks read the current meter's numbers rather than fixed ones.
"""

import re
import uuid

from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_billing_pages import DEMO, DESKTOP, PHONE, sign_in

CURRENT_METER = "#meters .meter[data-metric=api_calls][data-earlier=false]"
FIRST_LOAD_MS = 30_000  # the first server round trip of a page, on a busy CI machine


def used(page: Page) -> int:
    return int(page.locator(CURRENT_METER + " .meter-used").inner_text().replace(",", ""))


def report(page: Page, app_url: str, token: str, quantity: int, key: str):
    return page.request.post(
        f"{app_url}/api/usage",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
        data={"metric": "api_calls", "quantity": quantity},
    )


def test_the_usage_page_needs_a_sign_in_and_comes_back_after_it(browser: Browser, app_url):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.goto("/billing/usage")
    expect(page).to_have_url(re.compile(r"/login\?next=/billing/usage$"), timeout=FIRST_LOAD_MS)
    sign_in(page, *DEMO)
    expect(page).to_have_url(re.compile(r"/billing/usage/?$"), timeout=FIRST_LOAD_MS)
    tabs = page.get_by_role("navigation", name="Billing sections")
    expect(tabs.get_by_role("link", name="Usage", exact=True)).to_have_attribute("aria-current", "page")
    context.close()


def test_api_key_report_usage_and_revoke(browser: Browser, app_url, screenshots_dir):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    page = context.new_page()
    page.goto("/login?next=/billing/usage")
    sign_in(page, *DEMO)
    meter = page.locator(CURRENT_METER)
    expect(meter).to_contain_text("API calls", timeout=FIRST_LOAD_MS)
    expect(meter).to_contain_text("adds to the next invoice")
    expect(page.locator("#usage-note")).to_contain_text("Billed on the invoice of")
    before = used(page)
    page.screenshot(path=screenshots_dir / "usage-desktop.png", full_page=True)

    page.get_by_label("Key name").fill("e2e server")
    page.get_by_role("button", name="Create key").click()
    token_box = page.locator("#new-token")
    expect(token_box).to_have_text(re.compile(r"^bpk_[A-Za-z0-9_-]{43}$"))
    token = token_box.inner_text()
    expect(page.get_by_text("it is not shown again")).to_be_visible()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Key copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == token
    key_row = page.locator(f".api-key[data-prefix='{token[:12]}']")
    expect(key_row).to_contain_text("e2e server")
    expect(key_row).to_contain_text("last used Never")
    page.screenshot(path=screenshots_dir / "usage-new-key-desktop.png", full_page=True)

    # The key works over real HTTP: created once, a retry replays, a changed retry conflicts.
    key = f"e2e-{uuid.uuid4().hex}"
    created = report(page, app_url, token, 1000, key)
    assert created.status == 201, created.text()
    assert (report(page, app_url, token, 1000, key).status, report(page, app_url, token, 999, key).status) == (200, 409)

    page.get_by_role("button", name="Done").click()
    expect(token_box).to_have_count(0)
    page.reload()
    expect(page.locator(CURRENT_METER + " .meter-used")).to_have_text(f"{before + 1000:,}")
    expect(key_row).not_to_contain_text("last used Never")
    assert token not in page.content()  # shown once: gone after a reload

    page.get_by_role("button", name="Revoke e2e server").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Calls with “e2e server” are refused from now on.")
    page.screenshot(path=screenshots_dir / "usage-revoke-desktop.png")
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_have_count(0)
    expect(key_row).to_be_visible()
    page.get_by_role("button", name="Revoke e2e server").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("status").filter(has_text="is revoked")).to_be_visible()
    expect(key_row).to_have_count(0)
    assert report(page, app_url, token, 1, f"e2e-{uuid.uuid4().hex}").status == 401
    context.close()


def test_phone_width(browser: Browser, app_url, screenshots_dir):
    context = browser.new_context(viewport=PHONE, base_url=app_url)
    page = context.new_page()
    page.goto("/login?next=/billing/usage")
    sign_in(page, *DEMO)
    expect(page.locator(CURRENT_METER)).to_be_visible(timeout=FIRST_LOAD_MS)
    page.get_by_label("Key name").fill("phone")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-token")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=screenshots_dir / "usage-phone.png", full_page=True)
    context.close()
