"""Webhook processing on SQLite and PostgreSQL: idempotent, order-independent, retried, replayable.

Events are built in the shapes Stripe documents (event envelope, PaymentIntent, Charge with its
refunds list, Refund, Dispute, Checkout Session). The HTTP route is tested in tests/api.
"""

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from argon2 import PasswordHasher
from sqlmodel import func, select

from billing_portal import cli
from billing_portal.billing import accounts, credits, invoices, payments, subscriptions, webhooks
from billing_portal.billing.invoices import DraftLine
from billing_portal.db import session_scope
from billing_portal.models import (
    AuditEntry,
    CreditPack,
    Customer,
    Invoice,
    Payment,
    Refund,
    Subscription,
    WebhookEvent,
)
from tests.support.builders import make_customer, make_plan

T = 1_790_000_000  # event times (epoch seconds)


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


# --------------------------------------------------------------------------------------------
# Stripe payload shapes (also used by tests/api/test_webhooks.py)


def event(type_: str, obj: dict, *, created: int = T, event_id: str | None = None, previous: dict | None = None) -> dict:
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_{uuid.uuid4().hex[:14]}", "idempotency_key": None},
        "type": type_,
    }


def payment_intent(pi_id: str, status: str, *, amount: int = 1500, currency: str = "usd", ours: bool = True,
                   decline_code: str | None = None) -> dict:
    error = None
    if status == "requires_payment_method":
        error = {"code": "card_declined", "decline_code": decline_code or "generic_decline",
                 "message": "Your card was declined.", "type": "card_error"}
    return {
        "id": pi_id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
        "amount_received": amount if status == "succeeded" else 0, "capture_method": "automatic",
        "client_secret": f"{pi_id}_secret_abc", "confirmation_method": "automatic", "created": T - 10,
        "currency": currency, "customer": "cus_test", "last_payment_error": error,
        "latest_charge": f"ch_{pi_id[3:]}", "livemode": False,
        "metadata": {"idempotency_key": "invoice:1:pm:pm_x", "invoice_id": "1"} if ours else {},
        "next_action": {"type": "use_stripe_sdk"} if status == "requires_action" else None,
        "payment_method": "pm_card", "payment_method_types": ["card"], "status": status,
    }


def refund_obj(refund_id: str, pi_id: str, amount: int, *, status: str = "succeeded", currency: str = "usd") -> dict:
    return {"id": refund_id, "object": "refund", "amount": amount, "charge": f"ch_{pi_id[3:]}", "created": T,
            "currency": currency, "metadata": {}, "payment_intent": pi_id, "reason": "requested_by_customer",
            "status": status}


def charge_refunded(pi_id: str, refunds: list[dict], *, amount: int = 1500, currency: str = "usd") -> dict:
    refunded = sum(r["amount"] for r in refunds if r["status"] == "succeeded")
    return {
        "id": f"ch_{pi_id[3:]}", "object": "charge", "amount": amount, "amount_captured": amount,
        "amount_refunded": refunded, "captured": True, "currency": currency, "customer": "cus_test",
        "paid": True, "payment_intent": pi_id, "refunded": refunded == amount, "status": "succeeded",
        "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
        "refunds": {"object": "list", "data": refunds, "has_more": False, "total_count": len(refunds),
                    "url": f"/v1/charges/ch_{pi_id[3:]}/refunds"},
    }


def dispute(pi_id: str, *, amount: int = 1500, status: str = "needs_response", dispute_id: str = "dp_1") -> dict:
    return {"id": dispute_id, "object": "dispute", "amount": amount, "charge": f"ch_{pi_id[3:]}", "created": T,
            "currency": "usd", "evidence_details": {"due_by": T + 7 * 86400, "has_evidence": False,
                                                    "past_due": False, "submission_count": 0},
            "is_charge_refundable": False, "livemode": False, "metadata": {}, "payment_intent": pi_id,
            "reason": "fraudulent", "status": status}


def checkout_session(cs_id: str, invoice_id: int, *, amount: int = 1500, currency: str = "usd",
                     pi_id: str | None = None, payment_status: str = "paid") -> dict:
    return {"id": cs_id, "object": "checkout.session", "amount_subtotal": amount, "amount_total": amount,
            "client_reference_id": None, "currency": currency, "customer": None, "livemode": False,
            "metadata": {"invoice_id": str(invoice_id)}, "mode": "payment",
            "payment_intent": pi_id or f"pi_{uuid.uuid4().hex[:14]}", "payment_status": payment_status,
            "status": "complete", "success_url": "http://localhost:3000/billing?paid=1", "url": None}


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def scope(engine):
    return partial(session_scope, engine)


@pytest.fixture
def customer_id(scope) -> int:
    with scope() as s:
        return make_customer(s).id


def open_invoice(scope, customer_id: int, amount: int = 1500, **draft) -> int:
    with scope() as s:
        inv = invoices.create_draft(s, customer_id=customer_id, currency="USD", lines=[DraftLine("Pro", amount)],
                                    **draft)
        return invoices.finalize(s, inv.id).id


def payment_for(scope, invoice_id: int, pi_id: str, status: str = "requires_action", seen: int = T) -> int:
    with scope() as s:
        return payments.record_intent(s, invoice_id=invoice_id, idempotency_key=f"invoice:{invoice_id}:pm:{pi_id}",
                                      status=status, stripe_payment_intent_id=pi_id, observed_at=at(seen)).id


def deliver(scope, *events, now: datetime | None = None) -> int:
    """Receive events as the route does, then run the job once."""
    with scope() as s:
        for e in events:
            webhooks.receive(s, e)
    return webhooks.process_due(now or datetime.now(UTC), session_scope=scope)


def stored(scope, event_id: str) -> WebhookEvent:
    with scope() as s:
        return s.exec(select(WebhookEvent).where(WebhookEvent.stripe_event_id == event_id)).one()


def count(scope, model, *where) -> int:
    with scope() as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


# --------------------------------------------------------------------------------------------
# Intake


def test_an_event_is_stored_once(scope):
    e = event("payment_intent.created", {"id": "pi_1", "object": "payment_intent"})
    with scope() as s:
        assert webhooks.receive(s, e).stored is True
        assert webhooks.receive(s, e).stored is False
    with scope() as s:
        assert webhooks.receive(s, e).stored is False
    assert count(scope, WebhookEvent) == 1
    row = stored(scope, e["id"])
    assert (row.type, row.status, row.created, row.payload) == ("payment_intent.created", "received", at(T), e)


def test_one_run_drains_every_batch(scope):
    events = [event("customer.created", {"id": f"cus_{n}", "object": "customer"}) for n in range(5)]
    with scope() as s:
        for e in events:
            webhooks.receive(s, e)
    assert webhooks.process_due(datetime.now(UTC), session_scope=scope, batch=2) == 5
    assert {stored(scope, e["id"]).status for e in events} == {"ignored"}


def test_unknown_types_are_kept_and_ignored(scope):
    e = event("invoice.finalized", {"id": "in_1", "object": "invoice"})
    assert deliver(scope, e) == 1
    row = stored(scope, e["id"])
    assert (row.status, row.attempts, row.last_error) == ("ignored", 1, "")


# --------------------------------------------------------------------------------------------
# PaymentIntents


def test_succeeded_pays_the_invoice_and_activates_the_subscription_once(scope, customer_id):
    with scope() as s:
        _plan, prices = make_plan(s, "pro", tier=2, prices={("USD", "month", 1): 1500})
        sub = subscriptions.subscribe(s, customer_id=customer_id, price_id=prices[("USD", "month", 1)].id)
        invoice_id, sub_id = sub.invoice.id, sub.subscription.id
    payment_for(scope, invoice_id, "pi_A")
    succeeded = event("payment_intent.succeeded", payment_intent("pi_A", "succeeded"), created=T + 5)
    deliver(scope, succeeded, succeeded)  # delivered twice
    with scope() as s:
        assert s.get(Invoice, invoice_id).status == "paid"
        assert s.get(Invoice, invoice_id).amount_paid == 1500
        assert s.get(Subscription, sub_id).status == "active"
        assert s.exec(select(Payment)).one().status == "succeeded"
    # A replay (operator) runs the handler again: nothing counts twice.
    with scope() as s:
        assert webhooks.replay(s, succeeded["id"]).status == "processed"
    with scope() as s:
        assert s.get(Invoice, invoice_id).amount_paid == 1500


def test_an_older_event_never_overwrites_a_newer_status(scope, customer_id):
    invoice_id = open_invoice(scope, customer_id)
    payment_id = payment_for(scope, invoice_id, "pi_B", seen=T)
    deliver(scope, event("payment_intent.payment_failed", payment_intent("pi_B", "requires_payment_method",
                                                                         decline_code="insufficient_funds"),
                         created=T + 10))
    deliver(scope, event("payment_intent.requires_action", payment_intent("pi_B", "requires_action"), created=T + 3))
    with scope() as s:
        payment = s.get(Payment, payment_id)
        assert (payment.status, payment.failure_code) == ("failed", "insufficient_funds")
        assert payment.failure_message == "Your card has insufficient funds."
        assert payment.stripe_updated_at == at(T + 10)
    # succeeded is final, whatever arrives after it.
    deliver(scope, event("payment_intent.succeeded", payment_intent("pi_B", "succeeded"), created=T + 20))
    deliver(scope, event("payment_intent.payment_failed", payment_intent("pi_B", "requires_payment_method"),
                         created=T + 30))
    with scope() as s:
        assert s.get(Payment, payment_id).status == "succeeded"
        assert s.get(Invoice, invoice_id).status == "paid"


def test_any_delivery_order_ends_in_the_same_state(scope, customer_id):
    """3-D Secure failed, then retried and succeeded: every one of the 24 orders ends paid once."""
    story = [("payment_intent.requires_action", "requires_action", T + 1),
             ("payment_intent.payment_failed", "requires_payment_method", T + 2),
             ("payment_intent.requires_action", "requires_action", T + 3),
             ("payment_intent.succeeded", "succeeded", T + 4)]
    cases = []
    for n, order in enumerate(itertools.permutations(story)):
        invoice_id = open_invoice(scope, customer_id)
        pi_id = f"pi_perm{n}"
        payment_for(scope, invoice_id, pi_id, status="pending", seen=T)
        cases.append((invoice_id, pi_id))
        for type_, status, created in order:
            deliver(scope, event(type_, payment_intent(pi_id, status), created=created))
    with scope() as s:
        for invoice_id, pi_id in cases:
            assert s.get(Invoice, invoice_id).status == "paid"
            assert s.get(Invoice, invoice_id).amount_paid == 1500
        assert {p.status for p in s.exec(select(Payment))} == {"succeeded"}
    # Without the success, every order of the first two ends failed.
    for n, order in enumerate(itertools.permutations(story[:2])):
        invoice_id = open_invoice(scope, customer_id)
        payment_id = payment_for(scope, invoice_id, f"pi_fail{n}", status="pending", seen=T)
        deliver(scope, *[event(t, payment_intent(f"pi_fail{n}", st), created=c) for t, st, c in order])
        with scope() as s:
            assert s.get(Payment, payment_id).status == "failed"
            assert s.get(Invoice, invoice_id).status == "open"


def test_a_payment_not_recorded_yet_is_retried_with_backoff_then_processed(scope, customer_id, monkeypatch):
    monkeypatch.setenv("WEBHOOK_RETRY_BASE_SECONDS", "30")
    invoice_id = open_invoice(scope, customer_id)
    e = event("payment_intent.succeeded", payment_intent("pi_C", "succeeded"), created=T + 5)
    now = datetime.now(UTC)
    deliver(scope, e, now=now)
    row = stored(scope, e["id"])
    assert (row.status, row.attempts, row.next_attempt_at) == ("retrying", 1, now + timedelta(seconds=30))
    assert "no payment recorded for pi_C" in row.last_error
    # Not due yet: the job leaves it alone.
    assert webhooks.process_due(now + timedelta(seconds=29), session_scope=scope) == 0
    assert webhooks.process_due(now + timedelta(seconds=30), session_scope=scope) == 1
    row = stored(scope, e["id"])
    assert (row.status, row.attempts, row.next_attempt_at) == ("retrying", 2, now + timedelta(seconds=90))
    # The checkout commits its payment; the next try applies the event.
    payment_for(scope, invoice_id, "pi_C")
    webhooks.process_due(now + timedelta(seconds=90), session_scope=scope)
    row = stored(scope, e["id"])
    assert (row.status, row.attempts, row.last_error) == ("processed", 3, "")
    with scope() as s:
        assert s.get(Invoice, invoice_id).status == "paid"


def test_retries_are_bounded_then_the_event_is_failed(scope, monkeypatch):
    monkeypatch.setenv("WEBHOOK_MAX_ATTEMPTS", "3")
    e = event("payment_intent.succeeded", payment_intent("pi_never", "succeeded"))
    now = datetime.now(UTC)
    deliver(scope, e, now=now)
    for _ in range(5):
        now += timedelta(hours=2)
        webhooks.process_due(now, session_scope=scope)
    row = stored(scope, e["id"])
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    assert "pi_never" in row.last_error


def test_a_payment_intent_not_made_by_the_portal_is_ignored(scope):
    e = event("payment_intent.succeeded", payment_intent("pi_dashboard", "succeeded", ours=False))
    deliver(scope, e)
    assert stored(scope, e["id"]).status == "ignored"


def test_a_credit_pack_paid_through_the_webhook_grants_once_and_the_page_agrees(scope, customer_id):
    with scope() as s:
        pack = CreditPack(slug="c1000", name="1,000 credits", currency="USD", amount=1000, credits=1000,
                          bonus_credits=100)
        s.add(pack)
        s.flush()
        pack_id = pack.id
    invoice_id = open_invoice(scope, customer_id, amount=1000, billing_reason="credit_pack",
                              idempotency_key=credits.pack_invoice_key(customer_id, pack_id, 1, "seti_x"))
    payment_id = payment_for(scope, invoice_id, "pi_pack")
    ok = event("payment_intent.succeeded", payment_intent("pi_pack", "succeeded", amount=1000), created=T + 5)
    deliver(scope, ok)
    deliver(scope, event("payment_intent.succeeded", payment_intent("pi_pack", "succeeded", amount=1000),
                         created=T + 6))
    with scope() as s:  # the page's path (confirm_after_action) reports success too
        payments.apply_intent_status(s, s.get(Payment, payment_id), status="succeeded", observed_at=at(T + 7))
    with scope() as s:
        assert credits.balance(s, customer_id) == 1100
    # Refunding half takes back half of the credits.
    deliver(scope, event("charge.refunded", charge_refunded("pi_pack", [refund_obj("re_half", "pi_pack", 500)],
                                                            amount=1000)))
    with scope() as s:
        assert credits.balance(s, customer_id) == 550


# --------------------------------------------------------------------------------------------
# Refunds, disputes, hosted checkout, customers


def test_refunds_are_recorded_once_whichever_events_report_them(scope, customer_id):
    invoice_id = open_invoice(scope, customer_id)
    payment_id = payment_for(scope, invoice_id, "pi_R", status="succeeded")
    first = refund_obj("re_1", "pi_R", 500)
    events = [
        event("charge.refunded", charge_refunded("pi_R", [first])),
        event("refund.updated", first),
        event("charge.refunded", charge_refunded("pi_R", [first, refund_obj("re_2", "pi_R", 1000)])),
    ]
    deliver(scope, *events)
    deliver(scope, *events)  # duplicates
    with scope() as s:
        rows = [(r.stripe_refund_id, r.amount, r.status) for r in s.exec(select(Refund).order_by(Refund.id))]
        assert rows == [("re_1", 500, "succeeded"), ("re_2", 1000, "succeeded")]
        assert s.get(Payment, payment_id).status == "refunded"
        assert s.get(Invoice, invoice_id).amount_refunded == 1500
    assert {stored(scope, e["id"]).status for e in events} == {"processed"}


def test_a_refund_reported_before_its_payment_succeeded_here_still_counts_once(scope, customer_id):
    """charge.refunded says the charge was paid, so it settles the payment first; a bare refund
    event waits (retried) until the payment has succeeded here."""
    invoice_id = open_invoice(scope, customer_id)
    payment_id = payment_for(scope, invoice_id, "pi_O", status="requires_action")
    early = event("refund.updated", refund_obj("re_o", "pi_O", 300))
    deliver(scope, early)
    assert stored(scope, early["id"]).status == "retrying"
    deliver(scope, event("charge.refunded", charge_refunded("pi_O", [refund_obj("re_o", "pi_O", 300)])))
    deliver(scope, event("payment_intent.succeeded", payment_intent("pi_O", "succeeded")))
    deliver(scope, early, now=datetime.now(UTC) + timedelta(hours=1))  # the retry, after its wait
    with scope() as s:
        assert [(r.stripe_refund_id, r.amount) for r in s.exec(select(Refund))] == [("re_o", 300)]
        assert s.get(Payment, payment_id).status == "partially_refunded"
        invoice = s.get(Invoice, invoice_id)
        assert (invoice.status, invoice.amount_paid, invoice.amount_refunded) == ("paid", 1500, 300)
    assert stored(scope, early["id"]).status == "processed"


def test_a_failed_refund_gives_the_money_back(scope, customer_id):
    invoice_id = open_invoice(scope, customer_id)
    payment_id = payment_for(scope, invoice_id, "pi_F", status="succeeded")
    deliver(scope, event("refund.updated", refund_obj("re_f", "pi_F", 400)))
    deliver(scope, event("refund.updated", refund_obj("re_f", "pi_F", 400, status="failed"), created=T + 9))
    with scope() as s:
        assert s.exec(select(Refund)).one().status == "failed"
        assert s.get(Payment, payment_id).status == "succeeded"
        assert s.get(Invoice, invoice_id).amount_refunded == 0


def test_a_charge_without_its_refund_list_records_the_refunded_total_once(scope, customer_id):
    invoice_id = open_invoice(scope, customer_id)
    payment_for(scope, invoice_id, "pi_N", status="succeeded")
    charge = charge_refunded("pi_N", [refund_obj("re_n", "pi_N", 300)])
    del charge["refunds"]  # newer API versions
    deliver(scope, event("charge.refunded", charge), event("charge.refunded", charge))
    deliver(scope, event("refund.updated", refund_obj("re_n", "pi_N", 300)))
    with scope() as s:
        assert [(r.stripe_refund_id, r.amount) for r in s.exec(select(Refund))] == [("re_n", 300)]


def test_a_dispute_flags_the_payment_and_alerts_admins_once(scope, customer_id):
    invoice_id = open_invoice(scope, customer_id)
    payment_id = payment_for(scope, invoice_id, "pi_D", status="succeeded")
    created = event("charge.dispute.created", dispute("pi_D"), created=T + 100)
    deliver(scope, created, created)
    with scope() as s:
        webhooks.replay(s, created["id"])
    with scope() as s:
        payment = s.get(Payment, payment_id)
        assert (payment.disputed_at, payment.dispute_status) == (at(T + 100), "needs_response")
        audit = s.exec(select(AuditEntry)).one()
        assert (audit.action, audit.subject_id, audit.actor_label) == ("payment.disputed", str(payment_id), "stripe")
        assert audit.after["reason"] == "fraudulent" and audit.after["amount"] == 1500
    deliver(scope, event("charge.dispute.closed", dispute("pi_D", status="lost"), created=T + 200))
    deliver(scope, event("charge.dispute.updated", dispute("pi_D", status="under_review"), created=T + 150))
    with scope() as s:
        assert s.get(Payment, payment_id).dispute_status == "lost"


def test_a_dispute_before_its_payment_is_known_waits(scope):
    e = event("charge.dispute.created", dispute("pi_unknown"))
    deliver(scope, e)
    assert stored(scope, e["id"]).status == "retrying"


def test_a_completed_hosted_checkout_pays_the_invoice_named_in_its_metadata(scope, customer_id):
    invoice_id = open_invoice(scope, customer_id)
    e = event("checkout.session.completed", checkout_session("cs_test_1", invoice_id, pi_id="pi_hosted"))
    deliver(scope, e, e)
    with scope() as s:
        webhooks.replay(s, e["id"])
    with scope() as s:
        invoice = s.get(Invoice, invoice_id)
        assert (invoice.status, invoice.amount_paid) == ("paid", 1500)
        payment = s.exec(select(Payment)).one()
        assert (payment.status, payment.stripe_payment_intent_id, payment.idempotency_key) == (
            "succeeded", "pi_hosted", "checkout_session:cs_test_1")
    # The PaymentIntent's own event afterwards changes nothing.
    deliver(scope, event("payment_intent.succeeded", payment_intent("pi_hosted", "succeeded")))
    assert count(scope, Payment) == 1


def test_a_hosted_checkout_for_the_wrong_amount_is_failed_not_paid(scope, customer_id):
    invoice_id = open_invoice(scope, customer_id)
    e = event("checkout.session.completed", checkout_session("cs_test_2", invoice_id, amount=100))
    deliver(scope, e)
    row = stored(scope, e["id"])
    assert row.status == "failed" and "owes 1500" in row.last_error
    with scope() as s:
        assert s.get(Invoice, invoice_id).status == "open"


def test_customer_and_card_events_keep_local_card_info_consistent(scope, customer_id):
    with scope() as s:
        customer = s.get(Customer, customer_id)
        customer.stripe_customer_id = "cus_local"
        s.add(customer)
    card = {"id": "pm_1", "object": "payment_method", "customer": "cus_local", "type": "card",
            "card": {"brand": "mastercard", "last4": "4444", "exp_month": 3, "exp_year": 2031}}
    deliver(scope, event("payment_method.attached", card), event("setup_intent.succeeded", {"id": "seti_1"}),
            event("customer.updated", {"id": "cus_local", "object": "customer"}))
    with scope() as s:
        customer = s.get(Customer, customer_id)
        assert (customer.default_payment_method_id, customer.card_brand, customer.card_last4) == (
            "pm_1", "mastercard", "4444")
    deliver(scope, event("payment_method.detached", {**card, "customer": None}, previous={"customer": "cus_local"}))
    with scope() as s:
        assert s.get(Customer, customer_id).default_payment_method_id is None
    deliver(scope, event("customer.deleted", {"id": "cus_local", "object": "customer", "deleted": True}))
    with scope() as s:
        assert s.get(Customer, customer_id).stripe_customer_id is None
    other = event("customer.updated", {"id": "cus_someone_else", "object": "customer"})
    deliver(scope, other)
    assert stored(scope, other["id"]).status == "ignored"


# --------------------------------------------------------------------------------------------
# CLI


def test_cli_lists_and_replays_events(scope, customer_id, capsys):
    invoice_id = open_invoice(scope, customer_id)
    e = event("payment_intent.succeeded", payment_intent("pi_cli", "succeeded"), event_id="evt_cli")
    deliver(scope, e)
    assert stored(scope, "evt_cli").status == "retrying"
    payment_for(scope, invoice_id, "pi_cli")

    assert cli.main(["webhooks", "list", "--json", "--status", "retrying"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"], r["attempts"]) for r in listed] == [("evt_cli", "retrying", 1)]

    assert cli.main(["webhooks", "replay", "evt_cli"]) == 0
    assert "evt_cli: processed" in capsys.readouterr().out
    with scope() as s:
        assert s.get(Invoice, invoice_id).status == "paid"
    assert cli.main(["webhooks", "list"]) == 0
    assert "payment_intent.succeeded" in capsys.readouterr().out
    assert cli.main(["webhooks", "replay", "evt_missing"]) == 1
    assert "No stored webhook event evt_missing" in capsys.readouterr().err
