"""Hosted Checkout over real HTTP end to end: the sandbox's Checkout posts its signed
checkout.session.completed to POST /api/webhooks/stripe (granian), the job pays the invoice; the
events it never sends (async outcomes, expiry) are signed with Stripe's scheme.
"""

import time
import uuid
from urllib.parse import urlencode

import pytest
from sqlmodel import select

from billing_portal.billing import checkout
from billing_portal.billing.accounts import CurrentUser
from billing_portal.db import session_scope
from billing_portal.jobs.runner import run_once
from billing_portal.models import Invoice, Payment, Subscription, WebhookEvent
from tests.api.test_webhooks import (  # noqa: F401  (fixtures)
    ROUTE,
    _cheap_password_hashing,
    events_by_type,
    post_event,
    server,
    stripe_settings,
)
from tests.billing.test_webhooks import event
from tests.billing.test_webhooks_checkout import stripe_checkout_session
from tests.gateways.conftest import WEBHOOK_SECRET
from tests.sandbox.test_checkout_sessions import press_pay
from tests.support.builders import make_customer, make_plan
from tests.support.stand_ins import http_request


def _hook(stripe_settings, name: str, url: str, event_type: str) -> None:
    form = urlencode({"url": url, "secret": WEBHOOK_SECRET, "events[0]": event_type}).encode()
    assert http_request("POST", f"{stripe_settings.url}/_config/webhooks/{name}", data=form)[0] == 200


@pytest.fixture
def subscriber(engine):
    with session_scope() as s:
        _plan, prices = make_plan(s, "pro", tier=2, prices={("USD", "month", 1): 1500})
        customer = make_customer(s)
        user = CurrentUser(user_id=customer.user_id, email=customer.invoice_email, role="customer",
                           customer_id=customer.id, name=customer.name, currency="USD", locale="en_US")
        return user, prices[("USD", "month", 1)].id


def begin(user, price_id):
    with session_scope() as s:
        return checkout.begin_hosted_checkout(
            s, user=user, price_id=price_id, success_url="http://portal.test/ok?session_id={CHECKOUT_SESSION_ID}",
            cancel_url="http://portal.test/checkout")


def test_the_sandboxs_signed_completed_event_pays_the_invoice(server, stripe_settings, subscriber):
    name = f"portal-{uuid.uuid4().hex[:8]}"
    _hook(stripe_settings, name, server.url + ROUTE, "checkout.session.completed")
    try:
        hosted = begin(*subscriber)
        assert press_pay(hosted.url)[0] == 303
        deadline = time.monotonic() + 20
        while not events_by_type().get("checkout.session.completed"):
            if time.monotonic() > deadline:
                pytest.fail(f"no checkout.session.completed arrived\n{server.log_tail()}")
            time.sleep(0.2)
        run_once(only={"webhooks"})
        row = events_by_type()["checkout.session.completed"][0]
        assert (row.status, row.last_error) == ("processed", "")
        with session_scope() as s:
            invoice = s.exec(select(Invoice)).one()
            assert (invoice.status, invoice.amount_paid, invoice.number) == ("paid", 1500, hosted.invoice_number)
            assert s.exec(select(Subscription)).one().status == "active"
            assert s.exec(select(Payment)).one().idempotency_key == f"checkout_session:{hosted.checkout_session_id}"
    finally:
        _hook(stripe_settings, name, server.url + ROUTE, "never.happens")


def test_signed_async_failure_and_expiry_leave_the_invoice_open(server, subscriber):
    hosted = begin(*subscriber)
    with session_scope() as s:
        invoice_id = s.exec(select(Invoice)).one().id
    unpaid = stripe_checkout_session(invoice_id, cs_id=hosted.checkout_session_id, payment_status="unpaid",
                                     customer=None)
    story = [event("checkout.session.completed", unpaid, created=100),
             event("checkout.session.async_payment_failed", unpaid, created=200),
             event("checkout.session.expired", {**unpaid, "status": "expired"}, created=300)]
    for e in story + story[:1]:
        status, answer = post_event(server, e)
        assert status == 200 and answer["received"] is True
    run_once(only={"webhooks"})
    with session_scope() as s:
        assert {row.status for row in s.exec(select(WebhookEvent))} == {"processed"}
        invoice = s.exec(select(Invoice)).one()
        assert (invoice.status, invoice.amount_paid) == ("open", 0)
        assert s.exec(select(Subscription)).one().status == "incomplete"
        assert [p.status for p in s.exec(select(Payment))] == ["failed"]
