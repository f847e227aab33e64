"""The session cookie from a browser's side: page scripts cannot read it, a copy taken before
sign-out is refused after it, and "Sign out everywhere" ends the session of another browser."""

import re

from playwright.sync_api import Browser, BrowserContext, expect

from tests.e2e.people import DESKTOP, sign_in, sign_up

COOKIE = "bp_session"


def session_cookie(context: BrowserContext) -> dict:
    return next(cookie for cookie in context.cookies() if cookie["name"] == COOKIE)


def signed_in_on_billing(context: BrowserContext, email: str) -> None:
    page = context.pages[0] if context.pages else context.new_page()
    page.goto("/billing")
    expect(page).to_have_url(re.compile(r"/billing/?$"))
    expect(page.locator("#nav-user-email")).to_have_text(email)


def sent_to_sign_in(context: BrowserContext) -> None:
    page = context.pages[0] if context.pages else context.new_page()
    page.goto("/billing")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fbilling|/login\?next=/billing"))
    expect(page.get_by_role("link", name="Sign up")).to_be_visible()


def test_page_scripts_cannot_read_the_session_and_a_stolen_copy_dies_at_sign_out(browser: Browser, app_url,
                                                                                 screenshots_dir):
    mine = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = mine.new_page()
    email = sign_up(page, "Grace Hopper", "session")
    expect(page.locator("#nav-user-email")).to_have_text(email)

    assert COOKIE not in page.evaluate("document.cookie")
    cookie = session_cookie(mine)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert cookie["secure"] is False  # plain http here; https gets Secure (tests/api/test_sessions.py)

    # What an attacker with the cookie value could do before sign-out: be her.
    thief = browser.new_context(viewport=DESKTOP, base_url=app_url)
    thief.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path", "httpOnly", "sameSite")}])
    signed_in_on_billing(thief, email)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/?$"))
    assert COOKIE not in {c["name"] for c in mine.cookies()}

    # The copy is refused: the server ended the session, whatever the thief's browser keeps.
    later = browser.new_context(viewport=DESKTOP, base_url=app_url)
    later.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path", "httpOnly", "sameSite")}])
    sent_to_sign_in(later)
    sent_to_sign_in(thief)
    thief.pages[0].screenshot(path=screenshots_dir / "session-stolen-copy-refused-desktop.png", full_page=True)
    for context in (mine, thief, later):
        context.close()


def test_sign_out_everywhere_ends_the_other_browsers_session(browser: Browser, app_url, screenshots_dir):
    laptop = browser.new_context(viewport=DESKTOP, base_url=app_url)
    email = sign_up(laptop.new_page(), "Katherine Johnson", "everywhere")
    phone = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = phone.new_page()
    page.goto("/login?next=/billing/details")
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"^[^?]*/billing/details/?$"))
    assert session_cookie(phone)["value"] != session_cookie(laptop)["value"]  # one session per browser
    signed_in_on_billing(laptop, email)

    button = page.get_by_role("button", name="Sign out everywhere")
    page.screenshot(path=screenshots_dir / "session-sign-out-everywhere-desktop.png", full_page=True)
    button.click()
    expect(page).to_have_url(re.compile(r"/login/?$"))
    sent_to_sign_in(laptop)
    sent_to_sign_in(phone)
    laptop.close()
    phone.close()
