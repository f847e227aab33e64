"""Email from the admin console in a real browser: the demo admin resends one of the demo customer's
invoices and the SMTP sink (aiosmtpd, in this process) receives it with its PDF; the nightly
reconciliation's alert shows on /admin and /admin/alerts with the way to /admin/reconciliation.
Screenshots at desktop and phone widths, the received email included."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, expect
from sqlmodel import Session, select

from billing_portal.billing import analytics
from billing_portal.db import engine_for
from billing_portal.demo import DEMO_ADMIN
from billing_portal.models import OutboxEmail
from billing_portal.models.types import utcnow
from billing_portal.sandbox.mail_sink import MailSink, running
from tests.e2e.people import DESKTOP, PHONE
from tests.e2e.test_admin_ops import shoot, sign_in
from tests.support.stand_ins import free_port


@pytest.fixture(scope="module")
def sink_and_app(app_server):
    """The sink on a free port and the app started with SMTP_URL pointing at it."""
    sink, port = MailSink(), free_port()
    with running(sink, port=port):
        url = app_server.ensure({"SMTP_URL": f"smtp://127.0.0.1:{port}"})
        yield sink, url


def resent_rows(database_url: str) -> list[OutboxEmail]:
    with Session(engine_for(database_url)) as session:
        return list(session.exec(select(OutboxEmail).where(OutboxEmail.idempotency_key.contains(":resend:"))
                                 .order_by(OutboxEmail.id)))


def wait_for(check, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError("gave up waiting")


def test_the_admin_resends_an_invoice_and_the_customer_receives_it(browser: Browser, sink_and_app, app_database_url,
                                                                   screenshots_dir):
    sink, url = sink_and_app
    context = browser.new_context(viewport=DESKTOP, base_url=url)
    page = context.new_page()
    page.goto("/login?next=/admin/customers")
    sign_in(page, *DEMO_ADMIN)
    expect(page).to_have_url(re.compile(r"/admin/customers$"), timeout=20_000)
    page.get_by_label("Search customers").fill("demo@example.com")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#customers-total")).to_contain_text("1 customer")
    page.locator(".open-customer").click()
    expect(page.locator("#customer-name")).to_be_visible()

    page.get_by_label("Invoice to resend").click()
    option = page.get_by_role("option").first
    number = re.match(r"\S+", option.inner_text()).group(0)  # "INV-2026-000012 · paid · ₩15,000"
    option.click()
    page.get_by_role("button", name="Resend invoice").click()
    expect(page.get_by_role("status").filter(has_text="Invoice queued for sending")).to_be_visible(timeout=15_000)
    expect(page.get_by_text(f"invoice · queued · Invoice {number}").first).to_be_visible()  # newest first
    expect(page.get_by_text("invoice.resent").first).to_be_visible()  # the audit trail, with who
    shoot(page, screenshots_dir, "email-resend-desktop")

    # The app's mail job sends it within seconds; the customer's mailbox (the sink) has it.
    [row] = wait_for(lambda: [r for r in resent_rows(app_database_url) if r.status == "sent"])
    got = wait_for(lambda: [r for r in sink.received if r.message["Message-ID"].startswith(f"<outbox-{row.id}.")])[0]
    assert got.recipients == ["demo@example.com"]
    assert got.message["Subject"].startswith(f"Invoice {number} for ₩")
    text = got.message.get_body(preferencelist=("plain",)).get_content()
    assert re.search(r"Total: ₩[\d,]+\r?\n", text)  # KRW: no decimals
    [pdf] = list(got.message.iter_attachments())
    assert pdf.get_filename() == f"{number}.pdf" and pdf.get_content().startswith(b"%PDF")
    assert row.requested_by is not None

    page.reload()
    page.get_by_label("Search customers").fill("demo@example.com")
    page.get_by_role("button", name="Search").click()
    page.locator(".open-customer").click()
    expect(page.get_by_text(f"invoice · sent · Invoice {number}").first).to_be_visible()

    # The email as the customer sees it.
    html = got.message.get_body(preferencelist=("html",)).get_content()
    mail_page = context.new_page()
    mail_page.set_content(html)
    expect(mail_page.get_by_text(f"Invoice {number} was issued")).to_be_visible()
    shoot(mail_page, screenshots_dir, "email-message-desktop")
    mail_page.set_viewport_size(PHONE)
    assert mail_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(mail_page, screenshots_dir, "email-message-phone")

    page.set_viewport_size(PHONE)
    expect(page.get_by_role("button", name="Resend invoice")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(page, screenshots_dir, "email-resend-phone")
    context.close()


def test_a_reconciliation_alert_points_at_the_reconciliation_page(browser: Browser, sink_and_app, app_database_url,
                                                                   screenshots_dir):
    _sink, url = sink_and_app
    now = utcnow()
    with Session(engine_for(app_database_url)) as session:
        analytics.reconciliation_found(session, discrepancies=2, first_day=date.today() - timedelta(days=1),
                                       last_day=date.today(), now=now)
        session.commit()
    context = browser.new_context(viewport=DESKTOP, base_url=url)
    page = context.new_page()
    page.goto("/login?next=/admin")
    sign_in(page, *DEMO_ADMIN)
    expect(page.locator("#alert-banner")).to_be_visible(timeout=20_000)
    page.locator("#alerts-link").click()
    expect(page).to_have_url(re.compile(r"/admin/alerts$"))
    row = page.locator(".alert-row").filter(has_text="Reconciliation")
    expect(row).to_contain_text("2 discrepancies with Stripe")
    expect(row).to_contain_text("2 found")
    shoot(page, screenshots_dir, "email-alerts-desktop")
    page.set_viewport_size(PHONE)
    card = page.locator(".alert-row").filter(has_text="Reconciliation")  # the same row, as a card
    expect(card).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(page, screenshots_dir, "email-alerts-phone")
    card.get_by_role("link", name="Open reconciliation").click()
    expect(page).to_have_url(re.compile(r"/admin/reconciliation$"))
    context.close()
