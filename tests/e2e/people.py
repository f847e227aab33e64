"""What the files and details journeys share: viewports, a fresh account, signing in, and patience."""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct-horse-battery"


@pytest.fixture
def patient_expectations():
    """A loaded machine (parallel builds) can take seconds per server round trip."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=5_000)


def sign_up(page: Page, name: str, prefix: str) -> str:
    """A fresh account, so the demo customer's data stays as other tests expect it; its email."""
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/signup")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/pricing/?$"))
    return email


def sign_in(page: Page, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
