"""Hosted Checkout webhooks (checkout.session.*) on SQLite and PostgreSQL.

localstripe never sends these, so the events are built in the shape of Stripe's Checkout Session
object (API 2024-06-20; fields we do not read are kept to stay realistic) and go through the same
intake and job as real deliveries. The signed HTTP route is tested in tests/api.
"""

import uuid

import pytest
from sqlmodel import select

from billing_portal.billing import invoices, payments, subscriptions, webhooks
from billing_portal.billing.errors import DomainError
from billing_portal.gateways.stripe_gateway import checkout_session_info
from billing_portal.models.types import utcnow
from billing_portal.models import AuditEntry, Customer, Invoice, Payment, Subscription
from tests.billing.test_webhooks import (  # noqa: F401  (fixtures)
    T,
    _cheap_password_hashing,
    count,
    customer_id,
    deliver,
    event,
    open_invoice,
    payment_for,
    payment_intent,
    scope,
    stored,
)
from tests.support.builders import make_plan


def stripe_checkout_session(invoice_id: int | None, *, cs_id: str | None = None, amount: int | None = 1500,
                            currency: str = "usd", payment_status: str = "paid", status: str = "complete",
                            customer: str | None = "cus_hosted", pi_id: str | None = "pi_hosted") -> dict:
    """A Checkout Session (mode payment) as Stripe sends it in checkout.session.* events."""
    cs_id = cs_id or f"cs_test_{uuid.uuid4().hex}"
    metadata = {"invoice_id": str(invoice_id), "idempotency_key": f"invoice:{invoice_id}:checkout"} if invoice_id else {}
    return {
        "id": cs_id, "object": "checkout.session", "after_expiration": None, "allow_promotion_codes": None,
        "amount_subtotal": amount, "amount_total": amount,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": None, "cancel_url": "http://localhost:3000/checkout?price=1&canceled=1",
        "client_reference_id": str(invoice_id) if invoice_id else None, "client_secret": None, "consent": None,
        "consent_collection": None, "created": T - 120, "currency": currency, "custom_fields": [],
        "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                        "terms_of_service_acceptance": None},
        "customer": customer, "customer_creation": None,
        "customer_details": {"address": {"city": None, "country": "US", "line1": None, "line2": None,
                                         "postal_code": "94105", "state": None},
                             "email": "ada@example.com", "name": "Ada", "phone": None, "tax_exempt": "none",
                             "tax_ids": []},
        "customer_email": None, "expires_at": T + 86_280, "invoice": None, "invoice_creation": None,
        "livemode": False, "locale": None, "metadata": metadata, "mode": "payment", "payment_intent": pi_id,
        "payment_link": None, "payment_method_collection": "if_required", "payment_method_options": {},
        "payment_method_types": ["card"], "payment_status": payment_status,
        "phone_number_collection": {"enabled": False}, "recovered_from": None, "setup_intent": None,
        "shipping_address_collection": None, "shipping_cost": None, "shipping_details": None,
        "shipping_options": [], "status": status, "submit_type": None, "subscription": None,
        "success_url": "http://localhost:3000/checkout/success?invoice=INV&session_id={CHECKOUT_SESSION_ID}",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}, "ui_mode": "hosted",
        "url": None,
    }


@pytest.fixture
def hosted(scope, customer_id):
    """A customer known at Stripe as cus_hosted with an incomplete subscription and its open invoice."""
    with scope() as s:
        customer = s.get(Customer, customer_id)
        customer.stripe_customer_id = "cus_hosted"
        s.add(customer)
        _plan, prices = make_plan(s, "pro", tier=2, prices={("USD", "month", 1): 1500})
        subscribed = subscriptions.subscribe(s, customer_id=customer_id, price_id=prices[("USD", "month", 1)].id)
        return subscribed.invoice.id, subscribed.subscription.id


def state(scope, invoice_id: int, subscription_id: int):
    with scope() as s:
        invoice, sub = s.get(Invoice, invoice_id), s.get(Subscription, subscription_id)
        found = s.exec(select(Payment).where(Payment.invoice_id == invoice_id)).all()
        return (invoice.status, invoice.amount_paid, sub.status, sorted(p.status for p in found))


def test_a_paid_session_pays_the_invoice_and_activates_the_plan_once(scope, hosted):
    invoice_id, sub_id = hosted
    completed = event("checkout.session.completed", stripe_checkout_session(invoice_id, cs_id="cs_test_paid"))
    deliver(scope, completed, completed)
    with scope() as s:
        webhooks.replay(s, completed["id"])
    assert state(scope, invoice_id, sub_id) == ("paid", 1500, "active", ["succeeded"])
    with scope() as s:
        payment = s.exec(select(Payment)).one()
        assert (payment.idempotency_key, payment.stripe_payment_intent_id, payment.amount) == (
            "checkout_session:cs_test_paid", "pi_hosted", 1500)
    # The PaymentIntent's own event (it carries our metadata) finds the same payment.
    deliver(scope, event("payment_intent.succeeded", payment_intent("pi_hosted", "succeeded"), created=T + 3))
    assert count(scope, Payment) == 1 and state(scope, invoice_id, sub_id)[1] == 1500


@pytest.mark.parametrize("change, error", [
    ({"amount": None}, "carries no amount_total"),
    ({"amount": 1400}, "owes 1500"),
    ({"currency": "eur"}, "is in EUR"),
    ({"customer": "cus_someone_else"}, "another customer"),
    ({"payment_status": "no_payment_required"}, "no_payment_required"),
], ids=["no-amount", "wrong-amount", "wrong-currency", "other-customer", "no-payment-required"])
def test_a_session_that_does_not_match_the_invoice_fails_and_pays_nothing(scope, hosted, change, error):
    invoice_id, sub_id = hosted
    completed = event("checkout.session.completed", stripe_checkout_session(invoice_id, **change))
    deliver(scope, completed)
    row = stored(scope, completed["id"])
    assert row.status == "failed" and error in row.last_error, row.last_error
    assert state(scope, invoice_id, sub_id) == ("open", 0, "incomplete", [])


def test_a_delayed_method_is_pending_until_async_payment_succeeded(scope, hosted):
    invoice_id, sub_id = hosted
    session = stripe_checkout_session(invoice_id, cs_id="cs_test_async", payment_status="unpaid")
    deliver(scope, event("checkout.session.completed", session, created=T))
    assert state(scope, invoice_id, sub_id) == ("open", 0, "incomplete", ["pending"])
    deliver(scope, event("checkout.session.async_payment_succeeded", {**session, "payment_status": "paid"},
                         created=T + 60))
    assert state(scope, invoice_id, sub_id) == ("paid", 1500, "active", ["succeeded"])


def test_async_payment_succeeded_before_completed_still_pays_once(scope, hosted):
    invoice_id, sub_id = hosted
    session = stripe_checkout_session(invoice_id, cs_id="cs_test_order", payment_status="unpaid")
    deliver(scope, event("checkout.session.async_payment_succeeded", {**session, "payment_status": "paid"},
                         created=T + 60),
            event("checkout.session.completed", session, created=T))
    assert state(scope, invoice_id, sub_id) == ("paid", 1500, "active", ["succeeded"])


def test_async_payment_failed_leaves_the_invoice_open_and_the_plan_incomplete(scope, hosted):
    invoice_id, sub_id = hosted
    session = stripe_checkout_session(invoice_id, cs_id="cs_test_fail", payment_status="unpaid")
    deliver(scope, event("checkout.session.completed", session, created=T),
            event("checkout.session.async_payment_failed", session, created=T + 60))
    assert state(scope, invoice_id, sub_id) == ("open", 0, "incomplete", ["failed"])
    with scope() as s:
        assert "did not go through" in s.exec(select(Payment)).one().failure_message


def test_an_expired_session_changes_nothing(scope, hosted):
    invoice_id, sub_id = hosted
    expired = event("checkout.session.expired",
                    stripe_checkout_session(invoice_id, payment_status="unpaid", status="expired", pi_id=None))
    deliver(scope, expired)
    assert stored(scope, expired["id"]).status == "processed"
    assert state(scope, invoice_id, sub_id) == ("open", 0, "incomplete", [])


def test_money_for_an_invoice_already_paid_is_recorded_and_flagged_not_counted_twice(scope, hosted):
    invoice_id, sub_id = hosted
    payment_for(scope, invoice_id, "pi_card", status="succeeded")  # paid by card in another tab
    deliver(scope, event("checkout.session.completed", stripe_checkout_session(invoice_id)))
    assert state(scope, invoice_id, sub_id) == ("paid", 1500, "active", ["succeeded", "succeeded"])
    with scope() as s:
        flag = s.exec(select(AuditEntry).where(AuditEntry.action == "payment.unapplied")).one()
        assert flag.after["invoice_status"] == "paid" and "refund" in flag.after["note"]


def test_money_for_a_voided_invoice_is_flagged(scope, customer_id):
    invoice_id = open_invoice(scope, customer_id)
    with scope() as s:
        invoices.void(s, invoice_id)
    deliver(scope, event("checkout.session.completed", stripe_checkout_session(invoice_id, customer=None)))
    with scope() as s:
        assert (s.get(Invoice, invoice_id).status, s.get(Invoice, invoice_id).amount_paid) == ("void", 0)
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "payment.unapplied")).one()


def test_sessions_not_made_by_the_portal_are_ignored(scope):
    e = event("checkout.session.completed", stripe_checkout_session(None))
    deliver(scope, e)
    assert stored(scope, e["id"]).status == "ignored" and count(scope, Payment) == 0


def test_a_session_naming_an_unknown_invoice_fails(scope):
    e = event("checkout.session.completed", stripe_checkout_session(424242))
    deliver(scope, e)
    row = stored(scope, e["id"])
    assert row.status == "failed" and "does not exist" in row.last_error


def test_the_engine_refuses_the_same_things_without_a_webhook(scope, hosted):
    """The success page path calls payments.apply_checkout_session directly: same rules."""
    invoice_id, _ = hosted
    with scope() as s, pytest.raises(DomainError, match="owes 1500"):
        payments.apply_checkout_session(s, checkout_session_info(stripe_checkout_session(invoice_id, amount=1)),
                                        outcome="completed", observed_at=utcnow())
