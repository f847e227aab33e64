"""Recording payment outcomes (idempotent on their key) and refunds (never more than was paid)."""

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlmodel import func, select

from billing_portal.billing import accounts, invoices, payments, subscriptions
from billing_portal.billing.errors import DomainError
from billing_portal.billing.invoices import DraftLine
from billing_portal.gateways.stripe_gateway import IntentRecord
from billing_portal.models import Invoice, Payment, Refund, Subscription
from tests.support.builders import T0, make_customer, make_plan


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    """Customers come with a user; Argon2 at full cost would be most of this file's runtime."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def invoice(session) -> Invoice:
    """An open $10.00 invoice."""
    customer = make_customer(session)
    draft = invoices.create_draft(
        session, customer_id=customer.id, currency="USD", lines=[DraftLine("Consulting", 1000)], now=T0
    )
    return invoices.finalize(session, draft.id, now=T0)


def record(session, invoice, key, *, succeeded=True, **details):
    return payments.record_payment(
        session, invoice_id=invoice.id, idempotency_key=key, succeeded=succeeded, now=T0, **details
    )


def refund(session, payment, amount, reason="customer request"):
    return payments.record_refund(session, payment_id=payment.id, amount=amount, reason=reason, now=T0)


def state(session) -> dict:
    session.flush()
    session.expire_all()
    return {
        "invoices": [i.model_dump() for i in session.exec(select(Invoice).order_by(Invoice.id))],
        "payments": [p.model_dump() for p in session.exec(select(Payment).order_by(Payment.id))],
        "refunds": [r.model_dump() for r in session.exec(select(Refund).order_by(Refund.id))],
    }


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_recording_the_same_payment_twice_records_it_once(session, invoice):
    key = f"invoice:{invoice.id}"
    first = record(session, invoice, key, stripe_payment_intent_id="pi_1", card_brand="visa", card_last4="4242")
    assert (first.status, first.amount, first.currency, first.card_last4) == ("succeeded", 1000, "USD", "4242")
    assert (invoice.status, invoice.amount_paid) == ("paid", 1000)
    after_first = state(session)

    # The webhook and the checkout page both report it; the second report (even a contradicting one)
    # returns the payment already recorded and changes nothing.
    for succeeded in (True, False):
        again = record(session, invoice, key, succeeded=succeeded, stripe_payment_intent_id="pi_1")
        assert again.id == first.id
    assert state(session) == after_first
    assert count(session, Payment) == 1 and session.get(Invoice, invoice.id).amount_paid == 1000


def test_a_failed_attempt_leaves_the_invoice_open_and_a_retry_pays_it(session, invoice):
    failed = record(session, invoice, "attempt-1", succeeded=False, failure_code="card_declined",
                    failure_message="Your card was declined.")
    assert (failed.status, failed.amount, failed.failure_code) == ("failed", 1000, "card_declined")
    assert (invoice.status, invoice.amount_paid) == ("open", 0)
    paid = record(session, invoice, "attempt-2")
    assert (paid.status, invoice.status, invoice.amount_paid) == ("succeeded", "paid", 1000)
    # A paid invoice takes no further payment under a new key.
    with pytest.raises(DomainError, match="is paid: it cannot take a payment"):
        record(session, invoice, "attempt-3")


def test_refund_part_then_the_rest(session, invoice):
    payment = record(session, invoice, "pay")
    first = refund(session, payment, 300)
    assert (first.amount, first.currency, first.status, first.decided_at) == (300, "USD", "succeeded", T0)
    assert (payment.status, invoice.amount_refunded) == ("partially_refunded", 300)
    # 1000 paid - 300 refunded = 700 left to refund.
    rest = refund(session, payment, 700)
    assert rest.amount == 700
    assert (payment.status, invoice.amount_refunded) == ("refunded", 1000)
    # The invoice stays paid: a refund is money going back, not an unpaid invoice.
    assert (invoice.status, invoice.amount_paid) == ("paid", 1000)
    with pytest.raises(DomainError, match="Only a succeeded payment can be refunded"):
        refund(session, payment, 1)


def test_refunding_more_than_remains_is_refused_and_changes_nothing(session, invoice):
    payment = record(session, invoice, "pay")
    before = state(session)
    for amount in (1001, 0, -5, True, 10.0):
        with pytest.raises(DomainError, match="at most what remains refundable"):
            refund(session, payment, amount)
    assert state(session) == before
    refund(session, payment, 300)
    after_partial = state(session)
    with pytest.raises(DomainError, match="at most what remains refundable"):
        refund(session, payment, 701)  # only 1000 - 300 = 700 remain
    assert state(session) == after_partial


def test_a_failed_payment_cannot_be_refunded(session, invoice):
    failed = record(session, invoice, "declined", succeeded=False)
    before = state(session)
    with pytest.raises(DomainError, match="Only a succeeded payment can be refunded"):
        refund(session, failed, 100)
    with pytest.raises(DomainError, match="Only a succeeded payment can be refunded"):
        payments.record_refund(session, payment_id=10_000, amount=100, reason="", now=T0)
    assert state(session) == before


def test_a_failed_payment_on_a_paused_subscriptions_invoice_is_still_recorded(session):
    _, basic = make_plan(session, "basic", tier=1, prices={("USD", "month", 1): 1000})
    _, pro = make_plan(session, "pro", tier=2, prices={("USD", "month", 1): 3000})
    customer = make_customer(session)
    subscribed = subscriptions.subscribe(
        session, customer_id=customer.id, price_id=basic[("USD", "month", 1)].id, now=T0
    )
    record(session, subscribed.invoice, "first")
    sub = subscribed.subscription
    # An upgrade at half the period leaves a $10.00 proration invoice open, then the customer pauses.
    upgrade = subscriptions.change(
        session, sub.id, price_id=pro[("USD", "month", 1)].id, quantity=1, now=T0 + timedelta(days=14)
    ).invoice
    subscriptions.pause(session, sub.id, now=T0 + timedelta(days=15))
    failed = record(session, upgrade, "upgrade-attempt", succeeded=False)
    assert (failed.status, failed.amount) == ("failed", 1000)
    assert session.get(Subscription, sub.id).status == "paused"
    assert count(session, Payment) == 2


def intent_for(invoice, status="succeeded", currency="USD", **metadata):
    return IntentRecord(id="pi_lost", status=status, amount=1000, currency=currency, created=T0,
                        stripe_customer_id="cus_1",
                        metadata={"invoice_id": str(invoice.id), "idempotency_key": "invoice:1:pm:pm_1", **metadata})


def test_a_charge_stripe_made_that_we_never_recorded_is_adopted_once_under_its_own_key(session, invoice):
    adopted = payments.adopt_intent(session, invoice, intent_for(invoice), card_brand="visa", card_last4="4242", now=T0)

    assert (adopted.status, adopted.idempotency_key, adopted.stripe_payment_intent_id) == (
        "succeeded", "invoice:1:pm:pm_1", "pi_lost")
    assert (adopted.card_brand, adopted.card_last4) == ("visa", "4242")
    assert session.get(Invoice, invoice.id).status == "paid"
    assert payments.adopt_intent(session, invoice, intent_for(invoice), now=T0).id == adopted.id


@pytest.mark.parametrize("status, currency, metadata", [
    ("requires_payment_method", "USD", {}),  # declined: no money taken
    ("succeeded", "EUR", {}),  # not this invoice's currency
    ("succeeded", "USD", {"idempotency_key": ""}),  # not charged by us
    ("succeeded", "USD", {"paid_through": payments.CHECKOUT_SESSION_MARK}),  # its Checkout Session records it
])
def test_charges_that_are_not_ours_to_adopt_are_left_alone(session, invoice, status, currency, metadata):
    assert payments.adopt_intent(session, invoice, intent_for(invoice, status, currency, **metadata), now=T0) is None
    assert session.exec(select(func.count()).select_from(Payment)).one() == 0
