"""Stripe failing under checkout, renewal and refund approval, on SQLite and PostgreSQL.

A fault proxy (tests/support/fault_proxy.py) sits between the app and localstripe and answers 500
or 429, answers too late (beyond STRIPE_TIMEOUT_SECONDS), or forwards the request and drops the
connection (Stripe did it, we never heard). It also gives localstripe Stripe's Idempotency-Key
replay, so the number of PaymentIntents and refunds localstripe holds shows whether a retry reused
the key. Each step runs in its own transaction (`session_scope`), as the pages and jobs run them,
so what a failure rolls back is really gone.

Guarantees: no double charge or refund, nothing recorded paid unless Stripe said so, a clear
message for the person, a later retry succeeds, and reconciliation records a charge Stripe made
that we never heard of (with an audit entry).
"""

from datetime import date, datetime

import pytest
from sqlmodel import Session, select

from billing_portal.billing import checkout, reconciliation, refund_decisions, refund_requests
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError
from billing_portal.db import session_scope
from billing_portal.gateways.stripe_gateway import PROVIDER_UNAVAILABLE_MESSAGE, REFUND_UNAVAILABLE_MESSAGE
from billing_portal.jobs import tasks
from billing_portal.models import AuditEntry, Invoice, Payment, Refund, RefundRequest, Role, Subscription
from billing_portal.settings import get_settings
from tests.billing.test_checkout import VISA, _cheap_password_hashing, user_of  # noqa: F401
from tests.gateways.conftest import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET, LocalStripeHelper
from tests.support.builders import make_customer, make_plan
from tests.support.fault_proxy import FaultProxy

INTENTS = "/v1/payment_intents"
REFUNDS = "/v1/refunds"
TRIES = 3  # STRIPE_MAX_NETWORK_RETRIES=2: one try and two retries


@pytest.fixture
def proxy(localstripe_clean, engine, monkeypatch):
    with FaultProxy(localstripe_clean.url, idempotency=True) as fault_proxy:
        for name, value in {"STRIPE_API_BASE": fault_proxy.url, "STRIPE_SECRET_KEY": SECRET_KEY,
                            "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                            "STRIPE_TIMEOUT_SECONDS": "1", "STRIPE_MAX_NETWORK_RETRIES": str(TRIES - 1)}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield fault_proxy


@pytest.fixture
def ls(localstripe_clean) -> LocalStripeHelper:
    """localstripe itself, behind no proxy: what Stripe really holds (and the browser's Stripe.js)."""
    return LocalStripeHelper(localstripe_clean.url)


@pytest.fixture
def shop(engine):
    """A customer, an admin and a $15.00 monthly plan, committed."""
    with session_scope(engine) as session:
        _plan, prices = make_plan(session, "pro", tier=2, prices={("USD", "month", 1): 1500})
        user = user_of(make_customer(session))
        root = make_customer(session, "root@example.com")
        admin = CurrentUser(user_id=root.user_id, email="root@example.com", role=Role.ADMIN, customer_id=None,
                            name="Root", currency="USD", locale="en_US")
        return user, admin, prices[("USD", "month", 1)].id


def save_card(engine, ls, user) -> str:
    with session_scope(engine) as session:
        setup = checkout.begin_card_setup(session, user=user)
    ls.confirm_card_setup(setup.client_secret, VISA)
    return setup.setup_intent_id


def pay(engine, user, setup_intent_id, price_id) -> checkout.CheckoutOutcome:
    with session_scope(engine) as session:
        return checkout.pay(session, user=user, setup_intent_id=setup_intent_id, price_id=price_id)


def stripe_list(ls, path) -> list[dict]:
    return ls.get(f"{path}?limit=100")["data"]


def books(engine) -> dict:
    """What our database says about the customer's money."""
    with Session(engine) as session:
        return {
            "invoices": [(i.status, i.amount_paid) for i in session.exec(select(Invoice).order_by(Invoice.id))],
            "payments": [(p.status, p.stripe_payment_intent_id) for p in session.exec(select(Payment).order_by(Payment.id))],
            "subscriptions": [s.status for s in session.exec(select(Subscription).order_by(Subscription.id))],
            "refunds": [(r.amount, r.stripe_refund_id) for r in session.exec(select(Refund).order_by(Refund.id))],
        }


def subscribed(engine, ls, user, price_id) -> tuple[str, datetime]:
    """The customer paid the first month at checkout: its PaymentIntent id and the period's end."""
    first_id = pay(engine, user, save_card(engine, ls, user), price_id).payment_intent_id
    with Session(engine) as session:
        return first_id, session.exec(select(Subscription)).one().current_period_end


def refund_requested(engine, ls, user, price_id) -> tuple[Payment, RefundRequest]:
    """The customer paid $15.00 at checkout and asked for all of it back."""
    assert pay(engine, user, save_card(engine, ls, user), price_id).status == "succeeded"
    with session_scope(engine) as session:
        payment = session.exec(select(Payment)).one()
        return payment, refund_requests.request_refund(session, customer_id=user.customer_id, payment_id=payment.id,
                                                       amount=1500, reason="Changed my mind")


# Each fault is there for every try the SDK makes, so checkout gives up with the message.
LASTING_FAULTS = {
    "500": dict(fault="error", status=500),
    "429": dict(fault="error", status=429),
    "timeout": dict(fault="delay", seconds=1.5),
    "dropped after the charge": dict(fault="drop_after_forward"),
}


@pytest.mark.parametrize("fault", LASTING_FAULTS.values(), ids=LASTING_FAULTS.keys())
def test_checkout_while_stripe_fails_shows_the_message_records_nothing_paid_and_a_retry_charges_once(
        engine, proxy, ls, shop, fault):
    user, _admin, price_id = shop
    setup_intent_id = save_card(engine, ls, user)
    proxy.add("POST", INTENTS, **fault)

    with pytest.raises(DomainError) as raised:
        pay(engine, user, setup_intent_id, price_id)

    assert str(raised.value) == PROVIDER_UNAVAILABLE_MESSAGE
    keys = proxy.posts(INTENTS)
    assert len(keys) == TRIES and len(set(keys)) == 1  # the SDK's retries carried our one key
    made = stripe_list(ls, INTENTS)
    assert len(made) == (0 if fault["fault"] == "error" else 1)  # 500/429 never reached Stripe
    # Whatever Stripe did, our books record nothing paid: the invoice waits, open.
    assert books(engine)["payments"] == []
    assert books(engine)["invoices"] == [("open", 0)]
    assert books(engine)["subscriptions"] == ["incomplete"]

    proxy.clear()
    outcome = pay(engine, user, setup_intent_id, price_id)  # the customer tries again

    assert outcome.status == "succeeded", outcome
    [intent] = stripe_list(ls, INTENTS)  # charged once, whatever the first try did
    assert intent["metadata"]["idempotency_key"] == keys[0]  # the retry sent the first try's key
    assert books(engine)["payments"] == [("succeeded", intent["id"])]
    assert books(engine)["invoices"] == [("paid", 1500)]
    assert books(engine)["subscriptions"] == ["active"]


def test_a_card_typed_again_after_a_lost_answer_is_not_charged_a_second_time(engine, proxy, ls, shop):
    user, _admin, price_id = shop
    proxy.add("POST", INTENTS, "drop_after_forward")
    with pytest.raises(DomainError):
        pay(engine, user, save_card(engine, ls, user), price_id)
    [charged] = stripe_list(ls, INTENTS)
    proxy.clear()

    # The page empties the card form after an error: the customer types the card again, which
    # Stripe saves as a new PaymentMethod, so this attempt carries a new key.
    outcome = pay(engine, user, save_card(engine, ls, user), price_id)

    assert outcome.status == "succeeded" and outcome.payment_intent_id == charged["id"]
    assert outcome.receipt_lines[-1].label == "Paid with Visa •••• 4242"
    assert len(stripe_list(ls, INTENTS)) == 1
    assert books(engine)["payments"] == [("succeeded", charged["id"])]
    assert books(engine)["invoices"] == [("paid", 1500)]


def test_checkout_rides_out_a_429_and_a_late_answer_without_a_second_charge(engine, proxy, ls, shop):
    user, _admin, price_id = shop
    setup_intent_id = save_card(engine, ls, user)
    proxy.add("POST", INTENTS, "error", status=429, times=1)
    proxy.add("POST", INTENTS, "delay", seconds=1.5, times=1)  # made at Stripe, answered too late

    outcome = pay(engine, user, setup_intent_id, price_id)

    assert outcome.status == "succeeded"
    assert len(set(proxy.posts(INTENTS))) == 1
    [intent] = stripe_list(ls, INTENTS)
    assert books(engine)["payments"] == [("succeeded", intent["id"])]


def test_a_renewal_charge_whose_answer_was_lost_is_collected_later_with_the_same_key(engine, proxy, ls, shop):
    user, _admin, price_id = shop
    first_id, period_end = subscribed(engine, ls, user, price_id)
    proxy.add("POST", INTENTS, "drop_after_forward")

    assert tasks.renew_due_subscriptions(period_end) == 1

    first, renewal = sorted(stripe_list(ls, INTENTS), key=lambda pi: (pi["created"], pi["id"] != first_id))
    assert renewal["status"] == "succeeded"  # Stripe charged the renewal; we never heard
    assert books(engine)["invoices"] == [("paid", 1500), ("open", 0)]
    assert [status for status, _ in books(engine)["payments"]] == ["succeeded"]
    assert books(engine)["subscriptions"] == ["active"]  # not past_due: nothing was declined
    renewal_keys = set(proxy.posts(INTENTS)) - {first["metadata"]["idempotency_key"]}

    proxy.clear()
    assert tasks.retry_failed_payments(period_end) == 1

    assert len(stripe_list(ls, INTENTS)) == 2  # the retry replayed the renewal charge
    assert set(proxy.posts(INTENTS)) - {first["metadata"]["idempotency_key"]} == renewal_keys
    assert books(engine)["invoices"] == [("paid", 1500), ("paid", 1500)]
    assert books(engine)["payments"] == [("succeeded", first["id"]), ("succeeded", renewal["id"])]


def test_a_refund_whose_answer_was_lost_is_not_made_twice_when_the_admin_approves_again(engine, proxy, ls, shop):
    user, admin, price_id = shop
    _payment, request = refund_requested(engine, ls, user, price_id)
    proxy.add("POST", REFUNDS, "drop_after_forward")

    with pytest.raises(DomainError) as raised, session_scope(engine) as session:
        refund_decisions.approve(session, request_id=request.id, admin=admin)

    assert str(raised.value) == f"Stripe did not refund: {REFUND_UNAVAILABLE_MESSAGE}"
    [made] = stripe_list(ls, REFUNDS)
    assert books(engine)["refunds"] == [] and books(engine)["payments"] == [("succeeded", made["payment_intent"])]
    with Session(engine) as session:
        assert session.get(RefundRequest, request.id).status == "requested"

    proxy.clear()
    with session_scope(engine) as session:
        decided = refund_decisions.approve(session, request_id=request.id, admin=admin)

    assert decided.status == "approved"
    assert [r["id"] for r in stripe_list(ls, REFUNDS)] == [made["id"]]
    assert books(engine)["refunds"] == [(1500, made["id"])]
    assert books(engine)["payments"] == [("refunded", made["payment_intent"])]


def test_reconciliation_records_a_charge_stripe_made_that_we_never_heard_of(engine, proxy, ls, shop):
    user, admin, price_id = shop
    setup_intent_id = save_card(engine, ls, user)
    proxy.add("POST", INTENTS, "drop_after_forward")
    with pytest.raises(DomainError):
        pay(engine, user, setup_intent_id, price_id)
    [lost] = stripe_list(ls, INTENTS)
    proxy.clear()

    start, end = reconciliation.day_range(date.today(), date.today())
    with session_scope(engine) as session:
        report = reconciliation.reconcile(session, start=start, end=end, actor=admin, heal=True)

    [found] = report.discrepancies
    assert (found.kind, found.stripe_id, found.healed) == ("missing_here", lost["id"], True)
    assert books(engine)["payments"] == [("succeeded", lost["id"])]
    assert books(engine)["invoices"] == [("paid", 1500)]
    assert books(engine)["subscriptions"] == ["active"]
    with Session(engine) as session:
        healed = session.exec(select(AuditEntry).where(AuditEntry.action == "reconciliation.healed")).one()
    assert healed.after["stripe_id"] == lost["id"]

    # The customer, who saw the error, tries again: told it is paid, not charged again.
    outcome = pay(engine, user, setup_intent_id, price_id)
    assert outcome.status == "succeeded" and outcome.payment_intent_id == lost["id"]
    assert len(stripe_list(ls, INTENTS)) == 1
