"""POST /api/webhooks/stripe on a real server: build_api() under granian on a loopback port.

localstripe posts real signed events to it; events localstripe never sends (refunds, disputes,
hosted checkout) are signed with Stripe's scheme by tests/support/stripe_signing.py.
"""

import asyncio
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from urllib.parse import urlencode

import pytest
from argon2 import PasswordHasher
from sqlmodel import func, select

from billing_portal.billing import accounts, checkout, invoices, payments
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.invoices import DraftLine
from billing_portal.db import session_scope
from billing_portal.jobs.runner import JOBS, run_once
from billing_portal.models import AuditEntry, Invoice, Payment, Refund, Subscription, WebhookEvent
from billing_portal.settings import get_settings
from tests.billing.test_webhooks import (
    T,
    charge_refunded,
    checkout_session,
    dispute,
    event,
    payment_intent,
    refund_obj,
)
from tests.gateways.conftest import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET, LocalStripeHelper
from tests.support.builders import make_customer, make_plan
from tests.api.conftest import start_api
from tests.support.event_loops import run_to_completion
from tests.support.stand_ins import http_request
from tests.support.stripe_signing import sign_payload, signed_event

ROUTE = "/api/webhooks/stripe"


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def stripe_settings(localstripe_clean, monkeypatch):
    monkeypatch.setenv("STRIPE_API_BASE", localstripe_clean.url)
    monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("STRIPE_PUBLISHABLE_KEY", PUBLISHABLE_KEY)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    get_settings.cache_clear()
    return localstripe_clean


@pytest.fixture
def server(engine, db_url, stripe_settings):
    """The API app under granian, on the test's database, with the test's webhook secret."""
    handle = start_api(db_url, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, STRIPE_SECRET_KEY=SECRET_KEY,
                       STRIPE_API_BASE=stripe_settings.url)
    yield handle
    handle.stop()


def post(server, body: bytes, signature: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    status, answer = http_request("POST", server.url + ROUTE, data=body, headers=headers)
    return status, json.loads(answer)


def post_event(server, e: dict) -> tuple[int, dict]:
    return post(server, *signed_event(e, WEBHOOK_SECRET))


def count(model, *where) -> int:
    with session_scope() as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def events_by_type() -> dict[str, list[WebhookEvent]]:
    out: dict[str, list[WebhookEvent]] = {}
    with session_scope() as s:
        for row in s.exec(select(WebhookEvent).order_by(WebhookEvent.id)):
            out.setdefault(row.type, []).append(row)
    return out


def test_the_job_is_registered_to_run_every_few_seconds():
    job = next(j for j in JOBS if j.name == "webhooks")
    assert job.every_seconds <= 5


def test_bad_stale_missing_and_malformed_are_refused_and_nothing_is_stored(server):
    e = event("payment_intent.created", {"id": "pi_x", "object": "payment_intent"})
    body, good = signed_event(e, WEBHOOK_SECRET)
    cases = {
        "missing_signature": (body, None),
        "bad_signature": (body, sign_payload(body, "whsec_someone_else")),
        "tampered": (body.replace(b"pi_x", b"pi_y"), good),
        "stale_signature": (body, sign_payload(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 301)),
        "malformed_body": (b"not json {", sign_payload(b"not json {", WEBHOOK_SECRET)),
        "not_an_event": (b'{"hello": 1}', sign_payload(b'{"hello": 1}', WEBHOOK_SECRET)),
    }
    for name, (payload, signature) in cases.items():
        status, answer = post(server, payload, signature)
        assert status == 400, name
        assert set(answer) == {"error", "message"} and answer["error"] in (
            "missing_signature", "bad_signature", "stale_signature", "malformed_body"), name
    assert post(server, body, sign_payload(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 301))[1]["error"] == \
        "stale_signature"
    assert count(WebhookEvent) == 0

    assert post(server, body, good) == (200, {"received": True, "duplicate": False})
    assert post(server, body, good) == (200, {"received": True, "duplicate": True})
    assert post_event(server, e) == (200, {"received": True, "duplicate": True})  # re-signed, same id
    assert count(WebhookEvent) == 1


def test_localstripe_posts_real_signed_events_that_are_stored_and_processed(server, stripe_settings, engine):
    ls = LocalStripeHelper(stripe_settings.url)
    name = f"portal-{uuid.uuid4().hex[:8]}"
    form = urlencode({"url": server.url + ROUTE, "secret": WEBHOOK_SECRET}).encode()
    status, _ = http_request("POST", f"{stripe_settings.url}/_config/webhooks/{name}", data=form,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200
    try:
        with session_scope() as s:
            _plan, prices = make_plan(s, "pro", tier=2, prices={("USD", "month", 1): 1500})
            customer = make_customer(s)
            user = CurrentUser(user_id=customer.user_id, email=customer.invoice_email, role="customer",
                               customer_id=customer.id, name=customer.name, currency="USD", locale="en_US")
            price_id = prices[("USD", "month", 1)].id

        def pay_with(number: str):
            with session_scope() as s:
                setup = checkout.begin_card_setup(s, user=user)
            ls.confirm_card_setup(setup.client_secret, number)
            with session_scope() as s:
                return checkout.pay(s, user=user, setup_intent_id=setup.setup_intent_id, price_id=price_id)

        declined = pay_with("4000000000000341")
        paid = pay_with("4242424242424242")
        assert (declined.status, paid.status) == ("failed", "succeeded")

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            seen = events_by_type()
            if seen.get("payment_intent.succeeded") and seen.get("payment_intent.payment_failed"):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"localstripe's events did not arrive: {sorted(events_by_type())}\n{server.log_tail()}")

        assert run_once(only={"webhooks"})["webhooks"] >= 2
        seen = events_by_type()
        succeeded = seen["payment_intent.succeeded"][0]
        assert (succeeded.status, succeeded.attempts, succeeded.last_error) == ("processed", 1, "")
        assert succeeded.payload["data"]["object"]["id"] == paid.payment_intent_id
        assert seen["payment_intent.payment_failed"][0].status == "processed"
        assert all(row.status == "ignored" for row in seen.get("customer.created", []))
        # Both paths reported the same payments: nothing counted twice.
        with session_scope() as s:
            assert [p.status for p in s.exec(select(Payment).order_by(Payment.id))] == ["failed", "succeeded"]
            invoice = s.exec(select(Invoice)).one()
            assert (invoice.status, invoice.amount_paid) == ("paid", 1500)
            assert s.exec(select(Subscription)).one().status == "active"
    finally:  # localstripe cannot forget a webhook: point this one at an event that never happens
        form = urlencode({"url": server.url + ROUTE, "secret": WEBHOOK_SECRET, "events[0]": "never.happens"}).encode()
        http_request("POST", f"{stripe_settings.url}/_config/webhooks/{name}", data=form,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_signed_refund_dispute_and_hosted_checkout_events_in_any_order_end_right(server, engine):
    scope = partial(session_scope, engine)
    with scope() as s:
        customer = make_customer(s)

        def paid_invoice(pi_id: str) -> int:
            draft = invoices.create_draft(s, customer_id=customer.id, currency="USD", lines=[DraftLine("Pro", 1500)])
            inv = invoices.finalize(s, draft.id)
            payments.record_intent(s, invoice_id=inv.id, idempotency_key=f"invoice:{inv.id}:pm:x", status="succeeded",
                                   stripe_payment_intent_id=pi_id, observed_at=invoices.utcnow())
            return inv.id

        refunded_invoice = paid_invoice("pi_refunded")
        disputed_invoice = paid_invoice("pi_disputed")
        draft = invoices.create_draft(s, customer_id=customer.id, currency="USD", lines=[DraftLine("Pro", 1500)])
        hosted_invoice = invoices.finalize(s, draft.id).id

    first, second = refund_obj("re_a", "pi_refunded", 500), refund_obj("re_b", "pi_refunded", 1000)
    story = [
        event("charge.refunded", charge_refunded("pi_refunded", [first]), created=T + 1),
        event("charge.refunded", charge_refunded("pi_refunded", [first, second]), created=T + 2),
        event("refund.updated", second, created=T + 3),
        event("charge.dispute.created", dispute("pi_disputed"), created=T + 4),
        event("charge.dispute.closed", dispute("pi_disputed", status="won"), created=T + 9),
        event("checkout.session.completed", checkout_session("cs_test_a", hosted_invoice, pi_id="pi_hosted"),
              created=T + 5),
        event("payment_intent.succeeded", payment_intent("pi_hosted", "succeeded"), created=T + 6),
        event("customer.subscription.trial_will_end", {"id": "sub_1", "object": "subscription"}, created=T + 7),
    ]
    deliveries = story + random.Random(7).sample(story, 4)  # duplicates, as Stripe may resend
    random.Random(3).shuffle(deliveries)
    for e in deliveries:
        status, answer = post_event(server, e)
        assert status == 200 and answer["received"] is True
    assert count(WebhookEvent) == len(story)

    # Processing in arrival order. The PaymentIntent's event may come before the Checkout Session
    # that records its payment: it waits for its retry, which then finds the payment.
    run_once(only={"webhooks"})
    run_once(only={"webhooks"})
    run_once(datetime.now(UTC) + timedelta(hours=2), only={"webhooks"})
    with scope() as s:
        refunds = [(r.stripe_refund_id, r.amount) for r in s.exec(select(Refund).order_by(Refund.amount))]
        assert refunds == [("re_a", 500), ("re_b", 1000)]
        assert s.get(Invoice, refunded_invoice).amount_refunded == 1500
        disputed = s.exec(select(Payment).where(Payment.stripe_payment_intent_id == "pi_disputed")).one()
        assert disputed.disputed_at is not None and disputed.dispute_status == "won"
        assert s.get(Invoice, disputed_invoice).status == "paid"
        assert [a.action for a in s.exec(select(AuditEntry).order_by(AuditEntry.id))].count("payment.disputed") == 1
        hosted = s.get(Invoice, hosted_invoice)
        assert (hosted.status, hosted.amount_paid) == ("paid", 1500)
        assert s.exec(select(func.count()).select_from(Payment).where(
            Payment.stripe_payment_intent_id == "pi_hosted")).one() == 1
        statuses = {row.type: row.status for row in s.exec(select(WebhookEvent))}
    assert statuses.pop("customer.subscription.trial_will_end") == "ignored"
    assert set(statuses.values()) == {"processed"}


def test_a_flood_gets_429_with_retry_after_and_is_not_stored(engine, monkeypatch):
    from starlette.testclient import TestClient

    from billing_portal.api import build_api

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("RATE_LIMIT_WEBHOOK", "3/minute")
    get_settings.cache_clear()
    client = TestClient(build_api())
    answers = []
    for _ in range(4):
        body, signature = signed_event(event("payment_intent.succeeded", payment_intent("pi_flood", "succeeded")), WEBHOOK_SECRET)
        answers.append(client.post(ROUTE, content=body, headers={"Stripe-Signature": signature}))
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
    assert answers[-1].json()["error"] == "rate_limited"
    with session_scope() as session:
        assert session.exec(select(func.count()).select_from(WebhookEvent)).one() == 3


def _deliver_together(bodies: list[tuple[bytes, str]]) -> list:
    """POST every signed body at once on one event loop, as concurrent deliveries reach a worker."""
    import httpx

    from billing_portal.api import build_api

    async def deliver() -> list:
        transport = httpx.ASGITransport(app=build_api())
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
            return await asyncio.gather(*(
                client.post(ROUTE, content=body, headers={"Stripe-Signature": signature}) for body, signature in bodies
            ))

    return run_to_completion(deliver())


@pytest.fixture
def webhook_secret(engine, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    get_settings.cache_clear()


def test_deliveries_arriving_together_are_committed_together_each_answered_for_itself(webhook_secret, monkeypatch):
    from billing_portal.billing import webhooks

    batches = []
    real = webhooks.receive_many

    def counted(session, events, **kwargs):
        batches.append(len(events))
        return real(session, events, **kwargs)

    monkeypatch.setattr(webhooks, "receive_many", counted)
    events = [event("payment_intent.succeeded", payment_intent(f"pi_group_{n}", "succeeded")) for n in range(40)]
    events += [events[3], events[3], events[17]]  # Stripe retrying while the first delivery is in flight
    answers = _deliver_together([signed_event(e, WEBHOOK_SECRET) for e in events])

    assert {a.status_code for a in answers} == {200}
    duplicates = [a.json()["duplicate"] for a in answers]
    assert duplicates.count(False) == 40 and duplicates.count(True) == 3
    assert sum(batches) == 43 and len(batches) < 43  # several events shared a transaction
    with session_scope() as session:
        kept = session.exec(select(WebhookEvent.stripe_event_id)).all()
    assert sorted(kept) == sorted(e["id"] for e in events[:40])


def test_an_event_the_database_refuses_fails_alone_and_its_batch_is_kept(webhook_secret, monkeypatch):
    from billing_portal.billing import webhooks

    poison = event("payment_intent.succeeded", payment_intent("pi_poison", "succeeded"))
    real_many, real_one = webhooks.receive_many, webhooks.receive

    def refusing_many(session, events, **kwargs):
        if any(e["id"] == poison["id"] for e in events):
            raise RuntimeError("value too long for type character varying")  # what the database says
        return real_many(session, events, **kwargs)

    def refusing_one(session, e, **kwargs):
        if e["id"] == poison["id"]:
            raise RuntimeError("value too long for type character varying")
        return real_one(session, e, **kwargs)

    monkeypatch.setattr(webhooks, "receive_many", refusing_many)
    monkeypatch.setattr(webhooks, "receive", refusing_one)
    events = [event("payment_intent.succeeded", payment_intent(f"pi_mate_{n}", "succeeded")) for n in range(20)]
    events.insert(10, poison)
    answers = _deliver_together([signed_event(e, WEBHOOK_SECRET) for e in events])

    refused = answers[10]
    assert refused.status_code == 500
    assert refused.json() == {"error": "not_stored", "message": "The event could not be stored; send it again."}
    assert "varying" not in refused.text
    assert [a.status_code for n, a in enumerate(answers) if n != 10] == [200] * 20
    with session_scope() as session:
        kept = set(session.exec(select(WebhookEvent.stripe_event_id)).all())
    assert kept == {e["id"] for e in events} - {poison["id"]}
